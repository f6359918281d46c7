"""A burst of events: how the client's library put them on the wire, and what the server made of them.

The client records its burst (`sio.burst`: how many events its library took, and whether it was connected
and on which transport as the loop began); each polling POST records how many Engine.IO packets it carried
(`packets`, counted on the whole body); the reference servers log one `tally sid=… n=…` line per `tally`
event they receive. python-engineio decodes at most `max_decode_packets` (16) packets per POST: more raise
a ValueError in its POST handler, which it logs ("post request handler error") and answers 200.
"""
from __future__ import annotations

from ..core.app_log import TALLY
from ..core.protocol import describe_packet
from ..core.timeline import Event
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView

# what python-engineio logs for a POST it could not decode: the handler's message, then the exception's line
BATCH_ERRORS = ("post request handler error", "ValueError: Too many packets in payload")


def bursts(v: CellView) -> list[Event]:
    """The client's bursts from the fault on."""
    return [] if v.t_fault is None else v.of("sio.burst", src=CLIENT_SOURCES, after=v.t_fault)


def emitted(v: CellView) -> int | None:
    """How many events the client's library took in its bursts (None: no burst)."""
    es = bursts(v)
    return sum(int(e.data.get("emitted") or 0) for e in es) if es else None


def tallies(v: CellView) -> dict[str, Event]:
    """Each `tally` number the server logged from the fault on -> the first line that says so."""
    out: dict[str, Event] = {}
    if v.t_fault is None:
        return out
    for e in v.of("log", src="server", after=v.t_fault):
        m = TALLY.search(str(e.data.get("line", "")))
        if m:
            out.setdefault(m.group("n"), e)
    return out


def message_posts(v: CellView, after: float) -> list[Event]:
    """The client's polling POSTs from `after` on that carry a message packet (its events; not its pongs)."""
    return [e for e in v.of("http.request", src=CLIENT_SOURCES, after=after)
            if e.data.get("method") == "POST" and "message" in describe_packet(e.data.get("body")).split("+")]


def _largest(v: CellView) -> Event | None:
    if v.t_fault is None:
        return None
    posts = [e for e in v.of("http.request", src=CLIENT_SOURCES, after=v.t_fault)
             if e.data.get("method") == "POST" and e.data.get("packets")]
    return max(posts, key=lambda e: e.data["packets"], default=None)


@metric("burst_emitted", "events the client's library took in its burst (the `client-emit` fault), buffered or sent")
def burst_emitted(v: CellView) -> Finding:
    return Finding(emitted(v), bursts(v)[:1])


@metric("burst_transport", "the client's transport as its burst began (null: it was not connected)")
def burst_transport(v: CellView) -> Finding:
    es = bursts(v)
    return Finding(es[0].data.get("transport") if es else None, es[:1])


@metric("burst_connected", "whether the client was connected as its burst began (false: its library buffers or refuses them)")
def burst_connected(v: CellView) -> Finding:
    es = bursts(v)
    return Finding(bool(es[0].data.get("connected")) if es else None, es[:1])


def _refused_emits(v: CellView) -> list[Event] | None:
    return None if v.t_fault is None else v.of("sio.emit_failed", src=CLIENT_SOURCES, after=v.t_fault)


@metric("emit_errors", "emits the client's library refused from the fault on (python-socketio raises while it is "
                       "not connected; socket.io-client buffers instead)")
def emit_errors(v: CellView) -> Finding:
    failed = _refused_emits(v)
    return Finding(None) if failed is None else Finding(len(failed), failed[:3])


@metric("emit_error", "the exception of the client's first refused emit from the fault on")
def emit_error(v: CellView) -> Finding:
    failed = _refused_emits(v) or []
    return Finding(failed[0].data.get("error") if failed else None, failed[:1])


@metric("tallies_received", "distinct `tally` events the server logged from the fault on (one line each)")
def tallies_received(v: CellView) -> Finding:
    got = tallies(v)
    return Finding(len(got) if bursts(v) else None, list(got.values())[:3])


@metric("tallies_lost", "`tally` events the client's library took that the server never logged")
def tallies_lost(v: CellView) -> Finding:
    es = [e for e in bursts(v) if e.data.get("event") == "tally"]
    if not es:
        return Finding(None)
    return Finding(max(sum(int(e.data.get("emitted") or 0) for e in es) - len(tallies(v)), 0), es[:1])


@metric("largest_batch", "the most Engine.IO packets in one polling POST of the client from the fault on")
def largest_batch(v: CellView) -> Finding:
    req = _largest(v)
    return Finding(req.data["packets"] if req else None, [req] if req else [])


@metric("largest_batch_status", "what answered that POST: its status, the browser's or requests' error, or `no answer`")
def largest_batch_status(v: CellView) -> Finding:
    req = _largest(v)
    if req is None:
        return Finding(None)
    out = v.outcome(req)
    if out is None:
        return Finding("no answer", [req])
    return Finding(out.data.get("status") if out.kind == "http.response" else out.data.get("error"), [req, out])


@metric("largest_batch_answer", "the body of the answer to that POST (python-engineio `OK`, Node `ok`)")
def largest_batch_answer(v: CellView) -> Finding:
    req = _largest(v)
    out = v.outcome(req) if req is not None else None
    if out is None or out.kind != "http.response":
        return Finding(None)
    return Finding(out.data.get("body"), [out])


@metric("server_batch_error", "what the server logged from the fault on about a POST it could not decode "
        "(python-engineio: `post request handler error`, then `ValueError: Too many packets in payload`)")
def server_batch_error(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    found: list[Event] = []
    for marker in BATCH_ERRORS:
        hit = next((e for e in v.of("log", src="server", after=v.t_fault) if marker in str(e.data.get("line", ""))), None)
        if hit is not None:
            found.append(hit)
    return Finding(" / ".join(str(e.data["line"]).strip() for e in found) or None, found)


@metric("session_kept", "the client kept the session it held at its burst: it answered a ping of the server on it after "
        "the server had answered every POST carrying the burst (false: it lost the session after the fault; null: "
        "not connected at the burst, or undecided)")
def session_kept(v: CellView) -> Finding:
    es = bursts(v)
    if not es or not es[0].data.get("connected") or v.old_sid is None:
        return Finding(None)
    drops = v.drops(after=v.t_fault)
    if drops:
        return Finding(False, drops[:1])
    answers = [v.outcome(e) for e in message_posts(v, v.t_fault)]
    if any(o is None for o in answers):
        return Finding(None)
    last = max([o.t for o in answers] or [es[-1].t])
    pong = v.pong_after(v.old_sid, last)
    return Finding(True, [pong]) if pong is not None else Finding(None)


@metric("server_max_decode_packets", "python-engineio's packets per polling POST as the server reported it applied them "
        "(/__siolab/info at start; null: a server without the limit, such as Node's)")
def server_max_decode_packets(v: CellView) -> Finding:
    ups = [e for e in v.of("server.up", src="harness", before=v.t_fault) if "max_decode_packets" in e.data]
    return Finding(ups[-1].data["max_decode_packets"] if ups else None, ups[-1:])
