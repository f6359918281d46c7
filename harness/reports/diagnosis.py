"""The report of `siolab diagnose`: diagnosis.md, diagnosis.html, diagnosis.json and the
imported timeline.jsonl, in the same forms as a run's report (timeline of the decisive
seconds, Mermaid sequence, timeline chart). Renders a `harness.diagnose.Diagnosis`; judges nothing."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from ..core import redaction
from ..lab.scenario import Cell
from . import sequence, svg
from .html import CSP, STYLE, inline
from .model import CellReport
from .rca import decisive_events
from .wording import describe, event_line, fmt, plain, rel_time

FIGURES = ("old_sid", "old_sid_failure", "stale_sid_400", "stale_sid_body", "stale_sid_request", "console_pair",
           "disconnect_reason", "transport_before_fault", "recovered", "new_sid", "time_to_new_sid",
           "handshakes_after_fault", "connect_error_message", "refusal_carrier", "refusal_status", "http_400_total",
           "console_errors")


def as_cell(d) -> CellReport:
    """The imported capture as one cell, so that the run report's pieces draw it."""
    names = ", ".join(i.path.name for i in d.files) or "capture"
    return CellReport(Cell({"client": "browser", "capture": names}), None, 0.0, d.figures, [], d.t_fault,
                      d.events, [], "browser")


def _title(d) -> str:
    return "Diagnosis of " + (", ".join(f"`{i.path.name}`" for i in d.files) or "a capture")


def _verdict(d) -> str:
    if not d.known_cause:
        return "**no known cause**: nothing in the capture matches a fingerprint of the catalogue; see what was ruled out"
    return "likely: " + "; ".join(f"**{r.cause.title}** ({r.status})" for r in d.likely)


def _cause_lines(d, r, zero) -> list[str]:
    out = [f"### {r.cause.title} — {r.status}", "", r.why + ".", ""]
    out += [f"- {event_line(e, zero)}" for e in r.evidence[:6]]
    cmd = d.replays.get(r.cause.id)
    if cmd:
        out += ["", f"Replay it in the lab: `{cmd}`"]
    elif r.scenario is None:
        out += ["", "The catalogue has no scenario for this cause yet."]
    return out + [""]


def render_markdown(d) -> str:
    cell = as_cell(d)
    zero = cell.t_zero
    lines = [f"# {_title(d)}", "", _verdict(d) + ".", "",
             "Times are seconds " + ("since the inferred moment of failure" if d.t_fault is not None
                                     else "since the first Socket.IO request") + ".", "", "## Capture", "",
             "| file | read as | written by | clock | contents |", "|---|---|---|---|---|"]
    for i in d.files:
        stats = ", ".join(f"{k}: {v}" for k, v in i.stats.items())
        lines.append(f"| `{i.path.name}` | {i.kind} | {i.creator or '—'} | {i.clock} | {fmt(stats, 200)} |")
    lines.append("")
    if d.failure is not None:
        f = d.failure
        lines += ["## Moment of failure", "",
                  f"Found in the capture (it has no fault event): session `{f.session.sid}` ({f.session.transport}), "
                  f"{f.kind}" + (" — an upper bound: the session ended between its last answer and the new handshake"
                                 if f.kind == "replaced" else "") + ".", "",
                  f"- {event_line(f.event, zero)}", ""]
    lines += ["## Likely causes", ""]
    if d.likely:
        for r in d.likely:
            lines += _cause_lines(d, r, zero)
    else:
        lines += ["No known cause: no fingerprint of the catalogue matches this capture.", ""]
    lines += ["## Ruled out", ""] + ([f"- {r.cause.title} — {r.why}." for r in d.ruled_out] or ["- nothing"]) + [""]
    undecided = [r for r in d.results if r.status == "no evidence"]
    if undecided:
        lines += ["## No evidence either way", ""] + [f"- {r.cause.title} — {r.why}." for r in undecided] + [""]
    lines += ["## Figures (the lab's checks over the capture)", "", "| figure | value |", "|---|---|"]
    lines += [f"| `{k}` | {fmt(d.figures[k].value)} |" for k in FIGURES if k in d.figures]
    lines.append("")
    events = decisive_events(cell)
    if events:
        lines += ["## Timeline", "", "| time | source | event |", "|---|---|---|"]
        lines += [f"| `{rel_time(e, zero)}` | {e.src} | {describe(e).replace('|', '/')} |" for e in events]
        lines += ["", "### Sequence of the decisive seconds", "", "```mermaid", sequence.mermaid(cell), "```", ""]
    if d.notes:
        lines += ["## Notes on the import", ""] + [f"- {n}" for n in d.notes] + [""]
    lines += ["The imported events are in `timeline.jsonl` (the lab's timeline format); secrets were redacted on import.", ""]
    return "\n".join(lines)


