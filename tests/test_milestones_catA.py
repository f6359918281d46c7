"""The milestones and the stall figure that the scenarios of category A wait on and judge with."""
from __future__ import annotations

from harness.checks import measure
from harness.checks.milestones import Progress, reached
from harness.core.timeline import Event


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def test_attempt_over_on_connect_or_connect_error():
    p = Progress()
    assert not reached("attempt_over", [ev(0.1, "harness", "server.up")], p)
    assert reached("attempt_over", [ev(0.2, "pyclient", "sio.connect", eio_sid="a", transport="websocket")], p)
    assert reached("attempt_over", [ev(5.0, "pyclient", "sio.connect_error", message="timed out", initial=True)], p)
    # A witness's connect is not the cell's client.
    assert not reached("attempt_over", [ev(0.2, "witness", "sio.connect", eio_sid="w")], p)


def refused_after_restart(refusals: int):
    events = [
        ev(1.0, "pyclient", "sio.connect", eio_sid="old", transport="websocket"),
        ev(2.0, "harness", "fault", name="restart", phase="begin"),
        ev(2.1, "pyclient", "sio.disconnect", reason="transport error"),
        ev(2.2, "harness", "server.down", name="s"),
        ev(2.3, "pyclient", "sio.connect_error", message="refused while down"),
        ev(4.0, "harness", "server.up", name="s"),
    ]
    return events + [ev(4.1 + i, "pyclient", "sio.connect_error", message="Connection rejected by server")
                     for i in range(refusals)]


def test_reconnect_decided_by_two_refusals_of_the_server_that_answers_again():
    p = Progress(t_fault=2.0)
    assert not reached("reconnect_decided", refused_after_restart(1), p)   # one while down does not count
    assert reached("reconnect_decided", refused_after_restart(2), p)
    back = refused_after_restart(0) + [ev(4.2, "pyclient", "sio.connect", eio_sid="new", transport="websocket")]
    assert reached("reconnect_decided", back, p)
    assert not reached("reconnect_decided", refused_after_restart(2), Progress())   # no fault yet


def stall(drop_at: float):
    return [
        ev(1.0, "pyclient", "sio.connect", eio_sid="old", transport="polling"),
        ev(2.0, "harness", "fault", name="stall", phase="begin"),
        ev(drop_at, "pyclient", "sio.disconnect", reason="transport error"),
        ev(7.0, "harness", "fault", name="stall", phase="end"),
    ]


def test_disconnect_vs_resume_is_the_order_of_the_drop_and_the_fault_end():
    assert measure(stall(3.5))["disconnect_vs_resume"].value == "before"
    assert measure(sorted(stall(7.1), key=lambda e: e.t))["disconnect_vs_resume"].value == "after"
    assert measure(stall(7.1)[:2])["disconnect_vs_resume"].value is None
