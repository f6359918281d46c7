"""The Python client driver: a python-socketio `Client` whose every event lands in the timeline.

Its Engine.IO HTTP traffic goes through a recording `requests.Session`, so a polling
client's requests (with their sid, status and body) are recorded like the browser's.
"""
from __future__ import annotations

import threading
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import requests
import socketio

from ..core.protocol import split_payload
from ..core.timeline import Timeline

BODY_LIMIT = 2000
JOIN_ROOM = "news"    # the room the reference apps' room ticks go to


def sio_query(url: str) -> dict[str, Any]:
    """The Engine.IO fields of a request URL: path, sid, transport, EIO."""
    parsed = urlparse(url)
    q = parse_qs(parsed.query)
    return {"path": parsed.path, "sid": q.get("sid", [None])[0],
            "transport": q.get("transport", [None])[0], "eio": q.get("EIO", [None])[0]}


# The socket-level causes requests buries in its exception text, most specific first.
_CAUSES = ("ConnectionResetError", "ConnectionRefusedError", "RemoteDisconnected", "ReadTimeout",
           "ConnectTimeout", "BrokenPipeError")


def short_error(exc: Exception) -> str:
    """`requests.ConnectionError (ConnectionResetError)`: the comparable part of a failure."""
    text = repr(exc)
    cause = next((c for c in _CAUSES if c in text), None)
    name = f"requests.{type(exc).__name__}"
    return f"{name} ({cause})" if cause else name


class RecordingSession(requests.Session):
    """A requests.Session that records each Socket.IO request, response and failure."""

    def __init__(self, timeline: Timeline, src: str = "pyclient"):
        super().__init__()
        self.timeline = timeline
        self.src = src
        self._n = 0
        self._lock = threading.Lock()

    def request(self, method, url, *args, **kwargs):  # noqa: D401 - requests' signature
        with self._lock:
            self._n += 1
            rid = f"py-{self._n}"
        fields = {"id": rid, "method": method.upper(), "url": url, **sio_query(url)}
        body = kwargs.get("data")
        req = dict(fields)
        if body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            req["body"] = text[:BODY_LIMIT]
            req["bytes"] = len(body)
            req["packets"] = len(split_payload(text))   # the body is cut at BODY_LIMIT; the count is whole
        self.timeline.record(self.src, "http.request", req)
        try:
            resp = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            self.timeline.record(self.src, "http.failed", {**fields, "error": short_error(exc), "detail": str(exc)[:300]})
            raise
        self.timeline.record(self.src, "http.response", {
            **fields, "status": resp.status_code, "status_text": resp.reason,
            "body": resp.text[:BODY_LIMIT]})
        return resp


class PythonClient:
    """One python-socketio client, connected to `url`, recording into `timeline`."""

    def __init__(self, timeline: Timeline, url: str, *, transports: list[str] | None = None,
                 headers: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 namespace: str = "/", reconnection_delay: float = 0.5, wait_timeout: float = 5,
                 max_emit_bytes: int | None = None, socketio_path: str = "socket.io",
                 join: str = "none", src: str = "pyclient", label: dict | None = None):
        self.timeline = timeline
        self.src = src                # "witness": a bystander client, not the cell's client
        self.label = label or {}      # added to every event's data (e.g. which instance a witness is on)
        self.url = url
        self.transports = transports
        self.headers = headers
        self.namespace = namespace
        self.wait_timeout = wait_timeout
        self.socketio_path = socketio_path
        self.max_emit_bytes = max_emit_bytes   # a capped client refuses to send more than this
        self.join = join                       # emit `join` "news" on the first connect ("once") or every one ("every")
        self._joined = False
        self.sio = socketio.Client(
            reconnection=True, reconnection_delay=reconnection_delay,
            reconnection_delay_max=max(reconnection_delay, 5),
            http_session=RecordingSession(timeline, src))
        self._install_handlers()

    def _record(self, kind: str, data: dict) -> None:
        self.timeline.record(self.src, kind, {**data, **self.label})

    def _install_handlers(self) -> None:
        ns = self.namespace

        @self.sio.on("connect", namespace=ns)
        def _connect():
            eio = self.sio.eio
            self._record("sio.connect", {
                "sid": self.sio.get_sid(ns), "eio_sid": eio.sid,
                "transport": eio.current_transport, "namespace": ns})
            if self.join == "every" or (self.join == "once" and not self._joined):
                self._joined = True
                if self.emit("join", JOIN_ROOM):
                    self._record("sio.join", {"room": JOIN_ROOM, "sid": self.sio.get_sid(ns), "namespace": ns})

        @self.sio.on("disconnect", namespace=ns)
        def _disconnect(reason=None):
            self._record("sio.disconnect", {"reason": str(reason) if reason is not None else None, "namespace": ns})

        @self.sio.on("connect_error", namespace=ns)
        def _connect_error(data=None):
            message = data.get("message") if isinstance(data, dict) else data
            self._record("sio.connect_error", {"message": str(message), "namespace": ns})

        @self.sio.on("*", namespace=ns)
        def _any(event, *args):
            self._record("sio.event", {"event": event, "namespace": ns,
                                                           "args": str(args)[:BODY_LIMIT]})

    def connect(self) -> None:
        """Connect (recording a failure as connect_error); python-socketio reconnects on its own after that."""
        try:
            self.sio.connect(self.url, namespaces=[self.namespace], transports=self.transports,
                             headers=self.headers or {}, wait_timeout=self.wait_timeout,
                             socketio_path=self.socketio_path)
        except socketio.exceptions.ConnectionError as exc:
            self._record("sio.connect_error", {"message": str(exc), "namespace": self.namespace, "initial": True})

    def emit(self, event: str, data=None) -> bool:
        """Emit on the client's namespace; a failure (not connected) is recorded, not raised. True: sent."""
        size = len(data) if isinstance(data, (str, bytes)) else None
        if self.max_emit_bytes is not None and size is not None and size > self.max_emit_bytes:
            self._record("sio.emit_refused", {"event": event, "bytes": size, "cap": self.max_emit_bytes})
            return False
        try:
            self.sio.emit(event, data, namespace=self.namespace)
            self._record("sio.emit", {"event": event, "namespace": self.namespace,
                                                          "bytes": len(data) if isinstance(data, (str, bytes)) else None})
            return True
        except Exception as exc:  # noqa: BLE001 - a failed emit is an observation
            self._record("sio.emit_failed", {"event": event, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return False

    def emit_burst(self, event: str, count: int, size: int) -> None:
        """`count` emits in one loop, as fast as the library takes them; one `sio.burst` event says how
        many it took, and whether the client was connected and on which transport when the loop began.

        One emit carries 'x' * size (a message that large); several carry {n: i, pad: 'x' * size}, so the
        server's `tally` log lines say which arrived."""
        eio = self.sio.eio
        state = {"event": event, "count": count, "bytes": size, "connected": self.sio.connected,
                 "transport": eio.current_transport if eio is not None and self.sio.connected else None}
        taken = sum(self.emit(event, "x" * size if count == 1 else {"n": i, "pad": "x" * size}) for i in range(count))
        self._record("sio.burst", {**state, "emitted": taken})

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001 - closing a half-dead client must never raise
            pass
        try:
            self.sio.shutdown()
        except Exception:  # noqa: BLE001
            pass
