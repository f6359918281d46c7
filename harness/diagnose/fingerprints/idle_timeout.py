"""A proxy in front of the server closes connections idle for longer than its read timeout,
and the timeout is shorter than the ping interval: every long-poll the server holds for up to
pingInterval is cut by the proxy (nginx answers it 504 Gateway Time-out), and the session
drops again and again. Catalogue: proxy-idle-timeout."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .view import CaptureView

GATEWAY = {502: "Bad Gateway", 504: "Gateway Time-out"}   # what a proxy answers for an upstream it gave up on


@fingerprint("proxy-idle-timeout", "A proxy's idle timeout, shorter than the ping interval, cuts long-polls",
             "proxy-idle-timeout")
def idle_timeout(view: CaptureView, cause: Cause) -> Result:
    cut = [(s, req, out) for s in view.sessions for req, out in s.exchanges
           if out is not None and out.kind == "http.response" and out.data.get("status") in GATEWAY]
    if cut:
        s, req, out = cut[0]
        interval, _, said = view.ping
        status = out.data["status"]
        return Result(cause, LIKELY, f"{len(cut)} Socket.IO requests answered {status} {GATEWAY[status]} by a proxy; "
                      f"the first, a {req.data.get('method', 'request')} of sid {s.sid}, after {out.t - req.t:.1f} s "
                      f"(the server may hold a poll for pingInterval = {interval:g} s"
                      f"{'' if said else ', assumed'})", [req, out])
    if not view.sessions:
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO session")
    return Result(cause, RULED_OUT, f"no request of {len(view.sessions)} sessions was answered 502 or 504 by a proxy")
