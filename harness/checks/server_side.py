"""What the server itself said about the client's session: the reason it logged when it dropped it, and
how long after the client fell silent.

Tells a server that gave up on a client (its own ping timeout, a closed transport) from a
client that gave up on the server: on a bad network both happen, in either order.
"""
from __future__ import annotations

from ..core.app_log import CONNECT, DISCONNECT
from ..core.protocol import split_payload
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView
from .ping import advertised_ping_interval, advertised_ping_timeout
from .recovery import new_connect


def session_ends(v: CellView, before: float | None = None):
    """The server's log lines ending the session the client held at the fault, after the fault began."""
    if v.t_fault is None or v.old_sid is None:
        return []
    # the session the client held: another one (a page navigated away from) may die meanwhile. Its
    # connect line may be read after the fault began (the client can report the connect first).
    sids = {m.group("sid") for e in v.of("log", src="server")
            if (m := CONNECT.search(str(e.data.get("line", "")))) and m.group("eio") == v.old_sid}
    return [(e, m) for e in v.of("log", src="server", after=v.t_fault, before=before)
            if (m := DISCONNECT.search(str(e.data.get("line", "")))) and m.group("sid") in sids]


@metric("server_disconnect_reason",
        "reason the server logged for dropping the client's session (the sid it held at the fault) while the fault lasted")
def server_disconnect_reason(v: CellView) -> Finding:
    # while the fault lasts: the cell's own teardown ends sessions too (closed browser, closed client)
    ends = [e.t for e in v.of("fault", after=v.t_fault) if e.data.get("phase") == "end"] if v.t_fault is not None else []
    found = session_ends(v, before=ends[0] if ends else None)
    return Finding(found[0][1].group("reason"), [found[0][0]]) if found else Finding(None)


@metric("server_drop_reason",
        "reason the server logged for ending the client's session (the sid it held at the fault) when the client lost "
        "it: read until the client was back on a new session, or over the whole cell when it never came back (the "
        "teardown closes only a live session); null when the client kept it (the teardown's own close is no drop)")
def server_drop_reason(v: CellView) -> Finding:
    # not bounded by the fault's end: a client's own emit ends as its library returns, before the server has read it
    if v.t_fault is None or not v.drops(after=v.t_fault):
        return Finding(None)
    back = new_connect(v)
    found = session_ends(v, before=back.t if back is not None else None)
    return Finding(found[0][1].group("reason"), [found[0][0]] + ([back] if back is not None else [])) if found else Finding(None)


def last_heartbeat(v: CellView, before: float):
    """The client's last pong (WebSocket frame `3`, or a polling POST carrying one) before `before`, else the
    open packet of the session it held at the fault: the server's ping timer counts from there."""
    pongs = [e for e in v.of("ws.frame", src=CLIENT_SOURCES, before=before)
             if e.data.get("dir") == "sent" and e.data.get("payload") == "3"]
    pongs += [e for e in v.of("http.request", src=CLIENT_SOURCES, before=before)
              if e.data.get("method") == "POST" and "3" in split_payload(str(e.data.get("body") or ""))]
    if pongs:
        return max(pongs, key=lambda e: e.t)
    for e in v.events:
        body = str(e.data.get("body") if e.kind == "http.response" else e.data.get("payload") if e.kind == "ws.frame" else "")
        if e.src in CLIENT_SOURCES and e.t < before and body.startswith("0{") and f'"sid":"{v.old_sid}"' in body:
            return e
    return None


@metric("server_noticed_s", "seconds from the client's last pong (or, with none yet, its session's open packet) to "
                            "the server's log line dropping that session: how long the server took to notice a silent "
                            "client, counted from where its ping timer starts")
def server_noticed_s(v: CellView) -> Finding:
    found = session_ends(v)
    if not found:
        return Finding(None)
    drop = found[0][0]
    beat = last_heartbeat(v, drop.t)
    if beat is None:
        return Finding(None, [drop])
    return Finding(round(drop.t - beat.t, 3), [beat, drop])


@metric("server_notice_overshoot_s", "server_noticed_s minus the advertised pingInterval + pingTimeout: how much later "
                                     "than the protocol's bound the server noticed (<= 0: within it)")
def server_notice_overshoot_s(v: CellView) -> Finding:
    noticed = server_noticed_s(v)
    interval, timeout = advertised_ping_interval(v), advertised_ping_timeout(v)
    if noticed.value is None or not isinstance(interval.value, int) or not isinstance(timeout.value, int):
        return Finding(None, noticed.evidence)
    return Finding(round(noticed.value - (interval.value + timeout.value) / 1000, 3),
                   noticed.evidence + interval.evidence)
