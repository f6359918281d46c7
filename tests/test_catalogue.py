"""The catalogue, end to end, with real servers, real faults and real clients.

This is the reconnect regression suite: a scenario's expectations encode what the lab
measured; when a behaviour changes, `siolab run` exits 1 and this test fails with the
verdict table.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.components import describe_missing, missing
from harness.lab.scenario import catalogue, load
from harness.core.supervisor import port_is_listening

from . import lab_runs
from .conftest import pids_alive, require

ROOT = Path(__file__).resolve().parent.parent


TAG = "SIOLAB_TEST_RUN"


def tagged_env() -> tuple[dict[str, str], str]:
    """The environment for a run whose processes can be told apart: every process it starts
    inherits the tag, and other browsers on the machine (another session's) do not carry it."""
    tag = uuid.uuid4().hex
    return {**os.environ, TAG: tag}, tag


def chromium_pids(tag: str) -> set[int]:
    out = subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True).stdout
    mine = set()
    for pid in map(int, out.split()):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if f"{TAG}={tag}".encode() in fh.read().split(b"\0"):
                    mine.add(pid)
        except OSError:     # gone, or not ours to read
            continue
    return mine


def started(run_dir: Path):
    """(pids, ports) of every process the run's supervisors started, from the timelines."""
    pids, ports = [], []
    for path in run_dir.glob("cells/*/timeline.jsonl"):
        for line in path.read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e["kind"] == "proc.start":
                pids.append(e["data"]["pid"])
                if e["data"].get("port"):
                    ports.append(e["data"]["port"])
    return pids, ports


def group_members(pgids):
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    return pids_alive([int(a) for a, b in (line.split() for line in out.splitlines()) if int(b) in pgids])


def assert_nothing_left(run_dir: Path, tag: str):
    pids, ports = started(run_dir)
    assert pids, "the run started no process?"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not group_members(set(pids)) and not any(port_is_listening(p) for p in ports) \
                and not chromium_pids(tag):
            break
        time.sleep(0.2)
    assert group_members(set(pids)) == []
    assert [p for p in ports if port_is_listening(p)] == []
    assert chromium_pids(tag) == set()


@pytest.fixture(scope="session")
def catalogue_run(tmp_path_factory):
    """The whole catalogue, once, side by side (`siolab run --all`, its jobs picked for this machine),
    with secrets planted; the run folders are kept for test_reports and test_diagnose (lab_runs)."""
    base = lab_runs.catalogue_dir(tmp_path_factory.getbasetemp(), "")     # <basetemp>/catalogue/<scenario>/
    env, tag = tagged_env()
    proc = lab_runs.run_cli("run", "--all", "--out", str(base), env=env, timeout=3600)
    print(proc.stderr[-6000:])
    return base, proc, tag


@pytest.mark.parametrize("path", catalogue(), ids=lambda p: p.stem)
def test_scenario_expectations_hold(path, catalogue_run, chromium_path):
    scenario = load(path)
    absent = missing(sorted({name for cell in scenario.cells for name in scenario.components(cell)}))
    require(not absent, f"{path.stem}: {describe_missing(absent)}")   # nginx, redis-server, node
    base, proc, tag = catalogue_run
    run_dir = base / path.stem
    assert (run_dir / "report.json").exists(), f"{path.stem} did not run: {proc.stderr[-4000:]}"
    report = json.loads((run_dir / "report.json").read_text())
    failed = {c["id"]: [x for x in c["checks"] if not x["ok"]] or c["error"] for c in report["cells"] if not c["ok"]}
    changed = [cl for cl in report["claims"] if cl["changed"]]
    assert not failed and not changed, json.dumps({"failed": failed, "changed": changed}, indent=1, default=str)[:6000]
    assert report["ok"] is True
    # Every cell of the matrix ran, and every expectation was judged somewhere: a premise that failed
    # everywhere would leave the regression suite testing nothing.
    assert sorted(c["id"] for c in report["cells"]) == sorted(c.id for c in scenario.cells)
    for exp in scenario.expectations:
        judged = [x for c in report["cells"] for x in c["checks"] if x["line"] == exp.line and "premise_failed" not in x]
        assert judged, f"{path.stem}: the expectation at line {exp.line} was judged in no cell (its premise never held)"
    assert (run_dir / "report.md").read_text().startswith("# ")
    for cell in report["cells"]:
        if cell["client_kind"] == "browser":
            har = json.loads((run_dir / "cells" / cell["id"] / "browser.har").read_text())
            assert har["log"]["entries"], cell["id"]
    # The report is rebuilt from the folder alone, to the same verdicts.
    first = (run_dir / "report.json").read_text()
    again = subprocess.run([sys.executable, "-m", "harness", "report", str(run_dir)], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode in (0, 1), again.stderr
    assert json.loads((run_dir / "report.json").read_text()) == json.loads(first)


def test_catalogue_run_leaves_nothing(catalogue_run):
    base, proc, tag = catalogue_run
    assert proc.returncode in (0, 1), proc.stderr[-4000:]      # 1: a scenario failed (its own test says which)
    assert (base / "index.md").exists()
    for run_dir in sorted(p for p in base.iterdir() if (p / "run.json").exists()):
        assert_nothing_left(run_dir, tag)


@pytest.mark.parametrize("client", ["python", "browser"])
def test_ctrl_c_midway_leaves_nothing(tmp_path, client, chromium_path):
    run_dir = tmp_path / "run"
    env, tag = tagged_env()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "stale-sid-after-restart", "--client", client,
                             "--mode", "gevent", "--fault", "rst-after-listen", "--out", str(run_dir)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Interrupt once the first cell is connected through the proxy: server, proxy and client are all up.
    deadline = time.monotonic() + 60
    seen = False
    while time.monotonic() < deadline and not seen:
        for path in run_dir.glob("cells/*/timeline.jsonl"):
            if '"sio.connect"' in path.read_text():
                seen = True
        time.sleep(0.1)
    assert seen, "no client connected within 60 s"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    assert_nothing_left(run_dir, tag)
