"""Stale sid: which requests still carried the pre-fault Engine.IO sid, and what they got."""
from __future__ import annotations

from . import Finding, metric
from ..core.protocol import describe_packet
from .cell_view import CLIENT_SOURCES, CellView


def _old_sid_requests(v: CellView):
    """Requests with the old sid sent after the fault, or pending at the fault and answered after it
    (the long-poll that was open, which Chromium may silently retry on a new connection)."""
    if v.t_fault is None or not v.old_sid:
        return []
    out = []
    for e in v.of("http.request", src=CLIENT_SOURCES):
        if e.data.get("sid") != v.old_sid:
            continue
        outcome = v.outcome(e)
        if e.t >= v.t_fault or (outcome is not None and outcome.t >= v.t_fault):
            out.append(e)
    return out


def _old_sid_400s(v: CellView):
    return v.answered(_old_sid_requests(v), 400)


@metric("old_sid", "the Engine.IO sid the client held when the fault began")
def old_sid(v: CellView) -> Finding:
    return Finding(v.old_sid)


@metric("old_sid_requests", "requests with the old sid sent after the fault, or pending at it")
def old_sid_requests(v: CellView) -> Finding:
    reqs = _old_sid_requests(v)
    return Finding(len(reqs), reqs)


@metric("stale_sid_400", "400 answers to requests carrying the old sid")
def stale_sid_400(v: CellView) -> Finding:
    pairs = _old_sid_400s(v)
    return Finding(len(pairs), [e for pair in pairs for e in pair])


@metric("stale_sid_refused", "answers refusing the old sid: a 400, or the 500 python-engineio gives a POST that "
                            "arrives after the session closed but before it was removed ('Session is disconnected' "
                            "raised outside its handler)")
def stale_sid_refused(v: CellView) -> Finding:
    reqs = _old_sid_requests(v)
    pairs = v.answered(reqs, 400) + v.answered(reqs, 500)
    statuses = sorted(out.data.get("status") for _, out in pairs)
    return Finding(len(pairs), [e for pair in sorted(pairs, key=lambda p: p[1].t) for e in pair],
                   note=f"statuses {statuses}" if pairs else "")


@metric("stale_sid_body", "body of the first 400 answer to the old sid")
def stale_sid_body(v: CellView) -> Finding:
    pairs = _old_sid_400s(v)
    return Finding(pairs[0][1].data.get("body") if pairs else None, list(pairs[0]) if pairs else [])


@metric("stale_sid_request", "the first request that got a 400 for the old sid: method and Engine.IO packet")
def stale_sid_request(v: CellView) -> Finding:
    pairs = _old_sid_400s(v)
    if not pairs:
        return Finding(None)
    req = pairs[0][0]
    packet = describe_packet(req.data.get("body")) if req.data.get("method") == "POST" else "poll"
    return Finding(f"{req.data.get('method')} {packet}", [req], note=f"body {req.data.get('body')!r}")


@metric("old_sid_failure", "network error text of the first failed request carrying the old sid")
def old_sid_failure(v: CellView) -> Finding:
    for req in _old_sid_requests(v):
        out = v.outcome(req)
        if out is not None and out.kind == "http.failed":
            return Finding(out.data.get("error"), [req, out])
    return Finding(None)


@metric("console_pair", "the incident's console pair: a GET with the old sid reset, then a POST with it answered 400")
def console_pair(v: CellView) -> Finding:
    if v.t_fault is None or not v.old_sid:
        return Finding(False)
    resets = [e for e in v.of("http.failed", src=CLIENT_SOURCES, after=v.t_fault)
              if e.data.get("sid") == v.old_sid and e.data.get("method") == "GET"
              and "ERR_CONNECTION_RESET" in str(e.data.get("error"))]
    posts = [(req, out) for req, out in _old_sid_400s(v) if req.data.get("method") == "POST"]
    for reset in resets:
        for req, out in posts:
            if out.t >= reset.t - 0.005:  # sources can be a few ms apart
                return Finding(True, [reset, req, out])
    return Finding(False, resets[:1] + ([posts[0][1]] if posts else []))


@metric("http_400", "every 400 answer to a Socket.IO request after the fault")
def http_400(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(0)
    hits = [e for e in v.of("http.response", src=CLIENT_SOURCES, after=v.t_fault)
            if e.data.get("status") == 400 and v.is_socketio(e)]
    return Finding(len(hits), hits)


@metric("network_errors", "distinct network error texts of Socket.IO requests after the fault")
def network_errors(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding("")
    fails = [e for e in v.of("http.failed", src=CLIENT_SOURCES, after=v.t_fault) if v.is_socketio(e)]
    texts = sorted({str(e.data.get("error")) for e in fails})
    return Finding(", ".join(texts), fails[:5])


@metric("silent_retry", "the poll open at the fault was reset by the proxy, yet answered: Chromium retried it unseen on a new connection")
def silent_retry(v: CellView) -> Finding:
    if v.t_fault is None or not v.old_sid:
        return Finding(False)
    resets = v.of("proxy.reset", src="proxy", after=v.t_fault)
    if not resets:
        return Finding(False)
    for req in _old_sid_requests(v):
        out = v.outcome(req)
        if req.t < v.t_fault and out is not None and out.kind == "http.response" and out.t >= resets[0].t - 0.005:
            return Finding(True, [req, resets[0], out])
    return Finding(False)
