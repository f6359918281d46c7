"""Every deployment mode starts the real app, speaks Engine.IO/Socket.IO, and dies with its group.

One server per serving mode serves the protocol tests (module-scoped); the kill test, the
bad-setting test and every trap-mode test start their own (a trap may hang its server).
Every process is started in its own session and SIGKILLed as a group in a `finally`,
whatever happens.

The trap modes (gthread-nosw, gthread-autodetect, gevent-autodetect) are checked for the
exact failure measured here, so a change in behaviour fails the test.
"""
from __future__ import annotations

import json
import os
import shutil
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
import websocket

from harness.core.procfs import Activity, stuck_limit
from harness.modes import MODES, ServerSettings, get_mode
from harness.modes.base import REPO_ROOT
from harness.modes.node import node_binary
from tests.conftest import require

HOST = "127.0.0.1"
# Modes that serve Socket.IO (each with its own transport outcome, below) ...
SERVING_MODES = ["reloader", "gthread", "gevent", "aiohttp", "eventlet", "gevent-websocket", "node",
                 "node-eio3", "gevent-gws-installed"]
# ... and the traps, which do not serve as those do (each tested for its exact failure, at the end).
TRAP_MODES = ["gthread-nosw", "gthread-autodetect", "gevent-autodetect",
              "multiworker"]   # serves, but answers 400 "Invalid session" from the other worker: tests/test_nginx.py
MODE_NAMES = SERVING_MODES
# Measured here. gevent-websocket is installed (mode gevent-websocket needs it); mode gevent hides it,
# while gevent-gws-installed keeps it: plain `-k gevent` then answers every upgrade with 500.
UPGRADED_TRANSPORT = {"reloader": "websocket", "gthread": "websocket", "gevent": "websocket",
                      "gevent-gws-installed": "polling",
                      "aiohttp": "websocket", "eventlet": "websocket", "gevent-websocket": "websocket",
                      "node": "websocket", "node-eio3": "websocket"}
