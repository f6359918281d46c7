"""What the server itself said about the client's session: the reason it logged when it dropped it.

Tells a server that gave up on a client (its own ping timeout, a closed transport) from a
client that gave up on the server: on a bad network both happen, in either order.
"""
from __future__ import annotations

import re

from . import Finding, metric
from .cell_view import CellView

# the reference apps (Flask-SocketIO, aiohttp, Node) log both ends of a root-namespace session
CONNECT = re.compile(r"\bconnect sid=(?P<sid>\S+) eio_sid=(?P<eio>\S+) namespace=/ ")
DISCONNECT = re.compile(r"\bdisconnect sid=(?P<sid>\S+) namespace=/ reason=(?P<reason>.+?)\s*$")


@metric("server_disconnect_reason",
        "reason the server logged for dropping the client's session (the sid it held at the fault) while the fault lasted")
def server_disconnect_reason(v: CellView) -> Finding:
    if v.t_fault is None or v.old_sid is None:
        return Finding(None)
    # the session the client held: another one (a page navigated away from) may die meanwhile
    sids = {m.group("sid") for e in v.of("log", src="server", before=v.t_fault)
            if (m := CONNECT.search(str(e.data.get("line", "")))) and m.group("eio") == v.old_sid}
    # while the fault lasts: the cell's own teardown ends sessions too (closed browser, closed client)
    ends = [e.t for e in v.of("fault", after=v.t_fault) if e.data.get("phase") == "end"]
    for e in v.of("log", src="server", after=v.t_fault, before=ends[0] if ends else None):
        match = DISCONNECT.search(str(e.data.get("line", "")))
        if match and match.group("sid") in sids:
            return Finding(match.group("reason"), [e])
    return Finding(None)
