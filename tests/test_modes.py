"""Every deployment mode starts the real app, speaks Engine.IO/Socket.IO, and dies with its group.

One server per mode serves the protocol tests (module-scoped); the kill test and the
bad-setting test start their own. Every process is started in its own session and
SIGKILLed as a group in a `finally`, whatever happens.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from harness.modes import MODES, ServerSettings, get_mode
from harness.modes.base import REPO_ROOT
from tests.conftest import require

HOST = "127.0.0.1"
MODE_NAMES = list(MODES)
# Measured here: every mode completes the WebSocket upgrade (gevent has no gevent-websocket,
# so python-engineio uses simple-websocket on gevent's primitives).
UPGRADED_TRANSPORT = {"reloader": "websocket", "gthread": "websocket", "gevent": "websocket",
                      "aiohttp": "websocket"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Nothing listens, and a server could bind it again (servers set SO_REUSEADDR)."""
    with socket.socket() as s:
        s.settimeout(0.2)
        if s.connect_ex((HOST, port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class RunningServer:
    """One mode's process group, its port and its combined output."""

    def __init__(self, mode_name: str, settings: ServerSettings):
        self.mode = get_mode(mode_name)
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        spec = self.mode.launch(HOST, self.port, settings)
        self.log = Path(tempfile.mkstemp(prefix=f"siolab-{mode_name}-", suffix=".log")[1])
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(spec.argv, env=spec.env, cwd=spec.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def handshake(self) -> requests.Response:
        return requests.get(f"{self.url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=1)

    def wait_ready(self, timeout: float = 15.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.mode.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = self.handshake()
                if r.status_code == 200 and r.text.startswith("0{"):
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.mode.name}: no Engine.IO handshake within {timeout} s:\n{self.output()}")

    def info(self) -> dict:
        r = requests.get(f"{self.url}/__siolab/info", timeout=2)
        r.raise_for_status()
        return r.json()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.kill()
        self.log.unlink(missing_ok=True)


@pytest.fixture(scope="module", params=MODE_NAMES)
def server(request):
    srv = RunningServer(request.param, ServerSettings())
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.close()


def _client() -> socketio.Client:
    # No reconnection: a test's client must not outlive its server in the background.
    return socketio.Client(reconnection=False)


def _login_cookie(srv: RunningServer, user: str = "alice") -> str:
    http = requests.Session()
    r = http.get(f"{srv.url}/login", params={"user": user}, allow_redirects=False, timeout=2)
    assert r.status_code == 302
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


# --- protocol -----------------------------------------------------------------


def test_handshake_and_info(server):
    r = server.handshake()
    assert r.status_code == 200
    open_packet = json.loads(r.text[1:])
    assert open_packet["pingInterval"] == 1000 and open_packet["pingTimeout"] == 1000
    assert open_packet["upgrades"] == ["websocket"]

    info = server.info()
    assert info["async_mode"] == server.mode.async_mode
    assert info["app"] == ("aiohttp" if server.mode.name == "aiohttp" else "reference")
    assert info["ping_interval"] == 1 and info["ping_timeout"] == 1
    assert info["versions"]["socketio"] and info["versions"]["engineio"]


@pytest.mark.parametrize("transports", [None, ["polling"]], ids=["default", "polling"])
def test_connect_and_disconnect(server, transports):
    client = _client()
    hello = threading.Event()
    greeting = {}

    @client.on("hello")
    def on_hello(data):
        greeting.update(data)
        hello.set()

    client.connect(server.url, transports=transports, wait_timeout=5)
    try:
        assert hello.wait(5), "no hello event on /"
        assert greeting == {"user": None}
        expected = "polling" if transports == ["polling"] else UPGRADED_TRANSPORT[server.mode.name]
        assert client.transport() == expected
    finally:
        client.disconnect()
    assert not client.connected


def test_chat_refuses_without_login(server):
    client = _client()
    errors = []
    client.on("connect_error", errors.append, namespace="/chat")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(server.url, namespaces=["/chat"], wait_timeout=3)
    client.disconnect()
    # The refusal is a CONNECT_ERROR packet, not an HTTP error.
    assert errors == [{"message": "Connection rejected by server"}]


def test_chat_accepts_with_login_cookie(server):
    client = _client()
    received = threading.Event()
    messages = []

    @client.on("message", namespace="/chat")
    def on_message(data):
        messages.append(data)
        received.set()

    client.connect(server.url, namespaces=["/chat"], headers={"Cookie": _login_cookie(server)}, wait_timeout=3)
    try:
        client.emit("message", "hi", namespace="/chat")
        assert received.wait(3)
        assert messages == [{"user": "alice", "text": "hi"}]
    finally:
        client.disconnect()


# --- pages and REST -----------------------------------------------------------


def test_pages_render_the_variant(server):
    page = requests.get(f"{server.url}/", params={"singleton": "fixed", "transport": "polling"}, timeout=2)
    assert page.status_code == 200
    assert '"singleton": "fixed"' in page.text and '"transports": ["polling"]' in page.text
    assert '<script src="/vendor/socket.io.min.js">' in page.text
    assert requests.get(f"{server.url}/static/app-socket.js", timeout=2).status_code == 200
    assert requests.get(f"{server.url}/", params={"singleton": "bogus"}, timeout=2).status_code == 400

    admin = requests.get(f"{server.url}/admin", params={"socket": "0"}, timeout=2)
    assert admin.status_code == 200 and 'id="backup"' in admin.text
    assert "socket.io.min.js" not in admin.text


def test_vendor_client_served_from_node_modules(server):
    bundle = REPO_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
    require(bundle.is_file(), "node_modules/socket.io-client is not installed (npm install)")
    r = requests.get(f"{server.url}/vendor/socket.io.min.js", timeout=2)
    assert r.status_code == 200 and r.content == bundle.read_bytes()
    assert requests.get(f"{server.url}/vendor/package.json", timeout=2).status_code == 404


def test_backup_job_runs_to_done(server):
    r = requests.post(f"{server.url}/api/backup", timeout=2)
    assert r.status_code == 202
    job = r.json()["job"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = requests.get(f"{server.url}/api/backup/{job}", timeout=2).json()
        if status["state"] == "done":
            assert status["progress"] == 100
            return
        assert status["state"] == "running"
        time.sleep(0.2)
    pytest.fail(f"backup job {job} not done after 5 s: {status}")


# --- restarts and process hygiene ---------------------------------------------


def test_reload_trigger_restarts_only_the_reloader(server):
    trigger = server.mode.reload_trigger()
    if server.mode.name != "reloader":
        assert trigger is None
        return
    assert trigger.is_file()
    before = server.info()["boot"]
    os.utime(trigger)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if server.info()["boot"] != before:
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
    else:
        pytest.fail("the reloader did not restart its child within 10 s")
    server.wait_ready(5)


@pytest.mark.parametrize("mode_name", MODE_NAMES)
def test_killing_the_group_frees_the_port(mode_name):
    srv = RunningServer(mode_name, ServerSettings())
    try:
        srv.wait_ready()
        client = _client()
        client.connect(srv.url, wait_timeout=5)   # an open WebSocket must not keep the port
        srv.kill()
        deadline = time.monotonic() + 5
        while not _port_is_free(srv.port):
            assert time.monotonic() < deadline, f"port {srv.port} still taken after killing {mode_name}"
            time.sleep(0.05)
        client.disconnect()
    finally:
        srv.close()


@pytest.mark.parametrize("mode_name", MODE_NAMES)
def test_placeholder_secret_key_exits_naming_the_variable(mode_name):
    srv = RunningServer(mode_name, ServerSettings(secret_key="placeholder"))
    try:
        returncode = srv.proc.wait(timeout=15)
        assert returncode != 0
        assert "SIOLAB_SECRET_KEY" in srv.output()
    finally:
        srv.close()


def test_fractional_ping_interval_is_refused_before_start():
    with pytest.raises(ValueError, match="whole seconds"):
        ServerSettings(ping_interval=0.3)
    srv = RunningServer("gthread", ServerSettings(extra_env={"SIOLAB_PING_INTERVAL": "0.3"}))
    try:
        assert srv.proc.wait(timeout=15) == 3
        assert "SIOLAB_PING_INTERVAL" in srv.output()
    finally:
        srv.close()
