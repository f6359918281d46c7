"""Nothing reached the client for longer than pingInterval + pingTimeout (a stalled server, a
silent network): the client gives up on the session by ping timeout. Catalogue: server-stall."""
from __future__ import annotations

from . import LIKELY, RULED_OUT, Cause, Result, fingerprint, nothing_lost
from .evidence import lost_session, mode_from_server, silence, silent_too_long
from .view import CaptureView


@fingerprint("ping-timeout", "Silence longer than pingInterval + pingTimeout (a stalled server or network)",
             "server-stall")
def ping_timeout(view: CaptureView, cause: Cause) -> Result:
    lost = lost_session(view)
    if lost is None:
        return nothing_lost(view, cause)
    f, _ = lost
    # The open poll of a healthy session may wait pingInterval for its answer; a silence is measured from the
    # last ping (or the handshake) to the moment the session ended: only those arm the client's ping timer.
    gap, limit, source = silence(view, f)
    replay = {"client": "browser", "transport": "polling" if f.session.transport == "polling" else "websocket",
              "fault": "stall"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    bound = "" if f.exact else " at most"
    if silent_too_long(view, f):
        return Result(cause, LIKELY, f"session {f.session.sid} heard no ping for{bound} {gap:.1f} s before it ended "
                      f"({f.kind}; pingInterval + pingTimeout = {limit:g} s, {source})", [f.event], replay)
    return Result(cause, RULED_OUT, f"session {f.session.sid} ended{bound} {gap:.1f} s after its last ping, under "
                  f"pingInterval + pingTimeout = {limit:g} s ({source})", [f.event], replay)
