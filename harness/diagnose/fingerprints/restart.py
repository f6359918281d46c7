"""The server restarted under open sessions: the client's old sid reached a process that never
issued it (400 `Invalid session` / `Session ID unknown`), or the client started over with a
sid from a fresh sequence. Catalogue: stale-sid-after-restart."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, POSSIBLE, RULED_OUT, Cause, Result, fingerprint
from .evidence import live_sequences, log_without_start, logged_starts, lost_session, mode_from_server, refusals, restarts_needed, sid_sequence
from .view import CaptureView, is_stale_answer


@fingerprint("server-restart", "The server restarted under open sessions; the client's old sid went stale",
             "stale-sid-after-restart", "stale-sid-every-mode")
def server_restart(view: CaptureView, cause: Cause) -> Result:
    lost = lost_session(view)
    if lost is None:
        from_logs = _from_server_logs(view, cause)
        if from_logs is not None:
            return from_logs
        if view.sessions:
            return Result(cause, RULED_OUT, f"no session was lost: all {len(view.sessions)} Engine.IO sessions "
                          "stayed in use until the capture ended or a page load replaced them")
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO session")
    f, later = lost
    stale = [out for _, out in f.session.exchanges if out is not None and is_stale_answer(out) and out.t >= f.t - 0.005]
    sequence = sid_sequence(view, f.session, later)
    logged = logged_starts(view, f.session, f.session.last_alive, later[0].first_t if later else None)
    evidence = [f.event] + stale[:2] + ([later[0].exchanges[0][0]] if later and later[0].exchanges else []) + logged[:2]
    replay = {"client": "browser", "transport": "polling" if f.session.transport == "polling" else "default"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    error = str(f.event.data.get("error", ""))
    replay["fault"] = _fault(f.kind, error, bool(stale), mode)
    if f.kind == "stale answer" and not any(out is not None and out.kind == "http.failed" for _, out in f.session.exchanges):
        replay["mode"] = "gevent"   # the reset poll retried unseen on a kept-alive connection
    reasons = []
    if stale:
        body = stale[0].data.get("body")
        reasons.append(f"the old sid {f.session.sid} got {len(stale)} × 400 "
                       + (repr(str(body)[:60]) if body is not None else "(its body is not in the capture)"))
    if sequence == "restarted":
        reasons.append(f"the next sid starts the server's sequence over ({f.session.counter} → {later[0].counter}): "
                       "a new server process issued it")
    if logged:
        reasons.append("the server log shows a start between the last answer to the old sid and the reconnect")
    until = later[0].first_t if later else f.t
    if log_without_start(view, f.session, f.session.last_alive, until):
        return Result(cause, RULED_OUT, f"the server log runs from before session {f.session.sid}'s last answer "
                      f"({f.session.last_alive:.3f} s) to after {'the next handshake' if later else 'its end'} "
                      f"({until:.3f} s) and shows no start of the server in between", evidence, replay)
    found = refusals(view)
    again = next((r for r in found if r.answered_again is not None), None)
    if again is not None:
        return Result(cause, RULED_OUT, f"sid {again.session.sid} was answered `Invalid session`, then answered "
                      f"normally at {again.answered_again.t:.3f} s: a process still knew it, which a restart never "
                      "leaves", [again.answer, again.answered_again], replay)
    two = live_sequences(view)
    if sequence == "restarted" and two is not None:
        reasons = [r for r in reasons if "sequence over" not in r]
        sequence = None     # another live process's sequence, not necessarily a new one
    died = [r for r in found if r.network_failure is not None]
    needed = restarts_needed(found)
    if stale and not logged and not died and (two is not None or needed >= 2):
        why = (f"sids from two server sequences at once ({two[0].counter}, {two[1].counter}, then {two[2].counter})"
               if two is not None else f"the {len(found)} refused sids would need {needed} restarts")
        return Result(cause, POSSIBLE, f"{'; '.join(reasons)}; but {why}, and no request failed nor is a start in the "
                      "server log: several processes explain it better", evidence, replay)
    if sequence == "continued":
        if not stale:
            return Result(cause, RULED_OUT, f"the session ended ({f.kind}), but the next sid continues the same server's "
                          f"sequence ({f.session.counter} → {later[0].counter}) and no request got `Invalid session`: "
                          "the server kept running", evidence, replay)
        return Result(cause, POSSIBLE, "; ".join(reasons) + f", yet the next sid continues the same server's sequence "
                      f"({f.session.counter} → {later[0].counter}): the same process dropped the session (its own "
                      "ping timeout?) rather than a new one", evidence, replay)
    if stale and f.kind == "stale answer" and sequence != "restarted" and not logged:
        # Only the refusal itself: no failed request, no new sequence, no start in the log.
        return Result(cause, POSSIBLE, f"session {f.session.sid} ended at {f.t:.3f} s; " + "; ".join(reasons)
                      + ", and nothing else in the capture shows a process that ended or began", evidence, replay)
    if reasons:
        return Result(cause, LIKELY, f"session {f.session.sid} ended at {f.t:.3f} s ({f.kind}"
                      + (f": {error}" if error else "") + "); " + "; ".join(reasons), evidence, replay)
    return Result(cause, POSSIBLE, f"session {f.session.sid} ended at {f.t:.3f} s ({f.kind}"
                  + (f": {error}" if error else "") + ") and the client started a new one; nothing in the capture "
                  "tells a restart from a connection closed in between", evidence, replay)


def _fault(kind: str, error: str, stale: bool, mode: str | None) -> str:
    """The catalogue fault closest to what the capture shows (measured by the lab: see its report)."""
    if kind == "stale answer" or (stale and "RESET" in error):
        return "rst-after-listen"          # the reset reached the client after the new process listened
    if "EMPTY_RESPONSE" in error:
        return "rst-before-listen" if mode == "gevent" else "restart"
    if "RESET" in error:
        return "rst-before-listen"
    return "restart"                        # refused while down, or a WebSocket that closed


def _from_server_logs(view: CaptureView, cause: Cause) -> Result | None:
    """Only a server log: `Invalid session` lines, after a (re)start line or not."""
    invalid = [e for e in view.server_logs if e.data.get("invalid_sid")]
    if not invalid:
        return None
    starts = [e for e in view.events if e.src == "server" and e.kind == "proc.start" and e.t <= invalid[0].t]
    sid = invalid[0].data["invalid_sid"]
    seen_before = [e for e in view.server_logs if e.t < (starts[-1].t if starts else invalid[0].t)
                   and sid in str(e.data.get("line"))]
    replay = {"client": "browser"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    refused = f"then refused it ({str(invalid[0].data.get('line')).strip()[:80]!r})"
    if starts and seen_before:
        return Result(cause, LIKELY, f"the server log shows sid {sid} in use, then a start of the server, {refused}",
                      [seen_before[0], starts[-1], invalid[0]], replay)
    if starts:
        return Result(cause, LIKELY, f"the server log shows a start of the server, {refused}; {len(invalid)} such lines",
                      [starts[-1], invalid[0]], replay)
    return Result(cause, POSSIBLE, f"the server log refuses sid {sid} ({len(invalid)} such lines) but shows no start of "
                  "the server before it: a restart before the log begins, or another worker", invalid[:2], replay)
