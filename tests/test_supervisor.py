"""The supervisor leaves nothing behind: not after a failure midway, not after Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.core.supervisor import StartupError, Supervisor, free_port, port_is_listening
from harness.core.timeline import Timeline, load

from .conftest import pids_alive

# A server that forks a grandchild which listens too: both must die with the group.
FAMILY = textwrap.dedent("""
    import os, socket, sys, time
    port_a, port_b = int(sys.argv[1]), int(sys.argv[2])
    if os.fork() == 0:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port_b)); s.listen(); time.sleep(600); os._exit(0)
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port_a)); s.listen()
    print("listening", port_a, flush=True)
    time.sleep(600)
""")

DRIVER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from harness.core.supervisor import Supervisor, TerminationAsInterrupt
    from harness.core.timeline import Timeline
    run_dir, ports, mode = Path(sys.argv[1]), [int(p) for p in sys.argv[2:6]], sys.argv[6]
    family = sys.argv[7]
    with TerminationAsInterrupt(), Timeline(run_dir / "timeline.jsonl") as tl, Supervisor(run_dir, tl) as sup:
        procs = [sup.start("one", [sys.executable, "-c", family, str(ports[0]), str(ports[1])]),
                 sup.start("two", [sys.executable, "-c", family, str(ports[2]), str(ports[3])])]
        from harness.core.supervisor import port_is_listening
        while not all(port_is_listening(p) for p in ports):
            time.sleep(0.05)
        print(json.dumps([p.pid for p in procs]), flush=True)
        if mode == "fail":
            raise RuntimeError("a step failed midway")
        time.sleep(600)
""")

ROOT = Path(__file__).resolve().parent.parent


def _ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def _group_members(pgids):
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    members = []
    for line in out.splitlines():
        pid, pgid = map(int, line.split())
        if pgid in pgids:
            members.append(pid)
    return pids_alive(members)


def _run_driver(tmp_path, mode):
    ports = _ports(4)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path), *map(str, ports), mode, FAMILY],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    leaders = json.loads(line)  # printed once every port listened
    return proc, leaders, ports


def _assert_nothing_left(leaders, ports):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_group_members(set(leaders)) or any(port_is_listening(p) for p in ports)):
        time.sleep(0.1)
    assert _group_members(set(leaders)) == []
    assert [p for p in ports if port_is_listening(p)] == []


def test_failure_midway_leaves_nothing(tmp_path):
    proc, leaders, ports = _run_driver(tmp_path, "fail")
    proc.wait(timeout=15)
    assert proc.returncode != 0
    assert "a step failed midway" in proc.stderr.read()
    _assert_nothing_left(leaders, ports)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_nothing(tmp_path, sig):
    proc, leaders, ports = _run_driver(tmp_path, "sleep")
    proc.send_signal(sig)
    proc.wait(timeout=15)
    _assert_nothing_left(leaders, ports)


