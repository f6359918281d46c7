"""Where the time of one cell goes: server start, client start, fault, recovery, report.

    .venv/bin/python bench/cell_split.py [--mode gevent] [--fault restart] [--repeat 3]

Runs one browser cell and one Python cell of stale-sid-after-restart (real servers,
Chromium, faults) and prints the phases of each side by side, plus the browser's own
start (once per run) and the report's build time. Figures are medians over --repeat runs.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from harness import reports as report
from harness.clients.browser import BrowserDriver
from harness.lab.runner import new_run_dir, run_cell
from harness.lab.scenario import load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="gevent")
    ap.add_argument("--fault", default="restart")
    ap.add_argument("--transport", default="polling")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    scenario = load("stale-sid-after-restart")
    pick = dict(mode=[args.mode], fault=[args.fault], transport=[args.transport])
    browser_cell = scenario.select(client=["browser"], singleton=["naive"], **pick)[0]
    python_cell = scenario.select(client=["python"], **pick)[0]

    rows: dict[str, dict[str, list[float]]] = {"browser": {}, "python": {}}
    browser_starts, report_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            run_dir = new_run_dir(scenario.name, base=Path(tmp))
            (run_dir / "scenario.yaml").write_text(scenario.path.read_text())
            mark = time.monotonic()
            with BrowserDriver() as browser:
                browser_starts.append(time.monotonic() - mark)
                for label, cell in (("browser", browser_cell), ("python", python_cell)):
                    res = run_cell(scenario, cell, run_dir, browser)
                    if res.error:
                        raise SystemExit(f"{cell.id}: {res.error}")
                    for phase, secs in res.phases.items():
                        rows[label].setdefault(phase, []).append(secs)
                    rows[label].setdefault("cell total", []).append(res.seconds)
            import json
            (run_dir / "run.json").write_text(json.dumps({"scenario": scenario.name, "cells": [
                {"id": c.id, "params": c.params} for c in (browser_cell, python_cell)]}))
            mark = time.monotonic()
            built = report.build(run_dir)
            report_times.append(time.monotonic() - mark)
            for c in built.cells:
                label = "browser" if c.cell.params["client"] == "browser" else "python"
                ttr = c.findings["time_to_new_sid"].value
                if ttr is not None:
                    rows[label].setdefault("fault → new sid", []).append(ttr)

    med = statistics.median
    print(f"stale-sid-after-restart, mode {args.mode}, fault {args.fault}, transport {args.transport}, "
          f"median of {args.repeat}\n")
    print(f"{'phase':<22}{'browser cell':>14}{'python cell':>14}")
    phases = list(dict.fromkeys([*rows["browser"], *rows["python"]]))
    for phase in phases:
        b, p = rows["browser"].get(phase), rows["python"].get(phase)
        print(f"{phase:<22}{(f'{med(b):.2f} s' if b else '—'):>14}{(f'{med(p):.2f} s' if p else '—'):>14}")
    print(f"\nbrowser start (once per run): {med(browser_starts):.2f} s")
    print(f"report build (both cells):    {med(report_times):.2f} s")
    b_total, p_total = med(rows["browser"]["cell total"]), med(rows["python"]["cell total"])
    print(f"browser / python cell time:   {b_total / p_total:.2f}×")


if __name__ == "__main__":
    main()
