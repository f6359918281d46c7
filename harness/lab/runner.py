"""Running a scenario: for each cell, topology up → steps → topology down, all recorded.

The runner only drives and records. It writes, per run folder:
    scenario.yaml            the scenario as it was run
    run.json                 cells, their params, durations, errors, versions
    cells/<id>/timeline.jsonl, logs/, browser.har, trace.zip
Judging and reporting read that folder afterwards (`harness.reports`).
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..components import MissingComponent, describe_missing, missing
from ..core.paths import RUNS_DIR
from ..core.redaction import redact_text
from ..core.runs_folder import writing
from ..core.supervisor import INTERRUPTED, StartupError, Supervisor
from ..core.timeline import Timeline
from ..core.versions import versions
from ..faults import build_fault
from ..modes.base import ServerSettings
from .cell_clients import cell_client
from .scenario import Cell, Scenario
from .steps import STEPS, CellContext
from .topology import bring_up


# Set on Ctrl-C (and SIGTERM) and never cleared: each cell stops at its next step or wait, and
# no new cell starts, even when the KeyboardInterrupt itself was swallowed somewhere in a cell.
ABORT = INTERRUPTED


@dataclass
class CellRun:
    cell: Cell
    dir: Path
    seconds: float = 0.0
    error: str | None = None
    error_kind: str | None = None    # "start": the server never became healthy (a finding, not a lab failure)
    phases: dict[str, float] = field(default_factory=dict)


def new_run_dir(scenario_name: str, base: Path | None = None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = (base or RUNS_DIR) / f"{stamp}-{scenario_name}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = (base or RUNS_DIR) / f"{stamp}-{scenario_name}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def server_settings(scenario: Scenario, cell: Cell | None = None) -> ServerSettings:
    return ServerSettings.from_scenario(scenario.settings_for(cell))


def run_cell(scenario: Scenario, cell: Cell, run_dir: Path, browser=None, target=None) -> CellRun:
    cell_dir = run_dir / "cells" / cell.id
    cell_dir.mkdir(parents=True, exist_ok=True)
    result = CellRun(cell, cell_dir)
    settings = server_settings(scenario, cell)
    t0 = time.monotonic()
    fault = build_fault(scenario.faults[cell.params["fault"]]) if "fault" in cell.params else None
    with Timeline(cell_dir / "timeline.jsonl") as timeline, ExitStack() as stack:
        timeline.record("harness", "cell.start", {"cell": cell.id, "params": cell.params})
        try:
            # --cmd: the command is the deployment; what it needs is its own business.
            absent = missing(scenario.components(cell)) if not (target and target.cmd) else []
            if absent:
                # Reached under CI=true (locally such cells are skipped before the run): a failure.
                raise MissingComponent(describe_missing(absent))
            supervisor = stack.enter_context(Supervisor(cell_dir, timeline))
            mark = time.monotonic()
            profile = scenario.client_profile(cell)
            try:
                topology = bring_up(supervisor, timeline, cell.params["mode"], settings,
                                    with_proxy=bool(fault and fault.needs_proxy)
                                    or (profile["kind"] == "storm" and profile["proxy"]), front=scenario.front(cell),
                                    target=target)
            finally:
                # A start that fails (placeholder-settings) took its time too.
                result.phases["server start"] = time.monotonic() - mark
            if topology.proxy is not None:
                stack.callback(topology.proxy.close)
            mark = time.monotonic()
            client = cell_client(scenario, cell, topology, timeline, cell_dir, browser, settings, stack, target)
            topology.clients.append(client)
            result.phases["client start"] = time.monotonic() - mark
            ctx = CellContext(cell, timeline, topology, client, fault, settings, stack)
            for step in scenario.steps:
                (kind, args), = step.items()
                if ABORT.is_set():
                    raise KeyboardInterrupt("run aborted")
                timeline.record("harness", "step", {"step": kind, "args": args})
                mark = time.monotonic()
                STEPS[kind].run(ctx, args)
                phase = STEPS[kind].phase
                result.phases[phase] = result.phases.get(phase, 0.0) + time.monotonic() - mark
        except StartupError as exc:
            result.error = f"start failure: {exc}"
            result.error_kind = "start"
            timeline.record("harness", "cell.error", {"error": result.error})
        except KeyboardInterrupt:
            timeline.record("harness", "cell.error", {"error": "interrupted"})
            raise
        except Exception as exc:  # noqa: BLE001 - one broken cell must not lose the others
            result.error = f"{type(exc).__name__}: {exc}"
            timeline.record("harness", "cell.error", {"error": result.error, "traceback": traceback.format_exc()})
        finally:
            mark = time.monotonic()
            stack.close()
            result.phases["teardown"] = time.monotonic() - mark
            timeline.record("harness", "cell.end", {"cell": cell.id, "error": result.error})
    result.seconds = time.monotonic() - t0
    return result


def skipped_cells(scenario: Scenario, cells: list[Cell]) -> dict[str, str]:
    """Cell id -> why it cannot run here (a component missing); empty under CI=true, where they run and fail."""
    from ..components import in_ci

    if in_ci():
        return {}
    out = {}
    for cell in cells:
        absent = missing(scenario.components(cell))
        if absent:
            out[cell.id] = describe_missing(absent)
    return out


@dataclass
class Planned:
    """One scenario of a run: the cells to run and the folder they go to."""

    scenario: Scenario
    cells: list[Cell]
    run_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)
    results: dict[str, CellRun] = field(default_factory=dict)


def _write_meta(p: Planned) -> None:
    # Cells in matrix order, whatever order they finished in.
    p.meta["cells"] = [{"id": c.id, "params": c.params, "seconds": round(r.seconds, 3),
                        "error": redact_text(r.error) if r.error else None,
                        "error_kind": r.error_kind,
                        "phases": {k: round(v, 3) for k, v in r.phases.items()}}
                       for c in p.cells if (r := p.results.get(c.id))]
    (p.run_dir / "run.json").write_text(json.dumps(p.meta, indent=2))


def run_plan(plan: list[Planned], *, jobs: int = 1,
             progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
             target=None) -> None:
    """Run every cell of every planned scenario, `jobs` cells at a time.

    Cells share nothing a fault could touch: each has its own supervisor, ports, proxy and
    browser context; only the browser process is shared (one per run).
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    for p in plan:
        p.run_dir.mkdir(parents=True, exist_ok=True)
        # The scenario as loaded, not as the file is now: a repetition judged against an edited file
        # would meet figures its run never measured.
        (p.run_dir / "scenario.yaml").write_text(p.scenario.text or p.scenario.path.read_text(encoding="utf-8"),
                                                 encoding="utf-8")
        p.meta = {"scenario": p.scenario.name, "started": datetime.now(timezone.utc).isoformat(),
                  "versions": versions(), "jobs": jobs, "cells": []}
        if target is not None and not target.is_reference:
            p.meta["target"] = target.describe()
    work = [(p, c) for p in plan for c in p.cells]
    width = len(str(len(work)))
    needs_browser = any(p.scenario.client_profile(c)["kind"] == "browser" for p, c in work)
    with ExitStack() as stack:
        for p in plan:                      # `siolab clean` leaves a folder being written alone
            stack.enter_context(writing(p.run_dir))
        browser = None
        if needs_browser:
            from ..clients.browser import BrowserDriver

            mark = time.monotonic()
            browser = stack.enter_context(BrowserDriver())
            for p in plan:
                p.meta["browser_start_s"] = round(time.monotonic() - mark, 3)
        done = 0

        def one(p: Planned, cell: Cell) -> tuple[Planned, CellRun]:
            if ABORT.is_set():
                raise KeyboardInterrupt("run aborted")
            if jobs == 1:
                progress(f"[{done + 1:>{width}}/{len(work)}] {p.scenario.name} {cell.id} …")
            return p, run_cell(p.scenario, cell, p.run_dir, browser, target)

        def finished(p: Planned, res: CellRun) -> None:
            nonlocal done
            done += 1
            p.results[res.cell.id] = res
            status = f"error: {res.error.splitlines()[0]}" if res.error else "done"
            progress(f"[{done:>{width}}/{len(work)}] {p.scenario.name} {res.cell.id}: {status} ({res.seconds:.1f} s)")
            _write_meta(p)

        if jobs == 1:
            for p, cell in work:
                finished(*one(p, cell))
                if ABORT.is_set():    # the interrupt came while the cell was closing, and was lost there
                    raise KeyboardInterrupt("run aborted")
        else:
            # Worker threads live until every cell is done: the children's PDEATHSIG follows
            # the thread that started them.
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, p, c) for p, c in work]
                try:
                    for fut in as_completed(futures):
                        finished(*fut.result())
                except KeyboardInterrupt:
                    ABORT.set()
                    for fut in futures:
                        fut.cancel()
                    raise
    for p in plan:
        p.meta["finished"] = datetime.now(timezone.utc).isoformat()
        _write_meta(p)


def run_scenario(scenario: Scenario, cells: list[Cell], *, run_dir: Path | None = None, jobs: int = 1,
                 progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> Path:
    planned = Planned(scenario, cells, run_dir or new_run_dir(scenario.name))
    run_plan([planned], jobs=jobs, progress=progress)
    return planned.run_dir
