"""Faults injected through the proxy (Toxiproxy API): resets and outages on the wire."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass

from .registry import Fault, register


RESET_TOXIC = "siolab_reset"


def _wait_for_client_drop(timeline, since: float, limit_s: float) -> None:
    """Until a client reports a disconnect (its connection was reset), or `limit_s` passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if any(e.kind == "sio.disconnect" and e.t >= since and e.src in ("browser", "pyclient")
               for e in timeline.events):
            return
        time.sleep(0.01)


@register
@dataclass
class ProxyReset(Fault):
    """A middlebox resets the connections; the server is not touched.

    Toxiproxy's reset_peer fires on the next data a connection carries (a long-poll's
    answer, a ping), so the toxic stays until the client reports the disconnect or
    `hold_ms` passes; connections opened meanwhile (a browser's silent retry) are reset
    on their first answer too.
    """

    type = "proxy-reset"
    description = "reset_peer: the next data on each connection becomes a TCP RST; no restart"
    needs_proxy = True
    hold_ms: int = 2500

    def inject(self, topology, timeline) -> None:
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        since = timeline.now()
        topology.proxy.proxy.add_toxic("reset_peer", name=RESET_TOXIC, timeout=0)
        _wait_for_client_drop(timeline, since, self.hold_ms / 1000)
        topology.proxy.proxy.remove_toxic(RESET_TOXIC)
        timeline.record("harness", "fault", {"name": self.type, "phase": "end"})


@register
@dataclass
class RestartBehindProxy(Fault):
    """The server process dies and restarts behind the proxy, which turns the close into a reset.

    The server is frozen (SIGSTOP) so no data moves, a reset_peer toxic with timeout
    `reset_after_ms` is added, and the server is SIGKILLed: each connection's end of
    stream reaches the toxic, which resets the client `reset_after_ms` later (Toxiproxy's
    semantics). The toxic is then removed, so connections the client opens afterwards
    are not touched, and the server starts again on the same port. With 0 the reset
    reaches the client before the new process listens; with more than the restart
    takes, after it. The timeline shows which (proxy.reset against server.up).
    """

    type = "restart-behind-proxy"
    description = "SIGKILL + start on the same port behind the proxy; the close reaches the client as an RST after reset_after_ms"
    needs_proxy = True
    reset_after_ms: int = 0

    def inject(self, topology, timeline) -> None:
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        proxy, server = topology.proxy.proxy, topology.server
        server.pause()
        proxy.add_toxic("reset_peer", name=RESET_TOXIC, timeout=self.reset_after_ms)
        killed = time.monotonic()
        server.stop(signal.SIGKILL)
        time.sleep(0.1)  # the end of stream reaches each connection's toxic: its reset is scheduled
        # Real Toxiproxy's DELETE returns only once pending resets fired: don't let it hold the restart.
        remover = threading.Thread(target=proxy.remove_toxic, args=(RESET_TOXIC,), daemon=True)
        remover.start()
        server.start()
        time.sleep(max(0.0, killed + self.reset_after_ms / 1000 + 0.2 - time.monotonic()))
        remover.join(timeout=10)
        timeline.record("harness", "fault", {"name": self.type, "phase": "end"})


@register
@dataclass
class ProxyDown(Fault):
    """The path to the server disappears (`enabled: false`) for down_s seconds."""

    type = "proxy-down"
    description = "proxy disabled (connections closed, new ones refused) for down_s seconds"
    needs_proxy = True
    down_s: float = 3.0

    def inject(self, topology, timeline) -> None:
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        topology.proxy.proxy.disable()
        timeline.record("harness", "server.down", {"name": "proxy", "via": "proxy"})
        time.sleep(self.down_s)
        topology.proxy.proxy.enable()
        timeline.record("harness", "server.up", {"name": "proxy", "via": "proxy"})
        timeline.record("harness", "fault", {"name": self.type, "phase": "end"})