APP_NAME = {"aiohttp": "aiohttp", "node": "node", "node-eio3": "node"}      # otherwise "reference"
GEVENT_WEBSOCKET_500 = ("RuntimeError: The gevent-websocket server is not configured appropriately. "
                        "See the Deployment section of the documentation for more information.")


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
        if mode_name.startswith("node"):
            require(node_binary() is not None, "node is not on PATH (the Node reference server)")
            require((REPO_ROOT / "node_modules" / "socket.io" / "package.json").is_file(),
                    "node_modules/socket.io is not installed (npm ci)")
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
        """Until it answers a handshake; `timeout` is how long it may go without progress (no CPU
        used, as the lab's own readiness wait: a boot starved on a busy machine is slow, not stuck)."""
        started, activity = time.monotonic(), Activity(self.proc.pid)
        while not activity.stuck(timeout):
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.mode.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = self.handshake()
                if r.status_code == 200 and r.text.startswith("0{"):
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.mode.name}: no Engine.IO handshake (idle {timeout} s, or busy "
                             f"{stuck_limit(timeout)} s):\n{self.output()}")

    def wait_output(self, text: str, timeout: float = 3.0) -> str:
        """The output once it contains `text` (log lines may trail the response)."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.mode.name}: {text!r} not in the output within {timeout} s:\n"
                                     f"{self.output()}")
            time.sleep(0.05)
        return self.output()

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
    assert info["app"] == APP_NAME.get(server.mode.name, "reference")
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
        # The Flask apps also say which process answered (the several-workers scenario counts on it).
        assert {k: v for k, v in greeting.items() if k != "boot"} == {"user": None}
        assert greeting.get("boot", server.info()["boot"]) == server.info()["boot"]
        expected = "polling" if transports == ["polling"] else UPGRADED_TRANSPORT[server.mode.name]
        assert client.transport() == expected
    finally:
        client.disconnect()
    assert not client.connected


def test_websocket_upgrade(server):
    """The raw upgrade of a polling session: 101 and the probe answered, or (plain `-k gevent`
    with gevent-websocket installed) 500 with the RuntimeError in the log, polling unharmed."""
    sid = json.loads(server.handshake().text[1:])["sid"]
    url = f"ws://{HOST}:{server.port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    if UPGRADED_TRANSPORT[server.mode.name] == "polling":
        with pytest.raises(websocket.WebSocketBadStatusException) as failed:
            websocket.create_connection(url, timeout=3)
        assert failed.value.status_code == 500
        assert b"Internal Server Error" in failed.value.resp_body
        server.wait_output(GEVENT_WEBSOCKET_500)
        server.wait_output(f'"GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1" 500')
        # The session is still there over polling.
        r = requests.post(f"{server.url}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                          data="40", timeout=2)
        assert r.status_code == 200
        return
    ws = websocket.create_connection(url, timeout=3)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("5")
    finally:
        ws.close()


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
    # socket.io-client 2.x, from the npm alias, for pages opened with ?client=v2
    v2 = REPO_ROOT / "node_modules" / "socket.io-client-v2" / "dist" / "socket.io.js"
    require(v2.is_file(), "node_modules/socket.io-client-v2 is not installed (npm ci)")
    r = requests.get(f"{server.url}/vendor/socket.io-v2.js", timeout=2)
    assert r.status_code == 200 and r.content == v2.read_bytes()
    page = requests.get(f"{server.url}/", params={"client": "v2"}, timeout=2)
    assert '<script src="/vendor/socket.io-v2.js">' in page.text


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


# --- the Node reference server ------------------------------------------------


@pytest.fixture(scope="module")
def node_server():
    srv = RunningServer("node", ServerSettings())
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.close()


def _app_neutral(page: str, app_name: str) -> str:
    return page.replace(f"siolab {app_name}", "siolab APP")


def test_node_pages_are_the_reference_templates(node_server):
    """server.js renders layout.html / admin.html byte for byte as Flask's Jinja does."""
    from servers.reference_app.app import create_app
    from servers.reference_app.settings import from_env

    flask_app, _ = create_app(from_env(get_mode("gthread").launch(HOST, 1, ServerSettings()).env))
    flask_client = flask_app.test_client()
    node = requests.Session()
    for path in ["/", "/?singleton=fixed&transport=polling&ns=/chat&tick=100", "/?transport=websocket",
                 "/?handlers=in-connect&mounts=2", "/?handlers=twice", "/?mounts=3",
                 "/admin", "/admin?socket=0", "/?singleton=bogus", "/?tick=10", "/?ns=/x",
                 "/?client=v2&url=http://localhost:5000&path=/ws&ns=/admin", "/?client=v3",
                 "/?url=javascript:alert(1)", "/?path=ws"]:
        expected = flask_client.get(path)
        got = node.get(node_server.url + path, timeout=2)
        assert got.status_code == expected.status_code, path
        assert _app_neutral(got.text, "node") == _app_neutral(expected.get_data(as_text=True), "reference"), path
    # Logged in (a name that needs escaping), then logged out.
    login = {"user": "<b>al&ice</b>", "next": "/admin"}
    flask_client.get("/login", query_string=login)
    node.get(node_server.url + "/login", params=login, timeout=2)
    expected, got = flask_client.get("/"), node.get(node_server.url + "/", timeout=2)
    assert "&lt;b&gt;al&amp;ice&lt;/b&gt;" in got.text
    assert _app_neutral(got.text, "node") == _app_neutral(expected.get_data(as_text=True), "reference")
    assert node.get(node_server.url + "/logout", timeout=2).status_code == 200      # redirected to /
    assert "(not logged in)" in node.get(node_server.url + "/", timeout=2).text


def test_node_protocol_signatures(node_server):
    """The Node server's own answers, the baseline the Python servers are compared with."""
    base = f"{node_server.url}/socket.io/"
    stale = requests.get(base, params={"EIO": "4", "transport": "polling", "sid": "stale"}, timeout=2)
    assert (stale.status_code, stale.json()) == (400, {"code": 1, "message": "Session ID unknown"})
    eio3 = requests.get(base, params={"EIO": "3", "transport": "polling"}, timeout=2)
    assert (eio3.status_code, eio3.json()) == (400, {"code": 5, "message": "Unsupported protocol version"})
    output = node_server.wait_output('code=5 message="Unsupported protocol version"')
    assert 'code=1 message="Session ID unknown"' in output
    info = node_server.info()
    assert info["versions"]["node"] and info["allow_eio3"] is False


