"""The handshake: what a client's first Engine.IO request got, and what the server said to it.

For the incidents where a client never gets a session at all (wrong origin, wrong path,
protocol version mismatch): the page often sees less than the server said (a CORS-blocked
answer is `net::ERR_FAILED` to the page, its 400 only in the server's access log), so the
figures keep the two sides apart. An Engine.IO request is any request with `EIO=` in its
query, on whatever path the client used.
"""
from __future__ import annotations

import re

from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView

# One access-log line per request, in the formats of gunicorn, aiohttp, Werkzeug and the Node app:
#   "GET /socket.io/?EIO=4&transport=polling&t=x HTTP/1.1" 400 25     (Node: … HTTP/1.1" upgrade)
ACCESS_LINE = re.compile(r'"(GET|POST) (/[^ "]*EIO=[^ "]*) HTTP/1\.[01]" (\d{3}|upgrade)')
WS_STATUS = re.compile(r"Unexpected response code: (\d{3})")
CORS_MARK = "blocked by CORS policy"
ORIGIN_MARK = "is not an accepted origin"


def _is_eio_url(url: str) -> bool:
    return "EIO=" in url


def _client_attempts(v: CellView):
    """The client's Engine.IO requests and WebSocket openings, in order."""
    return [e for e in v.events if e.src in CLIENT_SOURCES and (
        (e.kind == "http.request" and (e.data.get("eio") or _is_eio_url(str(e.data.get("url", "")))))
        or (e.kind == "ws.open" and _is_eio_url(str(e.data.get("url", "")))))]


def _ws_outcome(v: CellView, opened):
    """(answer, event): 101 when frames came back, the status of a refused handshake, or Chromium's error text."""
    url = opened.data.get("url")
    for e in v.events:
        if e.t < opened.t or e.data.get("url") != url:
            continue
        if e.kind == "ws.frame" and e.data.get("dir") == "received":
            return 101, e
        if e.kind == "ws.error":
            text = str(e.data.get("error"))
            m = WS_STATUS.search(text)
            return (int(m.group(1)) if m else text), e
    return None, None


def _answer(v: CellView, attempt):
    if attempt.kind == "ws.open":
        return _ws_outcome(v, attempt)
    out = v.outcome(attempt)
    if out is None:
        return None, None
    if out.kind == "http.response":
        return out.data.get("status"), out
    return out.data.get("error"), out


@metric("eio_first_answer", "what the client's first Engine.IO request got: an HTTP status (101 for a WebSocket that "
                            "answered), or the browser's / requests' error text (a CORS-blocked answer is net::ERR_FAILED)")
def eio_first_answer(v: CellView) -> Finding:
    attempts = _client_attempts(v)
    if not attempts:
        return Finding(None)
    value, out = _answer(v, attempts[0])
    return Finding(value, [attempts[0]] + ([out] if out else []))


@metric("eio_first_path", "the path of the client's first Engine.IO request (/socket.io/ unless the client set another)")
def eio_first_path(v: CellView) -> Finding:
    attempts = _client_attempts(v)
    if not attempts:
        return Finding(None)
    url = str(attempts[0].data.get("url", ""))
    return Finding(re.sub(r"^\w+://[^/]+", "", url).split("?")[0], attempts[:1])


@metric("client_eio", "the Engine.IO protocol version the client spoke (EIO= of its first request: 4 for socket.io-client "
                      "3+/python-socketio 5, 3 for socket.io-client 2.x)")
def client_eio(v: CellView) -> Finding:
    attempts = _client_attempts(v)
    if not attempts:
        return Finding(None)
    m = re.search(r"EIO=(\d)", str(attempts[0].data.get("url", "")))
    return Finding(int(m.group(1)) if m else None, attempts[:1])


@metric("eio_400_body", "body of the first 400 answer to an Engine.IO request that the client could read")
def eio_400_body(v: CellView) -> Finding:
    for e in v.of("http.response", src=CLIENT_SOURCES):
        if e.data.get("status") == 400 and _is_eio_url(str(e.data.get("url", ""))):
            return Finding(e.data.get("body"), [e])
    return Finding(None)


