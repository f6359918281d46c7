"""Which importer reads a file: sniffed from its first 64 KB, never from its name alone."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..core import timeline as tl
from .capture import CaptureError, head_text, is_binary
from .imported import ORDER, Imported

_CONSOLE = re.compile(r"net::ERR_|XHR(?:GET|POST)|WebSocket connection to|Failed to load resource|Uncaught|"
                      r"can.t establish a connection|\.js:\d+|NS_ERROR_|\[HTTP/[\d.]+ \d{3}")
_SERVER = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3}|\[(?:INFO|ERROR|WARNING|DEBUG|CRITICAL)\]|\b(?:INFO|ERROR|WARNING)\b.*:|'
                     r"\* Running on|Booting worker|Listening at:|engine(?::\w+)? |socket\.io:|Invalid session|"
                     r"^(?:stdout|stderr): ")


def sniff(path: Path) -> str:
    """`har`, `timeline`, `console` or `server log`; a CaptureError when it is none of them."""
    head = head_text(path)
    if not head.strip("\ufeff \t\r\n\x00"):
        raise CaptureError(path, "empty file")
    if is_binary(head):
        raise CaptureError(path, "a binary file, not a HAR, a console copy or a server log")
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0]
        try:
            obj = json.loads(first)
            if isinstance(obj, dict) and {"t", "src", "kind"} <= obj.keys():
                return "timeline"
        except ValueError:
            pass
        if '"entries"' in head or '"log"' in head:
            return "har"
        raise CaptureError(path, 'JSON, but not a HAR (no "log" with "entries") nor a siolab timeline')
    if stripped.startswith("[") and (stripped[1:].lstrip()[:1] in ("{", "[", '"') or stripped.split("\n", 1)[0].strip() == "["):
        raise CaptureError(path, "a JSON array, not a HAR (a HAR is an object with \"log\")")
    lines = head.splitlines()[:400]
    console = sum(1 for line in lines if _CONSOLE.search(line))
    server = sum(1 for line in lines if _SERVER.search(line))
    if console == 0 and server == 0:
        raise CaptureError(path, "not a HAR, a browser console copy or a server log siolab can read: none of its "
                           f"first {len(lines)} lines is a request, a console error or a server log line")
    return "console" if console > server else "server log"


def load_timeline(path: Path) -> Imported:
    """A saved siolab timeline (timeline.jsonl), judged again."""
    events = tl.load(path)
    if not events:
        raise CaptureError(path, "a timeline with no readable event")
    return Imported(path, "siolab timeline", events, ORDER, stats={"events": len(events)})
