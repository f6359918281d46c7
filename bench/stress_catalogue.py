"""The lab on a busy machine: the catalogue run several times while two busy processes take the CPUs.

    .venv/bin/python bench/stress_catalogue.py [--scenario NAME ...] [--repeat 3] [--jobs auto] [--hogs 2] [--out DIR]

Runs the chosen scenarios (default: the whole catalogue) with `--repeat` beside `--hogs`
processes that do nothing but spin (each in its own process group under the harness's
supervisor: killed when the script ends, on Ctrl-C, on SIGTERM, and by PR_SET_PDEATHSIG if
it is killed outright), and prints:
  - the wall time of the repetitions;
  - the flip table: the claims and expectations whose verdict or outcome was not the same in
    every repetition, with the cells that disagreed (harness/checks/stability.py);
  - the load average sampled every second during the run: min / median / max.
A busy machine may change figures, never verdicts (DESIGN.md): any row of the flip table is a
finding. The run folder (rep-1/ … rep-N/, stability.*) is kept and printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

# The checkout this script lives in, not whichever one the virtualenv installed (worktrees share one).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import reports as report_mod  # noqa: E402
from harness.lab.capacity import Machine, pick_jobs, this_machine  # noqa: E402
from harness.lab.repeat import run_repeated  # noqa: E402
from harness.reports import stability  # noqa: E402
from harness.lab.runner import Planned, new_run_dir, skipped_cells  # noqa: E402
from harness.lab.scenario import catalogue, load  # noqa: E402
from harness.core.supervisor import Supervisor, TerminationAsInterrupt  # noqa: E402
from harness.core.timeline import Timeline  # noqa: E402

SPIN = "while True:\n    pass\n"


class LoadSampler:
    """The 1-minute load average, every `every` seconds, until stopped."""

    def __init__(self, every: float = 1.0):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def flip_table(result: stability.StabilityReport) -> list[str]:
    flips = result.stability.unstable
    if not flips:
        return [f"flips: none (every claim and expectation came out the same in all "
                f"{result.stability.repetitions} repetitions)"]
    out = [f"flips: {len(flips)}", f"  {'scenario':<28} {'kind':<12} {'name':<48} tally"]
    for t in flips:
        out.append(f"  {t.scenario:<28} {t.kind:<12} {t.name[:48]:<48} {t.tally_text()}")
        out += [f"      {d}" for d in stability.disagreement(t)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", default="auto", help="a number, or auto (the hogs counted in the load)")
    ap.add_argument("--hogs", type=int, default=2, help="busy processes beside the run")
    ap.add_argument("--out", help="run folder (default: reports/runs/<time>-stress)")
    args = ap.parse_args()
    scenarios = [load(n) for n in args.scenario or [p.stem for p in catalogue()]]
    run_dir = Path(args.out) if args.out else new_run_dir("stress")
    plan = []
    for s in scenarios:
        skipped = skipped_cells(s, s.cells)
        for cell_id, why in skipped.items():
            print(f"skipping {s.name} {cell_id}: {why}", file=sys.stderr)
        cells = [c for c in s.cells if c.id not in skipped]
        if cells:
            plan.append(Planned(s, cells, run_dir / s.name if len(scenarios) > 1 else run_dir))
    total = sum(len(p.cells) for p in plan)
    if args.jobs == "auto":
        m = this_machine()
        browser = any(p.scenario.client_profile(c)["kind"] == "browser" for p in plan for c in p.cells)
        choice = pick_jobs(Machine(m.cpus, m.load + args.hogs, m.mem_available_mb), cells=total, browser=browser)
        jobs, why = choice.jobs, f"auto, the hogs counted in the load: {choice.why}"
    else:
        jobs, why = int(args.jobs), "as given"
    print(f"stress: {len(plan)} scenario{'s' * (len(plan) != 1)}, {total} cells × {args.repeat} repetitions, {jobs} at a time ({why}), "
          f"beside {args.hogs} busy processes; run folder {run_dir}", file=sys.stderr, flush=True)

    runs = []

    def done(k: int, rep: list[Planned]) -> None:
        reports = [report_mod.build(p.run_dir) for p in rep]
        if len(scenarios) > 1:
            report_mod.write_index(rep[0].run_dir.parent, reports)
        runs.append(reports)

    hog_dir = run_dir / "hogs"
    hog_dir.mkdir(parents=True, exist_ok=True)
    try:
        with TerminationAsInterrupt(), Timeline(hog_dir / "timeline.jsonl") as tl, Supervisor(hog_dir, tl) as sup:
            for i in range(args.hogs):
                sup.start(f"hog-{i + 1}", [sys.executable, "-c", SPIN], src="harness")
            with LoadSampler() as load_avg:
                mark = time.monotonic()
                run_repeated(plan, run_dir, args.repeat, jobs=jobs, done=done)
                wall = time.monotonic() - mark
    except KeyboardInterrupt:
        print("stress: interrupted; the hogs and every process of the run were stopped", file=sys.stderr)
        return 130
    result = stability.from_reports(run_dir, runs)
    stability.write(result)
    samples = load_avg.samples
    print(f"wall: {wall:.1f} s for {args.repeat} repetitions of {total} cells ({jobs} at a time, {args.hogs} hogs)")
    failed = ", ".join(f"rep-{k} {name}" for k, name in result.stability.failed)
    print(f"repetitions that failed: {failed or 'none'}")
    for line in flip_table(result):
        print(line)
    print(f"load average (1 min) over {len(samples)} samples: min {min(samples):.2f}, "
          f"median {statistics.median(samples):.2f}, max {max(samples):.2f}")
    print(f"stability report: {run_dir / 'stability.md'}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
