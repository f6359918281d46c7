"""The admin page's backup: a REST job polled for its state, no Socket.IO involved.

Incident 000: the backup worked; the red Socket.IO errors on the same page were the
global socket's. The job only keeps state here; each app drives the steps with its own
async mode's sleep (`socketio.sleep`), so it behaves in every mode.
"""
from __future__ import annotations

import threading
import uuid

STEPS = 5
STEP_SECONDS = 0.3   # ~1.5 s in all


class BackupJobs:
    """In-memory job table of one process (a restart forgets it, like the incident's app)."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def start(self) -> str:
        job = uuid.uuid4().hex[:12]
        with self._lock:
            self._jobs[job] = {"job": job, "state": "running", "progress": 0}
        return job

    def advance(self, job: str, step: int) -> None:
        with self._lock:
            entry = self._jobs[job]
            entry["progress"] = round(100 * step / STEPS)
            if step >= STEPS:
                entry["state"] = "done"

    def status(self, job: str) -> dict | None:
        with self._lock:
            entry = self._jobs.get(job)
            return dict(entry) if entry else None
