"""What every check needs to know about one cell: when the fault began, which client
spoke, which sid it held before the fault, and how requests pair with their outcomes."""
from __future__ import annotations

from functools import cached_property

from ..core.protocol import describe_packet, is_engineio
from ..core.timeline import Event
from ..core.view import CLIENT_SOURCES, TimelineView

__all__ = ["CLIENT_SOURCES", "CellView"]


class CellView(TimelineView):
    """One cell's timeline as the checks read it: the fault, the client, the sid it held."""

    def drops(self, after: float | None = None) -> list[Event]:
        """The client's disconnects it did not ask for ("io client disconnect" / "client disconnect"
        is the lab closing the client at the end)."""
        return [e for e in self.of("sio.disconnect", src=CLIENT_SOURCES, after=after)
                if "client disconnect" not in str(e.data.get("reason"))]

    @cached_property
    def client_src(self) -> str | None:
        for e in self.events:
            if e.src in CLIENT_SOURCES and e.kind.startswith(("sio.", "http.")):
                return e.src
        return None

    @cached_property
    def fault_begin(self) -> Event | None:
        faults = [e for e in self.events if e.kind == "fault" and e.data.get("phase") == "begin"]
        return faults[0] if faults else None

    @property
    def t_fault(self) -> float | None:
        return self.fault_begin.t if self.fault_begin else None

    @cached_property
    def old_sid(self) -> str | None:
        """The Engine.IO sid the client held when the fault began."""
        if self.t_fault is None:
            return None
        connects = [e for e in self.of("sio.connect", src=CLIENT_SOURCES, before=self.t_fault) if e.data.get("eio_sid")]
        if connects:
            return connects[-1].data["eio_sid"]
        reqs = [e for e in self.of("http.request", src=CLIENT_SOURCES, before=self.t_fault) if e.data.get("sid")]
        return reqs[-1].data["sid"] if reqs else None

    @cached_property
    def down_windows(self) -> list[tuple[float, float]]:
        """Intervals during which the server was known not to answer (server.down → server.up)."""
        windows, start = [], None
        for e in self.events:
            if e.src != "harness":
                continue
            if e.kind == "server.down" and start is None:
                start = e.t
            elif e.kind == "server.up" and start is not None:
                windows.append((start, e.t))
                start = None
        if start is not None:
            windows.append((start, self.events[-1].t))
        return windows

    def pong_after(self, sid: str, t: float) -> Event | None:
        """The client's first answer to a ping of the server after `t`: a pong POST with `sid` that was answered 200,
        or a pong frame sent on the WebSocket (a Python client's frames are not recorded)."""
        for e in self.of("http.request", src=CLIENT_SOURCES, after=t):
            if e.data.get("sid") == sid and e.data.get("method") == "POST" and describe_packet(e.data.get("body")) == "pong":
                out = self.outcome(e)
                if out is not None and out.kind == "http.response" and out.data.get("status") == 200:
                    return e
        # a WebSocket opened without a sid (websocket-only) learns it from its open packet: ask for `t` after the connect
        return next((e for e in self.of("ws.frame", src=CLIENT_SOURCES, after=t)
                     if e.data.get("dir") == "sent" and str(e.data.get("payload")) == "3"), None)

    def is_socketio(self, e: Event) -> bool:
        return is_engineio(e.data)