def render_html(d) -> str:
    cell = as_cell(d)
    zero = cell.t_zero
    md_title = _title(d)

    def causes() -> str:
        if not d.likely:
            return "<p><strong>No known cause</strong>: no fingerprint of the catalogue matches this capture.</p>"
        parts = []
        for r in d.likely:
            ev = "".join(f"<li><code>{escape(rel_time(e, zero))}</code> {escape(e.src)}: {inline(describe(e))}</li>"
                         for e in r.evidence[:6])
            cmd = d.replays.get(r.cause.id)
            replay = (f"<p>Replay it in the lab: <code>{escape(cmd)}</code></p>" if cmd else
                      "<p class=\"muted\">The catalogue has no scenario for this cause yet.</p>" if r.scenario is None else "")
            parts.append(f'<h3>{escape(r.cause.title)} <span class="badge {"pass" if r.status == "likely" else "no-evidence"}">'
                         f"{escape(r.status)}</span></h3><p>{inline(r.why)}.</p><ul>{ev}</ul>{replay}")
        return "".join(parts)

    files = "".join(f"<tr><td><code>{escape(i.path.name)}</code></td><td>{escape(i.kind)}</td><td>{escape(i.creator or '—')}</td>"
                    f"<td>{escape(i.clock)}</td><td>{escape(', '.join(f'{k}: {v}' for k, v in i.stats.items()))}</td></tr>"
                    for i in d.files)
    ruled = "".join(f"<li>{escape(r.cause.title)} — {inline(r.why)}.</li>" for r in d.ruled_out) or "<li>nothing</li>"
    undecided = "".join(f"<li>{escape(r.cause.title)} — {inline(r.why)}.</li>" for r in d.results if r.status == "no evidence")
    figures = "".join(f"<tr><td><code>{k}</code></td><td>{escape(plain(d.figures[k].value, 120))}</td></tr>"
                      for k in FIGURES if k in d.figures)
    events = decisive_events(cell)
    timeline = ""
    if events:
        rows = "".join(f"<tr><td><code>{escape(rel_time(e, zero))}</code></td><td>{escape(e.src)}</td>"
                       f"<td>{inline(describe(e))}</td></tr>" for e in events)
        timeline = (f"<h2>Timeline</h2>{svg.legend()}{svg.timeline_chart(cell)}<table><tr><th>time</th><th>source</th>"
                    f"<th>event</th></tr>{rows}</table><h3>Sequence of the decisive seconds</h3>"
                    f"{svg.sequence_svg(cell, 'diag')}<details><summary>Mermaid source</summary>"
                    f"<pre>{escape(sequence.mermaid(cell))}</pre></details>")
    failure = ""
    if d.failure is not None:
        f = d.failure
        failure = (f"<h2>Moment of failure</h2><p>Found in the capture (it has no fault event): session "
                   f"<code>{escape(f.session.sid)}</code> ({escape(f.session.transport)}), {escape(f.kind)}.</p>"
                   f"<ul><li>{inline(event_line(f.event, zero))}</li></ul>")
    notes = "".join(f"<li>{escape(n)}</li>" for n in d.notes)
    return "".join([
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(md_title.replace('`', ''))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{inline(md_title)}</h1><p>{inline(_verdict(d))}.</p>",
        f"<h2>Capture</h2><table><tr><th>file</th><th>read as</th><th>written by</th><th>clock</th><th>contents</th></tr>"
        f"{files}</table>", failure, f"<h2>Likely causes</h2>{causes()}", f"<h2>Ruled out</h2><ul>{ruled}</ul>",
        f"<h2>No evidence either way</h2><ul>{undecided}</ul>" if undecided else "",
        f"<h2>Figures (the lab's checks over the capture)</h2><table>{figures}</table>", timeline,
        f"<h2>Notes on the import</h2><ul>{notes}</ul>" if notes else "",
        '<p class="muted">Also as <a href="diagnosis.md">Markdown</a> and <a href="diagnosis.json">JSON</a>; the '
        'imported events are in <a href="timeline.jsonl">timeline.jsonl</a>.</p></body></html>\n',
    ])


