"""An embedded TCP proxy that speaks Toxiproxy 2.x's HTTP API, for machines without toxiproxy-server.

    python -m harness.faults.embedded_toxiproxy --host 127.0.0.1 --port 8474

Same endpoints, JSON shapes, errors and toxics as Shopify/toxiproxy (api.go, link.go,
toxics/*.go), standard library only. Every connection is two links (client -> upstream is
the `upstream` stream, upstream -> client the `downstream` one); each link pipes its bytes
through a chain of toxic stages, and toxics added, updated or removed through the API
change the chains of open connections too, as in Toxiproxy.

Semantics kept from Toxiproxy, on purpose:
- a FIN or an RST from either side ends the whole connection: the other side gets a normal
  close (FIN) once the data in flight is through, never a half-close and never a relayed RST;
- `reset_peer` fires on the first data (or end of stream) that reaches it in its stream,
  waits `timeout` ms, then closes both sockets with SO_LINGER 0 (a real RST); a connection
  accepted while a `reset_peer` exists has SO_LINGER 0 from the start, so any later close
  of it is an RST too;
- `timeout` drops its stream's data and closes the connection after `timeout` ms without
  data (every dropped chunk re-arms the timer, as Toxiproxy's select loop does; 0: never);
  removing it closes the connections it starved (their data was dropped);
- `latency` delays each chunk by latency +/- jitter from its arrival, in order; chained
  latency toxics add up; `bandwidth` is in KB/s (1 KB = 1000 bytes), sent in 100 ms pieces;
  `slicer` splits each chunk around `average_size` +/- `size_variation` bytes, `delay` us apart;
- `enabled: false` stops listening (new connects are refused by the kernel) and closes
  every open connection; changing `listen` or `upstream` restarts the proxy the same way.
One deliberate difference: Toxiproxy only sets SO_LINGER 0 on connections opened while a
`reset_peer` exists, so one added to an already open connection ends it with a FIN; here it
is an RST on every connection, which is what the toxic is for.

Events go to stdout, one JSON line each, `{"wall", "kind", "data"}` (docs/timeline.md);
human logs go to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import http
import json
import logging
import random
import re
import signal
import socket
import struct
import sys
import time
from typing import Any, Awaitable, Callable, NamedTuple
from urllib.parse import unquote, urlsplit

VERSION = "2.12.0+siolab.embedded"
UPSTREAM, DOWNSTREAM = "upstream", "downstream"
STREAMS = (UPSTREAM, DOWNSTREAM)  # Toxiproxy lists upstream toxics first
READ_SIZE = 32 * 1024  # io.Copy's buffer in Toxiproxy
UPSTREAM_CONNECT_TIMEOUT_S = 10.0
DEFAULT_LISTEN = "127.0.0.1:0"  # Toxiproxy would take "" (every interface); a lab binds loopback

log = logging.getLogger("embedded_toxiproxy")


def emit(kind: str, data: dict[str, Any]) -> None:
    """One event line on stdout for the supervisor's timeline."""
    try:
        print(json.dumps({"wall": time.time(), "kind": kind, "data": data}), flush=True)
    except (BrokenPipeError, ValueError):  # the reader went away; the proxy keeps working
        pass


# --- addresses ---------------------------------------------------------------------------

