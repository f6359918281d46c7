"""What an importer hands on: the events of one file, on that file's own clock."""
from __future__ import annotations

from ..core.protocol import is_engineio_url

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..core.timeline import Event

BODY_LIMIT = 2000
UTC, NAIVE, ORDER = "utc", "naive", "order"   # absolute time; local time of an unknown zone; line order only


@dataclass
class Imported:
    path: Path
    kind: str                          # har, console, server log
    events: list[Event]                # t: epoch seconds (UTC or NAIVE clock) or line numbers (ORDER)
    clock: str
    notes: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    creator: str = ""                  # the tool that wrote it, when it says (Chrome, Firefox, Playwright)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


def engineio_fields(url: str) -> dict[str, Any]:
    """`path`, and `sid`, `transport`, `eio` when the query has them."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
    except ValueError:
        return {"path": ""}
    out: dict[str, Any] = {"path": parts.path}
    for key, name in (("sid", "sid"), ("transport", "transport"), ("EIO", "eio")):
        if query.get(key):
            out[name] = query[key][0]
    return out


def is_engineio(url: str) -> bool:
    """A Socket.IO / Engine.IO request, on the default path or a custom one (harness/core/protocol.py)."""
    return is_engineio_url(url)