def to_json(d) -> dict[str, Any]:
    """The diagnosis as data: what the CLI prints and report.json holds."""
    def result(r) -> dict[str, Any]:
        return {"cause": r.cause.id, "title": r.cause.title, "status": r.status, "why": r.why,
                "scenario": r.scenario, "scenarios": list(r.scenarios), "replay": d.replays.get(r.cause.id),
                "evidence": [{"t": e.t, "src": e.src, "kind": e.kind, "data": e.data} for e in r.evidence]}
    return {
        "files": [{"path": str(i.path), "kind": i.kind, "creator": i.creator, "clock": i.clock, "stats": i.stats,
                   "notes": i.notes} for i in d.files],
        "known_cause": d.known_cause,
        "failure": None if d.failure is None else {"t": d.failure.t, "kind": d.failure.kind, "sid": d.failure.session.sid},
        "likely": [result(r) for r in d.likely],
        "ruled_out": [result(r) for r in d.ruled_out],
        "no_evidence": [result(r) for r in d.results if r.status not in ("likely", "possible", "ruled out")],
        "figures": {k: f.value for k, f in d.figures.items()},
        "notes": d.notes,
    }


def render_text(d) -> str:
    """What `siolab diagnose` prints: the causes with their evidence lines, what was ruled out."""
    zero = as_cell(d).t_zero
    out = []
    if d.likely:
        out.append("likely causes:")
        for r in d.likely:
            out.append(f"  [{r.status}] {r.cause.title}")
            out.append(f"      {r.why}")
            out += [f"      {event_line(e, zero).replace('`', '')}" for e in r.evidence[:4]]
            cmd = d.replays.get(r.cause.id)
            out.append(f"      replay: {cmd}" if cmd else "      no catalogue scenario for this cause yet")
    else:
        out.append("no known cause: nothing in the capture matches a fingerprint of the catalogue")
    if d.ruled_out:
        out.append("ruled out:")
        out += [f"  {r.cause.title}: {r.why}" for r in d.ruled_out]
    for n in d.notes:
        out.append(f"note: {n}")
    return redaction.current().text("\n".join(out))


def write(d, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scrub = redaction.current()
    paths = {"md": out_dir / "diagnosis.md", "html": out_dir / "diagnosis.html", "json": out_dir / "diagnosis.json",
             "timeline": out_dir / "timeline.jsonl"}
    paths["md"].write_text(scrub.text(render_markdown(d)), encoding="utf-8")
    paths["html"].write_text(scrub.text(render_html(d)), encoding="utf-8")
    paths["json"].write_text(json.dumps(scrub.data(to_json(d)), indent=2, default=str, ensure_ascii=False),
                             encoding="utf-8")
    with open(paths["timeline"], "w", encoding="utf-8") as fh:
        for e in d.events:
            fh.write(e.to_json() + "\n")
    return paths
