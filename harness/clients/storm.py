"""The storm driver: N python-socketio `AsyncClient`s in one process, on one asyncio loop.

It drives and records, nothing else (src `pyclient`, kinds `storm.*`, compact on purpose):

    storm.start          the set-up: clients, transports, reconnection delay, jitter
    storm.connect        client i's `connect` handler ran (python-socketio may fire it again
                         without a `disconnect` in between, so the checks count with the samples)
    storm.disconnect     client i's `disconnect` handler, with the reason
    storm.connect_error  client i's `connect_error` handler, with the message
    storm.handshake      client i sent an Engine.IO request without a sid (a new session attempt)
    storm.http_error     a response >= 400 to client i, with its status and body
    storm.http_failed    a request of client i that got no response (refused, reset, timeout)
    storm.sample         every `sample_s`: how many clients have `client.connected` true
    storm.all_connected  the first sample with every client connected after one without:
                         only what `wait_for` steps wait on; the checks judge from the samples

The loop runs in its own thread so the runner's steps stay synchronous.
"""
from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import aiohttp
import socketio

from ..core.timeline import Timeline
from .pyclient import sio_query

SRC = "pyclient"
BODY_LIMIT = 300


class StormDriver:
    def __init__(self, timeline: Timeline, url: str, *, clients: int = 200, transports: list[str] | None = None,
                 namespace: str = "/", reconnection_delay: float = 1.0, reconnection_delay_max: float = 5.0,
                 randomization_factor: float = 0.5, sample_s: float = 0.05, wait_timeout: float = 5.0):
        self.timeline = timeline
        self.url = url
        self.n = clients
        self.transports = transports
        self.namespace = namespace
        self.options = {"reconnection_delay": reconnection_delay, "reconnection_delay_max": reconnection_delay_max,
                        "randomization_factor": randomization_factor}
        self.sample_s = sample_s
        self.wait_timeout = wait_timeout
        self.clients: list[socketio.AsyncClient] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sampler: asyncio.Task | None = None
        self._all_connected = threading.Event()
        self._sessions: list[aiohttp.ClientSession] = []

    # -- recording ----------------------------------------------------------------------------
    def _record(self, kind: str, data: dict[str, Any]) -> None:
        self.timeline.record(SRC, kind, data)

    def _trace(self, i: int) -> aiohttp.TraceConfig:
        """aiohttp request hooks for client i: handshakes, error responses, failures."""
        tc = aiohttp.TraceConfig()

        async def on_start(session, ctx, params):
            q = sio_query(str(params.url))
            if not q["sid"]:
                self._record("storm.handshake", {"i": i, "transport": q["transport"]})

        async def on_end(session, ctx, params):
            resp = params.response
            if resp.status >= 400:
                # read() caches the body, so engineio still gets it afterwards
                body = (await resp.read()).decode("utf-8", "replace")[:BODY_LIMIT]
                self._record("storm.http_error", {"i": i, "method": params.method, "status": resp.status,
                                                  "sid": sio_query(str(params.url))["sid"], "body": body})

        async def on_exception(session, ctx, params):
            self._record("storm.http_failed", {"i": i, "method": params.method,
                                               "error": type(params.exception).__name__})

        tc.on_request_start.append(on_start)
        tc.on_request_end.append(on_end)
        tc.on_request_exception.append(on_exception)
        return tc

    def _session(self, trace: aiohttp.TraceConfig) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(trace_configs=[trace])
        self._sessions.append(session)   # closed at the end, whatever state its client is in
        return session

    def _make_client(self, i: int) -> socketio.AsyncClient:
        trace = self._trace(i)
        # A factory, not a session: engineio then closes and re-creates it like its own default.
        sio = socketio.AsyncClient(reconnection=True, handle_sigint=False,
                                   http_session=lambda: self._session(trace), **self.options)
        ns = self.namespace

        @sio.on("connect", namespace=ns)
        async def _connect():
            self._record("storm.connect", {"i": i})

        @sio.on("disconnect", namespace=ns)
        async def _disconnect(reason=None):
            self._record("storm.disconnect", {"i": i, "reason": str(reason) if reason is not None else None})

        @sio.on("connect_error", namespace=ns)
        async def _connect_error(data=None):
            message = data.get("message") if isinstance(data, dict) else data
            self._record("storm.connect_error", {"i": i, "message": str(message)[:BODY_LIMIT]})

        return sio

    # -- the loop -------------------------------------------------------------------------------
    async def _sample(self) -> None:
        was_all = False
        while True:
            n = sum(1 for c in self.clients if c.connected)
            self._record("storm.sample", {"connected": n})
            if n == self.n and not was_all:
                self._record("storm.all_connected", {"connected": n})
                self._all_connected.set()
            was_all = n == self.n
            await asyncio.sleep(self.sample_s)

    async def _connect_one(self, sio: socketio.AsyncClient) -> None:
        try:
            # retry: a first attempt that fails goes through the same reconnection logic
            await sio.connect(self.url, namespaces=[self.namespace], transports=self.transports,
                              wait_timeout=self.wait_timeout, retry=True)
        except (socketio.exceptions.ConnectionError, ValueError):
            pass

    async def _start(self) -> None:
        self.clients = [self._make_client(i) for i in range(self.n)]
        self._sampler = asyncio.create_task(self._sample())
        for sio in self.clients:
            asyncio.create_task(self._connect_one(sio))

    async def _stop(self) -> None:
        if self._sampler:  # the lab's own disconnects are not part of the curve
            self._sampler.cancel()
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)
        # reconnection tasks still sleeping or retrying
        await asyncio.gather(*(c.shutdown() for c in self.clients), return_exceptions=True)
        # whatever a client left running (a read loop of a half-open connection): cancelled, awaited
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self._sessions if not s.closed), return_exceptions=True)

    def start(self, timeout: float = 60.0) -> bool:
        """Connect every client at once; True when all were connected within `timeout`."""
        self._record("storm.start", {"clients": self.n, "transports": self.transports, "namespace": self.namespace,
                                     "sample_s": self.sample_s, **self.options})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="storm-loop", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        ok = self._all_connected.wait(timeout)
        # The clients and the timeline so far stay until the end: keep the collector from walking
        # them again in the middle of the storm (a full collection is a pause of the whole process).
        gc.freeze()
        return ok

    def connected(self) -> int:
        return sum(1 for c in self.clients if c.connected)

    def close(self) -> None:
        if self._loop is None:
            return
        mark = time.monotonic()
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=20)
        except Exception:  # noqa: BLE001 - closing must never raise; the loop is stopped below
            pass
        self._record("storm.stop", {"seconds": round(time.monotonic() - mark, 3)})
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
        self._loop = None
        gc.unfreeze()
