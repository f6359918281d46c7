"""`siolab doctor` on this machine, and with the browser and nginx hidden from its PATH.

The doctor is run as the user runs it (a subprocess of the venv's Python, `-m harness.entrypoints.cli
doctor`), so its exit code, its text and its JSON are what is tested. Nothing here skips:
the doctor must work on the set-up machine, and hiding things is done by the test itself.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.entrypoints.doctor import Catalogue, Needs
from tests.conftest import pids_alive

REPO = Path(__file__).resolve().parents[1]
DOCTOR_TIMEOUT_S = 120


def run_doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.entrypoints.cli", "doctor", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=DOCTOR_TIMEOUT_S)


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (the doctor's children inherit it)."""
    needle = marker.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in Path(entry.path, "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return pids_alive(found)


@pytest.fixture(scope="module")
def hidden_env(tmp_path_factory) -> dict[str, str]:
    """A PATH of python and node only: no chromium, no nginx (and no Playwright-managed browser)."""
    bin_dir = tmp_path_factory.mktemp("bin")
    node = shutil.which("node")
    assert node, "node is part of the set-up machine (make setup needs it)"
    for name in ("python", "python3"):
        (bin_dir / name).symlink_to(sys.executable)
    (bin_dir / "node").symlink_to(node)
    env = dict(os.environ, PATH=str(bin_dir),
               PLAYWRIGHT_BROWSERS_PATH=str(tmp_path_factory.mktemp("no-browsers")))
    env.pop("TOXIPROXY_URL", None)
    return env


def test_doctor_on_this_machine_is_ready():
    marker = f"SIOLAB_DOCTOR_TEST={uuid.uuid4().hex}"
    done = run_doctor(env=dict(os.environ, SIOLAB_DOCTOR_TEST=marker.partition("=")[2]))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "READY: every required item is ok" in out
    for name in ("python:", "python-socketio:", "chromium:", "headless about:blank", "npm socket.io-client:",
                 "node:", "nginx:", "redis-server:", "toxiproxy API:", "trap: eventlet next to gevent",
                 "trap: gunicorn -k gevent without packaging", "trap: threading mode without simple-websocket",
                 "trap: gevent-websocket under plain -k gevent"):
        assert name in out, f"{name!r} not reported:\n{out}"
    # What the doctor started (Chromium, the proxy, the gevent mode) is gone with it.
    assert processes_with(marker) == []


def _block(out: str, name: str) -> str:
    """An item's line and its indented detail lines."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("  ") and not line.startswith("   ") and f"  {name}:" in line
                 or line.rstrip().endswith(f"  {name}"))
    end = start + 1
    while end < len(lines) and lines[end].startswith(" " * 10):
        end += 1
    return "\n".join(lines[start:end])


def test_doctor_names_what_breaks_without_chromium_and_nginx(hidden_env):
    done = run_doctor(env=hidden_env)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    chromium = _block(out, "chromium")
    assert chromium.lstrip().startswith("MISSING "), chromium
    assert "browser clients" in chromium and "stale-sid-after-restart (" in chromium     # what breaks
    assert "apt-get install -y chromium" in chromium                                     # the fix on Debian
    assert "playwright install chromium" in chromium                                     # elsewhere
    nginx = _block(out, "nginx")
    assert nginx.lstrip().startswith("MISSING "), nginx
    assert "breaks:" in nginx and "apt-get install -y nginx" in nginx
    assert "several-workers (" in nginx                                                  # cells behind nginx
    assert out.splitlines()[-1].startswith("NOT READY") and "chromium" in out.splitlines()[-1]
    assert "nginx" in out.splitlines()[-1]            # required: the catalogue has cells behind nginx


def test_doctor_json_parses_and_agrees_with_the_exit_code(hidden_env):
    done = run_doctor("--json", env=hidden_env)
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["ready"] is False
    items = {item["name"]: item for item in report["items"]}
    for item in items.values():
        assert item["status"] in {"ok", "missing", "misconfigured", "warning"}
        assert item["blocking"] is (item["required"] and item["status"] in ("missing", "misconfigured"))
        if item["status"] != "ok":
            assert item["fix"] and item["breaks"], item
    assert items["chromium"]["blocking"] and "apt-get install -y chromium" in items["chromium"]["fix"]
    assert items["nginx"]["status"] == "missing" and items["nginx"]["blocking"]
    assert items["python-socketio"]["status"] == "ok"


def test_what_breaks_comes_from_the_catalogue():
    catalogue = Catalogue()
    assert not catalogue.error
    text = catalogue.what_breaks(Needs(clients=("browser",)))
    assert "browser clients" in text and "stale-sid-after-restart (" in text
    proxy = catalogue.what_breaks(Needs(proxy_faults=True))
    assert "proxy faults" in proxy and "stale-sid-after-restart (" in proxy
    later = catalogue.what_breaks(Needs(modes=("no-such-mode",), also="later parts"))
    assert "not in the lab yet" in later and "later parts" in later
