"""Milestones: has the cell got this far yet? Pure functions of the events recorded so far.

The runner's `wait_for: {until: NAME}` steps ask them, so an observation window ends as soon
as what decides the cell is in, instead of after a fixed sleep. They read the timeline like
every check; they never touch a live process. Each answers for the cell's own client (the
browser or the Python client; never a witness, a probe or a storm).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from ..core.timeline import Event
from .cell_view import CLIENT_SOURCES, CellView
from .deliveries import tick_reached_all
from .packets import bursts, emitted, message_posts
from .numbered_emits import receptions
from .room_state import room_emits


@dataclass(frozen=True)
class Progress:
    """What a milestone needs beyond the events: the cell's transport axis and when the fault began."""

    transport: str = "default"        # polling, websocket, or default (polling, then the upgrade)
    t_fault: float | None = None      # the `fault` step's start; None before it


MILESTONES: dict[str, tuple[str, Callable[[CellView, Progress], bool]]] = {}


def milestone(name: str, description: str):
    def register(fn):
        MILESTONES[name] = (description, fn)
        return fn
    return register


def reached(name: str, events: list[Event], progress: Progress) -> bool:
    return MILESTONES[name][1](CellView(events), progress)


def _page_start(v: CellView) -> float | None:
    """When the browser last began loading a page (None for a Python client, or before any load)."""
    loads = [e for e in v.of("http.request", src="browser") if e.data.get("document")]
    return loads[-1].t if loads else None


def _connects(v: CellView) -> list[Event]:
    """The client's connects, on the current page only: a session the page before it opened (a login
    page's, say) may still report its connect after the next load began, and is left behind with it.
    A session belongs to the page that sent its first request with the sid (the old page cannot send
    one after the next load began), or, WebSocket-only, received its open packet: the page's own report
    is stamped with the page's clock, which on a busy machine can run ahead of what the driver records."""
    connects = [e for e in v.of("sio.connect", src=CLIENT_SOURCES) if e.data.get("eio_sid")]
    start = _page_start(v)
    if start is None:
        return connects
    first_use: dict[str, float] = {}
    for e in v.of("http.request", src="browser") + v.of("ws.open", src="browser") + v.of("ws.frame", src="browser"):
        sid = e.data.get("sid") or _opened_sid(e)
        if sid:
            first_use[sid] = min(e.t, first_use.get(sid, e.t))
    return [e for e in connects if e.src != "browser" or first_use.get(e.data["eio_sid"], e.t) >= start]


def _opened_sid(e: Event) -> str | None:
    """The sid of an Engine.IO open packet (`0{"sid":…}`) the page received over a WebSocket."""
    payload = str(e.data.get("payload") or "") if e.kind == "ws.frame" and e.data.get("dir") == "received" else ""
    if not payload.startswith("0{"):
        return None
    try:
        sid = json.loads(payload[1:]).get("sid")
    except ValueError:
        return None
    return sid if isinstance(sid, str) else None


def _current_sid(v: CellView) -> str | None:
    connects = _connects(v)
    return connects[-1].data["eio_sid"] if connects else None


def _on_websocket(v: CellView, sid: str) -> bool:
    """The session's transport is the WebSocket: it connected over one, or upgraded to one."""
    last = _connects(v)[-1]
    if last.data.get("transport") == "websocket":
        return True
    return any(e.data.get("transport") == "websocket" for e in v.of("sio.upgrade", src=CLIENT_SOURCES, after=last.t))


def _upgrade_resolved(v: CellView, sid: str) -> bool:
    """The upgrade to the WebSocket was tried and given up (a refused or closed probe with the sid)."""
    return any(e.data.get("sid") == sid for kind in ("ws.error", "ws.close") for e in v.of(kind, src=CLIENT_SOURCES))


def _long_poll_pending(v: CellView, sid: str) -> bool:
    """A GET with the sid is open after an earlier one was answered: the long-poll that waits for the ping."""
    gets = [e for e in v.of("http.request", src=CLIENT_SOURCES) if e.data.get("sid") == sid and e.data.get("method") == "GET"]
    answered = [e for e in gets if v.outcome(e) is not None]
    return bool(answered) and any(v.outcome(e) is None and e.t >= answered[0].t for e in gets)


@milestone("connected", "the client holds a Socket.IO session")
def connected(v: CellView, p: Progress) -> bool:
    return _current_sid(v) is not None


@milestone("steady", "the client's session is in its steady state: on the WebSocket when the cell's transport "
                     "upgrades (or the upgrade was refused), else with a long-poll open")
def steady(v: CellView, p: Progress) -> bool:
    sid = _current_sid(v)
    if sid is None:
        return False
    if _on_websocket(v, sid):
        return True
    if p.transport == "websocket":
        return False
    if p.transport == "default" and not _upgrade_resolved(v, sid):
        return False
    return _long_poll_pending(v, sid)


