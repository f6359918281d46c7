"""Ping settings as the client sees them: what the handshake advertises, and whether an idle,
healthy client stays (trap 12: python-engineio advertises int(seconds)*1000 as pingInterval)."""
from __future__ import annotations

import json

from . import Finding, metric
from ..core.app_log import APP_READY
from ..core.protocol import split_payload
from ..core.timeline import Event
from .cell_view import CLIENT_SOURCES, CellView


def _open_packet(v: CellView):
    """The first Engine.IO open packet (`0{…}`) the client received: (event, its fields)."""
    for e in v.events:
        if e.src not in CLIENT_SOURCES:
            continue
        if e.kind == "http.response":
            body = str(e.data.get("body") or "")
        elif e.kind == "ws.frame" and e.data.get("dir") == "received":
            body = str(e.data.get("payload") or "")
        else:
            continue
        first = body.split("\x1e")[0]
        if first.startswith("0{"):
            try:
                return e, json.loads(first[1:])
            except ValueError:
                continue
    return None, {}


@metric("advertised_ping_interval", "pingInterval (ms) in the first Engine.IO open packet the client received")
def advertised_ping_interval(v: CellView) -> Finding:
    e, fields = _open_packet(v)
    return Finding(fields.get("pingInterval"), [e] if e else [])


@metric("advertised_ping_timeout", "pingTimeout (ms) in the first Engine.IO open packet the client received")
def advertised_ping_timeout(v: CellView) -> Finding:
    e, fields = _open_packet(v)
    return Finding(fields.get("pingTimeout"), [e] if e else [])


@metric("first_drop_reason", "reason of the client's first disconnect it did not ask for, anywhere in the cell")
def first_drop_reason(v: CellView) -> Finding:
    ds = v.drops()
    return Finding(ds[0].data.get("reason") if ds else None, ds[:1])


@metric("first_drop_after_s", "seconds from the client's first connect to its first disconnect it did not ask for")
def first_drop_after_s(v: CellView) -> Finding:
    ds = v.drops()
    connects = v.of("sio.connect", src=CLIENT_SOURCES)
    if not ds or not connects:
        return Finding(None)
    return Finding(round(ds[0].t - connects[0].t, 3), [connects[0], ds[0]])


def _configured_ping(v: CellView) -> tuple[float, float] | None:
    """The ping interval and timeout the server was started with, from its own "app ready" line (seconds)."""
    for e in v.of("log", src="server"):
        m = APP_READY.search(str(e.data.get("line", "")))
        if m:
            return float(m["interval"]), float(m["timeout"])
    return None


def _pings_received(v: CellView) -> list[Event]:
    """Every event that (re)armed the client's ping timer: a ping (`2`) or an open packet, in a received
    WebSocket frame or a polling answer."""
    out = []
    for e in v.events:
        if e.src not in CLIENT_SOURCES:
            continue
        if e.kind == "ws.frame" and e.data.get("dir") == "received":
            packets = [str(e.data.get("payload") or "")]
        elif e.kind == "http.response" and e.data.get("status") == 200:
            packets = split_payload(str(e.data.get("body") or ""))
        else:
            continue
        if any(p == "2" or p.startswith("0{") for p in packets):
            out.append(e)
    return out


@metric("punctual_drops", "the client's drops that came before the server could be called late: less than its "
                          "configured ping interval + half its ping timeout after what last armed the client's ping "
                          "timer (a drop later than that follows a late ping: a busy machine, not the settings); "
                          "None when the client records no pings (python-socketio over WebSocket)")
def punctual_drops(v: CellView) -> Finding:
    if v.client_src != "browser":
        return Finding(None, note="python-socketio's WebSocket frames are not recorded: its pings are not seen")
    configured, pings = _configured_ping(v), _pings_received(v)
    if configured is None or not pings:
        return Finding(None)
    interval, timeout = configured
    # The next ping is due `interval` after the last; half the timeout on top is lateness no schedule excuses,
    # and margin enough for the page's and the network's clocks, which differ by tens of milliseconds.
    bound = interval + timeout / 2
    punctual = []
    for d in v.drops():
        before = [p for p in pings if p.t <= d.t]      # what last armed the client's timer
        if before and d.t - before[-1].t < bound:
            punctual += [before[-1], d]
    return Finding(len(punctual) // 2, punctual, note=f"a drop within {bound:g} s of the last ping counts")
