"""`--repeat N`: the same planned cells run N times, one repetition after the other, each into
its own complete run folder (rep-1/ … rep-N/ under the run folder). Only drives: the tally
is `checks.stability`, its reports `reports.stability`.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from ..reports.stability import REP_PREFIX
from .runner import ABORT, Planned, run_plan


def rep_dir(run_dir: Path, k: int) -> Path:
    return Path(run_dir) / f"{REP_PREFIX}{k}"


def run_repeated(plan: list[Planned], run_dir: Path, repeat: int, *, jobs: int = 1, target=None,
                 progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
                 done: Callable[[int, list[Planned]], None] = lambda k, rep: None) -> list[list[Planned]]:
    """Run `plan` `repeat` times; `plan`'s folders are under `run_dir` and move to rep-K/ in each.
    `done(k, rep)` runs after repetition k (its reports, so a Ctrl-C later keeps them)."""
    reps = []
    for k in range(1, repeat + 1):
        if ABORT.is_set():      # a Ctrl-C during an earlier repetition: start no other
            raise KeyboardInterrupt("run aborted")
        folder = rep_dir(run_dir, k)
        rep = [Planned(p.scenario, list(p.cells), folder / Path(p.run_dir).relative_to(run_dir)) for p in plan]
        run_plan(rep, jobs=jobs, target=target, progress=lambda s, k=k: progress(f"rep {k}/{repeat} {s}"))
        if ABORT.is_set():
            raise KeyboardInterrupt("run aborted")
        done(k, rep)
        reps.append(rep)
    return reps