def _new_session(v: CellView, p: Progress) -> Event | None:
    if p.t_fault is None:
        return None
    before = {e.data["eio_sid"] for e in _connects(v) if e.t < p.t_fault}
    return next((e for e in _connects(v) if e.t >= p.t_fault and e.data["eio_sid"] not in before), None)


@milestone("reconnected", "after the fault, the client connected with an Engine.IO sid it did not hold before")
def reconnected(v: CellView, p: Progress) -> bool:
    return _new_session(v, p) is not None


@milestone("settled", "reconnected, and every request the client sent with the sid it held at the fault has its "
                      "answer or its failure, and every WebSocket it opened with that sid is closed: nothing with "
                      "the old sid can still be answered")
def settled(v: CellView, p: Progress) -> bool:
    if _new_session(v, p) is None:
        return False
    old = [e.data["eio_sid"] for e in _connects(v) if e.t < p.t_fault]
    if not old:
        return True
    old_sid = old[-1]
    if any(e.data.get("sid") == old_sid and v.outcome(e) is None for e in v.of("http.request", src=CLIENT_SOURCES)):
        return False
    opened = {e.data.get("url") for e in v.of("ws.open", src=CLIENT_SOURCES) if e.data.get("sid") == old_sid}
    ended = {e.data.get("url") for kind in ("ws.close", "ws.error") for e in v.of(kind, src=CLIENT_SOURCES)}
    return opened <= ended


@milestone("dropped", "after the fault, the client lost its session (a disconnect it did not ask for)")
def dropped(v: CellView, p: Progress) -> bool:
    return p.t_fault is not None and bool(v.drops(after=p.t_fault))


@milestone("in_room", "the client received a room emit (setting room_tick_ms) on the session it holds: its join landed")
def in_room(v: CellView, p: Progress) -> bool:
    connects = _connects(v)
    return bool(connects) and any(e.t >= connects[-1].t for _, e in receptions(v, "room_tick"))


@milestone("room_caught_up", "after the fault, the client is back on a new session and the server has logged "
                             "3 room emits since (setting room_tick_ms): time for its join to land and for what the "
                             "room sends to reach it, or not")
def room_caught_up(v: CellView, p: Progress) -> bool:
    back = _new_session(v, p)
    return back is not None and len(room_emits(v, after=back.t)) >= 3


@milestone("attempt_over", "the client's first connection attempt is over: it holds a session, or a connect_error "
                           "ended the attempt (refused, or no answer within the client's wait)")
def attempt_over(v: CellView, p: Progress) -> bool:
    return _current_sid(v) is not None or bool(v.of("sio.connect_error", src=CLIENT_SOURCES))


@milestone("reconnect_decided", "after the fault, the client reconnected with a new sid, or the server, answering "
                                "again, refused its reconnection twice (a refusal by a live server, not the outage)")
def reconnect_decided(v: CellView, p: Progress) -> bool:
    if _new_session(v, p) is not None:
        return True
    if p.t_fault is None:
        return False
    ups = v.of("server.up", src="harness", after=p.t_fault)
    if not ups:
        return False
    return len(v.of("sio.connect_error", src=CLIENT_SOURCES, after=ups[0].t)) >= 2


def _server_spoke_after(v: CellView, t: float) -> bool:
    """A packet from the server reached the client after `t`: a non-empty long-poll answer, a received
    WebSocket frame, or an event (an echo, the server's next ping)."""
    for e in v.of("http.response", src=CLIENT_SOURCES, after=t):
        if e.data.get("method") == "GET" and e.data.get("sid") and e.data.get("status") == 200 and e.data.get("body"):
            return True
    if any(e.data.get("dir") == "received" for e in v.of("ws.frame", src=CLIENT_SOURCES, after=t)):
        return True
    return bool(v.of("sio.event", src=CLIENT_SOURCES, after=t))


@milestone("answered", "after the fault, the server has had its say on what the client sent: the client refused to "
                       "send it (a cap); or it lost its session and is back on a new one (a message POST of the old "
                       "session still unanswered by then is one the server never answered: its session is gone), or lost "
                       "it to a server disconnect (after which it does not reconnect) with every POST answered; or, still "
                       "connected, every message POST it sent since the fault is answered and a packet from the server "
                       "came after the last answer (an echo, or the server's next ping): a message not echoed by then is lost")
