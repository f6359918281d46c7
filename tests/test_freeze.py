"""A frozen client (fault `freeze-client`): the figures over small recorded timelines, and the fault's own
sequencing with the harness's plumbing faked (the clients it freezes, the timeline it waits on)."""
from __future__ import annotations

import threading
import time

import pytest

from harness.checks import measure
from harness.core.timeline import Event, Timeline
from harness.faults import build_fault

OPEN = '0{"sid":"held","upgrades":[],"pingInterval":1000,"pingTimeout":1000,"maxPayload":1000000}'


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def log(t, line):
    return ev(t, "server", "log", name="server-node", stream="stderr", line=f"2026-12-06 INFO siolab.node: {line}")


def frame(t, direction, payload):
    return ev(t, "browser", "ws.frame", url="ws://127.0.0.1:1/socket.io/?EIO=4&transport=websocket", dir=direction,
              payload=payload)


def tick_log(t, n):
    return log(t, f"tick n={n}")


def tick_got(t, n):
    return ev(t, "browser", "sio.event", event="tick", n=n, namespace="/")


def frozen_websocket(*extra, drop_at=3.2, thaw_at=3.25, sent_while_frozen=()):
    """A WebSocket client frozen at 1.0 (its last pong at 0.9), the server dropping it at `drop_at`, thawed at
    `thaw_at`; ticks 1..4 emitted while frozen, the client back on a new sid after the thaw."""
    events = [
        ev(0.0, "browser", "ws.open", url="ws://127.0.0.1:1/socket.io/?EIO=4&transport=websocket"),
        frame(0.01, "received", OPEN),
        log(0.02, "connect sid=S1 eio_sid=held namespace=/ user=lab-user"),
        ev(0.03, "browser", "sio.connect", sid="S1", eio_sid="held", transport="websocket", namespace="/"),
        frame(0.89, "received", "2"),
        frame(0.9, "sent", "3"),
        ev(0.95, "harness", "fault", name="freeze-client", phase="begin", max_s=8),
        ev(1.0, "harness", "client.frozen", how="Debugger.pause"),
        *sent_while_frozen,
        tick_log(1.2, 1), tick_log(1.7, 2), tick_log(2.2, 3), tick_log(2.7, 4),
        log(drop_at, "disconnect sid=S1 namespace=/ reason=ping timeout"),
        tick_log(drop_at + 0.01, 5),          # after the drop: not the frozen session's any more
        ev(thaw_at, "harness", "client.thawed", how="Debugger.resume"),
        ev(thaw_at + 0.05, "harness", "fault", name="freeze-client", phase="end"),
        *extra,
        log(4.0, "connect sid=S2 eio_sid=fresh namespace=/ user=lab-user"),
        ev(4.0, "browser", "sio.connect", sid="S2", eio_sid="fresh", transport="websocket", namespace="/"),
    ]
    return sorted(events, key=lambda e: e.t)


def test_a_frozen_client_the_server_drops_by_ping_timeout():
    f = measure(frozen_websocket(tick_got(3.3, 1), tick_got(3.31, 2),
                                 ev(3.32, "browser", "sio.disconnect", reason="ping timeout", namespace="/")))
    assert f["client_frozen"].value is True
    assert f["frozen_s"].value == 2.25
    assert f["server_disconnect_reason"].value == "ping timeout"
    assert f["server_dropped_while_frozen"].value is True
    # from the client's last pong (0.9), where the server's ping timer starts: not from the fault or the pause
    assert f["server_noticed_s"].value == 2.3
    assert [e.data.get("payload") for e in f["server_noticed_s"].evidence[:1]] == ["3"]
    assert f["server_notice_overshoot_s"].value == 0.3       # advertised 1000 + 1000 ms
    assert f["disconnect_reason"].value == "ping timeout"
    assert f["back_after_thaw_s"].value == 0.75
    assert f["ticks_while_frozen"].value == 4                # tick 5 came after the drop
    assert f["ticks_delivered_on_wake"].value == 2
    assert f["ticks_lost"].value == 2
    assert [e.data["line"].split(": ")[1] for e in f["ticks_lost"].evidence] == ["tick n=3", "tick n=4"]


def test_anything_sent_while_frozen_fails_the_premise():
    f = measure(frozen_websocket(sent_while_frozen=[frame(1.9, "sent", "3")]))
    assert f["client_frozen"].value is False
    assert [e.kind for e in f["client_frozen"].evidence] == ["client.frozen", "ws.frame", "client.thawed"]
    # a request is speaking too (polling)
    request = ev(2.0, "browser", "http.request", id="9", method="POST", path="/socket.io/", sid="held", body="3")
    assert measure(frozen_websocket(sent_while_frozen=[request]))["client_frozen"].value is False
    # what the page sent as it paused may be recorded a moment after the pause: not a failed freeze
    assert measure(frozen_websocket(sent_while_frozen=[frame(1.002, "sent", "3")]))["client_frozen"].value is True
    # the server noticed 1.2 s after that later pong
    assert measure(frozen_websocket(sent_while_frozen=[request]))["server_noticed_s"].value == 1.2