def split_hostport(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def join_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def peer_of(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return join_hostport(peer[0], peer[1]) if peer else "?"


def listening_socket(address: str) -> socket.socket:
    """One bound, listening socket (asyncio would open one per address of a name like localhost)."""
    host, port = split_hostport(address)
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        # as Go does: re-enabling a proxy rebinds its port while old connections sit in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def set_linger_zero(writer: asyncio.StreamWriter) -> None:
    """Make the next close of this socket an abortive one: the kernel sends RST, not FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


# --- API errors, as api.go spells them ---------------------------------------------------

class ApiError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def bad_body(why: str) -> ApiError:
    return ApiError(f"bad request body: {why}", 400)


def missing_field(field: str) -> ApiError:
    return ApiError(f"missing required field: {field}", 400)


def proxy_not_found() -> ApiError:
    return ApiError("proxy not found", 404)


def toxic_not_found() -> ApiError:
    return ApiError("toxic not found", 404)


# --- toxics ------------------------------------------------------------------------------

class Chunk(NamedTuple):
    data: bytes
    t: float  # loop time it was read: latency counts from arrival, as in Toxiproxy


class Toxic:
    """A toxic as the API knows it. Subclasses set `defaults` and write `pipe(stub)`."""

    type = ""
    defaults: dict[str, int] = {}
    closes_on_removal = False

    def __init__(self, name: str, stream: str, toxicity: float, attributes: dict[str, int]):
        self.name, self.stream, self.toxicity = name, stream, toxicity
        self.attributes = attributes

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}

    async def pipe(self, stub: "Stub") -> None:
        raise NotImplementedError


TOXICS: dict[str, type[Toxic]] = {}


def toxic_type(name: str) -> Callable[[type[Toxic]], type[Toxic]]:
    def register(cls: type[Toxic]) -> type[Toxic]:
        cls.type = name
        TOXICS[name] = cls
        return cls
    return register


@toxic_type("noop")
class NoopToxic(Toxic):
    async def pipe(self, stub):
        while (chunk := await stub.read()) is not None:
            stub.send(chunk)
        stub.close()


@toxic_type("latency")
class LatencyToxic(Toxic):
    defaults = {"latency": 0, "jitter": 0}

    async def pipe(self, stub):
        latency, jitter = self.attributes["latency"], self.attributes["jitter"]
        while (chunk := await stub.read()) is not None:
            delay_ms = latency + (random.randrange(-jitter, jitter) if jitter > 0 else 0)
            due = chunk.t + delay_ms / 1000
            # the chunk leaves stamped with its due time, so a second latency toxic adds up (Toxiproxy #94)
            await stub.send_at([(due, Chunk(chunk.data, max(due, chunk.t)))])
        stub.close()


@toxic_type("bandwidth")
class BandwidthToxic(Toxic):
    defaults = {"rate": 0}

    async def pipe(self, stub):
        rate = self.attributes["rate"]  # KB/s, 1 KB = 1000 bytes as in Toxiproxy
        clock = asyncio.get_running_loop().time
        free_at = 0.0
        while (chunk := await stub.read()) is not None:
            if rate <= 0:  # Toxiproxy's loop never lets data through at rate 0
                await stub.send_at([(None, chunk)])
                continue
            t, schedule, step = max(clock(), free_at), [], rate * 100  # 100 ms of data per piece
            for i in range(0, len(chunk.data), step):
                piece = chunk.data[i:i + step]
                t += len(piece) / (rate * 1000)
                schedule.append((t, Chunk(piece, chunk.t)))
            free_at = t
            await stub.send_at(schedule)
        stub.close()


def slice_sizes(size: int, average: int, variation: int) -> list[int]:
    """Toxiproxy's slicer: halve around the middle (+/- variation) until pieces are about `average`."""
    average, variation = max(average, 1), max(variation, 0)
    if size - average <= variation:
        return [size]
    half = size // 2 + (random.randrange(-variation, variation) if variation else 0)
    half = min(max(half, 1), size - 1)
    return slice_sizes(half, average, variation) + slice_sizes(size - half, average, variation)


@toxic_type("slicer")
class SlicerToxic(Toxic):
    defaults = {"average_size": 0, "size_variation": 0, "delay": 0}

    async def pipe(self, stub):
        attrs = self.attributes
        clock = asyncio.get_running_loop().time
        gap, free_at = attrs["delay"] / 1_000_000, 0.0  # delay is in microseconds
        while (chunk := await stub.read()) is not None:
            t, offset, schedule = max(clock(), free_at), 0, []
            for size in slice_sizes(len(chunk.data), attrs["average_size"], attrs["size_variation"]):
                schedule.append((t, Chunk(chunk.data[offset:offset + size], chunk.t)))
                offset, t = offset + size, t + gap
            free_at = t
            await stub.send_at(schedule)
        stub.close()


@toxic_type("limit_data")
class LimitDataToxic(Toxic):
    defaults = {"bytes": 0}

    async def pipe(self, stub):
        limit = self.attributes["bytes"]
        stub.state.setdefault("sent", 0)  # kept across updates of the toxic, as Toxiproxy's state
        while (chunk := await stub.read()) is not None:
            data = chunk.data[:max(limit - stub.state["sent"], 0)]
            if data:
                stub.send(Chunk(data, chunk.t))
                stub.state["sent"] += len(data)
            if stub.state["sent"] >= limit:
                stub.close_connection()
                return
        stub.close()


@toxic_type("slow_close")
class SlowCloseToxic(Toxic):
    defaults = {"delay": 0}

    async def pipe(self, stub):
        while (chunk := await stub.read()) is not None:
            stub.send(chunk)
        await stub.send_at([(asyncio.get_running_loop().time() + self.attributes["delay"] / 1000, None)])


@toxic_type("timeout")
class TimeoutToxic(Toxic):
    defaults = {"timeout": 0}
    closes_on_removal = True  # as Toxiproxy's Cleanup: the data it dropped would corrupt the stream

    async def pipe(self, stub):
        timeout_ms = self.attributes["timeout"]
        while True:
            # Toxiproxy arms a fresh timer each time a chunk is dropped: the connection closes
            # after `timeout` ms without data (0: never), and data keeps it open but starved
            try:
                chunk = await asyncio.wait_for(stub.read(), timeout_ms / 1000 if timeout_ms > 0 else None)
            except TimeoutError:
                stub.close_connection()
                return
            if chunk is None:
                break
        stub.close()


@toxic_type("reset_peer")
class ResetPeerToxic(Toxic):
    defaults = {"timeout": 0}

    async def pipe(self, stub):
        await stub.read()  # fires on the first data (dropped) or end of stream, as Toxiproxy's does
        # once fired it is committed: removing the toxic now does not save the connection
        asyncio.get_running_loop().call_later(self.attributes["timeout"] / 1000, stub.reset_connection)
        await asyncio.get_running_loop().create_future()


def toxic_from_json(body: Any) -> Toxic:
    """A new toxic from a POST body, checked in api.go's order."""
    if not isinstance(body, dict):
        raise bad_body("expected a JSON object")
    stream = body.get("stream") or DOWNSTREAM
    if not isinstance(stream, str) or stream.lower() not in STREAMS:
        raise ApiError("stream was invalid, can be either upstream or downstream", 400)
    stream = stream.lower()
    kind = body.get("type")
    name = body.get("name") or f"{kind}_{stream}"
    if kind not in TOXICS:
        raise ApiError("invalid toxic type", 400)
    cls = TOXICS[kind]
    return cls(str(name), stream, toxicity_from(body.get("toxicity", 1.0)),
               attributes_from(cls.defaults, dict(cls.defaults), body.get("attributes")))


def toxic_updated(old: Toxic, body: Any) -> Toxic:
    """A toxic with new attributes and toxicity from an update body; name, type and stream stay."""
    if not isinstance(body, dict):
        raise bad_body("expected a JSON object")
    return type(old)(old.name, old.stream, toxicity_from(body.get("toxicity", old.toxicity)),
                     attributes_from(old.defaults, dict(old.attributes), body.get("attributes")))


def toxicity_from(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_body("toxicity must be a number")
    return float(value)


def attributes_from(defaults: dict[str, int], base: dict[str, int], given: Any) -> dict[str, int]:
    """Known integer attributes over `base`; unknown ones ignored, as Go's JSON decoder does."""
    if given is None:
        return base
    if not isinstance(given, dict):
        raise bad_body("attributes must be an object")
    for key in defaults:
        value = given.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise bad_body(f"attribute {key} must be an integer, got {value!r}")
        base[key] = int(value)
    return base


NOOP = NoopToxic("noop", DOWNSTREAM, 1.0, {})


# --- the pipes ---------------------------------------------------------------------------

class Stub:
    """One toxic running on one link: its input queue, where its output goes, its state."""

    def __init__(self, link: "Link", toxic: Toxic, output: asyncio.Queue):
        self.link, self.toxic = link, toxic
        self.input: asyncio.Queue = asyncio.Queue()
        self.output = output  # rewired when a toxic after it is added or removed
        self.state: dict[str, Any] = {}
        self.closed = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        # Toxiproxy draws toxicity each time a toxic starts on a link
        toxic = self.toxic if random.random() < self.toxic.toxicity else NOOP
        self.task = asyncio.create_task(self._run(toxic))

    async def _run(self, toxic: Toxic) -> None:
        try:
            await toxic.pipe(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("toxic %s failed; passing the end of stream on", self.toxic.name)
            if not self.closed:
                self.close()

    async def interrupt(self) -> None:
        """Stop the running pipe (to remove or update the toxic); held data is sent on, not lost."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait([self.task])

    # what toxics call
    async def read(self) -> Chunk | None:
        """The next chunk, or None at the end of the stream."""
        return await self.input.get()

    def send(self, chunk: Chunk | None) -> None:
        if chunk is None:
            self.close()
        else:
            self.output.put_nowait(chunk)

    async def send_at(self, schedule: list[tuple[float | None, Chunk | None]]) -> None:
        """Send each chunk at its loop time (None: hold until interrupted). Interrupted, the rest
        goes out at once: Toxiproxy never drops data when a toxic is removed or updated."""
        loop = asyncio.get_running_loop()
        pending = list(schedule)
        try:
            while pending:
                when, chunk = pending[0]
                if when is None:
                    await loop.create_future()
                elif when > loop.time():
                    await asyncio.sleep(when - loop.time())
                pending.pop(0)
                self.send(chunk)
        except asyncio.CancelledError:
            for _, chunk in pending:
                self.send(chunk)
            raise

    def close(self) -> None:
        """Pass the end of the stream on: the link's writer then closes its socket normally."""
        self.closed = True
        self.output.put_nowait(None)

    def close_connection(self) -> None:
        """The toxic itself ends the connection (timeout, limit_data)."""
        self.link.conn.note_cause("toxic", self.toxic.name)
        self.close()

    def reset_connection(self) -> None:
        self.closed = True
        self.link.conn.reset(self.toxic.name)


class Link:
    """One direction of a connection: read source -> toxic stages -> write dest."""

    def __init__(self, conn: "Connection", stream: str, source: asyncio.StreamReader,
                 dest: asyncio.StreamWriter, source_side: str):
        self.conn, self.stream, self.source, self.dest = conn, stream, source, dest
        self.source_side = source_side  # who ended it when the source reaches EOF: client/upstream
        self.stubs: list[Stub] = []
        self.sink: asyncio.Queue = asyncio.Queue()  # what the writer sends to dest
        self.tasks: list[asyncio.Task] = []
        self.finished = False

    def start(self, toxics: list[Toxic]) -> None:
        for toxic in toxics:
            self.add_toxic(toxic)
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]

    def stages(self) -> list[asyncio.Task]:
        return [stub.task for stub in self.stubs if stub.task is not None]

    def _entry(self) -> asyncio.Queue:
        return self.stubs[0].input if self.stubs else self.sink

    def _stub(self, name: str) -> Stub | None:
        return next((stub for stub in self.stubs if stub.toxic.name == name), None)

    def add_toxic(self, toxic: Toxic) -> None:
        """Append a stage; data already past the end of the chain is not touched (as Toxiproxy)."""
        stub = Stub(self, toxic, self.sink)
        if self.stubs:
            self.stubs[-1].output = stub.input
        self.stubs.append(stub)
        stub.start()

    async def update_toxic(self, toxic: Toxic) -> None:
        stub = self._stub(toxic.name)
        if stub is None:
            return
        await stub.interrupt()
        stub.toxic = toxic
        if not stub.closed:
            stub.start()

    async def remove_toxic(self, toxic: Toxic) -> None:
        stub = self._stub(toxic.name)
        if stub is None:
            return
        await stub.interrupt()
        if not stub.closed:
            if toxic.closes_on_removal:
                stub.close_connection()
            else:
                while not stub.input.empty():  # what it had not taken yet goes on, in order
                    stub.output.put_nowait(stub.input.get_nowait())
        index = self.stubs.index(stub)
        if index > 0:
            self.stubs[index - 1].output = stub.output
        self.stubs.remove(stub)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await self.source.read(READ_SIZE):
                self._entry().put_nowait(Chunk(data, loop.time()))
        except OSError as exc:  # an RST ends the stream like a FIN: Toxiproxy relays neither
            log.info("%s %s: %s source terminated: %s", self.conn.proxy.name, self.conn.client,
                     self.stream, exc)
        self.conn.note_cause(self.source_side)
        self._entry().put_nowait(None)

    async def _write(self) -> None:
        try:
            while (chunk := await self.sink.get()) is not None:
                self.dest.write(chunk.data)
                await self.dest.drain()
        except OSError as exc:
            log.info("%s %s: %s destination terminated: %s", self.conn.proxy.name, self.conn.client,
                     self.stream, exc)
        self.conn.close_socket(self.dest)
        self.finished = True
        self.conn.link_finished()


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(self, proxy: "Proxy", client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]):
        self.proxy = proxy
        self.client_writer, self.upstream_writer = client[1], upstream[1]
        self.client = peer_of(self.client_writer)
        self.links = {
            UPSTREAM: Link(self, UPSTREAM, client[0], upstream[1], "client"),
            DOWNSTREAM: Link(self, DOWNSTREAM, upstream[0], client[1], "upstream"),
        }
        self.cause: str | None = None
        self.cause_toxic: str | None = None
        self.rst_toxic: str | None = None  # set: closing the client socket sends an RST
        self.done = False
        self._client_reported = False

    def start(self, toxics: list[Toxic]) -> None:
        reset_peer = next((t for t in toxics if t.type == "reset_peer"), None)
        if reset_peer is not None:  # as Toxiproxy's link start: SO_LINGER 0 on both sockets
            self.rst_toxic = reset_peer.name
            set_linger_zero(self.client_writer)
            set_linger_zero(self.upstream_writer)
        for stream, link in self.links.items():
            link.start([t for t in toxics if t.stream == stream])

    def note_cause(self, by: str, toxic: str | None = None) -> None:
        if self.cause is None:
            self.cause, self.cause_toxic = by, toxic

    def close_socket(self, writer: asyncio.StreamWriter) -> None:
        if writer is self.client_writer:
            self._report_client_end()
        writer.close()

    def _report_client_end(self) -> None:
        if self._client_reported:
            return
        self._client_reported = True
        data = {"proxy": self.proxy.name, "client": self.client}
        if self.rst_toxic is not None:
            emit("proxy.reset", {**data, "toxic": self.rst_toxic, "by": self.cause or "proxy"})
        else:
            data["by"] = self.cause or "proxy"
            if self.cause_toxic:
                data["toxic"] = self.cause_toxic
            emit("proxy.close", data)

    def reset(self, toxic_name: str) -> None:
        """RST both ends now (reset_peer)."""
        if self.done:
            return
        self.note_cause("toxic", toxic_name)
        self.rst_toxic = toxic_name
        log.info("%s %s: reset by %s", self.proxy.name, self.client, toxic_name)
        for writer in (self.client_writer, self.upstream_writer):
            set_linger_zero(writer)
            writer.transport.abort()
        self._report_client_end()
        self._finish()

    def shut(self) -> None:
        """Close both sockets now, as Toxiproxy's stop() does when a proxy is disabled or deleted."""
        if self.done:
            return
        self.note_cause("proxy")
        self.close_socket(self.client_writer)
        self.close_socket(self.upstream_writer)
        self._finish()

    def link_finished(self) -> None:
        if all(link.finished for link in self.links.values()):
            self._finish()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        current = asyncio.current_task()
        for link in self.links.values():
            for task in link.tasks + link.stages():
                if task is not current:
                    task.cancel()
        self.proxy.connections.discard(self)


class Proxy:
    """One listen address forwarded to one upstream, with its toxics and open connections."""

    def __init__(self, name: str, listen: str, upstream: str):
        self.name, self.listen, self.upstream = name, listen, upstream
        self.enabled = False
        self.toxics: list[Toxic] = []
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": self.toxics_json()}

    def toxics_json(self) -> list[dict[str, Any]]:
        return [t.to_json() for stream in STREAMS for t in self.toxics if t.stream == stream]

    def find_toxic(self, name: str) -> Toxic | None:
        return next((t for t in self.toxics if t.name == name), None)

    async def start(self) -> None:
        if self.enabled:
            return
        try:
            sock = listening_socket(self.listen)
        except (OSError, ValueError) as exc:
            raise ApiError(f"listen tcp {self.listen}: {exc}", 500) from exc
        self._server = await asyncio.start_server(self._accept, sock=sock)
        host, port = sock.getsockname()[:2]
        self.listen = join_hostport(host, port)
        self.enabled = True
        log.info("started proxy %s listen=%s upstream=%s", self.name, self.listen, self.upstream)

    async def stop(self) -> None:
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()  # stop listening: new connects are refused
            self._server = None
        for conn in list(self.connections):
            conn.shut()
        log.info("stopped proxy %s", self.name)

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        if listen != self.listen or upstream != self.upstream:
            await self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled and not self.enabled:
            await self.start()
        elif not enabled:
            await self.stop()

    def add_toxic(self, toxic: Toxic) -> None:
        self.toxics.append(toxic)
        for conn in list(self.connections):
            conn.links[toxic.stream].add_toxic(toxic)

    async def update_toxic(self, old: Toxic, new: Toxic) -> None:
        self.toxics[self.toxics.index(old)] = new
        await asyncio.gather(*(conn.links[new.stream].update_toxic(new) for conn in list(self.connections)))

    async def remove_toxic(self, toxic: Toxic) -> None:
        self.toxics.remove(toxic)
        await asyncio.gather(*(conn.links[toxic.stream].remove_toxic(toxic) for conn in list(self.connections)))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = peer_of(writer)
        try:
            host, port = split_hostport(self.upstream)
            upstream = await asyncio.wait_for(asyncio.open_connection(host, port), UPSTREAM_CONNECT_TIMEOUT_S)
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            reason = f"upstream {self.upstream}: {exc or type(exc).__name__}"
            log.warning("%s %s: unable to open connection to upstream: %s", self.name, client, reason)
            emit("proxy.refused", {"proxy": self.name, "client": client, "reason": reason})
            writer.close()  # Toxiproxy accepts, then closes: the client sees an EOF
            return
        if not self.enabled:  # disabled while dialing
            writer.close()
            upstream[1].close()
            return
        conn = Connection(self, (reader, writer), upstream)
        self.connections.add(conn)
        emit("proxy.accept", {"proxy": self.name, "client": conn.client, "upstream": self.upstream})
        conn.start(list(self.toxics))


# --- the API -----------------------------------------------------------------------------

class Toxiproxy:
    """The proxy collection and the operations behind each endpoint of Toxiproxy's API."""

    def __init__(self):
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()  # one API change at a time, as Toxiproxy's collection locks

    def proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise proxy_not_found() from None

    def toxic(self, proxy: Proxy, name: str) -> Toxic:
        toxic = proxy.find_toxic(name)
        if toxic is None:
            raise toxic_not_found()
        return toxic

    async def version(self, body):
        return 200, {"version": VERSION}

    async def proxy_index(self, body):
        return 200, {name: proxy.to_json() for name, proxy in self.proxies.items()}

    async def proxy_create(self, body):
        fields = proxy_fields(body, {"listen": DEFAULT_LISTEN, "upstream": "", "enabled": True})
        if fields["name"] in self.proxies:
            raise ApiError("proxy already exists", 409)
        proxy = Proxy(fields["name"], fields["listen"] or DEFAULT_LISTEN, fields["upstream"])
        if fields["enabled"]:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        emit("proxy.update", {"change": "create", **proxy.to_json()})
        return 201, proxy.to_json()

    async def populate(self, body):
        try:
            return 201, {"proxies": [proxy.to_json() for proxy in await self._populate(body)]}
        except ApiError as exc:  # api.go's Populate answers its errors with the proxies field too
            return exc.status, {**exc.to_json(), "proxies": None}

    async def _populate(self, body) -> list[Proxy]:
        if not isinstance(body, list):
            raise bad_body("expected a JSON array of proxies")
        wanted, names = [], set()
        for i, item in enumerate(body, 1):  # check the whole request before changing anything
            fields = proxy_fields(item, {"listen": DEFAULT_LISTEN, "upstream": "", "enabled": True},
                                  where=f" at proxy {i}")
            if fields["name"] in names:
                raise ApiError(f"duplicate proxy name {fields['name']!r}", 500)
            names.add(fields["name"])
            wanted.append(fields)
        result = []
        for fields in wanted:
            existing = self.proxies.get(fields["name"])
            if existing and existing.listen == fields["listen"] and existing.upstream == fields["upstream"]:
                result.append(existing)
                continue
            if existing:
                await existing.stop()
                del self.proxies[existing.name]
            proxy = Proxy(fields["name"], fields["listen"] or DEFAULT_LISTEN, fields["upstream"])
            if fields["enabled"]:
                await proxy.start()
            self.proxies[proxy.name] = proxy
            emit("proxy.update", {"change": "create", **proxy.to_json()})
            result.append(proxy)
        return result

    async def proxy_show(self, body, proxy):
        return 200, self.proxy(proxy).to_json()

    async def proxy_update(self, body, proxy):
        found = self.proxy(proxy)
        fields = proxy_fields(body, {"listen": found.listen, "upstream": found.upstream,
                                     "enabled": found.enabled, "name": found.name})
        await found.update(fields["listen"], fields["upstream"], fields["enabled"])
        emit("proxy.update", {"change": "update", **found.to_json()})
        return 200, found.to_json()

    async def proxy_delete(self, body, proxy):
        found = self.proxy(proxy)
        await found.stop()
        del self.proxies[found.name]
        emit("proxy.update", {"change": "delete", **found.to_json()})
        return 204, None

    async def reset(self, body):
        for proxy in self.proxies.values():
            was_enabled = proxy.enabled
            await proxy.start()
            for toxic in list(proxy.toxics):
                await proxy.remove_toxic(toxic)
                emit("toxic.remove", {"proxy": proxy.name, **toxic.to_json()})
            if not was_enabled:
                emit("proxy.update", {"change": "reset", **proxy.to_json()})
        return 204, None

    async def toxic_index(self, body, proxy):
        return 200, self.proxy(proxy).toxics_json()

    async def toxic_create(self, body, proxy):
        found = self.proxy(proxy)
        toxic = toxic_from_json(body)
        if found.find_toxic(toxic.name) is not None:
            raise ApiError("toxic already exists", 409)
        found.add_toxic(toxic)
        emit("toxic.add", {"proxy": found.name, **toxic.to_json()})
        return 200, toxic.to_json()

    async def toxic_show(self, body, proxy, toxic):
        found = self.proxy(proxy)
        return 200, self.toxic(found, toxic).to_json()

    async def toxic_update(self, body, proxy, toxic):
        found = self.proxy(proxy)
        old = self.toxic(found, toxic)
        new = toxic_updated(old, body)
        await found.update_toxic(old, new)
        emit("toxic.update", {"proxy": found.name, **new.to_json()})
        return 200, new.to_json()

    async def toxic_delete(self, body, proxy, toxic):
        found = self.proxy(proxy)
        old = self.toxic(found, toxic)
        await found.remove_toxic(old)
        emit("toxic.remove", {"proxy": found.name, **old.to_json()})
        return 204, None

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()


def proxy_fields(body: Any, defaults: dict[str, Any], where: str = "") -> dict[str, Any]:
    """name, listen, upstream, enabled from a proxy body over `defaults`, checked as api.go does."""
    if not isinstance(body, dict):
        raise bad_body("expected a JSON object")
    fields = {**defaults, **{k: body[k] for k in ("name", "listen", "upstream", "enabled") if k in body}}
    for key in ("name", "listen", "upstream"):
        if not isinstance(fields.get(key, ""), str):
            raise bad_body(f"{key} must be a string")
    if not isinstance(fields["enabled"], bool):
        raise bad_body("enabled must be a boolean")
    if not fields.get("name"):
        raise missing_field(f"name{where}")
    if not fields["upstream"]:
        raise missing_field(f"upstream{where}")
    return fields


Handler = Callable[..., Awaitable[tuple[int, Any]]]

ROUTES: list[tuple[str, re.Pattern, str]] = [
    (methods, re.compile(pattern), handler) for methods, pattern, handler in [
        ("POST", r"/reset", "reset"),
        ("GET", r"/proxies", "proxy_index"),
        ("POST", r"/proxies", "proxy_create"),
        ("POST", r"/populate", "populate"),
        ("GET", r"/proxies/(?P<proxy>[^/]+)", "proxy_show"),
        ("POST PATCH", r"/proxies/(?P<proxy>[^/]+)", "proxy_update"),
        ("DELETE", r"/proxies/(?P<proxy>[^/]+)", "proxy_delete"),
        ("GET", r"/proxies/(?P<proxy>[^/]+)/toxics", "toxic_index"),
        ("POST", r"/proxies/(?P<proxy>[^/]+)/toxics", "toxic_create"),
        ("GET", r"/proxies/(?P<proxy>[^/]+)/toxics/(?P<toxic>[^/]+)", "toxic_show"),
        ("POST PATCH", r"/proxies/(?P<proxy>[^/]+)/toxics/(?P<toxic>[^/]+)", "toxic_update"),
        ("DELETE", r"/proxies/(?P<proxy>[^/]+)/toxics/(?P<toxic>[^/]+)", "toxic_delete"),
        ("GET", r"/version", "version"),
    ]
]


class HttpApi:
    """A small HTTP/1.1 server (keep-alive, Content-Length bodies) in front of `Toxiproxy`."""

    def __init__(self, toxiproxy: Toxiproxy):
        self.toxiproxy = toxiproxy

    async def dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        if headers.get("user-agent", "").startswith("Mozilla/"):  # api.go refuses browsers (CSRF)
            return 403, "User agent not allowed"
        allowed = False
        for methods, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method not in methods.split():
                allowed = True
                continue
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                if name in ("proxy_create", "populate", "proxy_update", "toxic_create", "toxic_update"):
                    return 400, bad_body(str(exc)).to_json()
                body = {}
            handler: Handler = getattr(self.toxiproxy, name)
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            async with self.toxiproxy.lock:
                try:
                    return await handler(body, **params)
                except ApiError as exc:
                    return exc.status, exc.to_json()
        return (405, "") if allowed else (404, "404 page not found")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                method, target, version = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = line.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length") or 0))
                try:
                    status, payload = await self.dispatch(method, urlsplit(target).path, headers, raw)
                except Exception:
                    log.exception("API %s %s failed", method, target)
                    status, payload = 500, {"error": "internal error", "status": 500}
                keep_alive = version.strip() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                writer.write(http_response(status, payload, keep_alive))
                await writer.drain()
                log.debug("API %s %s -> %s", method, target, status)
                if not keep_alive:
                    break
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def http_response(status: int, payload: Any, keep_alive: bool) -> bytes:
    if payload is None:
        body, kind = b"", None
    elif isinstance(payload, str):
        body, kind = (payload + "\n").encode() if payload else b"", "text/plain; charset=utf-8"
    else:
        body, kind = json.dumps(payload).encode(), "application/json"
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", f"Content-Length: {len(body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    if kind:
        lines.append(f"Content-Type: {kind}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- process -----------------------------------------------------------------------------

async def serve(host: str, port: int) -> None:
    toxiproxy = Toxiproxy()
    sock = listening_socket(join_hostport(host, port))
    server = await asyncio.start_server(HttpApi(toxiproxy).handle, sock=sock)
    listen = join_hostport(*sock.getsockname()[:2])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("API listening on %s (Toxiproxy API %s)", listen, VERSION)
    emit("proxy.api", {"listen": listen, "version": VERSION})
    await stop.wait()
    log.info("shutting down")
    server.close()
    await toxiproxy.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474; 0: any free port)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s embedded-toxiproxy %(levelname)s %(message)s")
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
