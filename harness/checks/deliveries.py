"""Deliveries of one server emit (the opt-in `tick`, setting tick_ms), counted three ways after each reconnect:
what the server logged, what reached each Engine.IO session on the wire, and how many times the page's code
ran for it (duplicate-handlers).

A cell's faults cut it into rounds: round 0 before the first fault, round r after the r-th. In each round the
page's sockets come back (a connect with a new sid); the ticks the server logged after its own connect lines of
all those sessions (one log, so its order is exact) are the round's counted ticks, and each counts:
  - handler calls: the page's `sio.event` reports for that tick (one per call of a handler);
  - wire copies: the tick's packets each session received (WebSocket frames and polling answers with its sid);
  - server lines: the server's `tick n=` lines for it.
A tick emitted as the next fault began may reach a socket only partly; a round's figure is its counted ticks'
largest, which no partial delivery can raise.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..core.app_log import CONNECT, DISCONNECT, TICK
from ..core.protocol import split_payload
from ..core.timeline import Event
from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView
from .numbered_emits import number_of

PAGE_CLOSED = "io client disconnect"      # the page closed the socket itself (a fixed singleton's reset)


def tick_number(e: Event) -> int | None:
    """The number of a `tick` the client reported (`sio.event`): the page reports `n`, python-socketio its args."""
    key = number_of(e, "tick")
    return key[1] if key else None


def _socket(e: Event):
    """The page's number for the socket an event is about (a client with one socket reports none: 1)."""
    return e.data.get("socket", 1)


@dataclass
class Round:
    """One stretch between faults: the page's sessions in it and the ticks counted for them."""

    index: int
    start: float                    # the fault's begin (0 for round 0)
    end: float                      # the next fault's begin, or the end of the timeline
    sessions: dict                  # page socket -> the Engine.IO sid it connected with in this round
    back: bool                      # every socket the page holds connected in this round, each on a new sid
    on_websocket: bool              # each of those sessions is on the WebSocket (connected over one, or upgraded)
    ticks: list[tuple[Event, int]]  # the server's tick lines after its connect lines of all `sessions`


def _fault_begins(v: CellView) -> list[float]:
    return [e.t for e in v.of("fault", src="harness") if e.data.get("phase") == "begin"]


def _live_sockets(v: CellView, start: float, end: float) -> set:
    """The page's sockets made before `end` that it had not closed itself before `start`."""
    made = {_socket(e) for e in v.of("sio.socket", src=CLIENT_SOURCES, before=end)}
    made |= {_socket(e) for e in v.of("sio.connect", src=CLIENT_SOURCES, before=end) if e.data.get("eio_sid")}
    closed = {_socket(e) for e in v.of("sio.disconnect", src=CLIENT_SOURCES, before=start)
              if PAGE_CLOSED in str(e.data.get("reason"))}
    return made - closed


def _server_connects(v: CellView) -> dict[str, Event]:
    """Engine.IO sid -> the server's log line connecting it to `/`."""
    out = {}
    for e in v.of("log", src="server"):
        if m := CONNECT.search(str(e.data.get("line", ""))):
            out.setdefault(m.group("eio"), e)
    return out


def rounds(v: CellView, begins: list[float] | None = None) -> list[Round]:
    """The cell's rounds, each with its sessions and its counted ticks (see the module's docstring)."""
    begins = _fault_begins(v) if begins is None else begins
    bounds = [0.0] + begins
    last_t = v.events[-1].t if v.events else 0.0
    server_connects = _server_connects(v)
    server_logs = v.of("log", src="server")
    position = {id(e): i for i, e in enumerate(server_logs)}
    out = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else max(last_t, start)
        before = {e.data["eio_sid"] for e in v.of("sio.connect", src=CLIENT_SOURCES, before=start) if e.data.get("eio_sid")}
        sessions, connected = {}, {}
        for e in v.of("sio.connect", src=CLIENT_SOURCES, after=start, before=end):
            sid = e.data.get("eio_sid")
            if sid and (i == 0 or sid not in before):
                sessions[_socket(e)], connected[_socket(e)] = sid, e
        live = _live_sockets(v, start, end)
        back = bool(live) and live <= set(sessions)
        upgraded = {_socket(e) for e in v.of("sio.upgrade", src=CLIENT_SOURCES, after=start, before=end)
                    if e.data.get("transport") == "websocket" and e.t >= connected.get(_socket(e), e).t}
        on_websocket = bool(sessions) and all(e.data.get("transport") == "websocket" or s in upgraded
                                              for s, e in connected.items())
        ticks: list[tuple[Event, int]] = []
        lines = [server_connects.get(sid) for sid in sessions.values()]
        if back and all(lines):
            # the server's own order: its tick lines after the last of its connect lines for these sessions
            after = max(position[id(line)] for line in lines)
            ticks = [(e, int(m.group("n"))) for e in server_logs[after + 1:]
                     if e.t <= end and (m := TICK.search(str(e.data.get("line", ""))))]
        out.append(Round(i, start, end, sessions, back, on_websocket, ticks))
    return out


