"""Loopback by default (issue 13 item 4): what /proc says a process listens on, a `--cmd` server that
listens beyond loopback reported (timeline event and a warning line), and `siolab serve --host`
refused without `--allow-remote`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.core import procfs
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline, load
from harness.lab.targets import CmdMode, Target
from harness.lab.topology import Server
from harness.modes.base import ServerSettings

ROOT = Path(__file__).resolve().parents[1]

LISTENER = "import socket, sys, time; s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen(); " \
           "print(s.getsockname()[1], flush=True); time.sleep(60)"

# The smallest Engine.IO handshake answer, on the address and port given: a `--cmd` target.
HANDSHAKER = textwrap.dedent("""
    import http.server, sys
    class Handshake(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handshake).serve_forever()
""")


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("0.0.0.0", False)])
def test_listening_is_read_from_proc(address, loopback):
    proc = subprocess.Popen([sys.executable, "-c", LISTENER, address], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        port = int(proc.stdout.readline())
        assert procfs.listening(proc.pid) == [(address, port)]
        assert procfs.is_loopback(address) is loopback
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_loopback_addresses():
    assert all(procfs.is_loopback(a) for a in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"))
    assert not any(procfs.is_loopback(a) for a in ("0.0.0.0", "::", "10.0.0.7", "::ffff:10.0.0.7"))
    assert procfs._address("0100007F") == "127.0.0.1"                              # /proc/net/tcp, little-endian
    assert procfs._address("00000000000000000000000001000000") == "::1"           # /proc/net/tcp6


@pytest.mark.parametrize("bind, exposed", [("{host}", False), ("0.0.0.0", True)])
def test_a_cmd_target_listening_beyond_loopback_is_reported(tmp_path, capsys, bind, exposed):
    script = tmp_path / "handshaker.py"
    script.write_text(HANDSHAKER)
    target = Target(cmd=f"{sys.executable} {script} {bind} {{port}}", app_path=tmp_path)
    with Timeline(tmp_path / "timeline.jsonl") as timeline, Supervisor(tmp_path, timeline) as sup:
        server = Server(sup, timeline, CmdMode(), ServerSettings(), target=target)
        server.start(timeout=60)
        server.stop()
    events = [e for e in load(tmp_path / "timeline.jsonl") if e.kind == "target.exposed"]
    err = capsys.readouterr().err
    if exposed:
        assert [e.data["listening"] for e in events] == [[f"0.0.0.0:{server.port}"]]
        assert f"the --cmd server listens beyond loopback on 0.0.0.0:{server.port}" in err
    else:
        assert events == [] and "beyond loopback" not in err


def _ppid(proc_dir: Path) -> int | None:
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def siolab(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("argv, says", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0: listens on every interface, reachable from other machines; "
                            "add --allow-remote to mean it"),
    (["--host", "10.0.0.7", "--allow-remote"], "--host 10.0.0.7: 127.0.0.1 (the default) or 0.0.0.0"),
    (["--host", "example.org"], "--host example.org: 127.0.0.1 (the default) or 0.0.0.0"),
])
def test_serve_refuses_a_host_beyond_loopback_without_allow_remote(tmp_path, argv, says):
    out = siolab("serve", "aiohttp", *argv, "--out", str(tmp_path / "serve"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"siolab: {says}") and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "serve").exists()                 # nothing started, nothing written


def test_serve_with_allow_remote_says_what_it_exposes(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "harness", "serve", "aiohttp", "--host", "0.0.0.0",
                             "--allow-remote", "--out", str(tmp_path / "serve")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("siolab: --allow-remote: aiohttp listens on 0.0.0.0:"), line + proc.stderr.read()
        assert "every interface" in line and "Socket.IO" in line
        port = int(line.split("0.0.0.0:")[1].split(",")[0])
        # The server is a child of siolab, leading its own process group (the supervisor's rule).
        children = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and
                    _ppid(d) == proc.pid]
        assert any(("0.0.0.0", port) in procfs.listening(pid) for pid in children)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
