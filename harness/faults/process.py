"""Process faults: what happens to the server process itself."""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from .registry import FaultError, Fault, register


@register
@dataclass
class Restart(Fault):
    """The mode's own restart: the Werkzeug reloader reloads its child; other modes are stopped (SIGTERM) and started again on the same port."""

    type = "restart"
    description = "the mode's own restart (reloader: touch a source file; others: stop and start on the same port)"

    def act(self, topology, timeline) -> None:
        topology.server.restart()


@register
@dataclass
class KillRestart(Fault):
    """SIGKILL the server, stay down for `down_s`, start it again on the same port."""

    type = "kill-restart"
    description = "SIGKILL, down for down_s seconds, start again on the same port"
    down_s: float = 0.0

    def act(self, topology, timeline) -> None:
        topology.server.stop(signal.SIGKILL)
        time.sleep(self.down_s)
        topology.server.start()


# A bound, not a wait: an idle server is quiescent within milliseconds.
QUIESCENT_BOUND_S = 3.0


@register
@dataclass
class Stall(Fault):
    """SIGSTOP the server for `stall_s` seconds, then SIGCONT: alive, listening, silent.

    The stop waits until the server has read what the clients sent and sleeps (a held long-poll is
    held, not still in the socket): frozen a moment earlier, the outcome would hang on that moment."""

    type = "stall"
    description = "SIGSTOP for stall_s seconds, then SIGCONT"
    stall_s: float = 3.0

    def act(self, topology, timeline) -> None:
        topology.server.pause(quiescent_within=QUIESCENT_BOUND_S)
        time.sleep(self.stall_s)
        topology.server.resume()


@register
@dataclass
class ClientEmit(Fault):
    """The cell's own client (browser or Python) emits `count` events in one loop, as an app's code would.

    One event carries `bytes` of payload (an unbounded frame); several are numbered, each {n, pad of
    `bytes`}, and the reference servers log a line per `tally` event they receive, so the lab counts
    what arrived. How they go on the wire (one polling POST or several) is the client library's own."""

    type = "client-emit"
    description = "the cell's client emits `count` events (default 1) with `bytes` of payload each, in one loop"
    event: str = "message"
    bytes: int = 2_000_000
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:      # the registry already refuses negative numbers
            raise FaultError("fault 'client-emit' needs count >= 1 and bytes >= 0")

    def act(self, topology, timeline) -> None:
        for client in topology.clients:
            client.emit_burst(self.event, int(self.count), int(self.bytes))
