"""The catalogue's wall time with 1 and with N jobs, side by side, and where each scenario's time goes.

    .venv/bin/python bench/catalogue_jobs.py [--jobs 2] [--scenario NAME ...]

Runs the chosen scenarios (default: the whole catalogue) once with 1 job and once with
--jobs, with real servers, faults and browsers, and prints:
  - the wall time of each run and their ratio;
  - per scenario (from the 1-job run): its cells' time against the sum of their inherent
    waits — process starts (`start`: the server, and a start that fails), the fault's own
    duration (`fault`: restarts, outages, stalls), and `waits`: the waits for clients
    (reconnection delays) and the scenario's observation sleeps — what is left is the lab's
    own overhead (browser context and page load, teardown).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness.lab.runner import Planned, run_plan
from harness.lab.scenario import catalogue, load

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
        print(f"{'scenario (1 job)':<28}{'cells':>6}{'time':>8}{'inherent':>10}{'start':>8}{'fault':>8}"
              f"{'waits':>8}{'overhead':>10}{'share':>7}")
        rows = []
        for p in plan1:
            meta = json.loads((p.run_dir / "run.json").read_text())
            rows.append((p.scenario.name, len(p.cells), meta["cells"]))
        rows.append(("all", sum(r[1] for r in rows), [c for r in rows for c in r[2]]))
        for name, ncells, cells in rows:
            phase = {k: sum(c["phases"].get(k, 0.0) for c in cells) for k in INHERENT}
            total = sum(c["seconds"] for c in cells)
            inherent = sum(phase.values())
            waits = phase["waiting for clients"] + phase["observing"]
            over = total - inherent
            print(f"{name:<28}{ncells:>6}{total:>7.1f}s{inherent:>9.1f}s{phase['server start']:>7.1f}s"
                  f"{phase['fault']:>7.1f}s{waits:>7.1f}s{over:>9.1f}s{(over / total * 100 if total else 0):>6.0f}%")

if __name__ == "__main__":
    main()
