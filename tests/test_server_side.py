"""server_disconnect_reason: the server's own word on the client's session, from its log lines."""
from __future__ import annotations

from harness.checks import measure
from harness.core.timeline import Event


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def log(t, line):
    return ev(t, "server", "log", name="server-gevent", stream="stderr", line=f"2026-11-22 INFO siolab.reference: {line}")


def timeline(*during, after=()):
    return [
        log(1.0, "connect sid=AAA eio_sid=old-page namespace=/ user=lab-user"),  # a page navigated away from
        log(1.2, "connect sid=BBB eio_sid=held namespace=/ user=lab-user"),
        ev(1.21, "browser", "sio.connect", sid="BBB", eio_sid="held", transport="polling", namespace="/"),
        ev(2.0, "harness", "fault", name="proxy-toxic", phase="begin"),
        *during,
        ev(5.0, "harness", "fault", name="proxy-toxic", phase="end"),
        *after,
    ]


def reason(events):
    return measure(events)["server_disconnect_reason"].value


def test_the_held_session_s_reason_while_the_fault_lasts():
    assert reason(timeline(log(3.0, "disconnect sid=BBB namespace=/ reason=ping timeout"))) == "ping timeout"
    # node's and aiohttp's lines have the same shape
    assert reason(timeline(log(3.0, "disconnect sid=BBB namespace=/ reason=transport close"))) == "transport close"


def test_another_session_a_namespace_or_the_teardown_are_not_the_client_s():
    assert reason(timeline(log(2.8, "disconnect sid=AAA namespace=/ reason=ping timeout"))) is None
    assert reason(timeline(log(2.9, "disconnect sid=BBB namespace=/chat reason=ping timeout"))) is None
    assert reason(timeline(after=[log(9.0, "disconnect sid=BBB namespace=/ reason=transport close")])) is None


def test_no_fault_no_reason():
    events = [e for e in timeline(log(3.0, "disconnect sid=BBB namespace=/ reason=ping timeout")) if e.kind != "fault"]
    assert reason(events) is None


def drop_reason(events):
    return measure(events)["server_drop_reason"].value


def test_the_drop_reason_is_read_until_the_client_is_back():
    """A client's own emit (client-emit) ends as its library returns, before the server has read it: the
    server's word on the held session counts until the client is on a new one, not until the fault ends."""
    dropped = log(5.5, "disconnect sid=BBB namespace=/ reason=server disconnect")
    lost = ev(5.6, "browser", "sio.disconnect", reason="transport close")
    back = ev(6.0, "browser", "sio.connect", sid="CCC", eio_sid="new", transport="polling", namespace="/")
    assert drop_reason(timeline(after=[dropped, lost, back])) == "server disconnect"
    assert reason(timeline(after=[dropped, lost, back])) is None       # after the fault's end: not the fault's
    # the held session ended only after the client was back: not what it lost
    late = log(7.0, "disconnect sid=BBB namespace=/ reason=transport close")
    assert drop_reason(timeline(after=[lost, back, late])) is None
    # never back (python-socketio after a server disconnect): the whole cell
    assert drop_reason(timeline(after=[dropped, lost])) == "server disconnect"
    # the client kept its session: the teardown's close is no drop
    assert drop_reason(timeline(after=[late])) is None
