"""Several server workers without sticky sessions: a live sid is answered `Invalid session` by a
process that did not issue it, while the one that did keeps running. Catalogue: several-workers.

What tells it from a restart (which also answers `Invalid session`): the refused sid is answered
normally again later; sids come from two sequences at once; the refusals would need several
restarts, and nothing in the capture died (no failed request, no start in the server log); or the
next sid continues the refused one's sequence while it was alive: its process was still there."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, POSSIBLE, RULED_OUT, Cause, Result, fingerprint
from .evidence import live_sequences, logged_starts, refusals, restarts_needed, sid_sequence
from .view import CaptureView


@fingerprint("no-sticky-sessions", "Several workers behind a balancer without sticky sessions", "several-workers")
def no_sticky(view: CaptureView, cause: Cause) -> Result:
    found = refusals(view)
    if not found:
        if view.sessions:
            return Result(cause, RULED_OUT, f"no request of {len(view.sessions)} sessions was answered `Invalid session`")
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO session")
    replay = {"client": "browser"}
    again = next((r for r in found if r.answered_again is not None), None)
    if again is not None:
        return Result(cause, LIKELY, f"sid {again.session.sid} was answered `Invalid session` at {again.t:.3f} s and "
                      f"answered normally at {again.answered_again.t:.3f} s: another process still knew it",
                      [again.answer, again.answered_again], replay)
    n = len(found)
    two = live_sequences(view)
    if two is not None:
        a, low, b = two
        return Result(cause, LIKELY, f"sids from two server sequences at once: {a.sid} (number {a.counter}), then "
                      f"{low.sid} ({low.counter}), then {b.sid} ({b.counter}), which only the first sequence accounts "
                      f"for; {n} sid{'s' if n != 1 else ''} answered `Invalid session`",
                      [found[0].answer], replay)
    died = [r.network_failure for r in found if r.network_failure is not None]
    started = [e for r in found for e in logged_starts(view, r.session, r.since, r.t)]
    if died or started:
        what = (f"a request of sid {found[0].session.sid} failed first ({died[0].data.get('error') or died[0].kind})"
                if died else "the server log shows a start before the refusal")
        return Result(cause, RULED_OUT, f"{what}, and no refused sid worked again nor did two sid sequences run at "
                      "once: nothing shows a second live process", [found[0].answer] + died[:1] + started[:1])
    nothing_died = "; no request failed and no start is in the server log"
    needed = restarts_needed(found)
    if needed >= 2:
        return Result(cause, LIKELY, f"{n} sids answered `Invalid session`, each while the session was fresh: "
                      f"{needed} restarts would be needed to explain them" + nothing_died,
                      [r.answer for r in found[:2]], replay)
    r = found[0]
    interval, timeout, _ = view.ping
    later = [s for s in view.later_sessions(r.session) if s.first_t >= r.t - 0.005]
    if sid_sequence(view, r.session, later) == "continued" and r.t - r.since < interval + timeout:
        return Result(cause, LIKELY, f"sid {r.session.sid} was answered `Invalid session` at {r.t:.3f} s, "
                      f"{r.t - r.since:.2f} s after its last answer (under pingInterval + pingTimeout = "
                      f"{interval + timeout:g} s), and the next sid continues its sequence ({r.session.counter} → "
                      f"{later[0].counter}): the process that issued it was still running" + nothing_died,
                      [r.answer], replay)
    return Result(cause, POSSIBLE, f"{n} sid{'s' if n != 1 else ''} answered `Invalid session` with nothing failing "
                  "before; the capture cannot tell another worker from a restart", [r.answer], replay)