def answered(v: CellView, p: Progress) -> bool:
    if p.t_fault is None:
        return False
    if v.of("sio.emit_refused", src=CLIENT_SOURCES, after=p.t_fault):
        return True
    drops = v.drops(after=p.t_fault)
    back = _new_session(v, p)
    if drops and back is not None and drops[0].t <= back.t:
        return True
    posts = message_posts(v, p.t_fault)
    outcomes = [v.outcome(e) for e in posts]
    if any(o is None for o in outcomes):
        return False
    if drops:
        if "server disconnect" in str(drops[0].data.get("reason")):
            return True
        return _new_session(v, p) is not None
    sid = _current_sid(v)
    if not (sid and _on_websocket(v, sid)):
        # Polling: the POST that carries each message the client emitted must be among them.
        emitted = [e.data.get("bytes") or 0 for e in v.of("sio.emit", src=CLIENT_SOURCES, after=p.t_fault)]
        if not posts or any(not any((e.data.get("bytes") or 0) >= n for e in posts) for n in emitted):
            return False
    last = max([o.t for o in outcomes] or [p.t_fault])
    return _server_spoke_after(v, last)


@milestone("burst_settled", "after the fault the client's burst (`client-emit`) is decided: its library took none of "
                            "the events (nothing can follow); or every POST the client sent since the fault has its answer "
                            "or its failure, the burst went out (in POSTs, or frames on the WebSocket), and the client then "
                            "answered a ping of the server on the session it holds (a new one after an outage): what the "
                            "server has not logged by then is lost, and the session lived through it. A client that lost "
                            "its session to a server disconnect (python-socketio does not reconnect then) is decided too. "
                            "Never for a Python client on WebSocket, whose frames are not recorded")
def burst_settled(v: CellView, p: Progress) -> bool:
    if p.t_fault is None or not bursts(v):
        return False
    if emitted(v) == 0:
        return True
    posts = [e for e in v.of("http.request", src=CLIENT_SOURCES, after=p.t_fault) if e.data.get("method") == "POST"]
    if any(v.outcome(e) is None for e in posts):
        return False
    if any("server disconnect" in str(e.data.get("reason")) for e in v.drops(after=p.t_fault)):
        return True
    sid = _current_sid(v)
    if sid is None:
        return False
    carried = [v.outcome(e).t for e in message_posts(v, p.t_fault)]
    carried += [e.t for e in v.of("ws.frame", src=CLIENT_SOURCES, after=p.t_fault)
                if e.data.get("dir") == "sent" and str(e.data.get("payload", "")).startswith("4")]
    # the pong must come from the session that carried the burst's last part, on the page it lives on
    return bool(carried) and v.pong_after(sid, max(max(carried), _connects(v)[-1].t)) is not None


def _no_socket(v: CellView) -> bool:
    """The client made no Socket.IO socket at all (asked after `open`: the page has loaded and its scripts ran)."""
    return not any(e.src in CLIENT_SOURCES and (e.kind.startswith(("sio.", "singleton.", "ws."))
                                                or e.kind.startswith("http.") and v.is_socketio(e))
                   for e in v.events)


@milestone("socket_in_console", "the page's console shows a problem (an error or a warning) that comes from its "
                                "Socket.IO socket; a page that made no socket has none to wait for (asked after "
                                "`open`, when the page has loaded and its scripts have run)")
def socket_in_console(v: CellView, p: Progress) -> bool:
    from .page import _from_socket

    if _no_socket(v):
        return True
    return any(e.data.get("level") in ("error", "warning") and not str(e.data.get("url", "")).startswith("siolab:")
               and _from_socket(e) for e in v.of("console", src="browser"))


@milestone("ws_settled", "(a plain WebSocket page, plain_ws_app) after the fault the page is ready on a new session "
                         "or gave up, and nothing more follows; or it reconnects to its expired session again and "
                         "again (closed 1008 twice on the same session: it never logs in anew) and the attempts' "
                         "count window (ws_attempts, from the fault) is over")
def ws_settled(v: CellView, p: Progress) -> bool:
    from .plain_ws import WINDOW_S, _recovery

    if p.t_fault is None or v.t_fault is None:
        return False
    if _recovery(v) is not None or v.of("app.ws.gave_up", src="browser", after=v.t_fault):
        return True
    expired: dict = {}
    for e in v.of("app.ws.close", src="browser", after=v.t_fault):
        if e.data.get("code") == 1008:
            expired[e.data.get("session_no")] = expired.get(e.data.get("session_no"), 0) + 1
    looping = any(n >= 2 for n in expired.values())
    return looping and any(e.t > v.t_fault + WINDOW_S for e in v.of("app.ws.attempt", src="browser"))


@milestone("heartbeat", "the client has answered a ping of the server on the session it holds: its pong went out "
                        "(a WebSocket frame, or a polling POST that was answered); the session has been through "
                        "one heartbeat, as any session that has been open a while")