def handler_calls(v: CellView, r: Round) -> dict[int, list[Event]]:
    """Each counted tick's number -> the page's reports of a handler call for it (in the round)."""
    calls: dict[int, list[Event]] = {n: [] for _, n in r.ticks}
    for e in v.of("sio.event", src=CLIENT_SOURCES, after=r.start):
        n = tick_number(e)
        if n in calls:
            calls[n].append(e)
    return calls


def round_calls(v: CellView, r: Round) -> Finding:
    """The round's calls per tick: the most handler calls one counted tick got (None: no counted tick)."""
    calls = handler_calls(v, r)
    if not calls:
        return Finding(None)
    n, got = max(calls.items(), key=lambda kv: len(kv[1]))
    line = next(e for e, m in r.ticks if m == n)
    return Finding(len(got), [line] + got[:4])


def _tick_packets(body: str) -> list[int]:
    """The tick numbers in Engine.IO packets on `/` (`42["tick",{"n":5}]`)."""
    out = []
    for packet in split_payload(body):
        if not packet.startswith("42["):
            continue
        try:
            args = json.loads(packet[2:])
        except ValueError:
            continue
        if isinstance(args, list) and len(args) >= 2 and args[0] == "tick" and isinstance(args[1], dict) \
                and isinstance(args[1].get("n"), int):
            out.append(args[1]["n"])
    return out


def wire_copies(v: CellView) -> dict[tuple[str, int], list[Event]]:
    """(Engine.IO sid, tick number) -> the received frames and polling answers that carried it. A WebSocket
    opened without a sid (websocket-only) cannot be told from another one of the page's: left out."""
    out: dict[tuple[str, int], list[Event]] = {}
    for e in v.of("ws.frame", src=CLIENT_SOURCES):
        sid = parse_qs(urlsplit(str(e.data.get("url", ""))).query).get("sid", [None])[0]
        if sid and e.data.get("dir") == "received":
            for n in _tick_packets(str(e.data.get("payload") or "")):
                out.setdefault((sid, n), []).append(e)
    for e in v.of("http.response", src=CLIENT_SOURCES):
        if e.data.get("sid") and e.data.get("method") == "GET" and e.data.get("status") == 200:
            for n in _tick_packets(str(e.data.get("body") or "")):
                out.setdefault((e.data["sid"], n), []).append(e)
    return out


@metric("reconnects", "faults after which every socket the page holds came back on a new Engine.IO session "
                      "before the next fault (the rounds after round 0 that are complete)")
def reconnects(v: CellView) -> Finding:
    rs = rounds(v)
    if len(rs) < 2:
        return Finding(None)
    back = [r for r in rs[1:] if r.back]
    return Finding(len(back), [v.of("sio.connect", src=CLIENT_SOURCES, after=r.start)[0] for r in back][:3])


@metric("connects_per_socket", "the most connects (each on a new Engine.IO session) one of the page's sockets made: "
                               "its first and every reconnect, the faults' and any other")
def connects_per_socket(v: CellView) -> Finding:
    per: dict = {}
    for e in v.of("sio.connect", src=CLIENT_SOURCES):
        if e.data.get("eio_sid"):
            per.setdefault(_socket(e), {}).setdefault(e.data["eio_sid"], e)
    if not per:
        return Finding(None)
    most = max(per.values(), key=len)
    return Finding(len(most), list(most.values())[:4])


@metric("tick_calls_by_round", "handler calls per tick in each round: before the first fault, then after each "
                               "reconnect (the most calls one counted tick got; None where no tick was counted)")
def tick_calls_by_round(v: CellView) -> Finding:
    rs = rounds(v)
    if not any(r.ticks for r in rs):
        return Finding(None)
    found = [round_calls(v, r) for r in rs]
    return Finding([f.value for f in found], [e for f in found for e in f.evidence[:2]])


@metric("tick_calls_before", "handler calls per tick before the first fault (round 0)")
def tick_calls_before(v: CellView) -> Finding:
    rs = rounds(v)
    return round_calls(v, rs[0]) if rs else Finding(None)


