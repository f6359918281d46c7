"""Server logs: Flask-SocketIO / python-engineio (Werkzeug, python logging), gunicorn (error
and access logs), Node socket.io (DEBUG=engine*, socket.io*), and the lab's own logs/*.log.

Every line becomes a `log` event (src `server`); an access-log line also carries the
request it logs (`request`: method, path, sid, status); a line that names a stale sid
carries `invalid_sid`; start and stop lines also become `proc.start` / `proc.exit`.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.timeline import Event
from .capture import CaptureError, lines
from .imported import NAIVE, ORDER, UTC, Imported, engineio_fields

_PREFIX = re.compile(r"^(?:stdout|stderr): ")          # the lab's own logs/*.log
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
# Timestamps, most specific first: (regex, strptime format, has a zone)
_STAMPS = (
    (re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]"), "%d/%b/%Y:%H:%M:%S %z", True),   # gunicorn access
    (re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\]"), "%Y-%m-%d %H:%M:%S %z", True),      # gunicorn error log
    (re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"), "iso", True),                          # Node debug, ISO
    (re.compile(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3})"), "%Y-%m-%d %H:%M:%S.%f", False),        # python logging
    (re.compile(r"\[(\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d)\]"), "%d/%b/%Y %H:%M:%S", False),                 # Werkzeug
    (re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?![,.\d])"), "%Y-%m-%d %H:%M:%S", False),
)
_INVALID = re.compile(r"Invalid session (?P<sid>[\w-]+)|unknown sid \"?(?P<nsid>[\w-]+)")
_STARTS = ("* Running on", "Booting worker with pid", "Listening at:", "* Restarting with", "listening on",
           "Server initialized", "Starting gunicorn", "app ready")
_STOPS = ("Handling signal:", "Worker exiting", "Shutting down: Master", "* Detected change in", "KeyboardInterrupt",
          "WORKER TIMEOUT", "Worker with pid", "SIGTERM", "exited with code")
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b")
_PID = re.compile(r"\[(\d+)\]|pid[:= ]+(\d+)")
# Lines worth keeping from a log of any size; the rest are counted.
_RELEVANT = re.compile(r"socket\.io|engineio|socketio|EIO=|\bsid\b|session|websocket|ERROR|CRITICAL|Traceback|"
                       + "|".join(re.escape(m) for m in _STARTS + _STOPS), re.IGNORECASE)


def _stamp(line: str) -> tuple[float | None, bool]:
    for pattern, fmt, zoned in _STAMPS:
        m = pattern.search(line)
        if not m:
            continue
        text = m.group(1).replace(",", ".")
        if fmt.startswith("%Y-%m-%d"):
            text = text.replace("T", " ", 1)
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00")) if fmt == "iso" else datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not zoned:
            stamp = stamp.replace(tzinfo=timezone.utc)    # a local time of an unknown zone: aligned later
        return stamp.timestamp(), zoned
    return None, False


def parse_line(line: str, t: float, name: str) -> list[Event]:
    text = _PREFIX.sub("", line.rstrip())
    if not text.strip():
        return []
    data: dict[str, Any] = {"name": name, "line": text[:1000]}
    level = _LEVEL.search(text)
    if level:
        data["level"] = level.group(1)
    m = _ACCESS.search(text)
    if m:
        fields = engineio_fields(m.group("target"))
        data["request"] = {"method": m.group("method"), "path": fields.get("path"), "status": int(m.group("status")),
                           **{k: v for k, v in fields.items() if k in ("sid", "transport", "eio")},
                           "target": m.group("target")[:300]}
    m = _INVALID.search(text)
    if m:
        data["invalid_sid"] = m.group("sid") or m.group("nsid")
    events = [Event(t, "server", "log", data)]
    pid = _PID.search(text)
    pid_value = int(pid.group(1) or pid.group(2)) if pid else None
    if any(mark in text for mark in _STARTS):
        events.append(Event(t, "server", "proc.start", {"name": name, "pid": pid_value, "line": text[:200]}))
    elif any(mark in text for mark in _STOPS):
        events.append(Event(t, "server", "proc.exit", {"name": name, "pid": pid_value, "line": text[:200]}))
    return events


def load(path: Path | str) -> Imported:
    path = Path(path)
    imp = Imported(path, "server log", [], ORDER)
    zoned_seen = naive_seen = False
    last: float | None = None
    pending: list[str] = []       # lines before the first timestamp, placed just before it
    n = 0
    for n, line in enumerate(lines(path), 1):
        if not _RELEVANT.search(line):
            imp.count("other lines")
            continue
        t, zoned = _stamp(line)
        if t is None and last is None:
            pending.append(line)
            continue
        if t is not None:
            zoned_seen |= zoned
            naive_seen |= not zoned
            if last is not None and last - 1 < t <= last:
                t = last + 1e-6   # Werkzeug stamps whole seconds: keep the order within a second
        else:
            t = last + 1e-6
        if pending:
            for i, early in enumerate(pending):
                imp.events.extend(parse_line(early, t - (len(pending) - i) * 1e-6, path.name))
            pending = []
        last = t
        imp.events.extend(parse_line(line, t, path.name))
    for i, early in enumerate(pending):     # a log without any timestamp: line order only
        imp.events.extend(parse_line(early, (i + 1) * 1e-3, path.name))
    if n == 0:
        raise CaptureError(path, "empty file")
    imp.clock = UTC if zoned_seen and not naive_seen else (NAIVE if (zoned_seen or naive_seen) else ORDER)
    imp.stats["lines"] = n
    imp.stats["access lines"] = sum(1 for e in imp.events if e.kind == "log" and "request" in e.data)
    imp.stats["invalid session lines"] = sum(1 for e in imp.events if e.kind == "log" and "invalid_sid" in e.data)
    if imp.clock == ORDER:
        imp.notes.append("the server log has no timestamps: only the order of its lines is known")
    return imp
