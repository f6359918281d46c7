"""The probe: raw Engine.IO / HTTP requests for exact protocol signatures.

Each request is recorded (src `probe`) like the browser's: request, then response or
failure. `concurrency` > 1 sends that many at once from threads (to hold worker threads,
say), each waiting at most `timeout` seconds.
"""
from __future__ import annotations

import threading
from typing import Any

from ..timeline import Timeline
from .pyclient import RecordingSession


def send(timeline: Timeline, base_url: str, *, path: str, method: str = "GET", body: str | None = None,
         body_bytes: int | None = None, repeat: int = 1, concurrency: int = 1, timeout: float = 5.0) -> None:
    """Send `repeat` × `concurrency` requests; returns when all are answered or timed out."""
    if body_bytes is not None:
        # An Engine.IO message packet of that size: "4" then filler.
        body = "4" + "x" * max(0, body_bytes - 1)
    data: Any = body.encode() if body is not None else None
    headers = {"Content-Type": "text/plain;charset=UTF-8"} if data is not None else {}

    def one() -> None:
        with RecordingSession(timeline, src="probe") as session:
            try:
                session.request(method, base_url + path, data=data, headers=headers, timeout=timeout)
            except Exception:  # noqa: BLE001 - the failure is already recorded
                pass

    for _ in range(repeat):
        threads = [threading.Thread(target=one, daemon=True) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 5)