@metric("tick_calls_after", "handler calls per tick after the last fault's reconnect (the last round; None without a "
                            "fault or where it did not come back)")
def tick_calls_after(v: CellView) -> Finding:
    rs = rounds(v)
    return round_calls(v, rs[-1]) if len(rs) >= 2 else Finding(None)


@metric("wire_copies_per_session", "the most packets of one counted tick that one Engine.IO session received (its "
                                   "WebSocket frames and polling answers): what the server sent each socket")
def wire_copies_per_session(v: CellView) -> Finding:
    counted = {(sid, n) for r in rounds(v) for sid in r.sessions.values() for _, n in r.ticks}
    copies = {key: es for key, es in wire_copies(v).items() if key in counted}
    if not copies:
        return Finding(None)
    key, es = max(copies.items(), key=lambda kv: len(kv[1]))
    return Finding(len(es), es[:3], note=f"sid {key[0]}, tick {key[1]}")


@metric("server_emits_per_tick", "the most `tick n=` lines the server logged for one counted tick (one broadcast "
                                 "to every client of `/`)")
def server_emits_per_tick(v: CellView) -> Finding:
    counted = {n for r in rounds(v) for _, n in r.ticks}
    if not counted:
        return Finding(None)
    lines: dict[int, list[Event]] = {}
    for e in v.of("log", src="server"):
        if (m := TICK.search(str(e.data.get("line", "")))) and int(m.group("n")) in counted:
            lines.setdefault(int(m.group("n")), []).append(e)
    n, es = max(lines.items(), key=lambda kv: len(kv[1]))
    return Finding(len(es), es[:2])


def _last_counted(v: CellView) -> tuple[Round, int] | None:
    """The last round and its first counted tick that reached the page (None: none did)."""
    rs = rounds(v)
    if not rs:
        return None
    calls = handler_calls(v, rs[-1])
    reached = [n for _, n in rs[-1].ticks if calls.get(n)]
    return (rs[-1], reached[0]) if reached else None


@metric("page_sockets_open", "sockets the page held connected when the last round's first counted tick reached it "
                             "(its own reports: each socket's last connect or disconnect before that)")
def page_sockets_open(v: CellView) -> Finding:
    last = _last_counted(v)
    if last is None:
        return Finding(None)
    r, n = last
    t = max(e.t for e in handler_calls(v, r)[n])
    state: dict = {}
    for e in sorted(v.of("sio.connect", src=CLIENT_SOURCES, before=t) + v.of("sio.disconnect", src=CLIENT_SOURCES, before=t),
                    key=lambda e: e.t):
        state[_socket(e)] = e
    open_ = [e for e in state.values() if e.kind == "sio.connect"]
    return Finding(len(open_), open_[:3])


@metric("server_sessions_open", "sessions of `/` the server held (its connect lines without a disconnect line) when "
                                "it logged the last round's first counted tick that reached the page")
def server_sessions_open(v: CellView) -> Finding:
    last = _last_counted(v)
    if last is None:
        return Finding(None)
    r, n = last
    line = next(e for e, m in r.ticks if m == n)
    held: dict[str, Event] = {}
    for e in v.of("log", src="server"):
        if e is line:
            break
        text = str(e.data.get("line", ""))
        if m := CONNECT.search(text):
            held[m.group("sid")] = e
        elif m := DISCONNECT.search(text):
            held.pop(m.group("sid"), None)
    return Finding(len(held), list(held.values())[:3] + [line])


def tick_reached_all(v: CellView, t_fault: float | None, transport: str = "default") -> bool:
    """Since the latest fault (`t_fault`; before any, from the start), every socket the page holds is back, each
    session on the WebSocket unless the cell polls (a fault then meets sessions in their steady state: a closed
    WebSocket ends the server's session at once, a long-poll cut off does not), and a tick the server logged after
    its connect lines of all of them has reached the page on each of those sessions."""
    begins = [t for t in _fault_begins(v) if t_fault is None or t < t_fault] + ([t_fault] if t_fault is not None else [])
    r = rounds(v, begins)[-1]
    if not r.back or not r.ticks or transport != "polling" and not r.on_websocket:
        return False
    want = set(r.sessions.values())
    for got in handler_calls(v, r).values():
        sids = {e.data.get("eio_sid") for e in got}
        # a client that does not say which session a call came on (python-socketio) has one session
        if want <= sids or got and sids == {None} and len(want) == 1:
            return True
    return False
