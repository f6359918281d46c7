"""The catalogue's wall time with 1 and with N jobs, side by side, and where each scenario's time goes.

    .venv/bin/python bench/catalogue_jobs.py [--jobs 2] [--scenario NAME ...]

Runs the chosen scenarios (default: the whole catalogue) once with 1 job and once with
--jobs, with real servers, faults and browsers, and prints:
  - the wall time of each run and their ratio;
  - per scenario (from the 1-job run): its cells' time against the sum of their inherent
    waits (server start, the fault's own duration, the waits for clients, the scenario's
    observation sleeps) — what is left is the lab's own overhead (client start, teardown).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness.runner import Planned, run_plan
from harness.scenario import catalogue, load

INHERENT = ("server start", "fault", "waiting for clients", "observing")


def run(scenarios: list, jobs: int, base: Path) -> tuple[float, list[Planned]]:
    plan = [Planned(s, s.cells, base / s.name) for s in scenarios]
    mark = time.monotonic()
    run_plan(plan, jobs=jobs, progress=lambda s: None)
    return time.monotonic() - mark, plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    args = ap.parse_args()
    names = args.scenario or [p.stem for p in catalogue()]
    # Loaded once, up front: both runs measure the same scenarios even if a file changes meanwhile.
    scenarios = [load(n) for n in names]
    with tempfile.TemporaryDirectory() as tmp:
        wall1, plan1 = run(scenarios, 1, Path(tmp) / "j1")
        wall_n, plan_n = run(scenarios, args.jobs, Path(tmp) / f"j{args.jobs}")
        errors = sum(1 for p in plan1 + plan_n for r in p.results.values() if r.error and r.error_kind != "start")
        cells = sum(len(p.cells) for p in plan1)
        print(f"catalogue: {len(names)} scenarios, {cells} cells" + (f", {errors} cell errors" if errors else ""))
        print(f"{'jobs':>6}{'wall':>10}")
        print(f"{1:>6}{wall1:>9.1f}s")
        print(f"{args.jobs:>6}{wall_n:>9.1f}s   speed-up {wall1 / wall_n:.2f}×\n")
        print(f"{'scenario (1 job)':<28}{'cells':>6}{'time':>9}{'inherent':>10}{'overhead':>10}{'share':>7}")
        for p in plan1:
            meta = json.loads((p.run_dir / "run.json").read_text())
            total = sum(c["seconds"] for c in meta["cells"])
            inherent = sum(v for c in meta["cells"] for k, v in c["phases"].items() if k in INHERENT)
            over = total - inherent
            print(f"{p.scenario.name:<28}{len(p.cells):>6}{total:>8.1f}s{inherent:>9.1f}s{over:>9.1f}s"
                  f"{(over / total * 100 if total else 0):>6.0f}%")


if __name__ == "__main__":
    main()
