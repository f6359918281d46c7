"""The probe: raw Engine.IO / HTTP requests for exact protocol signatures.

Each request is recorded (src `probe`) like the browser's: request, then response or
failure. `concurrency` > 1 sends that many at once from threads (to hold worker threads,
say), each waiting at most `timeout` seconds.

`session: true` makes each request session-aware: an Engine.IO polling handshake first,
then the request with that sid (a POST of `body_bytes` is then a polling POST of a real
session). `wait: false` leaves such requests pending in the background (recorded whenever
they end) and goes on; `check_path`, after each one, GETs that path once (at most
`check_timeout` s) to see whether the server still answers.
"""
from __future__ import annotations

import threading
from typing import Any

from ..core.timeline import Timeline
from .pyclient import RecordingSession

HANDSHAKE_QUERY = "EIO=4&transport=polling"


def _handshake_sid(session: RecordingSession, base_url: str, path: str, timeout: float) -> str | None:
    """The sid of a fresh Engine.IO polling handshake (recorded), or None if none came back."""
    try:
        r = session.get(f"{base_url}{path}?{HANDSHAKE_QUERY}", timeout=timeout)
    except Exception:  # noqa: BLE001 - the failure is already recorded
        return None
    import json

    if r.status_code == 200 and r.text.startswith("0{"):
        try:
            return json.loads(r.text.split("\x1e")[0][1:]).get("sid")
        except ValueError:
            return None
    return None


def send(timeline: Timeline, base_url: str, *, path: str, method: str = "GET", body: str | None = None,
         body_bytes: int | None = None, repeat: int = 1, concurrency: int = 1, timeout: float = 5.0,
         session: bool = False, wait: bool = True, check_path: str | None = None,
         check_timeout: float = 2.0) -> None:
    """Send `repeat` × `concurrency` requests; returns when all are answered or timed out
    (with `wait: false`, as soon as they are sent)."""
    if body_bytes is not None:
        # An Engine.IO message packet of that size: "4" then filler.
        body = "4" + "x" * max(0, body_bytes - 1)
    data: Any = body.encode() if body is not None else None
    headers = {"Content-Type": "text/plain;charset=UTF-8"} if data is not None else {}

    def one() -> None:
        with RecordingSession(timeline, src="probe") as http:
            url = base_url + path
            if session:
                sid = _handshake_sid(http, base_url, path, timeout)
                if sid is None:
                    return
                url = f"{base_url}{path}?{HANDSHAKE_QUERY}&sid={sid}"
            try:
                http.request(method, url, data=data, headers=headers, timeout=timeout)
            except Exception:  # noqa: BLE001 - the failure is already recorded
                pass

    def check(after: int) -> None:
        # The request and its outcome are recorded as usual; `probe.check` says what it was for.
        started = timeline.now()
        answer: dict[str, Any] = {}
        with RecordingSession(timeline, src="probe") as http:
            try:
                r = http.get(base_url + check_path, timeout=check_timeout)
                answer = {"status": r.status_code}
            except Exception as exc:  # noqa: BLE001 - the failure is already recorded
                answer = {"error": type(exc).__name__}
        timeline.record("probe", "probe.check", {"path": check_path, "after_requests": after,
                                                 "seconds": round(timeline.now() - started, 3), **answer})

    for i in range(repeat):
        threads = [threading.Thread(target=one, daemon=True) for _ in range(concurrency)]
        for t in threads:
            t.start()
        if wait:
            for t in threads:
                t.join(timeout * (2 if session else 1) + 5)
        else:
            # Long enough for the request to be on the wire (handshake done, body sent or sending).
            for t in threads:
                t.join(0.3)
        if check_path:
            check((i + 1) * concurrency)
