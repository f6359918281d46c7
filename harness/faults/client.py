"""Client faults: what happens to the client while the server and the network stay healthy."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.app_log import DISCONNECT
from .registry import Fault, register


@register
@dataclass
class FreezeClient(Fault):
    """The client's code stops (a debugger, a hung main thread, a frozen tab): its timers, network
    callbacks and pongs stop while its connections stay open; then it runs again.

    The freeze lasts until the server logs that it dropped a session, or `max_s` passes: what the
    server does about a silent client is what is studied, so the wait ends on the server's word,
    never after a guessed delay. The adapter does the freezing (the browser: CDP `Debugger.pause`,
    harness/clients/browser.py says why not the page lifecycle) and records `client.frozen` /
    `client.thawed` once it took effect."""

    type = "freeze-client"
    description = "the client's JavaScript paused (CDP Debugger.pause) until the server drops its session or max_s passes, then resumed"
    max_s: float = 8.0

    def act(self, topology, timeline) -> None:
        frozen, since = [], timeline.now()
        try:
            for client in topology.clients:
                client.freeze(True)
                frozen.append(client)
            _wait_for_server_drop(timeline, since, self.max_s)
        finally:
            for client in frozen:
                client.freeze(False)


def _wait_for_server_drop(timeline, since: float, limit_s: float) -> None:
    """Until the server logs the end of a root-namespace session, or `limit_s` passes."""
    timeline.wait_until(lambda e: e.t >= since and e.kind == "log" and e.src == "server"
                        and DISCONNECT.search(str(e.data.get("line", ""))) is not None, limit_s)
