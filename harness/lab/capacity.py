"""`--jobs auto`: how many cells this machine can hold side by side.

Cells mostly wait (server starts, faults, reconnection delays: bench/README.md measures
~84 % of a cell's time as waiting), so one CPU carries about two of them; the load already
on the machine takes its share first. Memory bounds the rest: a browser cell costs a
Chromium renderer and a server, a Python cell a server and a client.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

CELLS_PER_FREE_CPU = 2
# Measured here (PSS, /proc/PID/smaps_rollup, during connect-refused's browser cells): a renderer of
# the layout page 35-60 MB, a gevent server 50 MB; budgeted with room, as servers reach 150 MB
# (gunicorn -w 2 runs two) and a Python cell's client is a process of its own.
BROWSER_CELL_MB = 300
PYTHON_CELL_MB = 200
RESERVE_MB = 1024          # the shared browser process (80 MB), Playwright's driver (100 MB), the harness, the rest


@dataclass(frozen=True)
class Machine:
    """The facts the choice is made from."""

    cpus: int
    load: float                 # 1-minute load average
    mem_available_mb: int


@dataclass(frozen=True)
class Choice:
    jobs: int
    why: str


def this_machine() -> Machine:
    try:
        cpus = len(os.sched_getaffinity(0))     # the CPUs this process may use (taskset, containers)
    except AttributeError:
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return Machine(cpus, load, _mem_available_mb())


def _mem_available_mb() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20


def pick_jobs(machine: Machine, *, cells: int, browser: bool) -> Choice:
    """The number of cells to run side by side, and why, in words for the first progress line."""
    # On a loaded machine, still one waiting cell per CPU (measured: 2 jobs at load 9-12 gave 1.6x).
    free_cpu = max(machine.cpus - machine.load, machine.cpus / 2)
    by_cpu = max(1, round(CELLS_PER_FREE_CPU * free_cpu))
    per_cell = BROWSER_CELL_MB if browser else PYTHON_CELL_MB
    by_mem = max(1, (machine.mem_available_mb - RESERVE_MB) // per_cell)
    jobs = max(1, min(by_cpu, by_mem, cells))
    why = (f"{machine.cpus} CPU{'s' if machine.cpus != 1 else ''} at load {machine.load:.2f} hold {by_cpu}; "
           f"{machine.mem_available_mb / 1024:.1f} GB available holds {by_mem} "
           f"{'browser' if browser else 'Python'} cells")
    if cells < min(by_cpu, by_mem):
        why += f"; {cells} cell{'s' if cells != 1 else ''} to run"
    return Choice(jobs, why)
