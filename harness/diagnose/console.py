"""A copy of the browser console (Chrome or Firefox DevTools, "Save as…" or copied text).

Network lines become requests with their outcome, the rest `console` events:

    GET http://host/socket.io/?EIO=4&transport=polling&t=…&sid=… net::ERR_CONNECTION_RESET     (Chrome)
    polling.js:298 POST http://host/socket.io/?EIO=4&…&sid=… 400 (BAD REQUEST)                  (Chrome, with source)
    XHRPOST http://host/socket.io/?EIO=4&…&sid=…  [HTTP/1.1 400 BAD REQUEST 3ms]                 (Firefox)
    WebSocket connection to 'ws://host/socket.io/?EIO=4&transport=websocket&sid=…' failed: …  (Chrome)
    Firefox can’t establish a connection to the server at ws://host/socket.io/?…                 (Firefox)

Times come from a leading `HH:MM:SS.mmm` (Chrome's "Show timestamps") or an ISO stamp;
without them only the order of the lines is known.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from ..core.timeline import Event
from .capture import CaptureError, lines
from .imported import NAIVE, ORDER, UTC, Imported, engineio_fields, is_engineio

_STAMP = re.compile(r"^\s*(?:\[)?(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)(?:\])?\s+"
                    r"|^\s*(?P<clock>\d\d:\d\d:\d\d(?:\.\d{1,6})?)\s+")
_URL = r"(?P<url>(?:https?|wss?)://\S+)"
_METHOD = r"(?:XHR|fetch)?(?P<method>GET|POST|PUT|DELETE|OPTIONS|HEAD)"
_CHROME_ERROR = re.compile(_METHOD + r"\s+" + _URL + r"\s+(?P<error>net::ERR_[A-Z_]+)")
_CHROME_STATUS = re.compile(_METHOD + r"\s+" + _URL + r"\s+(?P<status>\d{3})\s*\((?P<text>[^)]*)\)")
_FIREFOX_STATUS = re.compile(_METHOD + r"\s+" + _URL + r"\s+\[HTTP/[\d.]+\s+(?P<status>\d{3})\s*(?P<text>[^\]\d]*?)\s*(?:\d+\s*ms)?\]")
_FIREFOX_ERROR = re.compile(_METHOD + r"\s+" + _URL + r".*?(?P<error>NS_ERROR_[A-Z_]+)")
_WS_FAILED = re.compile(r"WebSocket connection to '(?P<url>[^']+)' failed:?\s*(?P<error>.*)")
_FIREFOX_WS = re.compile(r"can.t establish a connection to the server at (?P<url>\S+?)\.?$")
_ERROR_WORDS = ("error", "failed", "uncaught", "refused", "reset", "exception")


def _level(text: str) -> str:
    low = text.lower()
    if any(w in low for w in _ERROR_WORDS):
        return "error"
    return "warning" if "warn" in low else "log"


def _stamp(m: re.Match) -> tuple[float | None, str | None]:
    if m.group("iso"):
        text = m.group("iso").replace("Z", "+00:00")
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            return None, None
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=timezone.utc).timestamp(), NAIVE
        return stamp.timestamp(), UTC
    hh, mm, rest = m.group("clock").split(":")
    return int(hh) * 3600 + int(mm) * 60 + float(rest), NAIVE   # a time of day, date unknown


def parse_line(line: str, t: float, n: int) -> list[Event]:
    """The events of one console line at time `t` (request ids `c<n>`)."""
    text = line.strip()
    if not text:
        return []
    rid = f"c{n}"
    for pattern, failed in ((_CHROME_ERROR, True), (_FIREFOX_ERROR, True), (_CHROME_STATUS, False), (_FIREFOX_STATUS, False)):
        m = pattern.search(text)
        if not m:
            continue
        url = m.group("url").rstrip("',\"")
        if not is_engineio(url):
            break
        base = {"id": rid, "method": m.group("method"), "url": url, **engineio_fields(url)}
        outcome = {k: v for k, v in base.items() if k in ("id", "method", "url", "sid")}
        # The console logs a request when it ends; it was sent just before.
        events = [Event(t - 0.002, "browser", "http.request", base)]
        if failed:
            events.append(Event(t, "browser", "http.failed", {**outcome, "error": m.group("error")}))
        else:
            events.append(Event(t, "browser", "http.response",
                                {**outcome, "status": int(m.group("status")), "status_text": m.group("text").strip()}))
        return events + [Event(t, "browser", "console", {"level": "error", "text": text[:500], "url": url})]
    for pattern in (_WS_FAILED, _FIREFOX_WS):
        m = pattern.search(text)
        if m and is_engineio(m.group("url")):
            url = m.group("url")
            error = m.groupdict().get("error") or "connection failed"
            data = {"url": url, **({"sid": engineio_fields(url)["sid"]} if "sid" in engineio_fields(url) else {})}
            return [Event(t, "browser", "ws.error", {**data, "error": error.strip()[:200]}),
                    Event(t, "browser", "console", {"level": "error", "text": text[:500], "url": url})]
    return [Event(t, "browser", "console", {"level": _level(text), "text": text[:500], "url": ""})]


def load(path: Path | str) -> Imported:
    path = Path(path)
    imp = Imported(path, "console", [], ORDER)
    clock = None
    last = 0.0
    n = 0
    for n, line in enumerate(lines(path), 1):
        m = _STAMP.match(line)
        t = None
        if m:
            t, kind = _stamp(m)
            if t is not None:
                clock = clock or kind
                line = line[m.end():]
        if t is None:
            t = last + 1e-3 if clock else float(n) * 1e-3    # no stamp: keep the order
        last = t
        imp.events.extend(parse_line(line, t, n))
    imp.clock = clock or ORDER
    imp.stats["lines"] = n
    imp.stats["socket.io requests"] = sum(e.kind == "http.request" for e in imp.events)
    if n == 0:
        raise CaptureError(path, "empty file")
    if imp.clock == ORDER:
        imp.notes.append("the console copy has no timestamps: only the order of its lines is known")
    return imp
