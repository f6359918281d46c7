"""A read-only view of one timeline, the base of the lab's `CellView` (checks) and diagnose's
`CaptureView` (fingerprints): the events in time order, selected by kind, source and time,
and each request paired with its outcome. Pure: built from a list of events."""
from __future__ import annotations

from functools import cached_property

from .timeline import Event

# The sources that are the client under study: Chromium's page, or a python-socketio client.
CLIENT_SOURCES = ("browser", "pyclient")


class TimelineView:
    def __init__(self, events: list[Event]):
        self.events = sorted(events, key=lambda e: e.t)

    def of(self, kind: str, *, src: str | tuple[str, ...] | None = None, after: float | None = None,
           before: float | None = None) -> list[Event]:
        srcs = (src,) if isinstance(src, str) else src
        return [e for e in self.events if e.kind == kind and (not srcs or e.src in srcs)
                and (after is None or e.t >= after) and (before is None or e.t <= before)]

    @cached_property
    def client_events(self) -> list[Event]:
        return [e for e in self.events if e.src in CLIENT_SOURCES]

    @cached_property
    def _outcomes(self) -> dict[tuple[str, object], Event]:
        # Keyed by source and id: a probe's requests and a python client's are numbered alike.
        out: dict[tuple[str, object], Event] = {}
        for e in self.events:
            if e.kind in ("http.response", "http.failed") and "id" in e.data:
                out.setdefault((e.src, e.data["id"]), e)
        return out

    def outcome(self, request: Event) -> Event | None:
        """The request's http.response or http.failed, if it has one."""
        return self._outcomes.get((request.src, request.data.get("id")))

    def answered(self, requests: list[Event], status: int) -> list[tuple[Event, Event]]:
        """(request, response) for each of `requests` that was answered with `status`."""
        pairs = []
        for req in requests:
            out = self.outcome(req)
            if out is not None and out.kind == "http.response" and out.data.get("status") == status:
                pairs.append((req, out))
        return pairs
