"""HAR files (Chrome, Firefox, Playwright exports) into timeline events, streamed.

The `entries` array is decoded one entry at a time, so a HAR of gigabytes needs the
memory of its largest entry. Kept: Socket.IO requests (by `/socket.io` or an `EIO=`
query), page loads (they separate a reconnect from a navigation), WebSockets and their
messages. Other sites' requests are counted and dropped. A truncated file yields the
entries before the cut; a malformed entry is skipped and the reader resynchronises on
the next one.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from ..core.timeline import Event
from .capture import CaptureError, chunks
from .imported import BODY_LIMIT, UTC, Imported, engineio_fields, is_engineio

_ENTRIES = re.compile(r'"entries"\s*:\s*\[')
_CREATOR = re.compile(r'"creator"\s*:\s*\{[^{}]*?"name"\s*:\s*"([^"]*)"')
MAX_PREFIX = 64 << 20       # bytes of text before "entries" (pages) we are willing to hold
MAX_ENTRY = 256 << 20       # the largest single entry we try to decode
KEEP = 4 << 20              # decoded text kept behind the read position before the buffer is trimmed
FAILED_STATUSES = (0, -1)


def _entries(path: Path, imp: Imported) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder(strict=False)   # real HARs hold raw control characters in bodies
    source = chunks(path)
    buf, pos, eof = "", 0, False

    def more(at_least: int = 0) -> bool:
        nonlocal buf, eof
        got = 0
        for chunk in source:
            buf += chunk
            got += len(chunk)
            if got >= at_least:
                return True
        eof = True
        return got > 0

    while True:
        m = _ENTRIES.search(buf)
        if m:
            creator = _CREATOR.search(buf, 0, m.start())
            imp.creator = creator.group(1) if creator else ""
            pos = m.end()
            break
        if eof or len(buf) > MAX_PREFIX:
            stripped = buf.lstrip("\ufeff \t\r\n")
            if not stripped:
                raise CaptureError(path, "empty file")
            if not stripped.startswith("{"):
                raise CaptureError(path, "not a HAR file (it does not start with a JSON object)")
            raise CaptureError(path, 'not a HAR file: no "entries" array' + (" (file ends first)" if eof else ""))
        more()
    lost = False     # after a malformed entry: looking for the next object that is an entry
    n = 0
    while True:
        while True:    # the next significant character, reading on as needed
            if lost:
                nxt = buf.find("{", pos)
                pos = nxt if nxt >= 0 else len(buf)
            else:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
            if pos < len(buf) or eof:
                break
            more()
        if pos >= len(buf):
            imp.notes.append(f"the file ends inside the entries array (truncated): read {n} entries")
            return
        if buf[pos] == "]":
            return
        if buf[pos] != "{":
            imp.notes.append(f"unexpected {buf[pos]!r} after entry {n}; skipping to the next entry")
            lost = True
            continue
        try:
            obj, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            incomplete = "Unterminated" in exc.msg or exc.pos >= len(buf) - 16
            if incomplete and not eof and len(buf) - pos < MAX_ENTRY:
                more(at_least=len(buf) - pos)   # double what we hold: amortised linear
                continue
            if incomplete and eof:
                imp.notes.append(f"the file ends inside entry {n + 1} (truncated): read {n} entries")
                return
            imp.count("malformed entries")
            if not lost:
                imp.notes.append(f"entry {n + 1} is not valid JSON ({exc.msg}); skipped")
            lost = True
            pos += 1
            continue
        pos = end
        if pos > KEEP:
            buf, pos = buf[pos:], 0
        if isinstance(obj, dict) and isinstance(obj.get("request"), dict):
            lost = False
            n += 1
            yield obj
        elif not lost:
            imp.count("entries without a request")




def parse_time(value: Any) -> float | None:
    """An ISO 8601 `startedDateTime` (Z or an offset) as epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python before 3.11 disliked more than 6 fraction digits; some tools write 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.timestamp()


def _body(content: Any) -> str | None:
    if not isinstance(content, dict):
        return None
    text = content.get("text")
    if not isinstance(text, str):
        return None
    if content.get("encoding") == "base64":
        try:
            text = base64.b64decode(text[: BODY_LIMIT * 2], validate=False).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return None
    return text[:BODY_LIMIT]


def _header(message: dict, name: str) -> str | None:
    for h in message.get("headers") or []:
        if isinstance(h, dict) and str(h.get("name", "")).lower() == name:
            return str(h.get("value", ""))
    return None


def _is_document(entry: dict, req: dict, resp: dict) -> bool:
    kind = entry.get("_resourceType") or entry.get("_type")
    if kind:
        return kind == "document"
    mime = str((resp.get("content") or {}).get("mimeType") or _header(resp, "content-type") or "")
    accept = _header(req, "accept") or ""
    return req.get("method") == "GET" and ("text/html" in mime or accept.startswith("text/html"))


