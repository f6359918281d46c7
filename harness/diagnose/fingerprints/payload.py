"""A polling POST larger than the server's max_http_buffer_size: 400, and the session is
dropped (the next poll gets `Invalid session`)."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .view import CaptureView

LARGE = 100_000


@fingerprint("payload-too-large", "A message larger than the server's max_http_buffer_size")
def payload_too_large(view: CaptureView, cause: Cause) -> Result:
    posts = [(req, out) for s in view.sessions for req, out in s.exchanges if req.data.get("method") == "POST"]
    if not posts:
        return Result(cause, NO_EVIDENCE, "no polling POST in the capture")
    big = [(req, out) for req, out in posts if (req.data.get("body_size") or len(str(req.data.get("body") or ""))) >= LARGE]
    refused = [(req, out) for req, out in big if out is not None and out.kind == "http.response" and out.data.get("status") == 400]
    if refused:
        req, out = refused[0]
        return Result(cause, LIKELY, f"a POST of {req.data.get('body_size')} bytes was answered 400", [req, out])
    largest = max((req.data.get("body_size") or len(str(req.data.get("body") or "")) for req, _ in posts), default=0)
    return Result(cause, RULED_OUT, f"no POST over {LARGE:,} bytes was refused (largest: {largest:,} bytes)")