def test_node_allow_eio3_accepts_socketio_client_v2():
    srv = RunningServer("node-eio3", ServerSettings())
    try:
        srv.wait_ready()
        r = requests.get(f"{srv.url}/socket.io/", params={"EIO": "3", "transport": "polling"}, timeout=2)
        assert r.status_code == 200
        length, _, packet = r.text.partition(":")      # Engine.IO 3 framing: <length>:<packet>
        assert int(length) == len(packet) and packet.startswith('0{"sid":')
        assert srv.info()["allow_eio3"] is True
    finally:
        srv.close()


# --- the trap modes -------------------------------------------------------------


def test_every_mode_is_tested():
    # plain-ws is not Socket.IO: tests/test_plain_ws.py
    assert sorted(SERVING_MODES + TRAP_MODES + ["plain-ws"]) == sorted(MODES)


def test_gthread_without_simple_websocket_never_serves():
    """gthread-nosw: the worker exits 3 before any handshake, the master stops (exit 3)."""
    srv = RunningServer("gthread-nosw", ServerSettings())
    try:
        answered = []
        deadline = time.monotonic() + 15
        while srv.proc.poll() is None and time.monotonic() < deadline:
            try:
                answered.append(srv.handshake().status_code)
            except requests.RequestException:
                pass
            time.sleep(0.05)
        assert srv.proc.wait(timeout=1) == 3
        assert answered == [], f"a handshake answered: {answered}"
        output = srv.output()
        assert ("siolab: bad setting SIOLAB_ASYNC_MODE: 'threading' needs the simple_websocket package, "
                "which is not importable") in output
        assert "exited with code 3." in output and "Reason: Worker failed to boot." in output
    finally:
        srv.close()


def test_absent_simple_websocket_is_like_not_installed():
    """The import blocker of gthread-nosw, in the same environment: what Python and the
    libraries see, and what Flask-SocketIO does without the app's own check."""
    spec = get_mode("gthread-nosw").launch(HOST, 1, ServerSettings())
    probe = r"""
import importlib.metadata, importlib.util, json
out = {"find_spec": importlib.util.find_spec("simple_websocket")}
try:
    import simple_websocket
except ImportError as err:
    out["import"] = [type(err).__name__, str(err), err.name]
try:
    importlib.metadata.version("simple-websocket")
except importlib.metadata.PackageNotFoundError:
    out["metadata"] = "PackageNotFoundError"
import engineio, flask, gevent, eventlet  # everything else is there
from flask import Flask
from flask_socketio import SocketIO
try:
    SocketIO(Flask(__name__), async_mode="threading")
except ValueError as err:
    out["SocketIO(async_mode='threading')"] = [type(err).__name__, str(err)]
print(json.dumps(out))
"""
    done = subprocess.run([spec.argv[0], "-c", probe], env=spec.env, cwd=spec.cwd, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "find_spec": None,
        "import": ["ModuleNotFoundError", "No module named 'simple_websocket'", "simple_websocket"],
        "metadata": "PackageNotFoundError",
        "SocketIO(async_mode='threading')": ["ValueError", "Invalid async_mode specified"],
    }


AUTODETECT_MODES = ["gthread-autodetect", "gevent-autodetect"]


def _autodetect_server(mode_name: str) -> RunningServer:
    """A fresh auto-detect server, up, with eventlet picked (checked); the caller closes it."""
    srv = RunningServer(mode_name, ServerSettings())
    try:
        srv.wait_ready()
        open_packet = json.loads(srv.handshake().text[1:])
        assert open_packet["upgrades"] == ["websocket"] and open_packet["pingInterval"] == 1000
        info = srv.info()
        assert info["async_mode"] == "eventlet", info
        assert info["versions"]["eventlet"]
        srv.wait_output("WARNING siolab.reference: async_mode auto-detected: eventlet")
    except BaseException:
        srv.close()
        raise
    return srv