def _frame_time(value: Any, fallback: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return fallback
    return value / 1000 if value > 1e11 else float(value)   # Chrome: seconds; Playwright: milliseconds


def entry_events(entry: dict, rid: int, last_wall: float | None, imp: Imported) -> tuple[list[Event], float | None]:
    """The events of one HAR entry (t = epoch seconds), and the entry's start time."""
    req, resp = entry.get("request") or {}, entry.get("response") or {}
    if not isinstance(resp, dict):
        resp = {}
    url = req.get("url")
    if not isinstance(url, str) or not url:
        imp.count("entries without a URL")
        return [], last_wall
    wall = parse_time(entry.get("startedDateTime"))
    if wall is None:
        if last_wall is None:
            imp.count("entries without a start time")
            return [], last_wall
        imp.count("entries without a start time (placed after the previous one)")
        wall = last_wall + 1e-6
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme not in ("http", "https", "ws", "wss"):
        imp.count("other entries (data:, blob:, extensions)")
        return [], wall
    engineio = is_engineio(url)
    document = _is_document(entry, req, resp) and not engineio
    api = not engineio and not document and entry.get("_resourceType") in ("xhr", "fetch")
    if not engineio and not document and not api:
        imp.count("requests to other resources or sites")
        return [], wall
    method = str(req.get("method") or "GET")
    status = resp.get("status")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    fields = engineio_fields(url)
    base = {"id": f"h{rid}", "method": method, "url": url, **fields}
    if document:
        base["document"] = True
    if api:
        base["api"] = True
    duration = entry.get("time")
    end = wall + duration / 1000 if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration >= 0 else None
    error = resp.get("_error") or entry.get("_error") or resp.get("_failureText") or entry.get("_failureText")
    events: list[Event] = []
    if scheme in ("ws", "wss") or status == 101 or entry.get("_resourceType") == "websocket":
        imp.count("websockets")
        ws = {"url": url, "ws_id": f"h{rid}", **({"sid": fields["sid"]} if "sid" in fields else {})}
        if status == 101 or entry.get("_webSocketMessages"):
            events.append(Event(wall, "browser", "ws.open", ws))
        elif error or (status is not None and status >= 300):
            events.append(Event(end or wall, "browser", "ws.error", {**ws, "error": str(error or f"status {status}")}))
        else:   # no answer and no error: still opening when the page went away or the capture stopped
            imp.count("websockets without an answer")
        for msg in entry.get("_webSocketMessages") or []:
            if not isinstance(msg, dict):
                continue
            payload = msg.get("data")
            payload = payload[:500] if isinstance(payload, str) and msg.get("opcode", 1) == 1 else "<binary>"
            direction = "sent" if msg.get("type") == "send" else "received"
            events.append(Event(_frame_time(msg.get("time"), wall), "browser", "ws.frame",
                                {**ws, "dir": direction, "payload": payload}))
        return events, wall
    imp.count("socket.io requests" if engineio else "page loads" if document else "API calls (xhr, fetch)")
    request = dict(base)
    post = req.get("postData")
    if engineio and isinstance(post, dict) and isinstance(post.get("text"), str):
        request["body"] = post["text"][:BODY_LIMIT]
        size = req.get("bodySize")
        request["body_size"] = size if isinstance(size, int) and size >= 0 else len(post["text"])
    events.append(Event(wall, "browser", "http.request", request))
    out_t = end if end is not None else wall
    outcome = {k: v for k, v in base.items() if k in ("id", "method", "url", "sid", "document", "api")}
    if error or status == 0:
        events.append(Event(out_t, "browser", "http.failed", {**outcome, "error": str(error or "no response (status 0)")}))
    elif status is None or status < 0:
        imp.count("requests still open when the capture ended")
    else:
        outcome.update(status=status, status_text=str(resp.get("statusText") or ""))
        server = _header(resp, "server")
        if server:
            outcome["server"] = server[:80]
        if engineio:
            body = _body(resp.get("content"))
            if body is not None:
                outcome["body"] = body
        events.append(Event(out_t, "browser", "http.response", outcome))
    return events, wall


def load(path: Path | str) -> Imported:
    path = Path(path)
    imp = Imported(path, "har", [], UTC)
    last_wall = None
    n = 0
    for n, entry in enumerate(_entries(path, imp), 1):
        try:
            events, last_wall = entry_events(entry, n, last_wall, imp)
        except (TypeError, ValueError, AttributeError) as exc:   # a field of an unexpected type
            imp.count("entries that could not be read")
            if imp.stats["entries that could not be read"] == 1:
                imp.notes.append(f"entry {n}: unexpected shape ({exc}); such entries are skipped")
            continue
        imp.events.extend(events)
    imp.stats["entries"] = n
    if n == 0:
        raise CaptureError(path, "a HAR file with no entries (was the recording on while the problem happened?)")
    if not imp.events:
        imp.notes.append(f"none of the {n} entries is a Socket.IO request or a page load")
    return imp