def test_a_server_that_only_notices_once_the_client_wakes():
    events = frozen_websocket(drop_at=9.5, thaw_at=9.0)
    f = measure(events)
    assert f["server_dropped_while_frozen"].value is False
    assert f["server_disconnect_reason"].value is None         # not while the fault lasted
    assert f["server_noticed_s"].value == 8.6
    assert f["server_notice_overshoot_s"].value == 6.6
    assert f["ticks_while_frozen"].value == 4                  # counted up to the thaw
    assert f["ticks_lost"].value == 4


def test_no_freeze_no_figures():
    events = [e for e in frozen_websocket() if not e.kind.startswith("client.")]
    f = measure(events)
    assert f["client_frozen"].value is False
    for name in ("frozen_s", "server_dropped_while_frozen", "back_after_thaw_s", "ticks_while_frozen", "ticks_lost"):
        assert f[name].value is None, name
    assert measure([e for e in events if e.kind != "fault"])["client_frozen"].value is None


def test_noticed_counts_from_the_last_pong_then_from_the_open_packet():
    polling = [
        log(0.02, "connect sid=S1 eio_sid=held namespace=/ user=lab-user"),
        ev(0.0, "browser", "http.response", id="1", method="GET", status=200, body=OPEN),
        ev(0.03, "browser", "sio.connect", sid="S1", eio_sid="held", transport="polling", namespace="/"),
        ev(0.5, "harness", "fault", name="freeze-client", phase="begin"),
        ev(0.6, "harness", "client.frozen"),
        log(2.4, "disconnect sid=S1 namespace=/ reason=ping timeout"),
        ev(2.5, "harness", "client.thawed"),
    ]
    # frozen before the first ping: the ping timer started with the session's open packet
    assert measure(polling)["server_noticed_s"].value == 2.4
    pong = [ev(0.3, "browser", "http.request", id="2", method="POST", path="/socket.io/", sid="held", body="3"),
            ev(0.45, "browser", "http.request", id="3", method="GET", path="/socket.io/", sid="held")]
    # a long-poll sent after the pong does not restart the ping timer
    assert measure(sorted(polling + pong, key=lambda e: e.t))["server_noticed_s"].value == 2.1


def test_a_late_connect_line_still_names_the_session():
    """The client may report its connect before the server's log line is read: the line after the fault counts."""
    events = frozen_websocket()
    late = [ev(0.97, "server", "log", **e.data) if ": connect sid=S1" in str(e.data.get("line")) else e for e in events]
    assert measure(sorted(late, key=lambda e: e.t))["server_noticed_s"].value == 2.3


def test_python_socketio_ticks_count_from_their_recorded_args():
    events = frozen_websocket(ev(3.3, "pyclient", "sio.event", event="tick", namespace="/", args="({'n': 2},)"))
    assert measure(events)["ticks_delivered_on_wake"].value == 1


# --- the fault, with the harness's plumbing faked


class FakeClient:
    def __init__(self, timeline, log):
        self.timeline, self.log = timeline, log

    def freeze(self, frozen):
        self.log.append("freeze" if frozen else "thaw")
        self.timeline.record("harness", "client.frozen" if frozen else "client.thawed", {})


class Topology:
    def __init__(self, *clients):
        self.clients = list(clients)


def test_the_freeze_ends_on_the_servers_drop_line():
    timeline, calls = Timeline(), []
    fault = build_fault({"type": "freeze-client", "max_s": 10})

    def server_drops_later():
        time.sleep(0.3)
        timeline.record("server", "log", {"line": "INFO siolab.node: tick n=3"})
        timeline.record("server", "log", {"line": "INFO siolab.node: disconnect sid=S namespace=/chat reason=x"})
        time.sleep(0.2)
        timeline.record("server", "log", {"line": "INFO siolab.node: disconnect sid=S namespace=/ reason=ping timeout"})

    threading.Thread(target=server_drops_later, daemon=True).start()
    started = time.monotonic()
    fault.inject(Topology(FakeClient(timeline, calls)), timeline)
    assert time.monotonic() - started < 5
    kinds = [e.kind for e in timeline.events if e.src == "harness"]
    assert kinds == ["fault", "client.frozen", "client.thawed", "fault"]
    drop = next(e for e in timeline.events if "namespace=/ reason" in e.data.get("line", ""))
    thawed = next(e for e in timeline.events if e.kind == "client.thawed")
    assert drop.t <= thawed.t and calls == ["freeze", "thaw"]


def test_the_freeze_is_bounded_and_always_thawed():
    timeline, calls = Timeline(), []
    started = time.monotonic()
    build_fault({"type": "freeze-client", "max_s": 0.3}).inject(Topology(FakeClient(timeline, calls)), timeline)
    assert 0.3 <= time.monotonic() - started < 3 and calls == ["freeze", "thaw"]


def test_a_client_that_cannot_be_frozen_fails_the_fault_and_thaws_the_others():
    class Unfreezable:
        def freeze(self, frozen):
            raise NotImplementedError("runs inside the harness")

    timeline, calls = Timeline(), []
    with pytest.raises(NotImplementedError):
        build_fault({"type": "freeze-client", "max_s": 5}).inject(
            Topology(FakeClient(timeline, calls), Unfreezable()), timeline)
    assert calls == ["freeze", "thaw"]
    assert [e.data.get("phase") for e in timeline.events if e.kind == "fault"] == ["begin", "end"]
