"""Load balancing: which instance answered a client, the 400s of a session that landed on the
wrong one, and whether a broadcast reaches the clients of every instance (the witnesses)."""
from __future__ import annotations

import re

from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView

WITNESS = "witness"


def _sid_polls(v: CellView):
    """The client's polling requests that carry a sid (everything after the handshake)."""
    return [e for e in v.of("http.request", src=CLIENT_SOURCES)
            if v.is_socketio(e) and e.data.get("sid") and e.data.get("transport") == "polling"]


def _answered_400(v: CellView):
    return v.answered(_sid_polls(v), 400)


@metric("polling_requests", "the client's polling requests carrying a sid (the denominator of polling_400_share)")
def polling_requests(v: CellView) -> Finding:
    reqs = _sid_polls(v)
    return Finding(len(reqs), reqs[:1])


@metric("polling_400", "400 answers to the client's polling requests carrying a sid")
def polling_400(v: CellView) -> Finding:
    pairs = _answered_400(v)
    return Finding(len(pairs), [res for _, res in pairs[:3]])


@metric("polling_400_share", "percent of the client's polling requests with a sid that were answered 400")
def polling_400_share(v: CellView) -> Finding:
    reqs, pairs = _sid_polls(v), _answered_400(v)
    if not reqs:
        return Finding(None)
    return Finding(round(100 * len(pairs) / len(reqs), 1), [res for _, res in pairs[:2]],
                   note=f"{len(pairs)} of {len(reqs)}")


@metric("polling_400_body", "body of the first 400 to a polling request with a sid, the sid written <sid>")
def polling_400_body(v: CellView) -> Finding:
    pairs = _answered_400(v)
    if not pairs:
        return Finding(None)
    req, res = pairs[0]
    body = str(res.data.get("body") or "")
    return Finding(body.replace(req.data["sid"], "<sid>") if req.data.get("sid") else body, [req, res])


@metric("instances_answering", "distinct app instances (nginx upstreams) that answered the client's Socket.IO requests")
def instances_answering(v: CellView) -> Finding:
    # Witnesses talk to their instance directly, so every Socket.IO request nginx saw is the client's.
    es = [e for e in v.of("nginx.access", src="proxy") if "/socket.io/" in str(e.data.get("uri"))
          and re.fullmatch(r"[\d.]+:\d+", str(e.data.get("upstream")))]
    if not v.of("nginx.access", src="proxy"):
        return Finding(None)
    ups = {}
    for e in es:
        ups.setdefault(e.data["upstream"], e)
    return Finding(len(ups), list(ups.values()))


@metric("sio_connects", "times the client connected (each reconnection counts)")
def sio_connects(v: CellView) -> Finding:
    es = v.of("sio.connect", src=CLIENT_SOURCES)
    return Finding(len(es), es[:3])


def _broadcasts(v: CellView, src):
    return [e for e in v.of("sio.event", src=src) if e.data.get("event") == "broadcast"]


@metric("witnesses_connected", "witnesses (a client straight on each instance) that connected")
def witnesses_connected(v: CellView) -> Finding:
    firsts = {}
    for e in v.of("sio.connect", src=WITNESS):
        firsts.setdefault(e.data.get("witness"), e)
    return Finding(len(firsts) if v.of("sio.connect", src=WITNESS) or v.of("sio.connect_error", src=WITNESS) else None,
                   list(firsts.values()))


@metric("broadcast_witnesses", "witnesses (one per instance) that received the client's broadcast")
def broadcast_witnesses(v: CellView) -> Finding:
    if not v.of("sio.connect", src=WITNESS):
        return Finding(None)
    got = {}
    for e in _broadcasts(v, WITNESS):
        got.setdefault(e.data.get("witness"), e)
    return Finding(len(got), list(got.values()))


@metric("broadcast_to_client", "the client received the broadcast it sent")
def broadcast_to_client(v: CellView) -> Finding:
    if not [e for e in v.of("sio.emit", src=CLIENT_SOURCES) if e.data.get("event") == "broadcast"]:
        return Finding(None)
    es = _broadcasts(v, CLIENT_SOURCES)
    return Finding(bool(es), es[:1])
