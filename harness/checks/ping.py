"""Ping settings as the client sees them: what the handshake advertises, and whether an idle,
healthy client stays (trap 12: python-engineio advertises int(seconds)*1000 as pingInterval)."""
from __future__ import annotations

import json

from . import Finding, metric
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
