"""A server's numbered emits (`tick` {"n": n}, `room_tick` {"n": n, "boot": the process}), as the client
recorded receiving them.

The page reports `n` (and `boot`) itself; python-socketio's recorded args are their repr, `({'n': 3},)`.
A restarted process counts from 1 again: where the emit carries its process (`boot`), an emit is known by
(boot, n).
"""
from __future__ import annotations

import re

from ..core.timeline import Event
from .cell_view import CLIENT_SOURCES, CellView

_N_IN_ARGS = re.compile(r"'n': (\d+)")
_BOOT_IN_ARGS = re.compile(r"'boot': '([^']+)'")


def number_of(e: Event, event: str) -> tuple[str | None, int] | None:
    """(boot, n) of a numbered `event` the client reported receiving (`sio.event`); None for anything else."""
    if e.kind != "sio.event" or e.data.get("event") != event:
        return None
    n, boot = e.data.get("n"), e.data.get("boot")
    args = str(e.data.get("args", ""))
    if n is None and (m := _N_IN_ARGS.search(args)):
        n = int(m.group(1))
    if boot is None and (m := _BOOT_IN_ARGS.search(args)):
        boot = m.group(1)
    return (boot, n) if isinstance(n, int) and not isinstance(n, bool) else None


def receptions(v: CellView, event: str) -> list[tuple[tuple[str | None, int], Event]]:
    """Every reception of a numbered `event` by the cell's client, in time order (repeats included), each
    known by (boot, n); boot is None where the emit does not carry it."""
    return [(key, e) for e in v.of("sio.event", src=CLIENT_SOURCES) if (key := number_of(e, event)) is not None]


def received(v: CellView, event: str) -> dict[tuple[str | None, int], Event]:
    """Each (boot, n) of `event` the client received -> its first reception."""
    got: dict[tuple[str | None, int], Event] = {}
    for key, e in receptions(v, event):
        got.setdefault(key, e)
    return got
