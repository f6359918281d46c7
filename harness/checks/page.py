"""The page as a person sees it: what its own scripts returned, and where its console errors come from."""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CellView

SOCKET_MARKS = ("/socket.io/", "websocket", "socket.io")


def _console_errors(v: CellView):
    return [e for e in v.of("console", src="browser") if e.data.get("level") == "error"
            and not str(e.data.get("url", "")).startswith("siolab:")]


def _from_socket(e) -> bool:
    text = f"{e.data.get('text', '')} {e.data.get('url', '')}".lower()
    return any(mark in text for mark in SOCKET_MARKS)


@metric("page_result", "the state returned by the last script the scenario ran in the page (e.g. runBackup())")
def page_result(v: CellView) -> Finding:
    es = v.of("browser.eval", src="harness")
    if not es:
        return Finding(None)
    result = es[-1].data.get("result")
    return Finding(result.get("state") if isinstance(result, dict) else result, es[-1:])


@metric("console_errors_not_socket", "console errors of the page that do not come from Socket.IO")
def console_errors_not_socket(v: CellView) -> Finding:
    es = [e for e in _console_errors(v) if not _from_socket(e)]
    return Finding(len(es), es[:5])


@metric("console_errors_socket", "console errors of the page that come from Socket.IO (its requests, its WebSocket)")
def console_errors_socket(v: CellView) -> Finding:
    es = [e for e in _console_errors(v) if _from_socket(e)]
    return Finding(len(es), es[:5])


@metric("console_problems_socket", "console errors and warnings of the page that come from Socket.IO (Chromium "
        "logs a WebSocket closed before it opened as a warning, a refused request as an error)")
def console_problems_socket(v: CellView) -> Finding:
    es = [e for e in v.of("console", src="browser") if e.data.get("level") in ("error", "warning")
          and not str(e.data.get("url", "")).startswith("siolab:") and _from_socket(e)]
    return Finding(len(es), es[:5])


@metric("events_after_fault", "events the server sent to the client after the fault (e.g. the echo of its own message)")
def events_after_fault(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(0)
    es = [e for e in v.of("sio.event", src="pyclient", after=v.t_fault)]
    return Finding(len(es), es[:3])


@metric("large_post_status", "status of the first request after the fault carrying more than 10 KB (a big polling POST)")
def large_post_status(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    for req in v.of("http.request", after=v.t_fault):
        if (req.data.get("bytes") or 0) > 10_000:
            out = v.outcome(req)
            if out is None:
                return Finding("no answer", [req])
            return Finding(out.data.get("status") if out.kind == "http.response" else out.data.get("error"), [req, out])
    return Finding(None)
