"""`siolab run --repeat N`, end to end with real servers: complete run folders per repetition,
the stability reports rebuilt from the folder alone, and Ctrl-C stopping at once."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.core.supervisor import port_is_listening

from .conftest import pids_alive

ROOT = Path(__file__).resolve().parent.parent


def siolab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_repeat_writes_one_complete_run_folder_per_repetition_and_the_stability(tmp_path: Path):
    run_dir = tmp_path / "run"
    out = siolab("run", "placeholder-settings", "--repeat", "2", "--jobs", "auto", "--out", str(run_dir))
    assert out.returncode == 0, out.stderr[-3000:]
    first_line = out.stderr.splitlines()[0]
    assert " × 2 repetitions, " in first_line and "(jobs auto: " in first_line
    assert "stability over 2 repetitions: PASS" in out.stdout
    for k in (1, 2):
        rep = run_dir / f"rep-{k}"
        assert json.loads((rep / "report.json").read_text())["ok"] is True
        assert (rep / "report.md").is_file() and (rep / "report.junit.xml").is_file()
    stability = json.loads((run_dir / "stability.json").read_text())
    assert stability["repetitions"] == 2 and stability["verdict"] == "PASS"
    assert [c["tally"] for c in stability["claims"]] == ["supported 2/2"]
    assert all(e["counts"] == {"held": 6} for e in stability["expectations"])   # 3 cells × 2 repetitions
    for name in ("stability.md", "stability.html", "stability.junit.xml"):
        assert (run_dir / name).is_file()
    # Rebuilt from the folder alone: every repetition, then the same stability.
    before = {p.name: p.read_bytes() for p in run_dir.glob("stability.*")}
    again = siolab("report", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert {p.name: p.read_bytes() for p in run_dir.glob("stability.*")} == before
    assert siolab("report", str(run_dir / "rep-2")).returncode == 0
    # A cell that could not run in one repetition only: its expectations are unstable, in every format.
    meta_path = run_dir / "rep-2" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["cells"][0].update(error="RuntimeError: the lab broke", error_kind=None)
    meta_path.write_text(json.dumps(meta))
    broken = siolab("report", str(run_dir))
    assert broken.returncode == 1
    assert "stability over 2 repetitions: UNSTABLE (3 expectations unstable; failed: rep-2 placeholder-settings)" \
        in broken.stdout
    cell = meta["cells"][0]["id"]
    assert f"{cell}: held, not judged" in broken.stdout
    stability = json.loads((run_dir / "stability.json").read_text())
    assert [e["status"] for e in stability["expectations"]] == ["unstable"] * 3
    assert "**unstable**" in (run_dir / "stability.md").read_text()
    assert 'class="badge error">unstable<' in (run_dir / "stability.html").read_text()
    assert (run_dir / "stability.junit.xml").read_text().count('type="unstable"') == 3


def _started(run_dir: Path) -> tuple[list[int], list[int]]:
    pids, ports = [], []
    for path in run_dir.glob("rep-*/cells/*/timeline.jsonl"):
        for line in path.read_text().splitlines():
            e = json.loads(line)
            if e["kind"] == "proc.start":
                pids.append(e["data"]["pid"])
                ports += [e["data"]["port"]] if e["data"].get("port") else []
    return pids, ports


def _group_members(pgids: set[int]) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    return pids_alive([int(a) for a, b in (line.split() for line in out.splitlines()) if int(b) in pgids])


def test_ctrl_c_during_a_repetition_stops_at_once_and_starts_no_other(tmp_path: Path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "stale-sid-after-restart", "--client", "python",
                             "--mode", "gevent", "--fault", "rst-after-listen", "--repeat", "5",
                             "--out", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Interrupt in the second repetition, once its client is connected: server, proxy and client are up.
        deadline = time.monotonic() + 120
        seen = False
        while time.monotonic() < deadline and not seen and proc.poll() is None:
            seen = any('"sio.connect"' in p.read_text() for p in run_dir.glob("rep-2/cells/*/timeline.jsonl"))
            time.sleep(0.1)
        assert seen, "no client connected in repetition 2 within 120 s"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err and "Traceback" not in err
    assert not (run_dir / "rep-3").exists()
    assert not (run_dir / "stability.json").exists()
    pids, ports = _started(run_dir)
    assert pids, "the run started no process?"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_group_members(set(pids)) or any(port_is_listening(p) for p in ports)):
        time.sleep(0.2)
    assert _group_members(set(pids)) == []
    assert [p for p in ports if port_is_listening(p)] == []
