"""The timeline: the one history of a run.

Every driver (supervisor, proxy, browser, Python client, probe, faults) appends
events here; checks and reports only read it. One event is one JSON line:

    {"t": 1.234, "src": "browser", "kind": "http.response", "data": {...}}

`t` is seconds since the timeline started, on the monotonic clock. Sources that
carry their own wall-clock stamp (the browser page, a proxy process) convert it
with `t_from_wall`, so events from different processes line up to a few ms.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .redaction import redact_data

SOURCES = ("browser", "pyclient", "probe", "server", "proxy", "harness", "witness")


@dataclass(frozen=True)
class Event:
    t: float
    src: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"t": round(self.t, 6), "src": self.src, "kind": self.kind, "data": self.data},
            ensure_ascii=False,
            default=str,
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Event":
        return cls(float(raw["t"]), str(raw["src"]), str(raw["kind"]), dict(raw.get("data") or {}))


class Timeline:
    """Append-only, thread-safe event log, mirrored line by line to a JSONL file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")

    def now(self) -> float:
        return time.monotonic() - self._mono0

    def t_from_wall(self, wall_seconds: float) -> float:
        """Convert a wall-clock stamp (time.time(), Date.now()/1000) to timeline seconds."""
        return wall_seconds - self._wall0

    def record(self, src: str, kind: str, data: dict[str, Any] | None = None, *, t: float | None = None) -> Event:
        if src not in SOURCES:
            raise ValueError(f"unknown event source {src!r}; expected one of {SOURCES}")
        # Secrets never reach the file, nor the checks and reports that read it (harness/core/redaction.py).
        event = Event(self.now() if t is None else t, src, kind, redact_data(dict(data or {})))
        with self._lock:
            self._events.append(event)
            if self._file:
                self._file.write(event.to_json() + "\n")
                self._file.flush()
        return event

    @property
    def events(self) -> list[Event]:
        """A snapshot, sorted by time (sources may append a few ms out of order)."""
        with self._lock:
            return sorted(self._events, key=lambda e: e.t)

    def since(self, index: int) -> tuple[list[Event], int]:
        """The events recorded after the first `index` (in arrival order) and the new count:
        a waiter polls only what is new (a storm records tens of thousands of events)."""
        with self._lock:
            return self._events[index:], len(self._events)

    def wait_until(self, matches: Callable[[Event], bool], limit_s: float, poll_s: float = 0.01,
                   sleep: Callable[[float], Any] = time.sleep) -> Event | None:
        """The first event recorded from now on (in arrival order: what is already here counts too)
        that `matches`, or None once `limit_s` passed: how a fault or a step waits on what happened,
        never on a guessed delay. `sleep` may be one an interrupt ends."""
        seen = 0
        deadline = time.monotonic() + limit_s
        while True:
            new, seen = self.since(seen)
            for e in new:
                if matches(e):
                    return e
            if time.monotonic() >= deadline:
                return None
            sleep(poll_s)

    def close(self) -> None:
        with self._lock:
            if self._file:
                self._file.close()
                self._file = None

    def __enter__(self) -> "Timeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(path: Path) -> list[Event]:
    """Read a saved timeline; a truncated last line (a killed run), or any line that is not an event, is ignored."""
    events = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                events.append(Event.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
                continue
    return sorted(events, key=lambda e: e.t)
