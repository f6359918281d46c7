"""`--jobs auto`: the number of cells side by side, picked from small fakes of the machine's facts."""
from __future__ import annotations

from harness.lab.capacity import Machine, pick_jobs, this_machine


def test_a_quiet_two_core_box_holds_three_or_four_cells():
    assert pick_jobs(Machine(cpus=2, load=0.0, mem_available_mb=20_000), cells=50, browser=True).jobs == 4
    assert pick_jobs(Machine(cpus=2, load=0.5, mem_available_mb=20_000), cells=50, browser=True).jobs == 3


def test_load_takes_its_share_but_a_busy_box_still_runs_one_cell_per_cpu():
    assert pick_jobs(Machine(cpus=8, load=4.0, mem_available_mb=64_000), cells=50, browser=True).jobs == 8
    assert pick_jobs(Machine(cpus=2, load=11.0, mem_available_mb=20_000), cells=50, browser=True).jobs == 2
    assert pick_jobs(Machine(cpus=1, load=3.0, mem_available_mb=20_000), cells=50, browser=True).jobs == 1


def test_memory_bounds_browser_cells_harder_than_python_cells():
    small = Machine(cpus=16, load=0.0, mem_available_mb=3_072)
    browser = pick_jobs(small, cells=50, browser=True)
    python = pick_jobs(small, cells=50, browser=False)
    assert browser.jobs < python.jobs < 32
    assert "3.0 GB available holds" in browser.why and "browser cells" in browser.why


def test_never_less_than_one_nor_more_than_the_cells():
    assert pick_jobs(Machine(cpus=2, load=0.0, mem_available_mb=500), cells=50, browser=True).jobs == 1
    few = pick_jobs(Machine(cpus=32, load=0.0, mem_available_mb=128_000), cells=3, browser=False)
    assert few.jobs == 3
    assert few.why.endswith("3 cells to run")


def test_the_reason_names_the_facts():
    why = pick_jobs(Machine(cpus=2, load=0.43, mem_available_mb=22_000), cells=12, browser=True).why
    assert why.startswith("2 CPUs at load 0.43 hold 3;")


def test_this_machine_reads_real_facts():
    m = this_machine()
    assert m.cpus >= 1 and m.load >= 0 and m.mem_available_mb > 0
