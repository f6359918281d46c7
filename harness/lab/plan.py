"""Planning: which cells of which scenarios run, against which target. One function for every
front door (the `siolab` command and the pytest plugin), so they never select differently.

    planned, notes = plan(scenarios, filters, target, run_dir_for=lambda s: base / s.name)

`filters` map matrix axes to the values asked for (None: any). A cell leaves the plan when the
target cannot host its mode (your app: `harness/lab/targets.py`), or, locally, when a component
it needs is missing (nginx, Redis, Node; under CI=true it stays, and fails). `notes` say why,
in lines ready to print.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable

from .runner import Planned, skipped_cells
from .scenario import Scenario

AXES = ("mode", "client", "fault", "transport", "singleton")


class PlanError(ValueError):
    """The selection cannot run: a filter names nothing, or the target hosts none of it (bad input)."""


def check_filters(scenario: Scenario, filters: dict[str, list[str] | None]) -> None:
    """Every filter value names something in the scenario's matrix."""
    for axis, values in filters.items():
        known = {c.params.get(axis) for c in scenario.cells}
        for v in values or []:
            if v not in known:
                raise PlanError(f"--{axis} {v}: not in the matrix of {scenario.name} "
                                f"(has: {', '.join(sorted(k for k in known if k)) or 'none'})")


def plan(scenarios: list[Scenario], filters: dict[str, list[str] | None], target, *,
         run_dir_for: Callable[[Scenario], Path], skip_missing: bool = True) -> tuple[list[Planned], list[str]]:
    """The planned scenarios with their cells, and notes on every cell left out."""
    notes: list[str] = []
    planned = [Planned(s, s.select(**filters), run_dir_for(s)) for s in scenarios]
    planned = [p for p in planned if p.cells]
    if not planned:
        raise PlanError("no cell matches the given filters")
    if target is not None and (not target.is_reference or target.page):
        for p in planned:
            p.cells, left_out = target.cells(p.cells)
            if left_out and filters.get("mode"):
                raise PlanError("; ".join(sorted({why for _, why in left_out})))
            for why, n in sorted(Counter(why for _, why in left_out).items()):
                notes.append(f"{p.scenario.name}: {n} cell(s) left out: {why}")
        if not any(p.cells for p in planned):
            raise PlanError("no cell of the selection can run against this target (the reasons above)"
                            if notes else "no cell of the selection can run against this target")
    if skip_missing and not (target is not None and target.cmd):   # --cmd: what it needs is its own business
        for p in planned:
            skipped = skipped_cells(p.scenario, p.cells)
            notes += [f"skipping {p.scenario.name} {cell_id}: {why}" for cell_id, why in skipped.items()]
            p.cells = [c for c in p.cells if c.id not in skipped]
    return [p for p in planned if p.cells], notes
