"""The milestones 'decided', 'broadcast_delivered', 'held' and 'weathered' over hand-written timelines."""
from __future__ import annotations

from harness.checks.milestones import Progress, reached
from harness.core.timeline import Event

SID = "s1"


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def test_decided_refused_twice_not_once():
    once = [ev(1.0, "browser", "http.request", id=1, method="GET", url="http://h/ws/?EIO=4&transport=polling"),
            ev(1.1, "browser", "http.response", id=1, method="GET", status=404),
            ev(1.1, "browser", "sio.connect_error", message="xhr poll error")]
    assert not reached("decided", once, Progress("default"))
    twice = once + [ev(1.7, "browser", "sio.connect_error", message="xhr poll error")]
    assert reached("decided", twice, Progress("default"))


def test_decided_python_first_connect_failed():
    events = [ev(1.0, "pyclient", "sio.connect_error", message="Unexpected status code 404", initial=True)]
    assert reached("decided", events, Progress("default"))


def test_decided_namespace_refused_then_session_closed_by_client():
    ws = f"ws://h/socket.io/?EIO=4&transport=websocket&sid={SID}"
    events = [
        ev(1.0, "browser", "http.request", id=1, method="GET", url="http://h/socket.io/?EIO=4&transport=polling"),
        ev(1.1, "browser", "http.response", id=1, method="GET", status=200, body='0{"sid":"s1"}'),
        ev(1.2, "browser", "http.request", id=2, method="POST", sid=SID, body="40/admin,"),
        ev(1.2, "browser", "ws.open", url=ws, sid=SID),
        ev(1.3, "browser", "http.response", id=2, method="POST", sid=SID, status=200),
        ev(1.3, "browser", "sio.connect_error", message="Invalid namespace", namespace="/admin"),
    ]
    assert not reached("decided", events, Progress("default"))      # the session is still open: it may retry
    closed = events + [ev(1.4, "browser", "http.request", id=3, method="POST", sid=SID, body="1"),
                       ev(1.5, "browser", "http.response", id=3, method="POST", sid=SID, status=200),
                       ev(1.5, "browser", "ws.close", url=ws, sid=SID)]
    assert reached("decided", closed, Progress("default"))


def test_decided_python_connected():
    events = [ev(1.0, "pyclient", "sio.connect", sid="x", eio_sid=SID, transport="polling")]
    assert reached("decided", events, Progress("default"))


def test_broadcast_delivered_waits_for_every_witness():
    base = [ev(0.5, "witness", "sio.connect", eio_sid="w0", witness=0),
            ev(0.5, "witness", "sio.connect", eio_sid="w1", witness=1),
            ev(1.0, "pyclient", "sio.emit", event="broadcast"),
            ev(1.0, "witness", "sio.event", event="broadcast", witness=0),   # before the emit was recorded
            ev(1.01, "pyclient", "sio.event", event="broadcast")]
    assert not reached("broadcast_delivered", base, Progress())
    assert reached("broadcast_delivered", base + [ev(1.02, "witness", "sio.event", event="broadcast", witness=1)],
                   Progress())
    assert reached("broadcast_delivered", [ev(1.0, "browser", "sio.connect", eio_sid=SID)], Progress())


def _ping_frame(t):
    return ev(t, "browser", "ws.frame", url="ws://h", dir="received", payload="2")


def test_held_needs_two_pings_after_the_fault_ended():
    events = [ev(1.0, "browser", "sio.connect", eio_sid=SID, transport="websocket"),
              ev(2.0, "harness", "fault", phase="begin"),
              _ping_frame(3.0),
              ev(5.0, "harness", "fault", phase="end"),
              _ping_frame(5.5)]
    p = Progress("websocket", t_fault=2.0)
    assert not reached("held", events, p)
    assert reached("held", events + [_ping_frame(6.5)], p)
    assert reached("weathered", events + [_ping_frame(6.5)], p)
    dropped = events + [ev(4.0, "browser", "sio.disconnect", reason="ping timeout"), _ping_frame(6.5)]
    assert not reached("held", dropped, p)


def test_held_counts_polling_pings():
    events = [ev(1.0, "pyclient", "sio.connect", eio_sid=SID, transport="polling"),
              ev(2.0, "harness", "fault", phase="begin"),
              ev(5.0, "harness", "fault", phase="end"),
              ev(5.5, "pyclient", "http.response", id="a", sid=SID, status=200, body="2"),
              ev(6.5, "pyclient", "http.response", id="b", sid=SID, status=200, body="42[\"x\"]\x1e2")]
    assert reached("held", events, Progress("polling", t_fault=2.0))