def heartbeat(v: CellView, p: Progress) -> bool:
    sid = _current_sid(v)
    if sid is None:
        return False
    return v.pong_after(sid, _connects(v)[-1].t) is not None


def _closed_by_client(v: CellView) -> bool:
    """The browser closed the Engine.IO session it last opened: a close packet (POST `1`) or its WebSocket closed
    with the sid, and nothing with the sid still pending. A client that closed its session has nothing to retry."""
    reqs = [e for e in v.of("http.request", src=CLIENT_SOURCES) if e.data.get("sid")]
    opened = [e for e in v.of("ws.open", src=CLIENT_SOURCES) if e.data.get("sid")]
    last = max(reqs + opened, key=lambda e: e.t, default=None)
    if last is None:
        return False
    sid = last.data["sid"]
    mine = [e for e in reqs if e.data["sid"] == sid]
    if any(v.outcome(e) is None for e in mine):
        return False
    urls = {e.data.get("url") for e in opened if e.data["sid"] == sid}
    ended = {e.data.get("url") for kind in ("ws.close", "ws.error") for e in v.of(kind, src=CLIENT_SOURCES)}
    if not urls <= ended:
        return False
    close_packet = any(e.data.get("method") == "POST" and "1" in str(e.data.get("body", "")).split("\x1e") for e in mine)
    return close_packet or bool(urls)


@milestone("decided", "the client's connection attempt is decided: it holds a session in its steady state (a Python "
                      "client: connected, for connect() returns only after its upgrade was tried), or it was refused "
                      "for good: refused twice (it retried and was refused again), a Python client's first connect() "
                      "failed (python-socketio does not retry it), or the browser closed the refused Engine.IO session "
                      "itself (nothing left to retry)")
def decided(v: CellView, p: Progress) -> bool:
    if steady(v, p):
        return True
    if v.of("sio.connect", src="pyclient"):
        return True
    errors = v.of("sio.connect_error", src=CLIENT_SOURCES)
    if len(errors) >= 2 or any(e.data.get("initial") for e in errors):
        return True
    return bool(errors) and _closed_by_client(v)


@milestone("broadcast_delivered", "the client's `broadcast` emit came back to the client and reached every connected "
                                  "witness; at once when the client emitted none (a browser cell) or could not (not "
                                  "connected). A witness that never gets it (no message queue) ends the wait by its timeout")
def broadcast_delivered(v: CellView, p: Progress) -> bool:
    emits = [e for e in v.of("sio.emit", src=CLIENT_SOURCES) if e.data.get("event") == "broadcast"]
    if not emits:
        return True
    got = lambda src: [e for e in v.of("sio.event", src=src) if e.data.get("event") == "broadcast"]
    witnesses = {e.data.get("witness") for e in v.of("sio.connect", src="witness")}
    return bool(got(CLIENT_SOURCES)) and witnesses <= {e.data.get("witness") for e in got("witness")}


def _pings(v: CellView, after: float) -> list:
    """Pings that reached the client after `after`: WebSocket frames `2`, or `2` packets in polling answers (a Python
    client's WebSocket frames are not recorded)."""
    frames = [e for e in v.of("ws.frame", src=CLIENT_SOURCES, after=after)
              if e.data.get("dir") == "received" and e.data.get("payload") == "2"]
    polls = [e for e in v.of("http.response", src=CLIENT_SOURCES, after=after)
             if "2" in str(e.data.get("body") or "").split("\x1e")]
    return frames + polls


@milestone("held", "the fault is over, the client kept the session it held at the fault, and two pings reached it "
                   "after the fault ended (the server still held the session one ping interval later; the client's own "
                   "ping timer was reset): no drop can still come from the fault. Never for a Python client on WebSocket, "
                   "whose frames are not recorded")
def held(v: CellView, p: Progress) -> bool:
    if p.t_fault is None or v.drops(after=p.t_fault):
        return False
    ends = [e for e in v.of("fault", src="harness", after=p.t_fault) if e.data.get("phase") == "end"]
    return bool(ends) and len(_pings(v, ends[-1].t)) >= 2


@milestone("weathered", "the fault's outcome is decided: settled (the client lost its session, reconnected, and "
                        "nothing with the old sid can still be answered), or held (it kept its session past the fault)")
def weathered(v: CellView, p: Progress) -> bool:
    return settled(v, p) or held(v, p)


@milestone("tick_delivered", "since the latest fault (before any: since the start), every socket the page holds is "
                             "connected on a new session, on the WebSocket unless the cell polls, and a `tick` the server "
                             "logged after its connect lines of all of them has reached the page on each (setting "
                             "tick_ms): the round's deliveries are countable, and a next fault meets steady sessions")
def tick_delivered(v: CellView, p: Progress) -> bool:
    return tick_reached_all(v, p.t_fault, p.transport)
