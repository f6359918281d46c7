"""Checks: pure functions of a cell's timeline. They never touch a live process.

Each metric module registers figures by name (`@metric`); `measure(events)` computes
them all for one cell, each with the events that decide it. `judge` compares them
with the scenario's expectations and claims.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.timeline import Event


@dataclass
class Finding:
    value: Any
    evidence: list[Event] = field(default_factory=list)
    note: str = ""


METRICS: dict[str, tuple[str, Callable[["CellView"], Finding]]] = {}


def metric(name: str, description: str):
    def register(fn):
        METRICS[name] = (description, fn)
        return fn
    return register


def measure(events: list[Event]) -> dict[str, Finding]:
    view = CellView(events)
    return {name: fn(view) for name, (_, fn) in METRICS.items()}


from .cell_view import CellView  # noqa: E402
from . import page, recovery, refusal, stale_sid, storm  # noqa: E402,F401  (they register their metrics)
from . import held_requests, ping, plain_ws  # noqa: E402,F401
from . import server_side  # noqa: E402,F401
from . import handshake  # noqa: E402,F401
from . import idle_timeout, load_balancing  # noqa: E402,F401
from . import freeze, stall  # noqa: E402,F401
from . import storm_waves  # noqa: E402,F401
from . import packets  # noqa: E402,F401
from . import room_state  # noqa: E402,F401
from . import deliveries  # noqa: E402,F401
