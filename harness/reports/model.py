"""The judged run: a run folder read back, its cells measured and checked, its claims judged.

Everything a renderer needs comes from here; nothing here renders, and nothing here
judges on its own: figures come from `harness.checks`, verdicts from `checks.judge`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import timeline as tl
from ..checks import Finding, measure
from ..checks.cell_view import CellView
from ..checks.judge import CheckResult, ClaimVerdict, check_expectations, judge_claims
from ..scenario import Cell, Scenario, ScenarioError
from ..scenario import load as load_scenario

ARTIFACT_PATTERNS = ("timeline.jsonl", "browser.har", "trace.zip", "logs/*.log")


@dataclass
class CellReport:
    cell: Cell
    error: str | None
    seconds: float
    findings: dict[str, Finding]
    checks: list[CheckResult]
    t_fault: float | None = None
    events: list[tl.Event] = field(default_factory=list, repr=False)
    artifacts: list[str] = field(default_factory=list)   # paths relative to the run folder

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)

    @property
    def id(self) -> str:
        return self.cell.id

    @property
    def client(self) -> str:
        return self.cell.params.get("client", "")

    def figure(self, name: str) -> Any:
        f = self.findings.get(name)
        return f.value if f is not None else None


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

    @property
    def by_id(self) -> dict[str, CellReport]:
        return {c.cell.id: c for c in self.cells}


def _artifacts(run_dir: Path, cell_dir: Path) -> list[str]:
    found = []
    for pattern in ARTIFACT_PATTERNS:
        found += sorted(str(p.relative_to(run_dir)) for p in cell_dir.glob(pattern) if p.is_file())
    return found


def judge_run(run_dir: Path) -> RunReport:
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise ScenarioError(f"{run_dir}: not a run folder (no run.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{meta_path}: not valid JSON ({exc})") from None
    scenario = load_scenario(run_dir / "scenario.yaml")
    by_id = {c.id: c for c in scenario.cells}
    cells = []
    for entry in meta.get("cells", []):
        cell = by_id.get(entry["id"]) or Cell(entry["params"])
        cell_dir = run_dir / "cells" / entry["id"]
        path = cell_dir / "timeline.jsonl"
        events = tl.load(path) if path.exists() else []
        findings = measure(events)
        checks = check_expectations(cell, findings, scenario.expectations)
        cells.append(CellReport(cell, entry.get("error"), entry.get("seconds", 0.0), findings, checks,
                                CellView(events).t_fault, events, _artifacts(run_dir, cell_dir)))
    claims = judge_claims([(c.cell, c.findings) for c in cells if c.error is None], scenario.claims)
    return RunReport(run_dir, scenario, meta, cells, claims)
