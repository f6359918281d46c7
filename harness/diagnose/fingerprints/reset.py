"""A middlebox (firewall, VPN, load balancer) reset the connection while the server kept
running: the session fails with a reset, no `Invalid session`, and the next sid continues
the same server's sequence. Catalogue: middlebox-reset."""
from __future__ import annotations

from . import LIKELY, POSSIBLE, RULED_OUT, Cause, Result, fingerprint, nothing_lost
from .evidence import RESET_ERRORS, log_without_start, lost_session, mode_from_server, sid_sequence, silence, silent_too_long
from .view import CaptureView, is_stale_answer


@fingerprint("connection-reset", "A middlebox reset the connection; the server kept running", "middlebox-reset")
def connection_reset(view: CaptureView, cause: Cause) -> Result:
    lost = lost_session(view)
    if lost is None:
        return nothing_lost(view, cause, "no connection was reset under an open session")
    f, later = lost
    stale = [out for _, out in f.session.exchanges if out is not None and is_stale_answer(out)]
    sequence = sid_sequence(view, f.session, later)
    error = str(f.event.data.get("error", ""))
    replay = {"client": "browser", "transport": "polling" if f.session.transport == "polling" else "default"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    evidence = [f.event] + ([later[0].exchanges[0][0]] if later and later[0].exchanges else [])
    if stale:
        return Result(cause, RULED_OUT, f"the server answered the old sid with 400 {str(stale[0].data.get('body'))[:60]!r}: "
                      "it no longer knew the session, which a reset alone does not do", [f.event, stale[0]], replay)
    if sequence == "restarted":
        return Result(cause, RULED_OUT, f"the next sid starts the server's sequence over ({f.session.counter} → "
                      f"{later[0].counter}): the server process was new", evidence, replay)
    if f.kind in ("replaced", "abandoned") and silent_too_long(view, f):
        gap, limit, _ = silence(view, f)
        return Result(cause, RULED_OUT, f"the session went silent for {gap:.1f} s (over pingInterval + pingTimeout = "
                      f"{limit:g} s) before the client gave up: a ping timeout, not a reset", evidence, replay)
    reset = any(mark in error for mark in RESET_ERRORS) or f.kind in ("replaced", "websocket error")
    if not reset:
        return Result(cause, RULED_OUT, f"the session ended with {error or f.kind}, not a reset", evidence, replay)
    if sequence == "continued":
        return Result(cause, LIKELY, f"session {f.session.sid} ended at {f.t:.3f} s ({f.kind}"
                      + (f": {error}" if error else "") + f"); the next sid continues the same server's sequence "
                      f"({f.session.counter} → {later[0].counter}) and nothing answered `Invalid session`",
                      evidence, replay)
    # A WebSocket error may be the page's own doing ("closed before the connection is established"): only a
    # reset error, or a session that simply went away, counts as a reset for sure.
    cut = any(mark in error for mark in RESET_ERRORS) or f.kind == "replaced"
    if cut and later and log_without_start(view, f.session, f.session.last_alive, later[0].first_t):
        return Result(cause, LIKELY, f"session {f.session.sid} ended at {f.t:.3f} s ({f.kind}"
                      + (f": {error}" if error else "") + "); nothing answered `Invalid session` and the server log "
                      "shows no start of the server between its last answer and the next handshake", evidence, replay)
    return Result(cause, POSSIBLE, f"session {f.session.sid} ended at {f.t:.3f} s ({f.kind}"
                  + (f": {error}" if error else "") + ") without `Invalid session`; the capture cannot tell whether "
                  "the server restarted", evidence, replay)
