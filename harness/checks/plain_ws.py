"""A plain WebSocket client (no Socket.IO): its attempts, close codes and recovery after a fault.

Reads what the page reports (`app.ws.attempt`, `app.ws.close` with the close code,
`app.ws.ready`, `app.session.new`, `app.ws.gave_up`: servers/plain_ws_app/page.html);
Playwright gives no close codes, the page does.
"""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CellView

WINDOW_S = 5.0   # attempts are counted over this many seconds from the fault's begin


def _window(v: CellView):
    return v.t_fault, v.t_fault + WINDOW_S


def _held_session(v: CellView) -> int | None:
    """The session number the page was ready with when the fault began."""
    ready = v.of("app.ws.ready", src="browser", before=v.t_fault)
    return ready[-1].data.get("session_no") if ready else None


def _recovery(v: CellView):
    """The first `ready` after the fault on a session the page did not hold before it."""
    if v.t_fault is None:
        return None
    held = _held_session(v)
    for e in v.of("app.ws.ready", src="browser", after=v.t_fault):
        if e.data.get("session_no") != held:
            return e
    return None


@metric("ws_attempts", f"WebSocket connection attempts of the page in the {WINDOW_S:g} s from the fault's begin")
def ws_attempts(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    start, end = _window(v)
    es = v.of("app.ws.attempt", src="browser", after=start, before=end)
    return Finding(len(es), es[:2] + es[-1:])


@metric("ws_close_codes", "the distinct WebSocket close codes the page saw after the fault, ascending")
def ws_close_codes(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    es = v.of("app.ws.close", src="browser", after=v.t_fault)
    firsts = {}
    for e in es:
        firsts.setdefault(e.data.get("code"), e)
    codes = sorted(c for c in firsts if c is not None)
    return Finding(",".join(str(c) for c in codes) if codes else None, [firsts[c] for c in codes])


@metric("ws_1008_closes", f"closes with code 1008 (policy violation: \"session expired\") in the {WINDOW_S:g} s from the fault's begin")
def ws_1008_closes(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    start, end = _window(v)
    es = [e for e in v.of("app.ws.close", src="browser", after=start, before=end) if e.data.get("code") == 1008]
    return Finding(len(es), es[:1] + es[-1:])


@metric("ws_recovered", "the page was ready again after the fault, on a new session")
def ws_recovered(v: CellView) -> Finding:
    e = _recovery(v)
    return Finding(e is not None, [e] if e else [])


@metric("ws_time_to_recover", "seconds from the fault's begin to the page being ready on a new session")
def ws_time_to_recover(v: CellView) -> Finding:
    e = _recovery(v)
    if e is None:
        return Finding(None)
    return Finding(round(e.t - v.t_fault, 3), [v.fault_begin, e])


@metric("ws_recover_after_up", "seconds from the server answering again to the page being ready on a new session")
def ws_recover_after_up(v: CellView) -> Finding:
    e = _recovery(v)
    if e is None:
        return Finding(None)
    ups = [u for u in v.of("server.up", src="harness", after=v.t_fault) if u.t <= e.t + 0.5]
    if not ups:
        return Finding(None)
    return Finding(round(max(0.0, e.t - ups[-1].t), 3), [ups[-1], e])


@metric("ws_retries_used", "retries the page had used when it was ready again (its attempt's retry count)")
def ws_retries_used(v: CellView) -> Finding:
    e = _recovery(v)
    if e is None:
        return Finding(None)
    attempts = [a for a in v.of("app.ws.attempt", src="browser", before=e.t)
                if a.data.get("attempt") == e.data.get("attempt")]
    return Finding(attempts[-1].data.get("retry") if attempts else None, attempts[-1:] + [e])


@metric("ws_gave_up", "the page stopped retrying (it reported giving up) after the fault")
def ws_gave_up(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    es = v.of("app.ws.gave_up", src="browser", after=v.t_fault)
    return Finding(bool(es), es[:1])


@metric("ws_1006_closes", "closes with code 1006 (no answer: the server was not there) after the fault's begin: the "
        "page's attempts that fell inside the outage")
def ws_1006_closes(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    es = [e for e in v.of("app.ws.close", src="browser", after=v.t_fault) if e.data.get("code") == 1006]
    return Finding(len(es), es[:1] + es[-1:])
