"""report.html: the same RCA as the Markdown, in one self-contained file.

No CDN and no request of any kind: CSS, the small filter script and the SVG drawings
(timeline chart per cell, sequence of the decisive seconds) are inline, and a
Content-Security-Policy forbids loading anything else. Artifacts are relative links.
"""
from __future__ import annotations

import re
from html import escape

from ..checks import METRICS
from ..checks.judge import NO_EVIDENCE, REFUTED
from . import rca as rca_mod
from . import curve, sequence, svg
from .markdown import verdict_columns
from .model import CellReport, RunReport
from .wording import against_record, describe, plain, rel_time

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
:root { --fg:#1d2327; --muted:#5f6b73; --line:#d7dde1; --bg:#fff; --soft:#f4f6f8; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; max-width: 1180px; padding: 16px 24px 64px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin-top: 20px; }
code { font: 12.5px ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: var(--soft);
       padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: var(--soft); padding: 10px; overflow-x: auto; font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--soft); }
td:first-child code { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
.pass, .supported { background: #e8f5e9; color: #1b5e20; } .fail, .refuted { background: #ffebee; color: #b71c1c; }
.error, .no-evidence { background: #fff3e0; color: #e65100; }
.muted { color: var(--muted); } nav a { margin-right: 12px; }
details.cell { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 4px 10px; }
details.cell > summary { cursor: pointer; font-weight: 600; }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0 8px; }
.legend span { margin-right: 10px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 8px; margin-right: 4px; border-radius: 2px; }
.legend i.dot { width: 9px; height: 9px; border-radius: 50%; }
svg text { font: 11px ui-monospace, Menlo, Consolas, monospace; fill: var(--fg); }
svg .lane { fill: var(--muted); } svg .axis { fill: var(--muted); font-size: 10px; }
svg .grid { stroke: var(--line); } svg .tick { stroke: #eceff1; }
svg .down { fill: #ffcdd2; } svg .fault { stroke: #b71c1c; stroke-width: 2; stroke-dasharray: 5 3; }
svg .fault-label { fill: #b71c1c; font-weight: 700; }
svg .participant { font-weight: 700; text-anchor: middle; font-size: 12px; }
svg .lifeline { stroke: #b0bec5; stroke-dasharray: 4 3; }
svg .msg { stroke: #37474f; stroke-width: 1.4; } svg .reply { stroke-dasharray: 5 3; }
svg .lost { stroke: #c62828; stroke-dasharray: 3 3; }
svg .msg-text { text-anchor: middle; font-size: 10.5px; }
svg .note { fill: #fff8e1; stroke: #ffcc80; } svg .note-text { font-size: 10.5px; }
.only-failing tr.ok-row { display: none; }
"""

SCRIPT = """
(function () {
  var box = document.getElementById("only-failing");
  var table = document.getElementById("verdict-table");
  if (!box || !table) return;
  box.addEventListener("change", function () { table.classList.toggle("only-failing", box.checked); });
})();
"""

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_STRIKE = re.compile(r"~~([^~]+)~~")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> str:
    """The Markdown marks the RCA lines use (`code`, **bold**, ~~struck~~, [links](rel)) as HTML."""
    out = escape(str(text), quote=False)
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _STRIKE.sub(r"<del>\1</del>", out)
    out = _LINK.sub(lambda m: f'<a href="{escape(m.group(2))}">{m.group(1)}</a>'
                    if "://" not in m.group(2) else m.group(0), out)
    return out.replace("\\|", "|")


def _ul(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{inline(line)}</li>" for line in lines) + "</ul>"


def _record(v) -> str:
    note = against_record(v)
    return f' <small class="{"fail" if v.changed else "note"}">{escape(note)}</small>' if note else ""


def _badge(verdict: str) -> str:
    return f'<span class="badge {verdict.replace(" ", "-")}">{escape(verdict)}</span>'


def cell_anchor(cell_id: str) -> str:
    """The id of a cell's section in report.html (the index links failing cells to it)."""
    return "cell-" + re.sub(r"[^A-Za-z0-9_-]", "-", cell_id)


def _incident(r: RunReport, story: rca_mod.Rca) -> str:
    s = r.scenario
    facts = ([f"Severity: {s.severity}"] if s.severity else []) + ([f"Source: {s.source}"] if s.source else [])
    facts += [f"Impact (measured): {line}" for line in story.impact]
    text = "".join(f"<p>{inline(p)}</p>" for p in s.incident.split("\n\n") if p.strip())
    return f'<section id="incident"><h2>Incident</h2>{text}{_ul(facts)}</section>'


def _timeline(story: rca_mod.Rca) -> str:
    c = story.focus
    if c is None:
        return f'<section id="timeline"><h2>Timeline</h2><p>{escape(story.focus_reason)}.</p></section>'
    rows = "".join(f"<tr><td><code>{escape(rel_time(e, c.t_zero))}</code></td><td>{escape(e.src)}</td>"
                   f"<td>{inline(describe(e))}</td></tr>" for e in story.timeline)
    return (f'<section id="timeline"><h2>Timeline</h2><p>Cell <a href="#{cell_anchor(c.cell.id)}"><code>{escape(c.cell.id)}'
            f'</code></a> ({escape(story.focus_reason)}); times are seconds {escape(c.zero_label)}.</p>'
            f'<table><tr><th>{escape(c.zero_label)}</th><th>source</th><th>event</th></tr>{rows}</table>'
            f'<h3>Sequence of the decisive seconds</h3>{svg.sequence_svg(c, "focus")}'
            f'<details><summary>Mermaid source (as in report.md)</summary><pre>{escape(sequence.mermaid(c))}</pre></details>'
            "</section>")


def _board(story: rca_mod.Rca) -> str:
    if not story.board:
        return ""
    rows = "".join(f"<tr><td>{inline(e.verdict.claim.text)}</td><td>{_badge(e.verdict.verdict)}{_record(e.verdict)}</td>"
                   f"<td>{inline(e.why)}</td></tr>" for e in story.board)
    quotes = "".join(
        f"<p><strong>{escape(e.verdict.claim.id)}</strong> ({escape(e.verdict.verdict)}), quoted from "
        f"<code>{escape(e.quoted_from or '')}</code>:</p>{_ul(e.quoted)}" for e in story.board if e.quoted)
    rejected = [f"~~{e.verdict.claim.text}~~ — rejected: {e.why}." for e in story.board if e.verdict.verdict == REFUTED]
    rejected = rejected or ["none: no claim was refuted by this run."]
    rejected += [f"{e.verdict.claim.text} — not decided: {e.why}." for e in story.board if e.verdict.verdict == NO_EVIDENCE]
    return (f'<section id="board"><h2>Hypothesis board</h2><table><tr><th>claim</th><th>verdict</th>'
            f'<th>why (measured)</th></tr>{rows}</table><h3>Deciding events</h3>{quotes}'
            f'<h3>Rejected hypotheses</h3>{_ul(rejected)}</section>')


def _fix(story: rca_mod.Rca) -> str:
    table = ""
    if story.comparison:
        names = story.variants
        cols = "".join(f"<th>{escape(n)}</th>" for n in names)
        totals = "".join(f"<tr><td>{escape(row.label)}</td><td>{escape(row.figure)}</td>"
                         + "".join(f"<td>{escape(plain(row.values.get(n)))}</td>" for n in names) + "</tr>"
                         for row in story.comparison_totals)
        figures = list(dict.fromkeys(row.figure for row in story.comparison))
        head = "".join(f'<th colspan="{len(names)}">{escape(f)}</th>' for f in figures)
        rows = "".join(
            f"<tr><td>{escape(label)}</td>" + "".join(
                f"<td>{escape(plain(pair.get(f, {}).get(n)))}</td>" for f in figures for n in names) + "</tr>"
            for label, pair in rca_mod.comparison_by_pair(story.comparison).items())
        title = " vs ".join(names)
        table = (f"<h3>{escape(title.capitalize())} singleton</h3><p>Same mode, transport and fault; only "
                 f"<code>getAppSocket()</code> differs.</p><table><tr><th>cells</th><th>figure</th>{cols}</tr>{totals}</table>"
                 f'<table><tr><th rowspan="2">mode, transport, fault</th>{head}</tr><tr>{cols * len(figures)}</tr>'
                 f"{rows}</table>")
    return f'<section id="fix"><h2>Fix and its validation</h2>{_ul(story.fix)}{table}</section>'


def _verdicts(r: RunReport) -> str:
    columns = verdict_columns(r)
    head = "".join(f"<th>{escape(k)}</th>" for k in columns)
    rows = []
    for c in r.cells:
        if not c.judged:
            status = _badge("error")
        else:
            status = f'{_badge("pass" if c.ok else "fail")} {sum(x.ok for x in c.checks)}/{len(c.checks)}'
        vals = "".join(f"<td>{escape(plain(c.figure(k), 48))}</td>" for k in columns)
        rows.append(f'<tr class="{"ok-row" if c.ok else "bad-row"}"><td><a href="#{cell_anchor(c.cell.id)}">'
                    f"<code>{escape(c.cell.id)}</code></a></td><td>{status}</td>{vals}</tr>")
    return ('<section id="verdicts"><h2>Verdict table</h2><label><input type="checkbox" id="only-failing"> '
            'only cells that failed</label><table id="verdict-table"><tr><th>cell</th><th>expectations</th>'
            f"{head}</tr>{''.join(rows)}</table></section>")


def _artifact_links(c: CellReport) -> str:
    links = []
    for a in c.artifacts:
        name = a.split("/")[-1]
        hint = f' <span class="muted">(<code>playwright show-trace {escape(a)}</code>)</span>' if name == "trace.zip" else ""
        links.append(f'<a href="{escape(a)}">{escape(name)}</a>{hint}')
    return " · ".join(links) or "none"


def _cell(c: CellReport, focus: CellReport | None) -> str:
    params = ", ".join(f"{escape(k)}: <code>{escape(str(v))}</code>" for k, v in c.cell.params.items())
    status = _badge("error") if not c.judged else _badge("pass" if c.ok else "fail")
    is_open = " open" if (c is focus or not c.ok) else ""
    body = [f"<p>{params} · {c.seconds:.1f} s</p>"]
    if c.error:
        body.append(f"<pre>{escape(c.error.strip()[:3000])}</pre>")
    if c.judged:
        body.append(curve.cell_html(c) if c.client == "storm" else svg.timeline_chart(c))
        figures = "".join(f"<tr><td><code>{escape(k)}</code></td><td>{escape(plain(f.value, 120))}</td></tr>"
                          for k, f in c.findings.items())
        checks = "".join(
            f"<li>{_badge('pass' if x.ok else 'fail') if x.judged else _badge('not judged')} <code>{escape(x.metric)}</code> "
            f"{escape(x.condition)}: measured <code>{escape(plain(x.value))}</code>"
            f"{(' — ' + escape(x.why)) if x.why and not x.ok else ''}"
            f"{(' — not judged: its premise did not hold (' + escape(x.premise_failed) + ')') if x.premise_failed else ''}</li>"
            for x in c.checks)
        events = "".join(f"<li><code>{escape(rel_time(e, c.t_zero))}</code> {escape(e.src)}: {inline(describe(e))}</li>"
                         for e in rca_mod.figure_evidence(c))
        body.append(f"<h4>Expectations</h4><ul>{checks}</ul>" if checks else "")
        body.append(f"<h4>Decisive events (time {escape(c.zero_label)})</h4><ul>{events}</ul>" if events else "")
        body.append(f"<details><summary>All figures</summary><table>{figures}</table></details>")
    body.append(f"<p>Artifacts: {_artifact_links(c)}</p>")
    return (f'<details class="cell" id="{cell_anchor(c.cell.id)}"{is_open}><summary><code>{escape(c.cell.id)}</code> '
            f"{status}</summary>{''.join(body)}</details>")


def render(r: RunReport, story: rca_mod.Rca | None = None) -> str:
    story = story or rca_mod.build(r)
    s = r.scenario
    passed = sum(c.ok for c in r.cells)
    verdict = _badge("pass" if r.ok else "fail").replace(">pass<", ">PASS<").replace(">fail<", ">FAIL<")
    by_client: dict[str, list[CellReport]] = {}
    for c in r.cells:
        by_client.setdefault(c.client or "?", []).append(c)
    cells = "".join(f"<h3>Client: {escape(client)}</h3>{svg.legend()}" + "".join(_cell(c, story.focus) for c in cs)
                    for client, cs in by_client.items())
    versions = ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in r.meta.get("versions", {}).items())
    glossary = "".join(f"<li><code>{escape(k)}</code>: {escape(desc)}</li>" for k, (desc, _) in METRICS.items())
    nav = "".join(f'<a href="#{a}">{label}</a>' for a, label in (
        ("incident", "Incident"), ("timeline", "Timeline"), ("board", "Hypotheses"), ("root-cause", "Root cause"),
        ("fix", "Fix"), ("prevention", "Prevention"), ("verdicts", "Verdicts"), ("cells", "Cells")))
    return "".join([
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(s.title)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{escape(s.title)}</h1><p>Scenario <code>{escape(s.name)}</code> · run "
        f"<code>{escape(r.run_dir.name)}</code> · {passed}/{len(r.cells)} cells met every expectation · verdict {verdict}"
        ' · also as <a href="report.md">Markdown</a>, <a href="report.json">JSON</a>, '
        '<a href="report.junit.xml">JUnit XML</a></p>',
        f"<nav>{nav}</nav></header>",
        _incident(r, story), curve.html(r), _timeline(story), _board(story),
        f'<section id="root-cause"><h2>Root cause</h2>{_ul(story.root_cause)}</section>',
        '<section id="findings"><h2>What the recording shows</h2><p class="muted">Every line below is derived from this '
        "run's own timelines (<code>cells/*/timeline.jsonl</code>), not from prior knowledge.</p>"
        f"{_ul(story.findings)}</section>",
        _fix(story),
        f'<section id="prevention"><h2>Prevention</h2>{_ul(story.prevention)}</section>',
        _verdicts(r),
        f'<section id="cells"><h2>Cells</h2>{cells}</section>',
        f'<section id="versions"><h2>Versions</h2><p>{versions}</p><h2>Figures</h2><ul>{glossary}</ul></section>',
        f"<script>{SCRIPT}</script></body></html>\n",
    ])