@pytest.mark.parametrize("mode_name", AUTODETECT_MODES)
def test_autodetect_websocket_is_silent(mode_name):
    """Eventlet picked under gunicorn's gthread / gevent worker. Raw: the upgrade answers the
    probe, the server runs the connect handler, but not one frame reaches the client (no
    CONNECT reply, no ping); the server closes at ping interval + timeout (2 s) with
    "transport close" and gunicorn logs EBADF. The python-socketio client (default
    transports) never connects: its namespace reply never comes."""
    srv = _autodetect_server(mode_name)
    client = _client()
    try:
        sid = json.loads(srv.handshake().text[1:])["sid"]
        ws = websocket.create_connection(f"ws://{HOST}:{srv.port}/socket.io/?EIO=4&transport=websocket&sid={sid}",
                                         timeout=30)     # a bound: the server closes it by ping timeout
        try:
            ws.send("2probe")
            assert ws.recv() == "3probe"
            ws.send("5")
            ws.send("40")
            started, frames = time.monotonic(), []
            try:
                while frame := ws.recv():
                    frames.append(frame)
            except websocket.WebSocketConnectionClosedException:
                pass
            assert frames == [] and 1.5 < time.monotonic() - started   # silent until the ping timeout
        finally:
            ws.close()
        output = srv.wait_output("reason=transport close")
        assert f"eio_sid={sid} namespace=/ user=None" in output
        srv.wait_output("OSError: [Errno 9] Bad file descriptor")

        with pytest.raises(socketio.exceptions.ConnectionError, match="Unexpected connection error"):
            client.connect(srv.url, wait_timeout=2)
        assert not client.connected
    finally:
        client.disconnect()
        srv.close()


POLLING_CLIENTS = 3


def _polling_client_outcome(url: str, clients: list, outcomes: list, index: int) -> None:
    """Connect with polling only and watch for 6 s: ("never connected", error message),
    or ("dropped" / "stayed", disconnect reasons seen so far)."""
    client = _client()
    clients[index] = client
    reasons = []
    client.on("disconnect", lambda reason=None: reasons.append(reason))
    try:
        client.connect(url, transports=["polling"], wait_timeout=2)
    except socketio.exceptions.ConnectionError as err:
        outcomes[index] = ("never connected", (str(err),))
        return
    deadline = time.monotonic() + 6
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    outcomes[index] = ("stayed" if client.connected else "dropped", tuple(reasons))   # as of now


