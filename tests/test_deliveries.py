"""Deliveries of one server emit per round between faults (harness/checks/deliveries.py), over small recorded
timelines: what the page's handlers did, what each session received on the wire, what the server logged, and the
milestone `tick_delivered` the scenario's steps wait on."""
from __future__ import annotations

from harness.checks import measure
from harness.checks.milestones import Progress, reached
from harness.core.timeline import Event

WS = "ws://127.0.0.1:1/socket.io/?EIO=4&transport=websocket&sid="


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def log(t, line):
    return ev(t, "server", "log", name="server-node", stream="stderr", line=f"2026-12-06 INFO siolab.node: {line}")


class Page:
    """A page and its server, written round by round: each round connects the page's sockets on new sessions, the
    server ticks, and the page's handlers run `calls` times per socket for each tick."""

    def __init__(self, sockets=1):
        self.events, self.t, self.n, self.sockets = [], 0.0, 0, sockets
        for s in range(1, sockets + 1):
            self.add("browser", "sio.socket", socket=s, by="getAppSocket" if s == 1 else f"mount {s}")
        self.sids: dict[int, str] = {}

    def add(self, src, kind, **data):
        self.t = round(self.t + 0.01, 3)
        self.events.append(ev(self.t, src, kind, **data))

    def line(self, text):
        self.t = round(self.t + 0.01, 3)
        self.events.append(log(self.t, text))

    def connect(self, socket, sid, upgrade=True):
        self.sids[socket] = sid
        self.line(f"connect sid=S{sid} eio_sid={sid} namespace=/ user=lab-user")
        self.add("browser", "sio.connect", sid=f"S{sid}", eio_sid=sid, transport="polling", namespace="/", socket=socket)
        if upgrade:
            self.add("browser", "sio.upgrade", transport="websocket", socket=socket)

    def tick(self, calls, copies=1, to=None):
        """The server ticks; each socket's session receives it `copies` times, and the page's handlers run `calls`
        times for each socket (`to`: only these sockets get it)."""
        self.n += 1
        self.line(f"tick n={self.n}")
        for socket, sid in self.sids.items():
            if to is not None and socket not in to:
                continue
            for _ in range(copies):
                self.add("browser", "ws.frame", url=WS + sid, dir="received", payload=f'42["tick",{{"n":{self.n}}}]')
            for _ in range(calls):
                self.add("browser", "sio.event", event="tick", n=self.n, namespace="/", socket=socket, eio_sid=sid)

    def fault(self):
        self.add("harness", "fault", name="proxy-down", phase="begin", down_s=0)
        for socket, sid in self.sids.items():
            self.add("browser", "sio.disconnect", reason="transport close", namespace="/", socket=socket)
            self.line(f"disconnect sid=S{sid} namespace=/ reason=transport close")
        self.add("harness", "fault", name="proxy-down", phase="end")

    def figures(self):
        return {k: f.value for k, f in measure(self.events).items()}


def in_connect_page(rounds=4, wire=1):
    """A page whose handlers are registered inside `connect`: one more call per tick after each reconnect."""
    page = Page()
    for r in range(rounds):
        if r:
            page.fault()
        page.connect(1, f"A{r}")
        page.tick(calls=r + 1, copies=wire)
        page.tick(calls=r + 1, copies=wire)
    return page


def test_handlers_in_connect_grow_with_each_reconnect_while_the_wire_carries_one_copy():
    got = in_connect_page().figures()
    assert got["reconnects"] == 3 and got["connects_per_socket"] == 4
    assert got["tick_calls_by_round"] == [1, 2, 3, 4]
    assert (got["tick_calls_before"], got["tick_calls_after"]) == (1, 4)
    assert got["wire_copies_per_session"] == 1 and got["server_emits_per_tick"] == 1
    assert got["page_sockets_open"] == 1 and got["server_sessions_open"] == 1


def test_a_server_that_sent_twice_is_seen_on_the_wire():
    got = in_connect_page(wire=2).figures()
    assert got["wire_copies_per_session"] == 2


def test_a_double_mount_holds_two_sockets_each_getting_each_tick_once():
    page = Page(sockets=2)
    for r in range(3):
        if r:
            page.fault()
        page.connect(1, f"A{r}")
        page.connect(2, f"B{r}")
        page.tick(calls=1)
    got = page.figures()
    assert got["tick_calls_by_round"] == [2, 2, 2] and got["reconnects"] == 2
    assert got["page_sockets_open"] == 2 and got["server_sessions_open"] == 2
    assert got["wire_copies_per_session"] == 1


def test_a_tick_cut_off_by_the_next_fault_does_not_lower_the_round():
    page = Page(sockets=2)
    page.connect(1, "A0")
    page.connect(2, "B0")
    page.tick(calls=1)
    page.tick(calls=1, to={1})          # the fault began before it reached socket 2
    page.fault()
    page.connect(1, "A1")
    page.connect(2, "B1")
    page.tick(calls=1)
    assert page.figures()["tick_calls_by_round"] == [2, 2]


def test_a_round_counts_only_once_every_socket_is_back_and_only_ticks_after_the_server_connected_them():
    page = Page(sockets=2)
    page.connect(1, "A0")
    page.connect(2, "B0")
    page.tick(calls=1)
    page.fault()
    page.connect(1, "A1")
    page.sids.pop(2)
    page.tick(calls=1)                  # socket 2 is not back: this tick is not the round's
    got = page.figures()
    assert got["reconnects"] == 0 and got["tick_calls_by_round"] == [2, None] and got["tick_calls_after"] is None
    page.connect(2, "B1")
    page.tick(calls=1)
    got = page.figures()
    assert got["reconnects"] == 1 and got["tick_calls_by_round"] == [2, 2]


def test_a_stale_session_the_server_still_holds_is_counted():
    page = in_connect_page(rounds=2)
    # the server never logged the first session's end
    page.events = [e for e in page.events if "disconnect sid=SA0" not in str(e.data.get("line", ""))]
    assert page.figures()["server_sessions_open"] == 2


def test_without_a_fault_there_is_no_after():
    page = Page()
    page.connect(1, "A0")
    page.tick(calls=1)
    got = page.figures()
    assert got["reconnects"] is None and got["tick_calls_after"] is None and got["tick_calls_before"] == 1


def _delivered(page, t_fault=None, transport="default"):
    return reached("tick_delivered", page.events, Progress(transport=transport, t_fault=t_fault))


def test_milestone_waits_for_every_socket_on_the_websocket_and_a_tick_on_each_session():
    page = Page(sockets=2)
    assert not _delivered(page)
    page.connect(1, "A0")
    page.connect(2, "B0", upgrade=False)
    page.tick(calls=1, to={1})
    assert not _delivered(page, transport="polling")  # the tick reached socket 1's session only
    page.tick(calls=1)
    assert not _delivered(page)                       # on both now, but socket 2 still polls
    assert _delivered(page, transport="polling")      # which is its steady state when the cell polls
    page.add("browser", "sio.upgrade", transport="websocket", socket=2)
    assert _delivered(page)


def test_milestone_after_a_fault_needs_the_new_sessions():
    page = Page()
    page.connect(1, "A0")
    page.tick(calls=1)
    assert _delivered(page)
    t_fault = page.t + 0.001
    page.fault()
    assert not _delivered(page, t_fault)
    page.connect(1, "A1")
    assert not _delivered(page, t_fault)              # back, but no tick since the server connected it
    page.tick(calls=2)
    assert _delivered(page, t_fault)
