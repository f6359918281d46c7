"""The judged run: a run folder read back, its cells measured and checked, its claims judged.

Everything a renderer needs comes from here; nothing here renders, and nothing here
judges on its own: figures come from `harness.checks`, verdicts from `checks.judge`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import timeline as tl
from ..checks import Finding, measure
from ..checks.cell_view import CLIENT_SOURCES, CellView
from ..checks.judge import CheckResult, ClaimVerdict, check_expectations, judge_claims
from ..lab.scenario import Cell, Scenario, ScenarioError
from ..lab.scenario import load as load_scenario
from .wording import is_socketio

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
    kind: str = ""                                       # the client's kind: browser or python
    error_kind: str | None = None                        # "start": the server never became healthy

    @property
    def judged(self) -> bool:
        """Ran to the end, or failed to start where the scenario judges exactly that (start_failed)."""
        return self.error is None or (self.error_kind == "start" and any(c.metric == "start_failed" for c in self.checks))

    @property
    def ok(self) -> bool:
        return self.judged and all(c.ok for c in self.checks)

    @property
    def id(self) -> str:
        return self.cell.id

    @property
    def client(self) -> str:
        """browser or python (a scenario's client profile resolved to its kind)."""
        return self.kind or self.cell.params.get("client", "")

    @property
    def t_zero(self) -> float | None:
        """What times are shown relative to: the fault, or else the client's first Socket.IO request,
        or else the start of the cell."""
        return self._zero()[0]

    def _zero(self) -> tuple[float | None, str]:
        if self.t_fault is not None:
            return self.t_fault, "since the fault"
        for e in self.events:
            if e.kind in ("http.request", "ws.open") and e.src in CLIENT_SOURCES and is_socketio(e.data):
                return e.t, "since the first Socket.IO request"
        return (self.events[0].t if self.events else None), "since the cell started"

    @property
    def zero_label(self) -> str:
        return self._zero()[1]

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
        return all(c.ok for c in self.cells) and not self.changed_claims

    @property
    def changed_claims(self) -> list[ClaimVerdict]:
        """Claims whose measured verdict is not the one the scenario file records."""
        return [v for v in self.claims if v.changed]

    @property
    def by_id(self) -> dict[str, CellReport]:
        return {c.cell.id: c for c in self.cells}

    @property
    def has_faults(self) -> bool:
        return bool(self.scenario.faults)

    def referenced_figures(self) -> list[str]:
        """The figures the scenario's expectations and claims name, in the order they first appear."""
        names: list[str] = []
        for exp in self.scenario.expectations:
            names += list(exp.that)
        for claim in self.scenario.claims:
            names += list(claim.supported_if) + list(claim.refuted_if)
        return list(dict.fromkeys(names))


def _artifacts(run_dir: Path, cell_dir: Path) -> list[str]:
    found = []
    for pattern in ARTIFACT_PATTERNS:
        found += sorted(str(p.relative_to(run_dir)) for p in cell_dir.glob(pattern) if p.is_file())
    return found


def _kind(scenario: Scenario, cell: Cell) -> str:
    try:
        return str(scenario.client_profile(cell)["kind"])
    except (AttributeError, KeyError):  # a run folder from before client profiles
        return cell.params.get("client", "")


def _check_meta(meta: Any, meta_path: Path) -> None:
    """run.json as `siolab run` writes it: what judging reads from it, checked (a hand-edited or cut file)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("cells", []), list):
        raise ScenarioError(f"{meta_path}: not a run's record (a mapping with a list of cells)")
    for i, entry in enumerate(meta.get("cells", [])):
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]
                and isinstance(entry.get("params"), dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in entry["params"].items())
                and isinstance(entry.get("seconds", 0.0), (int, float))
                and isinstance(entry.get("error"), (str, type(None)))):
            raise ScenarioError(f"{meta_path}: cells.{i}: not a cell's record (id, params, seconds, error)")


def judge_run(run_dir: Path) -> RunReport:
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise ScenarioError(f"{run_dir}: not a run folder (no run.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{meta_path}: not valid JSON ({exc})") from None
    _check_meta(meta, meta_path)
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
                                CellView(events).t_fault, events, _artifacts(run_dir, cell_dir), _kind(scenario, cell),
                                entry.get("error_kind")))
    claims = judge_claims([(c.cell, c.findings) for c in cells if c.judged], scenario.claims, scenario.cells)
    if meta.get("target"):   # your app (harness/lab/targets.py): reported, never compared with the record
        for v in claims:
            v.your_app = True
    return RunReport(run_dir, scenario, meta, cells, claims)
