"""The server refused the namespace connection (a connect handler returning False, a
middleware): a CONNECT_ERROR packet `44{"message":…}`, not an HTTP error. Catalogue:
connect-refused; when it starts only after a reconnect, reconnect-forgets-login."""
from __future__ import annotations

from . import LIKELY, NO_EVIDENCE, POSSIBLE, RULED_OUT, Cause, Result, fingerprint
from urllib.parse import urlsplit

from .evidence import UNKNOWN_NAMESPACE, mode_from_server
from .view import CaptureView


def _refusals(view: CaptureView):
    return [e for e in view.client_events if e.kind == "sio.connect_error"]


def _carriers(view: CaptureView):
    """The answers or frames that carried a CONNECT_ERROR packet."""
    out = []
    for e in view.client_events:
        text = e.data.get("body") if e.kind == "http.response" else (
            e.data.get("payload") if e.kind == "ws.frame" and e.data.get("dir") == "received" else None)
        if isinstance(text, str) and any(p.startswith("44") for p in text.split("\x1e")):
            out.append(e)
    return out


def _api_calls(view: CaptureView) -> tuple[list, list]:
    """The page's own API calls (xhr/fetch to the Socket.IO host): answered 2xx, and the others."""
    hosts = {urlsplit(str(e.data.get("url"))).netloc for e in view.requests}
    calls = [e for e in view.client_events if e.kind == "http.request" and e.data.get("api")
             and urlsplit(str(e.data.get("url"))).netloc in hosts]
    ok, bad = [], []
    for req in calls:
        out = view.outcome(req)
        (ok if out is not None and out.kind == "http.response" and 200 <= (out.data.get("status") or 0) < 300 else bad).append(req)
    return ok, bad


@fingerprint("connect-refused", "The server refused the namespace connection (CONNECT_ERROR, not an HTTP error)",
             "connect-refused", "backup-blamed-on-socket")
def connect_refused(view: CaptureView, cause: Cause) -> Result:
    refusals = _refusals(view)
    carriers = _carriers(view)
    answers = [e for e in view.client_events if e.kind in ("http.response", "ws.frame")]
    connects = [e for e in view.client_events if e.kind == "sio.connect"]
    if not refusals and not carriers:
        if answers:
            return Result(cause, RULED_OUT, f"no CONNECT_ERROR packet in {len(answers)} Socket.IO answers and frames")
        return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO answer")
    unknown = [e for e in carriers if any(m in str(e.data.get("body") or e.data.get("payload")) for m in UNKNOWN_NAMESPACE)]
    if unknown and len(unknown) == len(carriers):
        # A connect handler's `return False` says "Connection rejected by server"; these are the servers'
        # answers to a namespace they do not have (the `wrong-path` cause).
        text = str(unknown[0].data.get("body") or unknown[0].data.get("payload"))[:80]
        return Result(cause, RULED_OUT, f"every CONNECT_ERROR is the server's answer to an unknown namespace ({text!r}), "
                      "not a connect handler's refusal", unknown[:1])
    first = (refusals or carriers)[0]
    if connects and connects[0].t < first.t:
        return Result(cause, POSSIBLE, "the namespace connected first and was refused only later (see the "
                      "`login-lost-on-reconnect` cause)", [connects[0], first])
    message = first.data.get("message") if first.kind == "sio.connect_error" else str(first.data.get("body")
                                                                                         or first.data.get("payload"))[:80]
    carrier = carriers[0] if carriers else None
    how = ""
    if carrier is not None:
        how = (f" inside a {carrier.data.get('status')} poll answer" if carrier.kind == "http.response"
               else " in a WebSocket frame")
    replay = {"client": "browser",
              "transport": "websocket" if carrier is not None and carrier.kind == "ws.frame" else "polling"}
    mode = mode_from_server(view.server_header)
    if mode:
        replay["mode"] = mode
    why = f"{len(refusals) or len(carriers)} CONNECT_ERROR packets{how}: {message!r}"
    api_ok, api_bad = _api_calls(view)
    scenarios = cause.scenarios
    if api_ok and not api_bad:
        # The page's own feature worked; the console errors come from its socket alone.
        why += f"; the page's own API calls all succeeded ({len(api_ok)} × 2xx): the errors are the socket's"
        scenarios = ("backup-blamed-on-socket", "connect-refused")
    return Result(cause, LIKELY, why, [first] + carriers[:1] + api_ok[:1], replay, scenarios)


@fingerprint("login-lost-on-reconnect", "The client connected, then every reconnect was refused (it lost its login)",
             "reconnect-forgets-login")
def login_lost(view: CaptureView, cause: Cause) -> Result:
    refusals = _refusals(view)
    connects = [e for e in view.client_events if e.kind == "sio.connect"]
    if not refusals:
        return Result(cause, RULED_OUT if connects else NO_EVIDENCE,
                      "no connect was refused" if connects else "the capture shows neither a connect nor a refusal")
    if not connects or connects[0].t > refusals[0].t:
        return Result(cause, RULED_OUT, "the first connect was already refused: the login was never there")
    after = [r for r in refusals if r.t > connects[-1].t]
    if after:
        return Result(cause, LIKELY, f"connected at {connects[-1].t:.3f} s, then {len(after)} refused connects",
                      [connects[-1], after[0]], {"client": "python"})
    return Result(cause, POSSIBLE, "refusals between successful connects", [refusals[0]])
