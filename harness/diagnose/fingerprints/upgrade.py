"""Something between the browser and the server drops the WebSocket upgrade: every
WebSocket fails and the client stays on polling."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .handshake import _origin
from .view import CaptureView, is_abandoned_ws


def _replayed_by(view: CaptureView, failed) -> tuple[str, ...]:
    """The catalogue scenarios whose refused WebSockets look like these: what the URLs and errors tell apart."""
    urls = [str(e.data.get("url")) for e in failed]
    errors = " ".join(str(e.data.get("error")) for e in failed)
    if any("EIO=3" in u for u in urls):
        return ("protocol-mismatch",)
    if "response code: 404" in errors or ("before receiving a handshake response" in errors
                                          and any("/socket.io/" not in u for u in urls)):
        return ("wrong-path",)            # nothing serves Engine.IO on that path
    pages = {_origin(str(e.data.get("url"))) for e in view.client_events if e.kind == "http.request" and e.data.get("document")}
    if pages and any(_origin(u) not in pages for u in urls):
        return ("wrong-origin", "proxy-drops-upgrade")
    return ("proxy-drops-upgrade",)


@fingerprint("websocket-blocked", "A proxy or the server refuses the WebSocket upgrade; the client stays on polling",
             "proxy-drops-upgrade")
def websocket_blocked(view: CaptureView, cause: Cause) -> Result:
    opened = [e for e in view.client_events if e.kind == "ws.open"]
    errors = [e for e in view.client_events if e.kind == "ws.error"]
    failed = [e for e in errors if not is_abandoned_ws(e)]     # the page closed those itself
    if opened:
        return Result(cause, RULED_OUT, f"{len(opened)} WebSocket{'s' if len(opened) != 1 else ''} opened", opened[:1])
    if failed:
        error = str(failed[0].data.get("error"))
        # The lab measures one such case: plain `gunicorn -k gevent` answers the WebSocket handshake with 500.
        replay = {"mode": "gevent", "transport": "websocket"} if "500" in error else {}
        return Result(cause, LIKELY, f"{len(failed)} WebSocket attempts failed and none opened: {error[:80]!r}",
                      failed[:2], replay, scenarios=("connect-refused",) if replay else _replayed_by(view, failed))
    if errors:
        return Result(cause, NO_EVIDENCE, f"{len(errors)} WebSocket{'s' if len(errors) != 1 else ''} closed by the page "
                                          "before opening, none refused", errors[:1])
    return Result(cause, NO_EVIDENCE, "no WebSocket was attempted (polling only, or not in the capture)")
