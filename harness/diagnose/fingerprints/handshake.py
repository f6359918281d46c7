"""The server refused the Engine.IO handshake itself: a client of an unsupported protocol
version, an origin it does not accept, an authentication middleware (401)."""
from __future__ import annotations

from urllib.parse import urlsplit

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .view import CaptureView

# python-engineio's body, and the Node server's ({"code":5,…}).
UNSUPPORTED_MARKS = ("unsupported version", "Unsupported protocol version")


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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.replace('ws', 'http', 1)}://{parts.netloc}"


@fingerprint("unsupported-protocol", "Client and server speak different protocol versions (EIO=3 against EIO=4)",
             "protocol-mismatch")
def unsupported(view: CaptureView, cause: Cause) -> Result:
    for mark in UNSUPPORTED_MARKS:
        result = _match(view, cause, 400, mark, "a 400 about an unsupported version")
        if result.status == LIKELY:
            return result
    # socket.io-client 2.x speaks EIO=3; a server that refuses it may leave no readable 400 (Node over
    # WebSocket upgrades first, then writes its refusal onto the open socket).
    old = [e for e in view.client_events if e.kind in ("http.request", "ws.open") and "EIO=3" in str(e.data.get("url"))]
    if old:
        answered = [e for e in view.client_events if (e.kind == "ws.frame" and e.data.get("dir") == "received")
                    or (e.kind == "http.response" and e.data.get("status") == 200 and "EIO=3" in str(e.data.get("url")))]
        if not answered:
            return Result(cause, LIKELY, f"{len(old)} Engine.IO 3 requests (socket.io-client 2.x), none answered",
                          old[:2])
        return Result(cause, RULED_OUT, "Engine.IO 3 requests are answered: this server accepts 2.x clients")
    return result


@fingerprint("origin-rejected", "The server does not accept the page's origin (CORS)", "wrong-origin")
def origin(view: CaptureView, cause: Cause) -> Result:
    # "Not an accepted origin." (python-engineio's Server), "<origin> is not an accepted origin." (AsyncServer)
    result = _match(view, cause, 400, "ccepted origin", "a 400 `Not an accepted origin.`")
    if result.status == LIKELY:
        return result
    # Across origins the page never reads that 400: an answer without Access-Control-Allow-Origin is
    # net::ERR_FAILED to it (the Node server even answers 200; the browser discards it all the same).
    pages = {_origin(str(e.data.get("url"))) for e in view.client_events if e.kind == "http.request" and e.data.get("document")}
    blocked = [e for e in view.client_events if e.kind == "http.failed" and "ERR_FAILED" in str(e.data.get("error"))
               and "EIO=" in str(e.data.get("url")) and pages and _origin(str(e.data.get("url"))) not in pages]
    if blocked:
        return Result(cause, LIKELY, f"{len(blocked)} Engine.IO requests from a page on {sorted(pages)[0]} to "
                      f"{_origin(str(blocked[0].data.get('url')))} failed net::ERR_FAILED (a CORS-blocked answer)",
                      blocked[:2])
    return result


@fingerprint("unauthorized", "An authentication check refused the Engine.IO handshake (401)")
def unauthorized(view: CaptureView, cause: Cause) -> Result:
    return _match(view, cause, 401, None, "a 401")
