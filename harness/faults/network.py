"""Faults injected through the proxy (Toxiproxy API): resets and outages on the wire."""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from .embedded_toxiproxy import TOXICS
from .registry import Fault, register


RESET_TOXIC = "siolab_reset"


def _pending_requests(timeline, src: str) -> set:
    """Ids of the client's HTTP requests that carry a sid and have neither an answer nor a failure yet."""
    open_, done = set(), set()
    for e in timeline.events:
        if e.src != src or "id" not in e.data:
            continue
        if e.kind == "http.request" and e.data.get("sid"):
            open_.add(e.data["id"])
        elif e.kind in ("http.response", "http.failed"):
            done.add(e.data["id"])
    return open_ - done


def _wait_for_client_drop(timeline, since: float, limit_s: float) -> None:
    """Until a client reports a disconnect and none of its session's requests is still in flight,
    or `limit_s` passes.

    In flight matters: a long-poll the client gave up on can still be on the wire, and Chromium
    silently retries a reset poll on a fresh connection. Lifting the reset before that retry is
    answered lets it reach a server the client's own close packet has emptied (400 `Invalid
    session`): whether it does is then a race between the toxic's removal and the retry."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        dropped = {e.src for e in timeline.events
                   if e.kind == "sio.disconnect" and e.t >= since and e.src in ("browser", "pyclient")}
        if dropped and not any(_pending_requests(timeline, src) for src in dropped):
            return
        time.sleep(0.01)


@register
@dataclass
class ProxyReset(Fault):
    """A middlebox resets the connections; the server is not touched.

    Toxiproxy's reset_peer fires on the next data a connection carries (a long-poll's
    answer, a ping), so the toxic stays until the client reports the disconnect and its
    old session's requests have all ended, or `hold_ms` passes; connections opened
    meanwhile (a browser's silent retry) are reset on their first answer too. With `at_least_ms`
    the reset lasts at least that long (an outage of that length: the client's reconnection
    attempts meanwhile are reset too), whatever the client reports.
    """

    type = "proxy-reset"
    description = "reset_peer: the next data on each connection becomes a TCP RST; no restart"
    needs_proxy = True
    hold_ms: int = 2500
    at_least_ms: int = 0

    def act(self, topology, timeline) -> None:
        since, started = timeline.now(), time.monotonic()
        topology.proxy.proxy.add_toxic("reset_peer", name=RESET_TOXIC, timeout=0)
        _wait_for_client_drop(timeline, since, max(self.hold_ms, self.at_least_ms) / 1000)
        time.sleep(max(0.0, started + self.at_least_ms / 1000 - time.monotonic()))   # the outage's length: studied
        topology.proxy.proxy.remove_toxic(RESET_TOXIC)


@register
@dataclass
class RestartBehindProxy(Fault):
    """The server process dies and restarts behind the proxy, which turns the close into a reset.

    The server is frozen (SIGSTOP) so no data moves, then SIGKILLed: each connection's end of
    stream reaches the proxy, whose reset_peer toxic turns it into a TCP RST to the client.
    `reset` says when, sequenced by events, never by a delay:
      before-listen  the RST goes out at once; the server starts again once the proxy reset
                     the client (or the client reports the drop);
      after-listen   a slow_close toxic holds the end of stream while the server starts again;
                     once the new process answers a handshake, a reset_peer toxic is put behind
                     it and the slow_close removed, so the held end of stream becomes the RST.
                     While the reset_peer toxic is on, an upstream latency toxic holds what the
                     client sends on new connections (its close packet, its retry), so no answer
                     of the new process is reset too; removed last, it lets them through at once.
    Only Toxiproxy's own toxics are used, so the real toxiproxy-server does the same.
    """

    type = "restart-behind-proxy"
    description = ("SIGKILL + start on the same port behind the proxy; the close reaches the client as an RST "
                   "before the new process listens (reset: before-listen) or once it answers (after-listen)")
    needs_proxy = True
    reset: str = "before-listen"

    def __post_init__(self) -> None:
        from .registry import FaultError
        if self.reset not in RESETS:
            raise FaultError(f"fault 'restart-behind-proxy' reset must be one of {', '.join(RESETS)}, got {self.reset!r}")

    def act(self, topology, timeline) -> None:
        proxy, server = topology.proxy.proxy, topology.server
        since = timeline.now()
        server.pause()
        if self.reset == "before-listen":
            proxy.add_toxic("reset_peer", name=RESET_TOXIC, timeout=0)
            server.stop(signal.SIGKILL)
            _wait_for_reset(timeline, since, RESET_BOUND_S)
            proxy.remove_toxic(RESET_TOXIC)
            server.start()
        else:
            proxy.add_toxic("slow_close", name=HOLD_TOXIC, delay=HOLD_MS)
            proxy.add_toxic("latency", stream="upstream", name=HOLD_UP_TOXIC, latency=HOLD_MS)
            server.stop(signal.SIGKILL)
            server.start()                                  # returns once the new process answers
            proxy.add_toxic("reset_peer", name=RESET_TOXIC, timeout=0)
            proxy.remove_toxic(HOLD_TOXIC)                  # the held end of stream reaches reset_peer
            _wait_for_reset(timeline, since, RESET_BOUND_S)
            proxy.remove_toxic(RESET_TOXIC)
            proxy.remove_toxic(HOLD_UP_TOXIC)               # the client's new requests go through, unreset


RESETS = ("before-listen", "after-listen")
HOLD_TOXIC, HOLD_UP_TOXIC = "siolab_hold", "siolab_hold_up"
HOLD_MS = 60_000         # bounds the restart: a server that takes longer gets a plain close (no reset)
RESET_BOUND_S = 5.0      # the reset is on its way at once; this only bounds a proxy that reports nothing


def _wait_for_reset(timeline, since: float, limit_s: float) -> None:
    """Until the proxy reports a reset to the client, or the client reports its drop (a real
    toxiproxy-server prints no events), or `limit_s` passes."""
    timeline.wait_until(lambda e: e.t >= since and (e.kind == "proxy.reset" or e.kind == "sio.disconnect"
                                                    and e.src in ("browser", "pyclient")), limit_s, poll_s=0.005)


@register
@dataclass
class ProxyDown(Fault):
    """The path to the server disappears (`enabled: false`) for down_s seconds."""

    type = "proxy-down"
    description = "proxy disabled (connections closed, new ones refused) for down_s seconds"
    needs_proxy = True
    down_s: float = 3.0

    def act(self, topology, timeline) -> None:
        topology.proxy.proxy.disable()
        timeline.record("harness", "server.down", {"name": "proxy", "via": "proxy"})
        time.sleep(self.down_s)
        topology.proxy.proxy.enable()
        timeline.record("harness", "server.up", {"name": "proxy", "via": "proxy"})


DROP_BOUND_S = 5.0       # a closed connection reaches the client at once; this only bounds a client that reports nothing


@register
@dataclass
class OfflineEmit(Fault):
    """The client loses its path to the server, emits meanwhile, and the path comes back.

    The proxy is disabled (its connections closed, new ones refused) until the client reports the drop
    and none of its requests is still in flight; then the client emits `count` events in one loop, as
    the `client-emit` fault does (socket.io-client buffers them while disconnected; python-socketio
    refuses them), and the proxy is enabled again, `at_least_ms` after it was disabled at the earliest
    (an outage of that length). The client's own reconnection does the rest.
    """

    type = "offline-emit"
    description = "proxy disabled until the client reports its drop; the client emits `count` events meanwhile; proxy enabled"
    needs_proxy = True
    event: str = "tally"
    count: int = 30
    bytes: int = 8
    at_least_ms: int = 0

    def act(self, topology, timeline) -> None:
        since, started = timeline.now(), time.monotonic()
        proxy = topology.proxy.proxy
        proxy.disable()
        timeline.record("harness", "server.down", {"name": "proxy", "via": "proxy"})
        try:
            _wait_for_client_drop(timeline, since, DROP_BOUND_S)
            for client in topology.clients:
                client.emit_burst(self.event, int(self.count), int(self.bytes))
            time.sleep(max(0.0, started + self.at_least_ms / 1000 - time.monotonic()))   # the outage's length: studied
        finally:
            proxy.enable()
            timeline.record("harness", "server.up", {"name": "proxy", "via": "proxy"})


# Toxiproxy's attribute names per toxic type, from the embedded proxy's own table (its toxics
# keep Toxiproxy's names, toxics/*.go); reset_peer has its own faults, noop does nothing.
# -1 below means "not given".
TOXIC_ATTRIBUTES = {name: tuple(cls.defaults) for name, cls in TOXICS.items() if name not in ("noop", "reset_peer")}
TOXIC_NAME = "siolab_toxic"


@register
@dataclass
class ProxyToxic(Fault):
    """One Toxiproxy toxic on one stream of every connection, for `duration_s`, then removed.

    The network misbehaves and nothing restarts: latency, a bandwidth cap, a slicer, a
    connection that goes silent (`timeout`; 0 = never closes, data dropped until removed,
    when Toxiproxy closes what it starved). Connections opened meanwhile (reconnects) get
    the toxic too. With `emit_bytes`, each client emits a message that large once the
    toxic is on (a big message over a slow uplink): the browser sends `random` base-36 text
    (which permessage-deflate cannot shrink to nothing) or `repeated` 'x' x N; the Python
    client sends 'x' x N either way (it never compresses).
    """

    type = "proxy-toxic"
    description = "a Toxiproxy toxic (latency, bandwidth, slicer, timeout, limit_data, slow_close) on one stream for duration_s, then removed"
    needs_proxy = True
    toxic: str = "latency"
    stream: str = "downstream"
    duration_s: float = 5.0
    emit_bytes: int = 0
    emit_event: str = "message"
    emit_text: str = "random"
    latency: int = -1
    jitter: int = -1
    rate: int = -1
    average_size: int = -1
    size_variation: int = -1
    delay: int = -1
    timeout: int = -1
    bytes: int = -1

    def __post_init__(self) -> None:
        from .registry import FaultError
        if self.emit_text not in ("random", "repeated"):
            raise FaultError(f"fault 'proxy-toxic' emit_text must be random or repeated, got {self.emit_text!r}")
        if self.toxic not in TOXIC_ATTRIBUTES:
            raise FaultError(f"fault 'proxy-toxic' toxic {self.toxic!r} unknown; known: {', '.join(TOXIC_ATTRIBUTES)}")
        if self.stream not in ("upstream", "downstream"):
            raise FaultError(f"fault 'proxy-toxic' stream must be upstream (client to server) or downstream, got {self.stream!r}")
        allowed = TOXIC_ATTRIBUTES[self.toxic]
        for name in {n for names in TOXIC_ATTRIBUTES.values() for n in names} - set(allowed):
            if getattr(self, name) != -1:
                raise FaultError(f"fault 'proxy-toxic' attribute {name!r} is not one of the {self.toxic} toxic's: {', '.join(allowed)}")
        for name in allowed:
            if getattr(self, name) != -1 and (int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0):
                raise FaultError(f"fault 'proxy-toxic' attribute {name!r} must be a whole number >= 0")

    def toxic_attributes(self) -> dict[str, int]:
        return {n: int(getattr(self, n)) for n in TOXIC_ATTRIBUTES[self.toxic] if getattr(self, n) != -1}

    def attributes(self) -> dict:
        keep = {"toxic", "stream", "duration_s"} | ({"emit_bytes", "emit_event", "emit_text"} if self.emit_bytes else set())
        return {**{k: v for k, v in super().attributes().items() if k in keep}, **self.toxic_attributes()}

    def _browser_emit(self) -> str:
        n = int(self.emit_bytes)
        text = (f"'x'.repeat({n})" if self.emit_text == "repeated" else
                f"(() => {{ let t = ''; while (t.length < {n}) t += Math.random().toString(36).slice(2); return t.slice(0, {n}); }})()")
        return f"(() => {{ const s = window.__appSocket; if (!s) return false; s.emit({self.emit_event!r}, {text}); return true; }})()"

    def act(self, topology, timeline) -> None:
        proxy = topology.proxy.proxy
        proxy.add_toxic(self.toxic, stream=self.stream, name=TOXIC_NAME, **self.toxic_attributes())
        try:
            if self.emit_bytes:
                for client in topology.clients:
                    client.python_step("emit", {"event": self.emit_event, "bytes": self.emit_bytes})
                    client.browser_step("eval", self._browser_emit())
            time.sleep(self.duration_s)
        finally:
            proxy.remove_toxic(TOXIC_NAME)  # a timeout toxic's removal closes the connections it starved