def test_killed_harness_takes_its_children(tmp_path):
    # SIGKILL cannot be caught: the children's PR_SET_PDEATHSIG must take them down.
    proc, leaders, ports = _run_driver(tmp_path, "sleep")
    proc.kill()
    proc.wait(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pids_alive(leaders):
        time.sleep(0.1)
    assert pids_alive(leaders) == []


def _wait_for_exit(tl: Timeline, bound_s: float = 30) -> None:
    """Until the reaper recorded proc.exit: it does so once both output readers drained their pipes."""
    deadline = time.monotonic() + bound_s
    while not any(e.kind == "proc.exit" for e in tl.events):
        assert time.monotonic() < deadline, "no proc.exit recorded"
        time.sleep(0.01)


def test_output_goes_to_log_and_timeline(tmp_path):
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        sup.start("echo", [sys.executable, "-c", "import sys; print('hello'); print('oops', file=sys.stderr)"])
        _wait_for_exit(tl)
    events = load(tmp_path / "timeline.jsonl")
    lines = [e.data["line"] for e in events if e.kind == "log"]
    assert "hello" in lines and "oops" in lines
    assert any(e.kind == "proc.exit" and e.data["returncode"] == 0 for e in events)
    assert "hello" in (tmp_path / "logs" / "echo.log").read_text()


def test_json_events_become_timeline_events(tmp_path):
    code = "import json, time; print(json.dumps({'wall': time.time(), 'kind': 'proxy.accept', 'data': {'client': 'x'}}))"
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        sup.start("proxy", [sys.executable, "-c", code], src="proxy", json_events=True)
        _wait_for_exit(tl)
    events = load(tmp_path / "timeline.jsonl")
    accepts = [e for e in events if e.kind == "proxy.accept"]
    assert accepts and accepts[0].src == "proxy" and accepts[0].data == {"client": "x"}


def test_startup_error_names_the_cause(tmp_path):
    with Timeline(tmp_path / "t.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        p = sup.start("bad", [sys.executable, "-c", "import sys; print('SIOLAB_SECRET_KEY is a placeholder', file=sys.stderr); sys.exit(3)"])
        with pytest.raises(StartupError) as err:
            sup.wait_ready(p, lambda: False, timeout=5)
    assert "exited with code 3" in str(err.value)
    assert "SIOLAB_SECRET_KEY is a placeholder" in str(err.value)


def test_a_start_that_computes_is_waited_for_past_the_idle_timeout(tmp_path):
    """A boot starved on a busy machine is slow, not stuck: the wait goes on while the process uses
    CPU (here 1.5 s of spinning against an idle timeout of 0.5 s), and ends when it answers."""
    ready = tmp_path / "ready"
    code = (f"import time, pathlib; t = time.monotonic()\nwhile time.monotonic() - t < 1.5: pass\n"
            f"pathlib.Path({str(ready)!r}).touch(); time.sleep(30)")
    with Timeline(tmp_path / "t.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        p = sup.start("spinner", [sys.executable, "-c", code])
        after = sup.wait_ready(p, ready.exists, timeout=0.5)
    assert after >= 1.5


def test_startup_timeout_when_never_ready(tmp_path):
    with Timeline(tmp_path / "t.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        p = sup.start("silent", [sys.executable, "-c", "import time; time.sleep(30)"])
        with pytest.raises(StartupError) as err:
            sup.wait_ready(p, lambda: False, timeout=0.5)
        assert "did not answer" in str(err.value)
    assert pids_alive([p.pid]) == []


def _descendants(root: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _mentioning(text: str) -> list[int]:
    """Processes whose command line names `text` (the run folder: the reloader's marker lives there)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("ups", [1, 2], ids=["server-up", "after-the-restart"])
def test_killed_harness_leaves_no_reloader_child(tmp_path, ups):
    """Issue 13: SIGKILL of `siolab run` left the Werkzeug reloader's child (a grandchild of the
    harness) running and listening with parent 1. Killed once the server answered (and, second
    case, once the reloader had replaced its child), nothing of the run may remain."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "stale-sid-after-restart", "--mode", "reloader",
                             "--client", "python", "--jobs", "1", "--out", str(run_dir)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Killed while a cell has had `ups` servers up (not yet ended) and the reloader's parent
        # and child of this run are both there: the grandchild is what this test is about.
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "never saw a cell with the reloader's parent and child up"
            ports = set()
            for timeline in run_dir.glob("cells/*/timeline.jsonl"):
                events = [json.loads(line) for line in timeline.read_text().splitlines() if line.endswith("}")]
                up = [e["data"]["port"] for e in events if e["kind"] == "server.up"]
                if len(up) >= ups and not any(e["kind"] == "cell.end" for e in events):
                    ports = set(up)
            family = _descendants(proc.pid)
            if ports and len([p for p in _mentioning(str(run_dir)) if p in family]) >= 2:
                break
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    left = lambda: pids_alive(sorted(set(family) | set(_mentioning(str(run_dir)))))   # noqa: E731
    while time.monotonic() < deadline and (left() or any(port_is_listening(p) for p in ports)):
        time.sleep(0.1)
    assert left() == [], subprocess.run(["ps", "-o", "pid,ppid,args", "-p", ",".join(map(str, left()))],
                                        capture_output=True, text=True).stdout
    assert [p for p in ports if port_is_listening(p)] == []
