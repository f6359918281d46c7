"""Nothing serves Engine.IO where the client looks: its `path` is not the server's (404s, or a
WebSocket nobody takes), or a namespace the server does not have (often a path written into
the URL: `io("http://host/admin")` names the namespace /admin). Catalogue: wrong-path."""
from __future__ import annotations

from urllib.parse import urlsplit

from . import LIKELY, NO_EVIDENCE, RULED_OUT, Cause, Result, fingerprint
from .evidence import UNKNOWN_NAMESPACE
from .view import CaptureView

DEFAULT_PATH = "/socket.io/"


def _is_eio(e) -> bool:
    return "EIO=" in str(e.data.get("url"))


def _not_served(e, served: set[str]) -> bool:
    """A 404, or a WebSocket on a path where nothing answered at all: no server took the upgrade
    (a WebSocket that times out on the usual path is a network matter, not a path)."""
    if e.kind == "http.response":
        return e.data.get("status") == 404
    if e.kind != "ws.error":
        return False
    error, path = str(e.data.get("error")), urlsplit(str(e.data.get("url"))).path
    return "response code: 404" in error or ("before receiving a handshake response" in error
                                             and path != DEFAULT_PATH and path not in served)


@fingerprint("wrong-path", "The client's Socket.IO path or namespace is not one the server serves", "wrong-path")
def wrong_path(view: CaptureView, cause: Cause) -> Result:
    eio = [e for e in view.client_events if _is_eio(e)]
    served = {urlsplit(str(e.data.get("url"))).path for e in eio
              if (e.kind == "http.response" and 200 <= (e.data.get("status") or 0) < 300)
              or (e.kind == "ws.frame" and e.data.get("dir") == "received")}
    not_found = [e for e in eio if _not_served(e, served)]
    if not_found:
        path = urlsplit(str(not_found[0].data.get("url"))).path
        return Result(cause, LIKELY, f"{len(not_found)} Engine.IO requests to {path} found nothing there "
                      f"({str(not_found[0].data.get('status') or not_found[0].data.get('error'))[:60]})", not_found[:2])
    refused = [e for e in view.client_events
               if (e.kind == "http.response" and any(m in str(e.data.get("body")) for m in UNKNOWN_NAMESPACE))
               or (e.kind == "ws.frame" and any(m in str(e.data.get("payload")) for m in UNKNOWN_NAMESPACE))]
    if refused:
        text = str(refused[0].data.get("body") or refused[0].data.get("payload"))
        return Result(cause, LIKELY, f"the server does not know the namespace: {text[:80]!r}", refused[:1])
    answered = [e for e in eio if e.kind == "http.response" and 200 <= (e.data.get("status") or 0) < 300]
    if answered:
        return Result(cause, RULED_OUT, f"{len(answered)} Engine.IO requests answered on "
                      f"{urlsplit(str(answered[0].data.get('url'))).path}, no unknown namespace")
    return Result(cause, NO_EVIDENCE, "no Engine.IO answer in the capture")
