"""Recovery: how the client noticed the fault, and when and how it got a new session."""
from __future__ import annotations

from ..core.protocol import is_handshake
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView


def new_connect(v: CellView):
    """The client's first connect after the fault with an Engine.IO sid other than the one it held."""
    if v.t_fault is None:
        return None
    for e in v.of("sio.connect", src=CLIENT_SOURCES, after=v.t_fault):
        if e.data.get("eio_sid") != v.old_sid:
            return e
    return None


def _is_handshake(e) -> bool:
    return e.kind == "http.request" and is_handshake(e.data)


def _handshakes(v: CellView, after: float, before: float):
    hs = [e for e in v.of("http.request", src=CLIENT_SOURCES, after=after, before=before) if _is_handshake(e)]
    ws = [e for e in v.of("ws.open", src=CLIENT_SOURCES, after=after, before=before) if not e.data.get("sid")]
    return sorted(hs + ws, key=lambda e: e.t)


@metric("disconnect_reason", "reason of the first disconnect after the fault")
def disconnect_reason(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    ds = v.drops(after=v.t_fault)
    return Finding(ds[0].data.get("reason") if ds else None, ds[:1])


@metric("recovered", "the client connected again with a new sid after the fault")
def recovered(v: CellView) -> Finding:
    e = new_connect(v)
    return Finding(e is not None, [e] if e else [])


@metric("new_sid", "the Engine.IO sid of the first connect after the fault")
def new_sid(v: CellView) -> Finding:
    e = new_connect(v)
    return Finding(e.data.get("eio_sid") if e else None, [e] if e else [])


@metric("time_to_new_sid", "seconds from the fault to the first connect with a new sid")
def time_to_new_sid(v: CellView) -> Finding:
    e = new_connect(v)
    if e is None:
        return Finding(None)
    return Finding(round(e.t - v.t_fault, 3), [v.fault_begin, e])


@metric("time_after_server_up", "seconds from the server answering again to the client's new sid")
def time_after_server_up(v: CellView) -> Finding:
    e = new_connect(v)
    if e is None or v.t_fault is None:
        return Finding(None)
    # The harness notices the server is up by polling it; a client that polls faster may
    # connect a few ms before that is recorded: that counts as 0.
    ups = [u for u in v.of("server.up", src="harness", after=v.t_fault) if u.t <= e.t + 0.5]
    if not ups:
        return Finding(None)
    return Finding(round(max(0.0, e.t - ups[-1].t), 3), [ups[-1], e])


@metric("handshakes_while_down", "handshakes the client sent while the server did not answer")
def handshakes_while_down(v: CellView) -> Finding:
    hits = []
    for start, end in v.down_windows:
        hits += _handshakes(v, start, end)
    return Finding(len(hits), hits)


@metric("handshakes_after_fault", "handshakes from the fault until the client's new sid")
def handshakes_after_fault(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(0)
    e = new_connect(v)
    hits = _handshakes(v, v.t_fault, e.t if e else v.events[-1].t)
    return Finding(len(hits), hits)


@metric("connect_errors", "connect_error events after the fault")
def connect_errors(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(0)
    es = v.of("sio.connect_error", src=CLIENT_SOURCES, after=v.t_fault)
    return Finding(len(es), es[:5])


@metric("transport_before_fault", "the transport the client was on when the fault began")
def transport_before_fault(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    last = None
    for e in v.of("sio.connect", src=CLIENT_SOURCES, before=v.t_fault) + v.of("sio.upgrade", src=CLIENT_SOURCES, before=v.t_fault):
        if last is None or e.t >= last.t:
            last = e
    if last is None:
        return Finding(None)
    return Finding(last.data.get("transport"), [last])


@metric("ws_closed", "WebSocket connections of the client closed after the fault")
def ws_closed(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(0)
    es = v.of("ws.close", src=CLIENT_SOURCES, after=v.t_fault)
    return Finding(len(es), es[:3])


@metric("reset_vs_listen", "whether the proxy's first reset reached the client before or after the new server answered")
def reset_vs_listen(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    resets = v.of("proxy.reset", src="proxy", after=v.t_fault)
    if not resets:
        return Finding(None)
    ups = [u for u in v.of("server.up", src="harness", after=v.t_fault) if u.data.get("name") != "proxy"]
    if ups and ups[0].t < resets[0].t:
        return Finding("after", [ups[0], resets[0]])
    return Finding("before", resets[:1] + ups[:1])


def _early_exit(v: CellView):
    """A server process that exited before it ever answered a handshake."""
    ready = {e.data.get("name") for e in v.of("proc.ready", src="server")}
    for e in v.of("proc.exit", src="server"):
        if e.data.get("name") not in ready:
            return e
    return None


@metric("start_failed", "the server never became healthy: its process exited before answering a handshake")
def start_failed(v: CellView) -> Finding:
    e = _early_exit(v)
    return Finding(e is not None, [e] if e else [])


@metric("start_failure_cause", "the server's last log line before it exited without ever answering")
def start_failure_cause(v: CellView) -> Finding:
    e = _early_exit(v)
    if e is None:
        return Finding(None)
    lines = [x for x in v.of("log", src="server", before=e.t + 0.5)
             if x.data.get("name") == e.data.get("name") and str(x.data.get("line", "")).strip()]
    # The app's own message names the setting; gunicorn adds its own lines after it.
    named = [x for x in lines if "SIOLAB_" in str(x.data.get("line"))]
    pick = (named or lines)[-1:] if lines else []
    return Finding(pick[0].data.get("line") if pick else None, pick + [e])



@metric("sio_disconnects", "disconnects the client did not ask for, over the whole cell")
def sio_disconnects(v: CellView) -> Finding:
    ds = v.drops()
    return Finding(len(ds), ds[:3])


@metric("session_alive_at_fault", "the client held a session when the fault began: connected, and not dropped "
                                  "since (a premise: a session lost before the fault cannot show what the fault does)")
def session_alive_at_fault(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    connects = v.of("sio.connect", src=CLIENT_SOURCES, before=v.t_fault)
    if not connects:
        return Finding(False, note="no connect before the fault")
    drops = [d for d in v.drops(after=connects[-1].t) if d.t < v.t_fault]
    return Finding(not drops, [connects[-1]] + drops[:1])


@metric("stalled_quiescent", "the stalled server had read every request sent to it and slept when it was frozen "
                             "(a premise: frozen mid-read, what a client sees hangs on that instant)")
def stalled_quiescent(v: CellView) -> Finding:
    stops = [e for e in v.of("server.down", src="harness") if e.data.get("stalled")]
    if not stops:
        return Finding(None)
    return Finding(stops[0].data.get("quiescent") is True, stops[:1])
