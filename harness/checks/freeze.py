"""A frozen client (fault `freeze-client`): was it really silent while frozen, and what became of the
server's emits meanwhile and of its session once it woke?"""
from __future__ import annotations

from ..core.app_log import TICK
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView
from .deliveries import tick_number
from .server_side import session_ends


# The pause is reported over the lab's own CDP session, the page's requests and frames over Playwright's:
# what the page sent just before it paused can be recorded a few ms after the pause (2 ms measured here).
ACROSS_SESSIONS_S = 0.05


def _window(v: CellView):
    """(frozen, thawed) events of the freeze after the fault began, or None."""
    if v.t_fault is None:
        return None
    frozen = v.of("client.frozen", src="harness", after=v.t_fault)
    if not frozen:
        return None
    thawed = v.of("client.thawed", src="harness", after=frozen[0].t)
    return (frozen[0], thawed[0]) if thawed else None


@metric("client_frozen", "the freeze took effect and held: the client's code was paused and it sent no request "
                         "and no frame until it was resumed (a premise)")
def client_frozen(v: CellView) -> Finding:
    window = _window(v)
    if window is None:
        return Finding(None if v.t_fault is None else False, note="no freeze recorded")
    frozen, thawed = window
    start = frozen.t + ACROSS_SESSIONS_S
    said = [e for e in v.of("http.request", src=CLIENT_SOURCES, after=start, before=thawed.t)]
    said += [e for e in v.of("ws.frame", src=CLIENT_SOURCES, after=start, before=thawed.t) if e.data.get("dir") == "sent"]
    return Finding(not said, [frozen] + sorted(said, key=lambda e: e.t)[:2] + [thawed])


@metric("frozen_s", "seconds the client's code stayed paused")
def frozen_s(v: CellView) -> Finding:
    window = _window(v)
    return Finding(round(window[1].t - window[0].t, 3), list(window)) if window else Finding(None)


@metric("server_dropped_while_frozen", "the server dropped the client's session (its log line) before the client "
                                       "was resumed")
def server_dropped_while_frozen(v: CellView) -> Finding:
    window = _window(v)
    if window is None:
        return Finding(None)
    ends = session_ends(v)
    return Finding(bool(ends) and ends[0][0].t < window[1].t, [e for e, _ in ends[:1]] + [window[1]])


@metric("back_after_thaw_s", "seconds from the client's resumption to its first connect with a new sid")
def back_after_thaw_s(v: CellView) -> Finding:
    window = _window(v)
    if window is None:
        return Finding(None)
    thawed = window[1]
    back = [e for e in v.of("sio.connect", src=CLIENT_SOURCES, after=thawed.t) if e.data.get("eio_sid") != v.old_sid]
    return Finding(round(back[0].t - thawed.t, 3), [thawed, back[0]]) if back else Finding(None, [thawed])


# --- the server's numbered emits (setting tick_ms): which reached the frozen client

def _ticks_emitted_while_frozen(v: CellView):
    """The server's tick log lines from the freeze until it dropped the session (or the client woke)."""
    window = _window(v)
    if window is None:
        return None
    ends = session_ends(v)
    until = min([window[1].t] + [e.t for e, _ in ends[:1]])
    return [(e, int(m.group("n"))) for e in v.of("log", src="server", after=window[0].t, before=until)
            if (m := TICK.search(str(e.data.get("line", ""))))]


def _ticks_received(v: CellView) -> dict[int, object]:
    got = {}
    for e in v.of("sio.event", src=CLIENT_SOURCES):
        n = tick_number(e)
        if n is not None:
            got.setdefault(n, e)
    return got


@metric("ticks_while_frozen", "ticks the server emitted to every client (setting tick_ms) while the client was frozen "
                              "and the server still held its session")
def ticks_while_frozen(v: CellView) -> Finding:
    emitted = _ticks_emitted_while_frozen(v)
    return Finding(None) if emitted is None else Finding(len(emitted), [e for e, _ in emitted[:3]])


@metric("ticks_lost", "of ticks_while_frozen, those the client never received (not even once it woke)")
def ticks_lost(v: CellView) -> Finding:
    emitted = _ticks_emitted_while_frozen(v)
    if emitted is None:
        return Finding(None)
    got = _ticks_received(v)
    lost = [e for e, n in emitted if n not in got]
    return Finding(len(lost), lost[:3])


@metric("ticks_delivered_on_wake", "of ticks_while_frozen, those the client received once it woke")
def ticks_delivered_on_wake(v: CellView) -> Finding:
    emitted = _ticks_emitted_while_frozen(v)
    if emitted is None:
        return Finding(None)
    got = _ticks_received(v)
    delivered = [got[n] for _, n in emitted if n in got]
    return Finding(len(delivered), delivered[:3])
