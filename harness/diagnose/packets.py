"""Socket.IO events derived from the Engine.IO packets an import holds, where they say it.

A browser capture has no `sio.*` events of its own (the lab's page reports them; a HAR
does not). They are derived from what the packets say, each marked `derived: true`:

- `40{"sid":…}` in a poll answer or a received frame: the namespace connected (`sio.connect`,
  with the Engine.IO sid of the request or WebSocket that carried it);
- `44{…}`: `sio.connect_error` with the server's message;
- `41` received: `sio.disconnect` (reason `io server disconnect`);
- `5` sent over a WebSocket: `sio.upgrade`;
- the first network failure of a request carrying an established sid: `sio.disconnect`
  (reason `transport error`), which is what socket.io-client reports then.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from ..core.protocol import split_payload  # noqa: F401  (fingerprints import it from here too)
from ..core.timeline import Event

ABORTED = ("ERR_ABORTED", "NS_BINDING_ABORTED", "canceled", "cancelled")


def _namespace_and_json(rest: str) -> tuple[str, Any]:
    namespace = "/"
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    try:
        return namespace, json.loads(rest) if rest else None
    except ValueError:
        return namespace, rest


def socket_events(packet: str, t: float, eio_sid: str | None, transport: str) -> Iterator[Event]:
    """The events of one Socket.IO packet (an Engine.IO message's payload: `0{…}`, `4{…}`, `1`)."""
    if packet.startswith("0"):
        namespace, payload = _namespace_and_json(packet[1:])
        if isinstance(payload, dict) and payload.get("sid"):
            yield Event(t, "browser", "sio.connect", {"sid": payload["sid"], "eio_sid": eio_sid, "transport": transport,
                                                      "namespace": namespace, "derived": True})
    elif packet.startswith("4"):
        namespace, payload = _namespace_and_json(packet[1:])
        message = payload.get("message") if isinstance(payload, dict) else payload
        yield Event(t, "browser", "sio.connect_error", {"message": str(message), "namespace": namespace,
                                                        "eio_sid": eio_sid, "derived": True})
    elif packet.startswith("1"):
        namespace, _ = _namespace_and_json(packet[1:])
        yield Event(t, "browser", "sio.disconnect", {"reason": "io server disconnect", "namespace": namespace,
                                                     "derived": True})


def attach_ws_sids(events: list[Event]) -> list[Event]:
    """A WebSocket opened without a sid (transports: websocket only) is its own handshake: the sid
    comes in its first frame, `0{"sid": …}`. Its events get that sid (and the open, `handshake: true`)."""
    learned: dict[Any, str] = {}
    for e in events:
        d = e.data
        if e.kind == "ws.frame" and d.get("ws_id") and not d.get("sid") and d.get("dir") == "received" \
                and str(d.get("payload", "")).startswith("0{") and d["ws_id"] not in learned:
            try:
                sid = json.loads(d["payload"][1:]).get("sid")
            except (ValueError, AttributeError):
                continue
            if sid:
                learned[d["ws_id"]] = sid
    if not learned:
        return events
    out = []
    for e in events:
        sid = learned.get(e.data.get("ws_id")) if e.kind.startswith("ws.") and not e.data.get("sid") else None
        if sid:
            extra = {"handshake": True} if e.kind == "ws.open" else {}
            e = Event(e.t, e.src, e.kind, {**e.data, "sid": sid, **extra})
        out.append(e)
    return out


def derive(events: list[Event]) -> list[Event]:
    """The derived events of a time-sorted import (only those; the caller merges)."""
    out: list[Event] = []
    requests: dict[Any, Event] = {}
    used: set[str] = set()
    disconnected: set[str] = set()
    for e in events:
        d = e.data
        if e.src != "browser":
            continue
        if e.kind == "http.request":
            requests[d.get("id")] = e
            if d.get("sid"):
                used.add(d["sid"])
        elif e.kind == "http.response" and isinstance(d.get("body"), str) and d.get("status") == 200:
            req = requests.get(d.get("id"))
            sid = d.get("sid") or (req.data.get("sid") if req else None)
            for packet in split_payload(d["body"]):
                if packet.startswith("4"):
                    out.extend(socket_events(packet[1:], e.t, sid, "polling"))
        elif e.kind == "ws.frame" and isinstance(d.get("payload"), str):
            payload = d["payload"]
            if d.get("dir") == "received" and payload.startswith("4"):
                out.extend(socket_events(payload[1:], e.t, d.get("sid"), "websocket"))
            elif d.get("dir") == "sent" and payload == "5":
                out.append(Event(e.t, "browser", "sio.upgrade", {"transport": "websocket", "derived": True}))
        elif e.kind == "http.failed" and d.get("sid") in used and d.get("sid") not in disconnected:
            if not any(a in str(d.get("error")) for a in ABORTED):
                disconnected.add(d["sid"])
                out.append(Event(e.t, "browser", "sio.disconnect", {"reason": "transport error", "namespace": "/",
                                                                    "derived": True}))
    return out
