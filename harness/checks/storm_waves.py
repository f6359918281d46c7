"""The reconnect storm's wave judged by order and by the cell's own scale, not by wall-clock thresholds.

On a busy machine the storm's times stretch (the harness's loop and the server share the cores),
but which retry brought each client back does not, and the reconnection wave can be compared
with the spread of the clients' own (jittered) retries measured in the same cell.
"""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CellView
from .storm import storm_burst_s, storm_retry_spread_s


def _back_on_attempt(v: CellView) -> list[tuple[float, int]]:
    """(time back, retry attempt that brought it back) per client that dropped after the fault and came back.

    A client's attempts are its handshakes after its drop, up to its first connect: attempt 2 is
    its second retry. In time order of the clients' return."""
    if v.t_fault is None:
        return []
    dropped: dict[int, float] = {}
    attempts: dict[int, int] = {}
    back: dict[int, tuple[float, int]] = {}
    for e in v.events:
        if e.t < v.t_fault or e.src != "pyclient" or not e.kind.startswith("storm."):
            continue
        i = e.data.get("i")
        if e.kind == "storm.disconnect":
            dropped.setdefault(i, e.t)
        elif e.kind == "storm.handshake" and i in dropped and i not in back:
            attempts[i] = attempts.get(i, 0) + 1
        elif e.kind == "storm.connect" and i in dropped and i not in back:
            back[i] = (e.t, attempts.get(i, 0))
    return sorted(back.values())


@metric("storm_back_attempts", "storm: how many different retry attempts brought back the middle 80 % (10 %→90 %, in "
        "the order they returned) of the lost clients; 1: they all came back on the same retry, one wave")
def storm_back_attempts(v: CellView) -> Finding:
    back = _back_on_attempt(v)
    if len(back) < 2:
        return Finding(None)
    n = len(back)
    lo, hi = int(0.1 * (n - 1) + 0.5), int(0.9 * (n - 1) + 0.5)
    middle = back[lo:hi + 1]
    kinds = sorted({a for _, a in middle})
    return Finding(len(kinds), note="attempts " + ", ".join(str(a) for a in kinds))


@metric("storm_wave_vs_retries", "storm: the reconnection wave (storm_burst_s) divided by the spread of the clients' "
        "own first retries (storm_retry_spread_s): about 1 or more, the server passed the clients' jitter on; well "
        "below 1, it bunched their retries into one wave")
def storm_wave_vs_retries(v: CellView) -> Finding:
    burst, spread = storm_burst_s(v), storm_retry_spread_s(v)
    if burst.value is None or not spread.value:
        return Finding(None)
    return Finding(round(burst.value / spread.value, 2), burst.evidence + spread.evidence)
