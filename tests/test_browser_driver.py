"""The browser driver against a real python-socketio server and the real socket.io client.

The server runs in a thread (threading mode on Werkzeug, WebSocket through
simple-websocket); the page loads socket.io-client from node_modules and reports its
own events through `window.__siolabReport`. Without Chromium the tests skip, except
under CI=true, where they fail: CI never passes by skipping.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

socketio = pytest.importorskip("socketio")
from werkzeug.serving import make_server  # noqa: E402

from harness.clients.browser import BrowserCell, BrowserDriver, BrowserError, find_chromium  # noqa: E402
from harness.core.timeline import Timeline  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLIENT_JS = REPO / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
# Set as a cookie by the test server, so it travels in Cookie / Set-Cookie headers only.
SESSION_SECRET = secrets.token_hex(16)

PAGE = """<!doctype html>
<html><head><title>siolab browser driver test</title>
<script src="/socket.io.min.js"></script></head>
<body><button id="hello">hello</button>
<script>
  const report = (kind, data) => window.__siolabReport(kind, Object.assign({wall: Date.now() / 1000}, data));
  const params = new URLSearchParams(location.search);
  const transports = params.get("transports") ? params.get("transports").split(",") : undefined;
  console.log("page loaded");
  const socket = io({transports, reconnectionDelay: 200, reconnectionDelayMax: 500});
  window.appSocket = socket;
  socket.io.on("open", () => socket.io.engine.on("upgrade", (t) => report("sio.upgrade", {transport: t.name})));
  socket.on("connect", () => {
    report("sio.connect", {sid: socket.id, eio_sid: socket.io.engine.id,
                           transport: socket.io.engine.transport.name, namespace: "/"});
    console.info("connected " + socket.id);
  });
  socket.on("disconnect", (reason) => report("sio.disconnect", {reason, namespace: "/"}));
  socket.on("connect_error", (err) => report("sio.connect_error", {message: err.message, namespace: "/"}));
  document.getElementById("hello").onclick = () => socket.emit("hello", "from the page");