@pytest.mark.parametrize("mode_name", AUTODETECT_MODES)
def test_autodetect_polling_clients_are_dropped(mode_name):
    """Polling only, three clients at once, watched for 6 s: each one never gets the
    namespace reply, or is dropped with "transport error", or (racy, so not asserted one by
    one) survives for now. gthread: a long-poll parked in one worker thread's eventlet hub
    is woken neither by the ping nor by packets from other threads, so a client survives
    only while its requests land on the right thread. gevent: the server side ends sessions
    with "ping timeout" until the eventlet hub breaks inside gevent's and the worker hangs.
    Measured: at least one of three fails within 6 s, in every run."""
    srv = _autodetect_server(mode_name)
    clients, outcomes = [None] * POLLING_CLIENTS, [None] * POLLING_CLIENTS
    threads = [threading.Thread(target=_polling_client_outcome, args=(srv.url, clients, outcomes, i))
               for i in range(POLLING_CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        allowed = {("never connected", ("Unexpected connection error",)), ("dropped", ("transport error",)),
                   ("stayed", ())}
        assert set(outcomes) <= allowed, outcomes
        stayed = [o for o in outcomes if o[0] == "stayed"]
        assert len(stayed) < POLLING_CLIENTS, f"every polling client stayed connected for 6 s: {outcomes}"
    finally:
        for client in clients:
            if client is not None:
                client.disconnect()
        srv.close()


def test_gevent_autodetect_first_idle_long_poll_hangs_the_worker():
    """Eventlet picked under `-k gevent`: the first long-poll that has to wait gets its ping,
    then the eventlet hub fails inside gevent's and the worker answers nothing more (until
    gunicorn's worker timeout kills it, 30 s; not waited for here)."""
    srv = _autodetect_server("gevent-autodetect")
    try:
        base = f"{srv.url}/socket.io/"
        sid = json.loads(srv.handshake().text[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert requests.post(base, params=params, data="40", timeout=2).text == "OK"
        assert requests.get(base, params=params, timeout=2).text.startswith('42["hello"')
        started = time.monotonic()
        idle = requests.get(base, params=params, timeout=30)      # nothing queued: waits for the ping
        assert (idle.status_code, idle.text) == (200, "2")
        assert 0.8 < time.monotonic() - started                  # it waited for the ping (interval 1 s)
        srv.wait_output("TypeError: Cannot convert greenlet.greenlet to "
                        "gevent._gevent_c_greenlet_primitives.SwitchOutGreenletWithLoop")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{srv.url}/__siolab/info", timeout=2)
        assert srv.proc.poll() is None          # alive, answering nothing
    finally:
        srv.close()


# What a client holds open at a stop: a long-poll (parked in a worker thread or handler) or a WebSocket.
# multiworker has no sticky sessions (polling needs them); gevent-gws-installed never upgrades.
STOP_CASES = [(m, t) for m in SERVING_MODES for t in ("polling", "websocket")
              if (m, t) != ("gevent-gws-installed", "websocket")] + [("multiworker", "websocket")]
# The quit signal ends every mode (teardown); SIGTERM, the `restart` fault's stop, is gunicorn's
# graceful stop (elsewhere it is the quit signal).
GUNICORN_MODES = ("gthread", "gevent", "gevent-websocket", "gevent-gws-installed", "multiworker")
STOP_SIGNAL_CASES = ([(m, t, "quit") for m, t in STOP_CASES]
                     + [(m, t, "SIGTERM") for m, t in STOP_CASES if m in GUNICORN_MODES])


@pytest.mark.parametrize("mode_name,transport,stop", STOP_SIGNAL_CASES)
def test_stop_ends_every_mode_with_a_client_open(mode_name, transport, stop):
    """The mode's quit signal (teardown) and SIGTERM (the `restart` fault's stop) end the server by
    itself while a client holds a long-poll or a WebSocket open, without the SIGKILL the supervisor
    sends after its 3 s: gunicorn's --graceful-timeout makes its master SIGKILL a worker still
    waiting on its clients (a gthread worker waits on the thread holding one even on SIGINT, its
    quick shutdown; every worker on SIGTERM); aiohttp's shutdown_timeout cancels the handler;
    eventlet and Node die of SIGTERM itself. Under gunicorn's default graceful timeout (30 s) or
    aiohttp's shutdown_timeout (60 s), this wait would time out."""
    spec = get_mode(mode_name).launch(HOST, 1, ServerSettings(ping_interval=5, ping_timeout=5))
    assert spec.quit_signal == (signal.SIGINT if "gunicorn" in spec.argv else signal.SIGTERM)
    sig = spec.quit_signal if stop == "quit" else signal.SIGTERM
    srv = RunningServer(mode_name, ServerSettings(ping_interval=5, ping_timeout=5))
    client = _client()
    try:
        srv.wait_ready()
        client.connect(srv.url, transports=[transport], wait_timeout=5)
        assert client.transport() == transport
        os.killpg(srv.proc.pid, sig)
        try:
            srv.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{mode_name} still running 10 s after {signal.Signals(sig).name} "
                        f"with a {transport} client open:\n{srv.output()}")
        # Exited by itself, or of the signal's default action: no SIGKILL was needed.
        assert srv.proc.returncode in (0, -sig), srv.output()
    finally:
        client.disconnect()
        srv.close()


def test_the_reloader_watches_a_marker_inside_the_repo_and_not_the_harness(tmp_path):
    """`siolab run` keeps a server's reload marker in its run folder, reports/runs/… inside the
    repo; the excludes that keep the harness's code from restarting the app must not hide it (the
    stat reloader filters its extra files through them too: the restart fault then touched a file
    nobody watched, and every reloader restart cell timed out). Asked of Werkzeug's own scan."""
    from werkzeug._reloader import _find_stat_paths

    from servers.reference_app.run_dev import reloader_excludes
    marker = REPO_ROOT / "reports" / "runs" / f"test-{os.getpid()}" / "cells" / "c" / "server-reloader.reload"
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        marker.touch()
        watched = _find_stat_paths({str(marker)}, set(reloader_excludes()))
    finally:
        shutil.rmtree(marker.parents[2])
    assert str(marker) in watched
    assert str(REPO_ROOT / "harness" / "lab" / "runner.py") not in watched
    assert str(REPO_ROOT / "servers" / "reference_app" / "app.py") in watched
