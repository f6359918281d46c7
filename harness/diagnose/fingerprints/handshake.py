"""The server refused the Engine.IO handshake itself: a client of an unsupported protocol
version, an origin it does not accept, an authentication middleware (401)."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .view import CaptureView


def _answers(view: CaptureView):
    return [e for e in view.client_events if e.kind == "http.response" and ("sid" in e.data or e.data.get("status"))
            and not e.data.get("document")]


def _match(view: CaptureView, cause: Cause, status: int, needle: str | None, what: str) -> Result:
    answers = _answers(view)
    hits = [e for e in answers if e.data.get("status") == status and (needle is None or needle in str(e.data.get("body")))]
    if hits:
        return Result(cause, LIKELY, f"{len(hits)} answers {status} {str(hits[0].data.get('body') or '')[:80]!r}", hits[:2])
    if not answers:
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO answer")
    return Result(cause, RULED_OUT, f"none of {len(answers)} Socket.IO answers is {what}")


@fingerprint("unsupported-protocol", "Client and server speak different protocol versions (EIO=3 against EIO=4)")
def unsupported(view: CaptureView, cause: Cause) -> Result:
    return _match(view, cause, 400, "unsupported version", "a 400 about an unsupported version")


@fingerprint("origin-rejected", "The server does not accept the page's origin (CORS)")
def origin(view: CaptureView, cause: Cause) -> Result:
    return _match(view, cause, 400, "Not an accepted origin", "a 400 `Not an accepted origin.`")


@fingerprint("unauthorized", "An authentication check refused the Engine.IO handshake (401)")
def unauthorized(view: CaptureView, cause: Cause) -> Result:
    return _match(view, cause, 401, None, "a 401")