</script></body></html>
"""


def _need_chromium() -> str:
    executable = find_chromium()
    if executable:
        return executable
    reason = "no Chromium (no Playwright-managed browser, no chromium on PATH)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true does not skip")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A threading-mode python-socketio server on an OS-picked port; yields its base URL."""
    if not CLIENT_JS.exists():
        reason = f"socket.io-client not installed ({CLIENT_JS}); run npm install"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    page = tmp_path_factory.mktemp("page") / "index.html"
    page.write_text(PAGE, encoding="utf-8")
    sio = socketio.Server(async_mode="threading", ping_interval=1, ping_timeout=5)

    @sio.on("hello")
    def hello(sid, data):
        sio.emit("hello", f"back to {data}", to=sid)

    app = socketio.WSGIApp(sio, static_files={
        "/": {"content_type": "text/html", "filename": str(page)},
        "/socket.io.min.js": {"content_type": "application/javascript", "filename": str(CLIENT_JS)},
    })
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # every WebSocket close logs a 500 here
    httpd = make_server("127.0.0.1", 0, _with_session_cookie(app), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="test-sio-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _with_session_cookie(app):
    def app_setting_cookie(environ, start_response):
        if environ["PATH_INFO"] != "/":
            return app(environ, start_response)

        def start(status, headers, exc_info=None):
            cookie = ("Set-Cookie", f"session={SESSION_SECRET}; Path=/; HttpOnly")
            return start_response(status, [*headers, cookie], exc_info)
        return app(environ, start)
    return app_setting_cookie


@pytest.fixture(scope="module")
def driver():
    executable = _need_chromium()
    with BrowserDriver(executable=executable) as drv:
        assert drv.browser_pgid, "the browser's process group was not found"
        yield drv
    assert drv.browser_processes() == [], "Chromium processes left after close()"


@pytest.fixture
def timeline(tmp_path):
    with Timeline(tmp_path / "timeline.jsonl") as tl:
        yield tl


@pytest.fixture
def cell(driver, timeline, tmp_path, server):
    with driver.new_cell(timeline, tmp_path / "cell", base_url=server) as c:
        yield c


def _events(timeline: Timeline, kind: str) -> list:
    return [e for e in timeline.events if e.src == "browser" and e.kind == kind]


def _wait_for_event(timeline: Timeline, kind: str, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while not _events(timeline, kind) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _events(timeline, kind)


def test_records_handshake_connect_upgrade_console_and_artifacts(cell: BrowserCell, timeline, tmp_path):
    assert cell.goto("/") == 200
    cell.wait_for_function("window.appSocket && window.appSocket.connected "
                           "&& window.appSocket.io.engine.transport.name === 'websocket'", timeout_s=10)
    cell.click("#hello")
    # The server's echo of the page's message, as a received WebSocket frame (a loaded machine may take a while).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            e.data["dir"] == "received" and "back to from the page" in e.data["payload"] for e in _events(timeline, "ws.frame")):
        time.sleep(0.05)

    requests = _events(timeline, "http.request")
    handshake = next(e for e in requests if "/socket.io/" in e.data["path"] and "sid" not in e.data)
    assert handshake.data["transport"] == "polling" and handshake.data["eio"] == "4"
    handshake_response = next(e for e in _events(timeline, "http.response") if e.data["id"] == handshake.data["id"])
    assert handshake_response.data["status"] == 200
    assert handshake_response.data["body"].startswith("0{")
    eio_sid = json.loads(handshake_response.data["body"][1:])["sid"]
    # Later polling requests carry that sid; no headers are recorded anywhere.
    assert any(e.data.get("sid") == eio_sid for e in requests)
    assert not any("headers" in e.data or "cookie" in json.dumps(e.data).lower() for e in timeline.events)

    connect = _events(timeline, "sio.connect")
    assert len(connect) == 1 and connect[0].data["sid"] and connect[0].data["eio_sid"] == eio_sid
    assert "wall" not in connect[0].data
    # The page's wall stamp lands within the run, close to the handshake.
    assert handshake.t <= connect[0].t + 0.05 and connect[0].t - handshake.t < 5

    ws_open = _events(timeline, "ws.open")
    assert ws_open and ws_open[0].data["sid"] == eio_sid and ws_open[0].t >= handshake.t
    assert [e.data["transport"] for e in _events(timeline, "sio.upgrade")] == ["websocket"]
    frames = _events(timeline, "ws.frame")
    assert {"dir": "sent", "payload": "2probe"}.items() <= frames[0].data.items()
    assert any(e.data["dir"] == "received" and "back to from the page" in e.data["payload"] for e in frames)

    console = _events(timeline, "console")
    assert any(e.data["level"] == "log" and e.data["text"] == "page loaded" for e in console)
    assert any(e.data["level"] == "info" and e.data["text"].startswith("connected ") for e in console)
    assert not [e for e in console if e.data["url"] == "siolab:browser-driver"]

    # Chromium reports the close only once the TCP connection is gone: against
    # Werkzeug + simple-websocket that is 2 s after the closing handshake.
    cell.evaluate("appSocket.disconnect()")
    ws_close = _wait_for_event(timeline, "ws.close", timeout_s=5)
    assert [e.data["sid"] for e in ws_close] == [eio_sid]
    assert _events(timeline, "sio.disconnect")[0].data["reason"] == "io client disconnect"

    cell.close()
    har_text = (tmp_path / "cell" / "browser.har").read_text()
    har = json.loads(har_text)
    assert any("/socket.io/" in entry["request"]["url"] for entry in har["log"]["entries"])
    cookie_headers = [h for entry in har["log"]["entries"] for side in ("request", "response")
                      for h in entry[side]["headers"] if h["name"].lower() in ("cookie", "set-cookie")]
    assert cookie_headers and all(h["value"] == "[redacted by siolab]" for h in cookie_headers)
    assert SESSION_SECRET not in har_text
    with zipfile.ZipFile(tmp_path / "cell" / "trace.zip") as trace:
        assert trace.testzip() is None and any(name.endswith(".trace") for name in trace.namelist())
        assert not [n for n in trace.namelist() if SESSION_SECRET.encode() in trace.read(n)]
    assert SESSION_SECRET not in (tmp_path / "timeline.jsonl").read_text()


def test_connection_refused_is_recorded_with_chromium_error_text(cell: BrowserCell, timeline):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(BrowserError, match="ERR_CONNECTION_REFUSED"):
        cell.goto(f"http://127.0.0.1:{closed_port}/socket.io/?EIO=4&transport=polling")
    failed = _events(timeline, "http.failed")
    assert [e.data["error"] for e in failed] == ["net::ERR_CONNECTION_REFUSED"]
    request = next(e for e in _events(timeline, "http.request") if e.data["id"] == failed[0].data["id"])
    assert request.data["transport"] == "polling" and request.data["eio"] == "4"


def test_page_reports_are_filtered_and_wall_stamped(cell: BrowserCell, timeline):
    cell.goto("/?transports=polling")
    before = timeline.now()
    cell.evaluate("""async () => {
        await window.__siolabReport("app.mark", {wall: Date.now() / 1000, note: "x"});
        await window.__siolabReport("singleton.create", {variant: "naive", reason: "first"});
        await window.__siolabReport("evil.kind", {wall: 1});
    }""")
    after = timeline.now()
    mark = _events(timeline, "app.mark")
    assert len(mark) == 1 and mark[0].data == {"note": "x"} and before - 0.05 <= mark[0].t <= after + 0.05
    assert _events(timeline, "singleton.create")[0].data == {"variant": "naive", "reason": "first"}
    assert not _events(timeline, "evil.kind")
    assert any(e.data["level"] == "warning" and "evil.kind" in e.data["text"] for e in _events(timeline, "console"))

    cell.evaluate("setTimeout(() => { throw new Error('kaboom') }, 0)")
    assert "kaboom" in _wait_for_event(timeline, "page.error", timeout_s=3)[0].data["message"]


class _TimelineFailingOn(Timeline):
    """A timeline that breaks on one URL, to show that a failing callback is contained."""

    def record(self, src, kind, data=None, *, t=None):
        if kind == "http.request" and "/boom" in (data or {}).get("url", ""):
            raise RuntimeError("disk full")
        return super().record(src, kind, data, t=t)


def test_an_exception_while_recording_becomes_a_console_error(driver, server, tmp_path):
    timeline = _TimelineFailingOn()
    with driver.new_cell(timeline, tmp_path / "boom", base_url=server) as cell:
        cell.goto("/?transports=polling")
        assert cell.evaluate("fetch('/boom').then(r => r.status)") == 404
        cell.wait_for_function("window.appSocket.connected", timeout_s=10)
    errors = [e for e in _events(timeline, "console") if e.data["url"] == "siolab:browser-driver"]
    assert len(errors) == 1 and "disk full" in errors[0].data["text"] and errors[0].data["level"] == "error"
    # The loop went on: the failed request's response and later events are there.
    assert any(e.data["url"].endswith("/boom") and e.data["status"] == 404 for e in _events(timeline, "http.response"))
    assert _events(timeline, "sio.connect")


def test_close_with_a_pending_long_poll_does_not_hang(driver, server, tmp_path):
    timeline = Timeline()
    cell = driver.new_cell(timeline, tmp_path / "poll", base_url=server)
    try:
        cell.goto("/?transports=polling")
        cell.wait_for_function("window.appSocket && window.appSocket.connected", timeout_s=10)
        # until the next GET is parked on the server: a poll with the sid and no answer yet
        deadline = time.monotonic() + 10
        while not [e for e in _events(timeline, "http.request") if e.data.get("method") == "GET" and e.data.get("sid")
                   and not any(r.data.get("id") == e.data.get("id") for r in _events(timeline, "http.response"))]:
            assert time.monotonic() < deadline, "no long-poll was left open"
            time.sleep(0.01)
        posted = [e for e in _events(timeline, "http.request") if e.data.get("body") == "40"]
        assert posted, "the CONNECT packet goes in a polling POST body"
    finally:
        started = time.monotonic()
        cell.close()
        assert time.monotonic() - started < 10
    with pytest.raises(BrowserError):
        cell.evaluate("1")


def test_a_frozen_page_sends_nothing_until_it_is_thawed(cell: BrowserCell, timeline):
    """freeze(True) stops the page's scripts (Debugger.pause): the server's pings (every 1 s here) get no pong
    while frozen; thawed, the page answers the queued ping and stays connected (ping timeout 5 s)."""
    cell.goto("/?transports=websocket")
    cell.wait_for_function("window.appSocket.connected", timeout_s=10)
    cell.freeze(True)
    # held past one ping interval, so a ping is waiting for the page (a test's hold, not a cell's step)
    time.sleep(1.5)
    cell.freeze(False)
    frozen = next(e for e in timeline.events if e.kind == "client.frozen")
    thawed = next(e for e in timeline.events if e.kind == "client.thawed")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not [e for e in _events(timeline, "ws.frame")
                                               if e.data["dir"] == "sent" and e.data["payload"] == "3" and e.t > thawed.t]:
        time.sleep(0.05)
    sent = [e for e in _events(timeline, "ws.frame") if e.data["dir"] == "sent"]
    assert not [e for e in sent if frozen.t <= e.t <= thawed.t], "the page spoke while frozen"
    assert [e for e in sent if e.data["payload"] == "3" and e.t > thawed.t], "no pong after the thaw"
    assert cell.evaluate("window.appSocket.connected") is True
    assert not _events(timeline, "sio.disconnect")
