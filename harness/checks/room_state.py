"""State across a reconnect (reconnect-state): was the client back in its room, and what became of the
room's emits while it was away?

The reference apps (setting `room_tick_ms`) emit a numbered `room_tick` to the room `news` and log each
emit with the room's members (socket sids) at that moment; a client joins by its `join` event (profile
`join`: on its first connect only, or on every connect) and records each `room_tick` it gets. The Node
server with `state_recovery` (socket.io's connectionStateRecovery) may restore a session: the page then
reports `recovered` true on its connect and keeps its socket sid.
"""
from __future__ import annotations

from ..core.app_log import ROOM_TICK
from ..core.timeline import Event
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView
from .numbered_emits import receptions, received
from .recovery import new_connect as back_connect

ROOM_EVENT = "room_tick"
# Emits logged after the client was back before its room membership counts: the join it sends on its
# connect must have reached the server (it is sent with the connect; one room period is plenty).
SETTLE_EMITS = 2


def room_emits(v: CellView, after: float | None = None, before: float | None = None) -> list[tuple[tuple[str, int], list[str], Event]]:
    """((boot, n), members, log event) of every room emit the server logged in the window, in time order."""
    out = []
    for e in v.of("log", src="server", after=after, before=before):
        if m := ROOM_TICK.search(str(e.data.get("line", ""))):
            out.append(((m.group("boot"), int(m.group("n"))), [s for s in m.group("members").split(",") if s], e))
    return out


def _sid_at(v: CellView, before: float) -> str | None:
    """The client's socket sid (of its namespace) on its last connect before `before`."""
    connects = [e for e in v.of("sio.connect", src=CLIENT_SOURCES, before=before) if e.data.get("sid")]
    return connects[-1].data["sid"] if connects else None


def _outage(v: CellView) -> tuple[float, Event] | None:
    """(the fault's start, the client's first connect with a new Engine.IO session after it)."""
    back = back_connect(v)
    return None if back is None or v.t_fault is None else (v.t_fault, back)


def _missed(v: CellView) -> list[tuple[tuple[str, int], list[str], Event]] | None:
    """The room emits the server logged from the fault until the client was back, less those the client had
    already received before the fault (the server's line of one can be read after the page's report)."""
    outage = _outage(v)
    if outage is None:
        return None
    before = {key for key, e in received(v, ROOM_EVENT).items() if e.t < outage[0]}
    return [m for m in room_emits(v, outage[0], outage[1].t) if m[0] not in before]


@metric("in_room_at_fault", "the client's socket was a member of the room `news` in the server's log line of the last "
                            "room emit the client received before the fault (a premise)")
def in_room_at_fault(v: CellView) -> Finding:
    # Known by (process, n), not by when the server's line was read: the page's report of an emit can be
    # recorded before the server's log line of it, and the fault may begin in between.
    if v.t_fault is None:
        return Finding(None)
    sid = _sid_at(v, v.t_fault)
    got = [(e.t, key) for key, e in received(v, ROOM_EVENT).items() if e.t < v.t_fault]
    if sid is None or not got:
        return Finding(None, note="no room emit received before the fault" if sid else "no connect before the fault")
    last = max(got)[1]
    logged = [(members, e) for key, members, e in room_emits(v) if key == last]
    if not logged:
        return Finding(None, note="the server's line of the last room emit received is missing")
    return Finding(sid in logged[0][0], [logged[0][1]])


@metric("state_recovered", "socket.io-client's `socket.recovered` on the client's first connect after the fault "
                           "(connection state recovery); null: the client has no such flag (python-socketio)")
def state_recovered(v: CellView) -> Finding:
    back = back_connect(v)
    if back is None:
        return Finding(None)
    value = back.data.get("recovered")
    return Finding(value, [back], note="" if value is not None else "the client reports no recovered flag")


@metric("room_ticks_missed", "room emits the server logged from the fault until the client was back (a new session)")
def room_ticks_missed(v: CellView) -> Finding:
    missed = _missed(v)
    return Finding(None) if missed is None else Finding(len(missed), [e for *_, e in missed[:3]])


@metric("room_ticks_lost", "of room_ticks_missed, those the client never received (not live, not replayed)")
def room_ticks_lost(v: CellView) -> Finding:
    missed = _missed(v)
    if missed is None:
        return Finding(None)
    got = received(v, ROOM_EVENT)
    lost = [e for n, _, e in missed if n not in got]
    return Finding(len(lost), lost[:3])


@metric("room_ticks_replayed", "of room_ticks_missed, those the client received once it was back (replayed)")
def room_ticks_replayed(v: CellView) -> Finding:
    outage = _outage(v)
    if outage is None:
        return Finding(None)
    got = received(v, ROOM_EVENT)
    # the page stamps its reports with its own clock: a replay reported a few ms before the connect is still one
    replayed = [got[n] for n, _, _ in _missed(v) if n in got and got[n].t >= outage[1].t - 0.05]
    return Finding(len(replayed), [outage[1]] + replayed[:3])


@metric("room_ticks_duplicated", "room emits the client received more than once, over the whole cell")
def room_ticks_duplicated(v: CellView) -> Finding:
    seen: dict[tuple, Event] = {}
    dups = []
    for n, e in receptions(v, ROOM_EVENT):
        if n in seen:
            dups.append(e)
        seen.setdefault(n, e)
    return Finding(len(dups), dups[:3])


def _after_back(v: CellView):
    outage = _outage(v)
    if outage is None:
        return None, []
    return outage[1], room_emits(v, after=outage[1].t)


@metric("back_in_room", "after the reconnect, the client's socket is a member of the room `news` (the server's "
                        f"room emit {SETTLE_EMITS} periods after the client was back lists it)")
def back_in_room(v: CellView) -> Finding:
    back, emits = _after_back(v)
    if back is None or len(emits) < SETTLE_EMITS:
        return Finding(None, [back] if back else [], note="too few room emits after the reconnect")
    n, members, e = emits[SETTLE_EMITS - 1]
    return Finding(back.data.get("sid") in members, [back, e])


@metric("room_ticks_after_back", "room emits the server logged after the client was back that the client received "
                                 "(the last one logged left out: it may still be on its way)")
def room_ticks_after_back(v: CellView) -> Finding:
    back, emits = _after_back(v)
    if back is None:
        return Finding(None)
    got = received(v, ROOM_EVENT)
    arrived = [got[n] for n, _, _ in emits[:-1] if n in got]
    return Finding(len(arrived), arrived[:3])


@metric("rejoined", "joins the client sent after the fault (its `join` on a connect)")
def rejoined(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    joins = v.of("sio.join", src=CLIENT_SOURCES, after=v.t_fault)
    return Finding(len(joins), joins[:2])
