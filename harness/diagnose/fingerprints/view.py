"""What every fingerprint needs to know about a capture: its Engine.IO sessions, page loads,
handshakes, the ping settings the server announced, and the moment the trouble began.

Pure: built from a list of timeline events, imported or recorded by the lab.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ...core.protocol import is_engineio, split_payload
from ...core.timeline import Event
from ...core.view import TimelineView
from ..packets import ABORTED
STALE_MARKS = ("Invalid session", "Session ID unknown", '"code":1')
DEFAULT_PING = (25.0, 20.0)     # python-engineio's and the Node server's defaults, in seconds


def is_engineio_path(d: dict[str, Any]) -> bool:
    return is_engineio(d)


def is_aborted(e: Event) -> bool:
    return e.kind == "http.failed" and any(a in str(e.data.get("error")) for a in ABORTED)


# Chromium's words for a WebSocket the page itself closed before it opened (socket.io-client dropping its
# upgrade as the connection ends): nobody refused or reset it.
ABANDONED_WS = "WebSocket is closed before the connection is established"


def is_abandoned_ws(e: Event) -> bool:
    return e.kind == "ws.error" and ABANDONED_WS in str(e.data.get("error"))


def is_stale_answer(e: Event) -> bool:
    """A 400 that says the server does not know the sid; a 400 whose body the capture lacks (a console
    copy) counts too, as the console pair of the incident shows it."""
    if e.kind != "http.response" or e.data.get("status") != 400:
        return False
    body = e.data.get("body")
    return body is None or any(m in str(body) for m in STALE_MARKS)


def sid_counter(sid: str | None) -> int | None:
    """python-engineio's per-process sequence number, in the last 4 characters of its sids."""
    if not sid or len(sid) != 20:
        return None
    try:
        raw = base64.b64decode(sid[-4:].replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big")


def _open_packet(e: Event) -> str | None:
    """The handshake's open packet `0{…}`, answered to a polling handshake or as the first frame of a
    WebSocket-only connection; None for any other event."""
    if e.kind == "http.response" and isinstance(e.data.get("body"), str) and e.data["body"].startswith("0{"):
        packets = split_payload(e.data["body"])
        return packets[0] if packets else None
    if e.kind == "ws.frame" and e.data.get("dir") == "received" and str(e.data.get("payload", "")).startswith("0{"):
        return str(e.data["payload"])
    return None


@dataclass
class Session:
    sid: str
    first_t: float
    epoch: int                                   # page loads before it was first used
    exchanges: list[tuple[Event, Event | None]] = field(default_factory=list)   # (request, outcome)
    ws: list[Event] = field(default_factory=list)                               # ws.open / ws.frame / ws.error
    connects: list[Event] = field(default_factory=list)                         # sio.connect on this sid
    refusals: list[Event] = field(default_factory=list)                         # sio.connect_error on this sid
    opened: float | None = None                  # when the handshake's answer (the open packet) arrived

    @property
    def ok_times(self) -> list[float]:
        times = [out.t for _, out in self.exchanges if out is not None and out.kind == "http.response"
                 and 200 <= (out.data.get("status") or 0) < 300]
        times += [e.t for e in self.ws if e.kind == "ws.frame" and e.data.get("dir") == "received"]
        return sorted(times)

    @property
    def last_alive(self) -> float:
        """The session's last sign of life: an answer, a received frame, or its first use."""
        ok = self.ok_times
        return ok[-1] if ok else self.first_t

    @property
    def last_armed(self) -> float:
        """When the client last (re)armed its ping timer: engine.io-client arms it on the handshake's
        open packet and on each ping, not on other packets. The last sign of life when the capture
        holds no bodies or frames to tell."""
        armed = []
        for _, out in self.exchanges:
            body = out.data.get("body") if out is not None and out.kind == "http.response" else None
            if isinstance(body, str) and 200 <= (out.data.get("status") or 0) < 300:
                if any(p == "2" or p.startswith("0{") for p in split_payload(body)):
                    armed.append(out.t)
        armed += [self.opened] if self.opened is not None else []
        armed += [e.t for e in self.ws if e.kind == "ws.frame" and e.data.get("dir") == "received"
                  and e.data.get("payload") == "2"]
        return max(armed) if armed else self.last_alive

    @property
    def last_t(self) -> float:
        ts = [req.t for req, _ in self.exchanges] + [out.t for _, out in self.exchanges if out is not None]
        ts += [e.t for e in self.ws]
        return max(ts) if ts else self.first_t

    @property
    def transport(self) -> str:
        return "websocket" if any(e.kind == "ws.open" for e in self.ws) else "polling"

    @property
    def counter(self) -> int | None:
        return sid_counter(self.sid)


@dataclass
class FailurePoint:
    """Where a session ended abnormally, found from the capture itself (no `fault` event)."""
    t: float
    session: Session
    event: Event              # the failed request, the 400, the ws.error, the aborted poll, or the new handshake
    kind: str                 # network error | stale answer | websocket error | abandoned | replaced
    exact: bool = True        # False for `replaced`: `t` is an upper bound (the new handshake)


class CaptureView(TimelineView):
    """A capture as the fingerprints read it: its sessions, page loads, handshakes and where it failed."""

    @cached_property
    def navigations(self) -> list[float]:
        return [e.t for e in self.client_events if e.kind == "http.request" and e.data.get("document")]

    def epoch(self, t: float) -> int:
        return sum(1 for n in self.navigations if n <= t)

    @cached_property
    def requests(self) -> list[Event]:
        return [e for e in self.client_events if e.kind == "http.request" and is_engineio_path(e.data)]

    @cached_property
    def handshakes(self) -> list[Event]:
        hs = [e for e in self.requests if not e.data.get("sid")]
        hs += [e for e in self.client_events if e.kind == "ws.open" and (not e.data.get("sid") or e.data.get("handshake"))]
        return sorted(hs, key=lambda e: e.t)

    @cached_property
    def issued(self) -> dict[str, float]:
        """sid -> when the handshake that issued it was sent (its answer is `0{"sid": …}`)."""
        return {sid: sent for sid, (sent, _) in self._handshakes.items()}

    @cached_property
    def _handshakes(self) -> dict[str, tuple[float, float]]:
        """sid -> when its handshake was sent, and when the answer arrived."""
        out: dict[str, tuple[float, float]] = {}
        by_id = {e.data.get("id"): e for e in self.requests}
        opened_ws = {}
        for e in self.client_events:
            if e.kind == "ws.open":
                opened_ws[e.data.get("url")] = e.t
            if (text := _open_packet(e)) is None:
                continue
            try:
                sid = json.loads(text[1:]).get("sid")
            except (ValueError, AttributeError):
                continue
            req = by_id.get(e.data.get("id")) if e.kind == "http.response" else None
            sent = req.t if req is not None else opened_ws.get(e.data.get("url"), e.t)
            if sid:
                out.setdefault(sid, (sent, e.t))
        return out

    @cached_property
    def sessions(self) -> list[Session]:
        by_sid: dict[str, Session] = {}
        for e in self.client_events:
            sid = e.data.get("eio_sid") if e.kind.startswith("sio.connect") else e.data.get("sid")
            if not sid or e.kind in ("http.response", "http.failed"):
                continue
            if e.kind == "http.request" and not is_engineio_path(e.data):
                continue
            s = by_sid.get(sid)
            if s is None:
                # A page's requests may still go out after the next page load began: the page a session
                # belongs to is the one that sent its handshake.
                origin = self.issued.get(sid, e.t)
                s = by_sid[sid] = Session(sid, origin, self.epoch(origin))
                s.opened = self._handshakes.get(sid, (None, None))[1]
            if e.kind == "http.request":
                s.exchanges.append((e, self.outcome(e)))
            elif e.kind.startswith("ws."):
                s.ws.append(e)
            elif e.kind == "sio.connect":
                s.connects.append(e)
            elif e.kind == "sio.connect_error":
                s.refusals.append(e)
        return sorted(by_sid.values(), key=lambda s: s.first_t)

    def session(self, sid: str | None) -> Session | None:
        return next((s for s in self.sessions if s.sid == sid), None)

    @cached_property
    def ping(self) -> tuple[float, float, bool]:
        """(pingInterval, pingTimeout) in seconds from the first handshake answer, and whether it said so."""
        for e in self.client_events:
            if (text := _open_packet(e)) is not None:
                try:
                    opened = json.loads(text[1:])
                    return opened["pingInterval"] / 1000, opened["pingTimeout"] / 1000, True
                except (ValueError, KeyError, TypeError, IndexError):
                    continue
        return DEFAULT_PING[0], DEFAULT_PING[1], False

    @cached_property
    def counters_meaningful(self) -> bool:
        """Every sid looks like python-engineio's (a small sequence number at the end), and there are two or more."""
        counters = [s.counter for s in self.sessions]
        return len(counters) >= 2 and all(c is not None and c < 1 << 16 for c in counters)

    def handshakes_after(self, t: float, epoch: int) -> list[Event]:
        return [h for h in self.handshakes if h.t > t and self.epoch(h.t) == epoch]

    def later_sessions(self, s: Session) -> list[Session]:
        """Sessions begun after `s` on the same page (a reconnect, not a page load)."""
        return [o for o in self.sessions if o.first_t > s.first_t and o.epoch == s.epoch]

    @cached_property
    def failure(self) -> FailurePoint | None:
        """The first session that ended abnormally: a network failure, a stale-sid answer or a
        WebSocket error on it, or (without any of those) a new handshake on the same page
        after its last sign of life, with the session never used again."""
        candidates: list[FailurePoint] = []
        for s in self.sessions:
            for req, out in s.exchanges:
                if out is None:
                    continue
                if out.kind == "http.failed" and not is_aborted(out):
                    candidates.append(FailurePoint(out.t, s, out, "network error"))
                    break
                if is_stale_answer(out):
                    candidates.append(FailurePoint(out.t, s, out, "stale answer"))
                    break
            for e in s.ws:
                # A failed upgrade leaves the session on polling; only a WebSocket it depended on ends it.
                navigated_away = any(n > e.t for n in self.navigations) and not self.handshakes_after(e.t, s.epoch)
                if e.kind == "ws.error" and not any(req.t > e.t for req, _ in s.exchanges) and not navigated_away \
                        and not is_abandoned_ws(e):
                    candidates.append(FailurePoint(e.t, s, e, "websocket error"))
                    break
            if not any(c.session is s for c in candidates):
                replacing = [h for h in self.handshakes_after(s.last_alive, s.epoch) if h.t > s.first_t]
                later_use = [o for o in self.later_sessions(s)]
                # Only a session whose namespace connected can be lost; one refused (CONNECT_ERROR) is
                # replaced by design, e.g. by the fixed singleton.
                if replacing and later_use and s.last_t <= replacing[0].t + 0.005 and s.connects and not s.refusals:
                    # The client gave up on it: when it aborted its open poll (a ping timeout does that), or
                    # else just before the new handshake (an upper bound: a closed WebSocket leaves no trace).
                    aborts = [out for _, out in s.exchanges if out is not None and is_aborted(out)
                              and out.t >= s.last_alive and out.t <= replacing[0].t]
                    if aborts:
                        candidates.append(FailurePoint(aborts[0].t, s, aborts[0], "abandoned", exact=True))
                    else:
                        candidates.append(FailurePoint(replacing[0].t - 0.001, s, replacing[0], "replaced", exact=False))
        return min(candidates, key=lambda c: c.t) if candidates else None

    @cached_property
    def server_logs(self) -> list[Event]:
        return [e for e in self.events if e.src == "server" and e.kind == "log"]

    @cached_property
    def server_header(self) -> str:
        """What names the server: a `Server` response header, or else the server log's own lines."""
        for e in self.client_events:
            if e.kind == "http.response" and e.data.get("server"):
                return str(e.data["server"])
        for e in self.client_events:
            if e.kind == "http.response" and '"Session ID unknown"' in str(e.data.get("body")):
                return "Node socket.io (its answer to an unknown sid)"
        for e in self.server_logs:
            line = str(e.data.get("line", ""))
            if "Restarting with" in line or "Debugger PIN" in line or "Werkzeug" in line:
                return "Werkzeug (from the server log)"
            if "gunicorn" in line or "Booting worker" in line:
                return "gunicorn (from the server log)"
        return ""
