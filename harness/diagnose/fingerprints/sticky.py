"""Several server workers without sticky sessions: a live sid is answered `Invalid session`
by the worker that did not issue it, while the same sid keeps working elsewhere. Catalogue: several-workers."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, POSSIBLE, RULED_OUT, Cause, Result, fingerprint
from .view import CaptureView, is_stale_answer


@fingerprint("no-sticky-sessions", "Several workers behind a balancer without sticky sessions", "several-workers")
def no_sticky(view: CaptureView, cause: Cause) -> Result:
    stale = [(s, out) for s in view.sessions for _, out in s.exchanges if out is not None and is_stale_answer(out)]
    if not stale:
        if view.sessions:
            return Result(cause, RULED_OUT, f"no request of {len(view.sessions)} sessions was answered `Invalid session`")
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO session")
    alive_after = [(s, out) for s, out in stale if any(t > out.t for t in s.ok_times)]
    if alive_after:
        s, out = alive_after[0]
        return Result(cause, LIKELY, f"sid {s.sid} was answered `Invalid session` at {out.t:.3f} s and answered "
                      "normally afterwards: another process knows it", [out])
    young = [(s, out) for s, out in stale if out.t - s.first_t < 2.0 and not any(
        o is not None and o.kind == "http.failed" for _, o in s.exchanges)]
    if young:
        s, out = young[0]
        return Result(cause, POSSIBLE, f"sid {s.sid} was refused {out.t - s.first_t:.2f} s after it was issued, "
                      "with no failure before", [out])
    f = view.failure
    return Result(cause, RULED_OUT, "every `Invalid session` answer came after its session had failed or gone quiet, "
                  "and the sid never worked again" + (f" (first failure at {f.t:.3f} s)" if f else ""),
                  [stale[0][1]])