@metric("eio_404_total", "404 answers to the client's Engine.IO requests (polling, and WebSocket handshakes refused 404)")
def eio_404_total(v: CellView) -> Finding:
    hits = [e for e in v.of("http.response", src=CLIENT_SOURCES)
            if e.data.get("status") == 404 and _is_eio_url(str(e.data.get("url", "")))]
    hits += [e for e in v.of("ws.error", src=CLIENT_SOURCES) if "response code: 404" in str(e.data.get("error"))]
    return Finding(len(hits), hits[:3])


@metric("polling_handshakes_ok", "polling handshakes the client got answered with an open packet (a session it may never use)")
def polling_handshakes_ok(v: CellView) -> Finding:
    hits = [e for e in v.of("http.response", src=CLIENT_SOURCES)
            if e.data.get("status") == 200 and re.match(r"^(\d+:)?0\{", str(e.data.get("body") or ""))]
    return Finding(len(hits), hits[:3])


@metric("ws_error", "the browser's error text for the first WebSocket that failed")
def ws_error(v: CellView) -> Finding:
    es = v.of("ws.error", src=CLIENT_SOURCES)
    return Finding(str(es[0].data.get("error")) if es else None, es[:1])


@metric("cors_blocked", "console errors saying the browser blocked an answer by CORS policy (the first is the note)")
def cors_blocked(v: CellView) -> Finding:
    es = [e for e in v.of("console", src="browser") if CORS_MARK in str(e.data.get("text"))]
    return Finding(len(es), es[:3], note=str(es[0].data.get("text")) if es else "")


@metric("server_origin_rejected", "the server logged that the client's Origin is not accepted (python-engineio)")
def server_origin_rejected(v: CellView) -> Finding:
    es = [e for e in v.of("log", src="server") if ORIGIN_MARK in str(e.data.get("line"))]
    return Finding(bool(es), es[:1])


@metric("server_handshake_status", "status the server's access log gives the client's first handshake (an Engine.IO "
                                   "request without sid after the client opened; 'upgrade' where Node logs a WebSocket)")
def server_handshake_status(v: CellView) -> Finding:
    opened = [e for e in v.of("step", src="harness") if e.data.get("step") == "open"]
    if not opened:
        return Finding(None)
    for e in v.of("log", src="server", after=opened[0].t):
        m = ACCESS_LINE.search(str(e.data.get("line")))
        if m and "sid=" not in m.group(2):
            status = m.group(3)
            return Finding(int(status) if status.isdigit() else status, [e])
    return Finding(None)


@metric("connect_failure", "why python-socketio's first connect() failed: the text of its ConnectionError")
def connect_failure(v: CellView) -> Finding:
    es = [e for e in v.of("sio.connect_error", src="pyclient") if e.data.get("initial")]
    return Finding(es[0].data.get("message") if es else None, es[:1])


@metric("probe_status", "HTTP status of the scenario's first probe request (a raw Engine.IO request, e.g. a WebSocket "
                        "handshake without the Upgrade headers)")
def probe_status(v: CellView) -> Finding:
    es = v.of("http.response", src="probe") + v.of("http.failed", src="probe")
    first = min(es, key=lambda e: e.t) if es else None
    if first is None:
        return Finding(None)
    return Finding(first.data.get("status", first.data.get("error")), [first])


@metric("probe_body", "body of the scenario's first probe answer")
def probe_body(v: CellView) -> Finding:
    es = v.of("http.response", src="probe")
    return Finding(es[0].data.get("body") if es else None, es[:1])


@metric("proxy_websocket_status", "status nginx logged for the client's WebSocket requests (those carrying Upgrade): "
                                  "101 when one was upgraded, else the first one's (the app answered it as plain HTTP)")
def proxy_websocket_status(v: CellView) -> Finding:
    # nginx logs a request when it ends: an upgraded WebSocket only when it closes.
    es = [e for e in v.of("nginx.access", src="proxy") if "EIO=" in str(e.data.get("uri"))
          and "transport=websocket" in str(e.data.get("uri")) and e.data.get("upgrade")]
    upgraded = [e for e in es if e.data.get("status") == 101]
    if upgraded:
        return Finding(101, upgraded[:1])
    return Finding(es[0].data.get("status") if es else None, es[:1])
