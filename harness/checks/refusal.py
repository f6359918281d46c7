"""Refusals: what a client really receives when the server refuses its connection."""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView

# A Socket.IO CONNECT_ERROR packet (type 4 of the namespace layer, inside Engine.IO message 4).
CONNECT_ERROR_MARK = '44'


def _carrier(v: CellView):
    """The response or WebSocket frame that carried the first CONNECT_ERROR packet."""
    for e in v.events:
        if e.src not in CLIENT_SOURCES:
            continue
        if e.kind == "http.response" and _has_connect_error(e.data.get("body")):
            return e
        if e.kind == "ws.frame" and e.data.get("dir") == "received" and _has_connect_error(e.data.get("payload")):
            return e
    return None


def _has_connect_error(text) -> bool:
    if not text:
        return False
    # Packets in a polling body are split by \x1e; a namespace's CONNECT_ERROR is 44/nsp,{…} or 44{…},
    # or 44/nsp,"text" (python-socketio's refusal of an unknown namespace is a bare string).
    return any(p.startswith(CONNECT_ERROR_MARK) and ("{" in p or '"' in p) for p in str(text).split("\x1e"))


@metric("connect_error_message", "message of the first connect_error the client saw")
def connect_error_message(v: CellView) -> Finding:
    es = v.of("sio.connect_error", src=CLIENT_SOURCES)
    return Finding(es[0].data.get("message") if es else None, es[:1])


@metric("refusal_carrier", "what carried the refusal: 'http <status>' (a polling answer) or 'websocket frame'")
def refusal_carrier(v: CellView) -> Finding:
    e = _carrier(v)
    if e is None:
        return Finding(None)
    if e.kind == "ws.frame":
        return Finding("websocket frame", [e])
    return Finding(f"http {e.data.get('status')}", [e])


@metric("refusal_status", "HTTP status of the polling answer that carried the CONNECT_ERROR packet")
def refusal_status(v: CellView) -> Finding:
    e = _carrier(v)
    return Finding(e.data.get("status") if e is not None and e.kind == "http.response" else None, [e] if e else [])


@metric("connected_ever", "the client connected at least once")
def connected_ever(v: CellView) -> Finding:
    es = v.of("sio.connect", src=CLIENT_SOURCES)
    return Finding(bool(es), es[:1])


@metric("connect_errors_total", "connect_error events over the whole cell")
def connect_errors_total(v: CellView) -> Finding:
    es = v.of("sio.connect_error", src=CLIENT_SOURCES)
    return Finding(len(es), es[:5])


@metric("http_400_total", "400 answers to Socket.IO requests over the whole cell, with the first body")
def http_400_total(v: CellView) -> Finding:
    hits = [e for e in v.of("http.response", src=CLIENT_SOURCES) if e.data.get("status") == 400 and v.is_socketio(e)]
    return Finding(len(hits), hits[:5], note=str(hits[0].data.get("body")) if hits else "")


@metric("console_errors", "console errors of the page (not the lab's own)")
def console_errors(v: CellView) -> Finding:
    es = [e for e in v.of("console", src="browser") if e.data.get("level") == "error"
          and not str(e.data.get("url", "")).startswith("siolab:")]
    return Finding(len(es), es[:5])


@metric("time_to_disconnect", "seconds from the fault to the client's first disconnect")
def time_to_disconnect(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    ds = v.drops(after=v.t_fault)
    return Finding(round(ds[0].t - v.t_fault, 3) if ds else None, [v.fault_begin] + ds[:1])


@metric("final_transport", "the transport of the client's last connect or upgrade")
def final_transport(v: CellView) -> Finding:
    es = v.of("sio.connect", src=CLIENT_SOURCES) + v.of("sio.upgrade", src=CLIENT_SOURCES)
    if not es:
        return Finding(None)
    last = max(es, key=lambda e: e.t)
    return Finding(last.data.get("transport"), [last])


@metric("upgrade_status", "HTTP status of a failed WebSocket upgrade, from the browser's error text or the server log")
def upgrade_status(v: CellView) -> Finding:
    import re

    for e in v.of("ws.error", src="browser"):
        m = re.search(r"response code: (\d{3})", str(e.data.get("error")))
        if m:
            return Finding(int(m.group(1)), [e])
    for e in v.of("log", src="server"):
        line = str(e.data.get("line"))
        m = re.search(r'"GET /socket\.io/\?[^"]*transport=websocket[^"]*" (\d{3})', line)
        if m and m.group(1) != "101":
            return Finding(int(m.group(1)), [e])
    return Finding(None)
