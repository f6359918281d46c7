"""report.md: the RCA in Markdown, with a Mermaid sequence diagram of the decisive seconds."""
from __future__ import annotations

import re

from ..checks import METRICS
from ..checks.judge import NO_EVIDENCE, REFUTED
from . import curve, sequence
from . import rca as rca_mod
from .model import RunReport
from .wording import against_record, describe, event_line, fmt, rel_time

VERDICT_COLUMNS = ("old_sid_failure", "stale_sid_400", "stale_sid_request", "disconnect_reason",
                   "time_to_new_sid", "handshakes_while_down", "console_pair")
MAX_COLUMNS = 11


def verdict_columns(r: RunReport) -> list[str]:
    """The incident's figures for a scenario with faults, then those its expectations and claims name."""
    # A storm's cells have no single client's sid: only its own figures.
    cols = list(VERDICT_COLUMNS) if r.has_faults and not any(c.client == "storm" for c in r.cells) else []
    return list(dict.fromkeys(cols + r.referenced_figures()))[:MAX_COLUMNS]


def _bullets(lines: list[str]) -> list[str]:
    return [f"- {line}" for line in lines] + [""]


def _cell_table(r: RunReport) -> list[str]:
    columns = verdict_columns(r)
    lines = ["| cell | expectations | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for c in r.cells:
        if not c.judged:
            status = "**error**"
        else:
            passed = sum(x.ok for x in c.checks)
            status = f"{'✅' if c.ok else '❌'} {passed}/{len(c.checks)}"
        vals = " | ".join(fmt(c.figure(k), 48) for k in columns)
        lines.append(f"| `{c.cell.id}` | {status} | {vals} |")
    return lines


def _incident(r: RunReport, story: rca_mod.Rca) -> list[str]:
    s = r.scenario
    out = ["## Incident", ""]
    if s.incident:
        out += [s.incident, ""]
    facts = []
    if s.severity:
        facts.append(f"Severity: {s.severity}")
    if s.source:
        facts.append(f"Source: {s.source}")
    facts += [f"Impact (measured): {line}" for line in story.impact]
    return out + _bullets(facts)


def _timeline(story: rca_mod.Rca) -> list[str]:
    c = story.focus
    if c is None:
        return ["## Timeline", "", story.focus_reason + ".", ""]
    out = ["## Timeline", "",
           f"Cell `{c.cell.id}` ({story.focus_reason}); times are seconds {c.zero_label}.", "",
           f"| {c.zero_label} | source | event |", "|---|---|---|"]
    for e in story.timeline:
        what = describe(e).replace("|", "\\|")
        out.append(f"| `{rel_time(e, c.t_zero)}` | {e.src} | {what} |")
    out += ["", "### Sequence of the decisive seconds", "", "```mermaid", sequence.mermaid(c), "```", ""]
    return out


def _board(story: rca_mod.Rca) -> list[str]:
    if not story.board:
        return []
    out = ["## Hypothesis board", "", "| claim | verdict | why (measured) |", "|---|---|---|"]
    for e in story.board:
        note = against_record(e.verdict)
        out.append(f"| {e.verdict.claim.text} | **{e.verdict.verdict}**{f' ({note})' if note else ''} | {e.why} |")
    out.append("")
    out += ["### Deciding events", ""]
    for e in story.board:
        if not e.quoted:
            continue
        out.append(f"**{e.verdict.claim.id}** ({e.verdict.verdict}), quoted from `{e.quoted_from}`:")
        out += [f"- {q}" for q in e.quoted] + [""]
    rejected = [e for e in story.board if e.verdict.verdict == REFUTED]
    undecided = [e for e in story.board if e.verdict.verdict == NO_EVIDENCE]
    out += ["### Rejected hypotheses", ""]
    if rejected:
        out += [f"- ~~{e.verdict.claim.text}~~ — rejected: {e.why}." for e in rejected]
    else:
        out.append("- none: no claim was refuted by this run.")
    out += [f"- {e.verdict.claim.text} — not decided: {e.why}." for e in undecided]
    return out + [""]


def _fix(story: rca_mod.Rca) -> list[str]:
    out = ["## Fix and its validation", ""] + _bullets(story.fix)
    if story.comparison:
        names = story.variants
        out += ["### " + " vs ".join(n.capitalize() if i == 0 else n for i, n in enumerate(names)) + " singleton", "",
                "Same mode, transport and fault; only `getAppSocket()` differs.", "",
                "| cells | figure | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        out += [f"| {row.label} | {row.figure} | " + " | ".join(fmt(row.values.get(n)) for n in names) + " |"
                for row in story.comparison_totals]
        figures = list(dict.fromkeys(row.figure for row in story.comparison))
        out += ["", "| mode, transport, fault | " + " | ".join(f"{f} {n}" for f in figures for n in names) + " |",
                "|---|" + "---|" * (len(figures) * len(names))]
        for label, row in rca_mod.comparison_by_pair(story.comparison).items():
            out.append(f"| {label} | " + " | ".join(fmt(row.get(f, {}).get(n)) for f in figures for n in names) + " |")
        out.append("")
    return out


def cell_heading(cell_id: str) -> str:
    return f"`{cell_id}`"


def cell_anchor(cell_id: str) -> str:
    """The anchor of a cell's section in report.md: its heading as GitHub (and most renderers) slugs it,
    lower case, punctuation other than - and _ dropped, spaces as -. The index links failing cells to it."""
    return re.sub(r"[^\w\- ]", "", cell_heading(cell_id).lower()).replace(" ", "-")


def _cells(r: RunReport) -> list[str]:
    out = ["## Cells", ""]
    for c in r.cells:
        out += [f"### {cell_heading(c.cell.id)}", "",
                ", ".join(f"{k}: `{v}`" for k, v in c.cell.params.items()) + f" · {c.seconds:.1f} s", ""]
        if c.error:
            out += ["```", c.error.strip()[:3000], "```", ""]
        if not c.judged:
            continue
        if c.client == "storm":
            out.append(f"- {c.figure('storm_clients')} clients: {curve.summary(c)}")
        else:
            out.append(f"- old sid `{fmt(c.figure('old_sid'))}` on `{fmt(c.figure('transport_before_fault'))}`; "
                       f"disconnect reason `{fmt(c.figure('disconnect_reason'))}`; new sid `{fmt(c.figure('new_sid'))}` "
                       f"after {fmt(c.figure('time_to_new_sid'))} s; handshakes while down: {c.figure('handshakes_while_down')}")
        decisive = rca_mod.figure_evidence(c)
        if decisive:
            out.append(f"- decisive events (time {c.zero_label}):")
            out += [f"  - {event_line(e, c.t_zero)}" for e in decisive]
        for x in c.checks:
            if not x.ok:
                out.append(f"- ❌ expected `{x.metric}` {x.condition}, measured `{fmt(x.value)}`"
                           + (f" — {x.why}" if x.why else ""))
        for premise in dict.fromkeys(x.premise_failed for x in c.checks if x.premise_failed):
            out.append(f"- ⚠️ not judged here: its premise did not hold ({fmt(premise)})")
        out.append("- artifacts: " + (", ".join(f"[{a.split('/')[-1]}]({a})" for a in c.artifacts) or "none"))
        out.append("")
    return out


def render(r: RunReport, story: rca_mod.Rca | None = None) -> str:
    story = story or rca_mod.build(r)
    s = r.scenario
    passed = sum(c.ok for c in r.cells)
    lines = [f"# {s.title}", "",
             f"Scenario `{s.name}` · run `{r.run_dir.name}` · {passed}/{len(r.cells)} cells met every expectation "
             f"· verdict: **{'PASS' if r.ok else 'FAIL'}** · also as [HTML](report.html), [JSON](report.json), "
             "[JUnit XML](report.junit.xml)", ""]
    target = r.meta.get("target")
    if target:   # harness/lab/targets.py: the run was against an app of yours
        what = f"`{target['app']}` ({target.get('app_kind')})" if target.get("app") else f"`{target.get('cmd')}`"
        lines += [f"Against your app: {what}, page `{target.get('page') or 'the reference layout page'}`"
                  f"{', set-up hook `' + target['hook'] + '`' if target.get('hook') else ''}; "
                  "the claims' recorded verdicts are the reference app's.", ""]
    lines += _incident(r, story)
    lines += curve.markdown(r)
    lines += _timeline(story)
    lines += _board(story)
    lines += ["## Root cause", "", *_bullets(story.root_cause)]
    lines += ["## What the recording shows", "",
              "Every line below is derived from this run's own timelines (`cells/*/timeline.jsonl`), not from prior knowledge.", "",
              *_bullets(story.findings)]
    lines += _fix(story)
    lines += ["## Prevention", "", *_bullets(story.prevention)]
    lines += ["## Verdict table", "", *_cell_table(r), ""]
    lines += _cells(r)
    lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in r.meta.get("versions", {}).items()), "",
              "## Figures", "", *[f"- `{k}`: {desc}" for k, (desc, _) in METRICS.items()], ""]
    return "\n".join(lines)
