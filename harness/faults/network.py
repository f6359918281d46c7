"""Faults injected through the proxy (Toxiproxy API): resets and outages on the wire."""
from __future__ import annotations

import time
from dataclasses import dataclass

from .registry import Fault, FaultError, register


def _reset_burst(topology, timeline, window_ms: int) -> None:
    """RST every open client connection; with a window, also every new one during it."""
    proxy = topology.proxy.proxy
    proxy.add_toxic("reset_peer", name="siolab_reset", timeout=0)
    time.sleep(window_ms / 1000)
    proxy.remove_toxic("siolab_reset")


@register
@dataclass
class ProxyReset(Fault):
    """A middlebox resets the connections; the server is not touched."""

    type = "proxy-reset"
    description = "reset_peer on every open connection (and new ones for window_ms); no restart"
    needs_proxy = True
    window_ms: int = 0

    def inject(self, topology, timeline) -> None:
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        _reset_burst(topology, timeline, self.window_ms)
        timeline.record("harness", "fault", {"name": self.type, "phase": "end"})


@register
@dataclass
class RestartBehindProxy(Fault):
    """The server restarts behind the proxy, and the proxy resets the clients' connections.

    `reset: before-listen` resets first, then restarts the server on the same port.
    `reset: after-listen` starts the new process first (on a new port, the proxy switched
    to it, as a load balancer does when a backend is replaced), then resets: the client's
    next request with its old sid reaches a process that has never seen it.
    """

    type = "restart-behind-proxy"
    description = "server restart behind the proxy with a reset_peer burst before or after the new process listens"
    needs_proxy = True
    reset: str = "after-listen"
    window_ms: int = 0

    def __post_init__(self):
        if self.reset not in ("before-listen", "after-listen"):
            raise FaultError(f"restart-behind-proxy: reset must be before-listen or after-listen, got {self.reset!r}")

    def inject(self, topology, timeline) -> None:
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        if self.reset == "before-listen":
            _reset_burst(topology, timeline, self.window_ms)
            topology.server.stop()
            topology.server.start()
        else:
            old = topology.server
            new = old.__class__(old.supervisor, timeline, old.mode, old.settings)
            new.start()
            topology.proxy.proxy.set_upstream(f"127.0.0.1:{new.port}")
            timeline.record("harness", "proxy.update", {"upstream": new.port})
            _reset_burst(topology, timeline, self.window_ms)
            old.stop()
            topology.server = new
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
