"""The server was down for a while (killed and restarted by its supervisor, a deploy): after the
session was lost, the client's handshakes failed until the server answered again — how many,
and for how long, depends on the client's reconnection (the singleton variants). Catalogue:
singleton-outage."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, POSSIBLE, RULED_OUT, Cause, Result, fingerprint, nothing_lost
from .evidence import lost_session, mode_from_server
from .view import CaptureView, is_aborted

DOWN_STATUSES = (502, 503, 504)


def _failed_handshakes(view: CaptureView, after: float, epoch: int):
    failed, answered = [], None
    for h in view.handshakes_after(after, epoch):
        if h.kind != "http.request":
            continue
        out = view.outcome(h)
        if out is None:
            continue
        if (out.kind == "http.failed" and not is_aborted(out)) or (out.kind == "http.response"
                                                                   and out.data.get("status") in DOWN_STATUSES):
            failed.append(out)
        elif out.kind == "http.response" and out.data.get("status") == 200:
            answered = out
            break
    return failed, answered


@fingerprint("server-outage", "The server was down for a while; the client's handshakes failed until it came back",
             "singleton-outage")
def server_outage(view: CaptureView, cause: Cause) -> Result:
    lost = lost_session(view)
    if lost is None:
        return nothing_lost(view, cause)
    f, _ = lost
    failed, answered = _failed_handshakes(view, f.t - 0.01, f.session.epoch)
    replay = {"client": "browser", "transport": "polling" if f.session.transport == "polling" else "default"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    if not failed:
        if answered is not None:
            return Result(cause, RULED_OUT, f"the first handshake after the failure was answered "
                          f"({answered.t - f.t:.2f} s later): the server was not down", [answered], replay)
        return Result(cause, NO_EVIDENCE, "no handshake after the failure is in the capture")
    down = (answered.t if answered is not None else failed[-1].t) - f.t
    errors = sorted({str(e.data.get("error") or e.data.get("status")) for e in failed})
    why = (f"{len(failed)} handshake{'s' if len(failed) != 1 else ''} failed ({', '.join(errors)}) over {down:.1f} s after session {f.session.sid} was "
           "lost" + (", then the server answered again" if answered is not None else ", and it never answered again"))
    evidence = [f.event, failed[0], failed[-1]] + ([answered] if answered is not None else [])
    return Result(cause, LIKELY if len(failed) >= 2 or down >= 2.0 else POSSIBLE, why, evidence, replay)
