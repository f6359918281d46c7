"""What the server itself said about a session: the reason it logged when it dropped one.

Tells a server that gave up on a client (its own ping timeout, a closed transport) from a
client that gave up on the server: on a bad network both happen, in either order.
"""
from __future__ import annotations

import re

from . import Finding, metric
from .cell_view import CellView

# the reference apps (Flask-SocketIO, aiohttp, Node) log: "disconnect sid=… namespace=/ reason=…"
DISCONNECT = re.compile(r"\bdisconnect sid=\S+ namespace=/ reason=(?P<reason>.+?)\s*$")


@metric("server_disconnect_reason", "reason the server logged for the first session it dropped while the fault lasted")
def server_disconnect_reason(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    # while the fault lasts: the cell's own teardown ends sessions too (closed browser, closed client)
    ends = [e.t for e in v.of("fault", after=v.t_fault) if e.data.get("phase") == "end"]
    for e in v.of("log", src="server", after=v.t_fault, before=ends[0] if ends else None):
        match = DISCONNECT.search(str(e.data.get("line", "")))
        if match:
            return Finding(match.group("reason"), [e])
    return Finding(None)
