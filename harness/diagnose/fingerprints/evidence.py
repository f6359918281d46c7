"""Small readings shared by several fingerprints."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.timeline import Event
from .view import CaptureView, FailurePoint, Session, is_aborted, is_stale_answer

RESET_ERRORS = ("ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE", "NS_ERROR_NET_RESET", "NS_ERROR_NET_INTERRUPT",
                "ERR_CONNECTION_CLOSED", "ConnectionResetError", "RemoteDisconnected")
# The servers' refusal of an unknown namespace: Node's {"message":"Invalid namespace"}, python-socketio's bare string.
UNKNOWN_NAMESPACE = ("Invalid namespace", '"Unable to connect"')


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


def logged_starts(view: CaptureView, session: Session, after: float, before: float | None) -> list[Event]:
    """Server log lines of a (re)start between two moments, a second's slack either side (logs stamp
    whole seconds at best), and after `session` was issued: a process newer than the session. An exit
    alone is a shutdown (the end of a capture), not a restart."""
    return [e for e in view.events if e.src == "server" and e.kind == "proc.start" and e.t >= after - 1.0
            and e.t > session.first_t and (before is None or e.t <= before + 1.0)]


def log_without_start(view: CaptureView, session: Session, after: float, before: float) -> bool:
    """A server log has lines from before `after` and after `before`, and no start in between: the
    process it logs did not restart then."""
    lines = [e.t for e in view.events if e.src == "server"]
    return bool(lines) and min(lines) <= after and max(lines) >= before \
        and not logged_starts(view, session, after, before)


@dataclass
class Refusal:
    """A sid the server answered `Invalid session` (or `Session ID unknown`): what the capture says around it."""
    session: Session
    answer: Event                    # the first stale answer
    since: float                     # the session's last sign of life before it (an answer, or its handshake)
    answered_again: Event | None     # a normal answer to the same sid afterwards: some process still knew it
    network_failure: Event | None    # a failed request or WebSocket of this session up to the refusal: a process died?

    @property
    def t(self) -> float:
        return self.answer.t


def refusals(view: CaptureView) -> list[Refusal]:
    out = []
    for s in view.sessions:
        stale = [o for _, o in s.exchanges if o is not None and is_stale_answer(o)]
        if not stale:
            continue
        first = min(stale, key=lambda e: e.t)
        before = [t for t in s.ok_times if t < first.t]
        again = [o for _, o in s.exchanges if o is not None and o.kind == "http.response" and o.t > first.t
                 and 200 <= (o.data.get("status") or 0) < 300]
        again += [e for e in s.ws if e.kind == "ws.frame" and e.data.get("dir") == "received" and e.t > first.t]
        failed = [o for _, o in s.exchanges if o is not None and o.kind == "http.failed" and not is_aborted(o)
                  and o.t <= first.t + 0.005]
        failed += [e for e in s.ws if e.kind == "ws.error" and e.t <= first.t + 0.005]
        out.append(Refusal(s, first, max(before) if before else (s.opened or s.first_t),
                           min(again, key=lambda e: e.t) if again else None,
                           min(failed, key=lambda e: e.t) if failed else None))
    return sorted(out, key=lambda r: r.t)


def restarts_needed(found: list[Refusal]) -> int:
    """The fewest restarts that explain every refusal: each needs one between the session's last sign
    of life and its refusal (a sid a process issued is known to it until it ends); refusals whose
    windows overlap can share one."""
    n, last = 0, None
    for r in sorted(found, key=lambda r: r.t):
        if last is None or r.since > last:
            n, last = n + 1, r.t
    return n


def live_sequences(view: CaptureView) -> tuple[Session, Session, Session] | None:
    """Sids from two python-engineio sequences alive at once: a sid whose number is at or below an
    earlier one's (another sequence: a new process, or another one), then a sid that only the earlier
    sequence accounts for (above it by no more than this client's handshakes in between, and above the
    lower one by more). A restarted process's predecessor issues nothing more: several processes do.
    None when sids carry no sequence or other clients' handshakes could explain the numbers."""
    if not view.counters_meaningful:
        return None
    sessions = sorted((s for s in view.sessions if s.counter is not None), key=lambda s: view.issued.get(s.sid, s.first_t))

    def own(a: Session, b: Session) -> int:
        t0, t1 = view.issued.get(a.sid, a.first_t), view.issued.get(b.sid, b.first_t)
        return max(1, sum(1 for h in view.handshakes if t0 < h.t <= t1))

    for j, low in enumerate(sessions):
        for earlier in sessions[:j]:
            if low.counter > earlier.counter:
                continue
            for later in sessions[j + 1:]:
                if 0 < later.counter - earlier.counter <= own(earlier, later) and later.counter - low.counter > own(low, later):
                    return earlier, low, later
    return None
