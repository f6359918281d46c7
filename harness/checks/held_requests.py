"""Requests the server holds without answering, and whether it still answers anyone else
(trap 13: each oversized polling POST holds one of gthread's worker threads)."""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CellView


def _held_posts(v: CellView):
    """The probe's session POSTs still unanswered when the health check was sent (or at the end):
    requests sent while the lab tears the server down don't count."""
    req, _ = _health(v)
    until = req.t if req else None
    answered = {e.data.get("sid") for e in v.of("http.response", src="probe", before=until)
                if e.data.get("method") == "POST"}
    return [e for e in v.of("http.request", src="probe", before=until)
            if e.data.get("method") == "POST" and e.data.get("sid") and e.data.get("sid") not in answered]


def _first_unanswered_check(v: CellView):
    for e in v.of("probe.check", src="probe"):
        if "status" not in e.data:
            return e
    return None


@metric("held_posts", "the probe's session POSTs still unanswered when the health check was sent")
def held_posts(v: CellView) -> Finding:
    es = _held_posts(v)
    return Finding(len(es), es[:1] + es[-1:])


@metric("posts_until_unresponsive", "requests the probe had left pending when a handshake first got no answer (none: it always answered)")
def posts_until_unresponsive(v: CellView) -> Finding:
    e = _first_unanswered_check(v)
    return Finding(e.data.get("after_requests") if e else None, [e] if e else [])


@metric("checks_unanswered", "handshakes the probe sent between its pending requests that got no answer in time")
def checks_unanswered(v: CellView) -> Finding:
    es = [e for e in v.of("probe.check", src="probe") if "status" not in e.data]
    return Finding(len(es), es[:2])


def _health(v: CellView):
    reqs = [e for e in v.of("http.request", src="probe") if e.data.get("path") == "/health"]
    if not reqs:
        return None, None
    last = reqs[-1]
    outcome = next((e for e in v.events if e.src == "probe" and e.t >= last.t and e.kind in ("http.response", "http.failed")
                    and e.data.get("path") == "/health"), None)
    return last, outcome


@metric("health_check", "what the app's plain HTTP health endpoint answered the probe last (status, or the error)")
def health_check(v: CellView) -> Finding:
    req, outcome = _health(v)
    if req is None:
        return Finding(None)
    if outcome is None:
        return Finding("no answer", [req])
    value = outcome.data.get("status") if outcome.kind == "http.response" else outcome.data.get("error")
    return Finding(value, [req, outcome])


@metric("server_alive_at_health", "the server process had not exited when the health check ended")
def server_alive_at_health(v: CellView) -> Finding:
    req, outcome = _health(v)
    if req is None:
        return Finding(None)
    end = (outcome or req).t
    exits = [e for e in v.of("proc.exit", src="server", before=end)]
    started = v.of("proc.start", src="server", before=end)
    return Finding(not exits and bool(started), (exits or started)[-1:] + [outcome or req])
