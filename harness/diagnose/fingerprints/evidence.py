"""Small readings shared by several fingerprints."""
from __future__ import annotations

from ...core.timeline import Event
from .view import CaptureView, FailurePoint, Session

RESET_ERRORS = ("ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE", "NS_ERROR_NET_RESET", "NS_ERROR_NET_INTERRUPT",
                "ERR_CONNECTION_CLOSED", "ConnectionResetError", "RemoteDisconnected")


def lost_session(view: CaptureView) -> tuple[FailurePoint, list[Session]] | None:
    """The failure point and the sessions the client began on the same page afterwards."""
    f = view.failure
    if f is None:
        return None
    later = [s for s in view.later_sessions(f.session) if s.first_t >= f.session.last_alive]
    return f, later


def sid_sequence(view: CaptureView, old: Session, later: list[Session]) -> str | None:
    """`restarted` when the next sid's sequence number is not above the old one's (a new
    python-engineio process), `continued` when it is above by no more than the handshakes this
    capture sent in between (answered or not: every number between went to this client), None
    when sids carry no sequence or other handshakes (other clients', a health check's) took
    numbers in between: a new process that served others first counts up the same way."""
    if not later or not view.counters_meaningful:
        return None
    a, b = old.counter, later[0].counter
    if a is None or b is None:
        return None
    if b <= a:
        return "restarted"
    own = [h for h in view.handshakes if old.first_t < h.t <= later[0].first_t and view.epoch(h.t) == old.epoch]
    return "continued" if b - a <= max(1, len(own)) else None


def restart_lines(view: CaptureView, after: float, before: float | None) -> list[Event]:
    return [e for e in view.events if e.src == "server" and e.kind in ("proc.start", "proc.exit")
            and e.t >= after - 0.5 and (before is None or e.t <= before + 0.5)]


def mode_from_server(header: str) -> str | None:
    """The lab's deployment mode closest to what the `Server` header (or the server's own words) names."""
    low = header.lower()
    if "node" in low or "express" in low:
        return "node"
    if "werkzeug" in low:
        return "reloader"
    if "gunicorn" in low:
        return "gevent"
    return None


def silence(view: CaptureView, f: FailurePoint) -> tuple[float, float, str]:
    """How long the lost session went without a ping (or, before the first, since its handshake)
    before it ended, pingInterval + pingTimeout, and where the latter comes from. Measured from what
    arms the client's ping timer: other packets (the namespace's connect, an event) do not."""
    interval, timeout, announced = view.ping
    source = "announced by the server" if announced else "the defaults; the capture holds no handshake answer"
    return f.t - f.session.last_armed, interval + timeout, source


def silent_too_long(view: CaptureView, f: FailurePoint) -> bool:
    """The session went quiet for longer than the client waits for a ping (an exact end time may
    fall a little short of the limit; an upper bound must pass it)."""
    gap, limit, _ = silence(view, f)
    return gap >= (limit * 0.9 if f.exact else limit)
