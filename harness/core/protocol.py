"""The Engine.IO / Socket.IO vocabulary every layer shares: packet types, polling payload framing
(EIO 3 and 4), and which requests are Engine.IO requests at all.

One definition, so the lab's checks, the reports and `diagnose` never disagree on a custom path
(`io(url, {path: "/custom"})`) or an Engine.IO 3 payload.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

PACKET_TYPES = {"0": "open", "1": "close", "2": "ping", "3": "pong", "4": "message", "5": "upgrade", "6": "noop"}
_EIO3_LENGTH = re.compile(r"(\d+):")


def split_payload(body: str) -> list[str]:
    """Engine.IO packets of a polling payload: `\\x1e`-separated (EIO 4) or length-prefixed (EIO 3, `3:40,`)."""
    if "\x1e" in body or not _EIO3_LENGTH.match(body):
        return [p for p in body.split("\x1e") if p]
    out, pos = [], 0
    while pos < len(body):
        m = _EIO3_LENGTH.match(body, pos)
        if not m:
            break
        n = int(m.group(1))
        out.append(body[m.end():m.end() + n])
        pos = m.end() + n
    return out


def describe_packet(body: str | None) -> str:
    """The Engine.IO packet types of a polling POST body, e.g. `close` or `message+message`."""
    if not body:
        return "empty"
    return "+".join(PACKET_TYPES.get(p[:1], "unknown") for p in body.split("\x1e") if p)


def is_engineio_url(url: str) -> bool:
    """An Engine.IO request, on the default path or a custom one (it carries `EIO=`); never the
    client library itself (`/socket.io/socket.io.js` has no `EIO=`, `/socket.io.min.js` no `/socket.io/`)."""
    parts = urlsplit(url)
    path = parts.path or url.split("?", 1)[0]
    return "EIO=" in parts.query or "EIO=" in url or \
        ("/socket.io/" in path or path.endswith("/socket.io")) and not path.endswith(".js")


def is_engineio(d: dict[str, Any]) -> bool:
    """The same for a recorded or imported request's data (`url`, `path`, `eio`)."""
    if d.get("eio") is not None:
        return True
    url = str(d.get("url") or "")
    path = str(d.get("path") or "")
    return is_engineio_url(url) if url else is_engineio_url(path)


def is_handshake(d: dict[str, Any]) -> bool:
    """A request that opens a session: an Engine.IO request without a sid."""
    return is_engineio(d) and not d.get("sid")
