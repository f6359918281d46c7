"""Reports: rebuilt from a run folder alone (`siolab report RUN_DIR`).

Reads scenario.yaml, run.json and each cell's timeline, runs the checks, and writes
report.md (for people) and report.json (for machines). Nothing here drives anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import timeline as tl
from .checks import METRICS, Finding, measure
from .checks.cell_view import CellView, describe_packet
from .checks.judge import CheckResult, ClaimVerdict, check_expectations, judge_claims
from .scenario import Cell, Scenario, ScenarioError
from .scenario import load as load_scenario


@dataclass
class CellReport:
    cell: Cell
    error: str | None
    seconds: float
    findings: dict[str, Finding]
    checks: list[CheckResult]
    t_fault: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


@dataclass
class RunReport:
    run_dir: Path
    scenario: Scenario
    meta: dict[str, Any]
    cells: list[CellReport]
    claims: list[ClaimVerdict]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.cells)


def judge_run(run_dir: Path) -> RunReport:
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise ScenarioError(f"{run_dir}: not a run folder (no run.json)")
    meta = json.loads(meta_path.read_text())
    scenario = load_scenario(run_dir / "scenario.yaml")
    by_id = {c.id: c for c in scenario.cells}
    cells = []
    for entry in meta["cells"]:
        cell = by_id.get(entry["id"]) or Cell(entry["params"])
        path = run_dir / "cells" / entry["id"] / "timeline.jsonl"
        events = tl.load(path) if path.exists() else []
        findings = measure(events)
        checks = check_expectations(cell, findings, scenario.expectations)
        cells.append(CellReport(cell, entry.get("error"), entry.get("seconds", 0.0), findings, checks,
                                CellView(events).t_fault))
    claims = judge_claims([(c.cell, c.findings) for c in cells if c.error is None], scenario.claims)
    return RunReport(run_dir, scenario, meta, cells, claims)


def write(report: RunReport) -> tuple[Path, Path]:
    md = report.run_dir / "report.md"
    js = report.run_dir / "report.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_text(json.dumps(to_json(report), indent=2, default=str), encoding="utf-8")
    return md, js


def build(run_dir: Path) -> RunReport:
    report = judge_run(run_dir)
    write(report)
    return report


# -- JSON ---------------------------------------------------------------------------
def to_json(r: RunReport) -> dict[str, Any]:
    return {
        "scenario": r.scenario.name,
        "title": r.scenario.title,
        "ok": r.ok,
        "versions": r.meta.get("versions", {}),
        "cells": [{
            "id": c.cell.id, "params": c.cell.params, "ok": c.ok, "error": c.error, "seconds": c.seconds,
            "figures": {k: f.value for k, f in c.findings.items()},
            "checks": [{"metric": x.metric, "condition": x.condition, "value": x.value, "ok": x.ok} for x in c.checks],
        } for c in r.cells],
        "claims": [{"id": v.claim.id, "text": v.claim.text, "verdict": v.verdict,
                    "deciding_cells": v.deciding, "cells": v.cells} for v in r.claims],
    }


# -- Markdown -----------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "…"


def _event_line(e: tl.Event, t_fault: float | None) -> str:
    rel = f"{e.t - t_fault:+.3f} s" if t_fault is not None else f"{e.t:.3f} s"
    d = e.data
    if e.kind == "http.request":
        body = f" body `{d.get('body')!r}` ({describe_packet(d.get('body'))})" if d.get("body") else ""
        what = f"{d.get('method')} {d.get('path')} sid={d.get('sid') or '(none: handshake)'} transport={d.get('transport')}{body}"
    elif e.kind == "http.response":
        what = f"{d.get('method')} {d.get('path')} sid={d.get('sid')} → {d.get('status')} {d.get('status_text', '')} body `{_fmt(d.get('body'))}`"
    elif e.kind == "http.failed":
        what = f"{d.get('method')} {d.get('path')} sid={d.get('sid')} → {d.get('error')}"
    elif e.kind.startswith("sio."):
        what = e.kind + " " + ", ".join(f"{k}={v}" for k, v in d.items())
    else:
        what = e.kind + " " + ", ".join(f"{k}={_fmt(v)}" for k, v in d.items() if k not in ("argv",))
    return f"`{rel}` {e.src}: {what}"


def _claim_why(v: ClaimVerdict, by_id: dict[str, CellReport]) -> str:
    """The figures that decided a claim, quoted from the first deciding cell."""
    if not v.deciding:
        applies = len(v.cells)
        return f"no cell met either condition ({applies} cells apply)" if applies else "no cell of this run applies"
    conds = v.claim.refuted_if if v.verdict == "refuted" else v.claim.supported_if
    cell = by_id[v.deciding[0]]
    figures = ", ".join(f"`{m}` = {_fmt(cell.findings[m].value)}" for m in conds)
    more = f" (and {len(v.deciding) - 1} more of {len(v.cells)} cells)" if len(v.deciding) > 1 else f" (1 of {len(v.cells)} cells)"
    return f"{figures} in `{cell.cell.id}`{more}"


def _cell_table(r: RunReport) -> list[str]:
    cols = ["old_sid_failure", "stale_sid_400", "stale_sid_request", "disconnect_reason",
            "time_to_new_sid", "handshakes_while_down", "console_pair"]
    lines = ["| cell | expectations | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for c in r.cells:
        if c.error:
            status = "**error**"
        else:
            passed = sum(x.ok for x in c.checks)
            status = f"{'✅' if c.ok else '❌'} {passed}/{len(c.checks)}"
        vals = " | ".join(_fmt(c.findings[k].value) for k in cols)
        lines.append(f"| `{c.cell.id}` | {status} | {vals} |")
    return lines


def _comparison(r: RunReport) -> list[str]:
    """Naive vs fixed singleton, side by side, for each otherwise-equal pair of browser cells."""
    pairs: dict[tuple, dict[str, CellReport]] = {}
    for c in r.cells:
        variant = c.cell.params.get("singleton")
        if variant and c.error is None:
            key = tuple((k, v) for k, v in c.cell.params.items() if k != "singleton")
            pairs.setdefault(key, {})[variant] = c
    rows = []
    for key, by_variant in pairs.items():
        if {"naive", "fixed"} <= by_variant.keys():
            n, f = by_variant["naive"].findings, by_variant["fixed"].findings
            label = ", ".join(v for k, v in key if k != "client")
            for m in ("stale_sid_400", "time_to_new_sid", "handshakes_while_down", "handshakes_after_fault", "connect_errors"):
                rows.append(f"| {label} | {m} | {_fmt(n[m].value)} | {_fmt(f[m].value)} |")
    if not rows:
        return []
    return ["## Naive vs fixed singleton", "",
            "Same mode, transport and fault; only `getAppSocket()` differs.", "",
            "| cell | figure | naive | fixed |", "|---|---|---|---|", *rows, ""]


def _findings_section(r: RunReport) -> list[str]:
    """What the recording shows, stated from the figures (never from prior knowledge)."""
    ok = [c for c in r.cells if c.error is None]
    out = ["## What the recording shows", "",
           "Every line below is derived from this run's own timelines (`cells/*/timeline.jsonl`), not from prior knowledge.", ""]
    pair = [c for c in ok if c.findings["console_pair"].value]
    if pair:
        out.append("- The incident's console pair (GET `net::ERR_CONNECTION_RESET`, then POST 400 with the old sid) "
                   f"was reproduced in: {', '.join(f'`{c.cell.id}`' for c in pair)}.")
    else:
        out.append("- The incident's console pair was not reproduced in any cell of this run.")
    by_fault: dict[str, set[str]] = {}
    for c in ok:
        key = f"{c.cell.params.get('fault')} / {c.cell.params.get('mode')} / {c.cell.params.get('transport')}"
        err = c.findings["old_sid_failure"].value or "no failed request with the old sid"
        by_fault.setdefault(key, set()).add(f"{err}; 400s with old sid: {c.findings['stale_sid_400'].value}")
    for key, outcomes in sorted(by_fault.items()):
        out.append(f"- fault / mode / transport `{key}`: " + " | ".join(sorted(outcomes)))
    bodies = sorted({str(c.findings["stale_sid_body"].value) for c in ok if c.findings["stale_sid_body"].value})
    if bodies:
        out.append(f"- The server's answer to the old sid: {', '.join(f'`{b}`' for b in bodies)}.")
    ws = [c for c in ok if c.findings["transport_before_fault"].value == "websocket"]
    if ws:
        n400 = sum(c.findings["stale_sid_400"].value for c in ws)
        reasons = sorted({str(c.findings["disconnect_reason"].value) for c in ws})
        out.append(f"- On WebSocket ({len(ws)} cells): {n400} 400s with the old sid; disconnect reasons: {', '.join(reasons)}.")
    requests_ = sorted({str(c.findings["stale_sid_request"].value) for c in ok if c.findings["stale_sid_request"].value})
    if requests_:
        out.append(f"- The requests that carried the old sid into a 400: {', '.join(requests_)} "
                   "(a POST `close` is the client's own close packet, sent over the old transport after the transport error).")
    retried = [c for c in ok if c.findings["silent_retry"].value]
    if retried:
        out.append(f"- The proxy reset the open poll, yet the page saw no network error in {len(retried)} cells "
                   f"({', '.join(f'`{c.cell.id}`' for c in retried[:4])}): Chromium retried the request on a new "
                   "connection without telling the page, and the retry got the 400.")
    out.append("")
    return out


def render_markdown(r: RunReport) -> str:
    s = r.scenario
    passed = sum(c.ok for c in r.cells)
    lines = [f"# {s.title}", "",
             f"Scenario `{s.name}` · run `{r.run_dir.name}` · {passed}/{len(r.cells)} cells met every expectation "
             f"· verdict: **{'PASS' if r.ok else 'FAIL'}**", ""]
    if s.incident:
        lines += ["## Incident", "", s.incident, ""]
    if r.claims:
        lines += ["## Hypothesis board", "", "| claim | verdict | why (measured) |", "|---|---|---|"]
        by_id = {c.cell.id: c for c in r.cells}
        for v in r.claims:
            lines.append(f"| {v.claim.text} | **{v.verdict}** | {_claim_why(v, by_id)} |")
        lines.append("")
    lines += ["## Verdict table", "", *_cell_table(r), ""]
    lines += _findings_section(r)
    lines += _comparison(r)
    lines += ["## Cells", ""]
    for c in r.cells:
        lines.append(f"### `{c.cell.id}`")
        lines.append("")
        lines.append(", ".join(f"{k}: `{v}`" for k, v in c.cell.params.items()) + f" · {c.seconds:.1f} s")
        lines.append("")
        if c.error:
            lines += ["```", c.error.strip()[:3000], "```", ""]
            continue
        f = c.findings
        t_fault = c.t_fault
        lines.append(f"- old sid `{_fmt(f['old_sid'].value)}` on `{_fmt(f['transport_before_fault'].value)}`; "
                     f"disconnect reason `{_fmt(f['disconnect_reason'].value)}`; new sid `{_fmt(f['new_sid'].value)}` "
                     f"after {_fmt(f['time_to_new_sid'].value)} s; handshakes while down: {f['handshakes_while_down'].value}")
        decisive = []
        for name in ("old_sid_failure", "stale_sid_400", "disconnect_reason", "new_sid"):
            decisive += f[name].evidence
        seen, ordered = set(), []
        for e in sorted(decisive, key=lambda e: e.t):
            if id(e) not in seen:
                seen.add(id(e))
                ordered.append(e)
        if ordered:
            lines.append("- decisive events (time from the fault):")
            lines += [f"  - {_event_line(e, t_fault)}" for e in ordered[:12]]
        failed = [x for x in c.checks if not x.ok]
        for x in failed:
            lines.append(f"- ❌ expected `{x.metric}` {x.condition}, measured `{_fmt(x.value)}`"
                         + (f" — {x.why}" if x.why else ""))
        lines.append(f"- timeline: `cells/{c.cell.id}/timeline.jsonl`")
        lines.append("")
    lines += ["## Versions", "", ", ".join(f"{k} {v}" for k, v in r.meta.get("versions", {}).items()), "",
              "## Figures", "", *[f"- `{k}`: {desc}" for k, (desc, _) in METRICS.items()], ""]
    return "\n".join(lines)
