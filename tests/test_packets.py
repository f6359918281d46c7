"""A burst of events (too-many-packets): figures and the `burst_settled` milestone over timelines shaped like the
lab's recordings (gevent and Node, a page on polling), and the claims judged on them."""
from __future__ import annotations

from harness.checks import measure
from harness.checks.judge import NO_EVIDENCE, REFUTED, judge_claims
from harness.checks.milestones import Progress, reached
from harness.lab.scenario import Cell, Claim

from .test_checks import NEW, OLD, ev

SEP = "\x1e"
TRACEBACK = ["post request handler error", "Traceback (most recent call last):",
             "    raise ValueError('Too many packets in payload')", "ValueError: Too many packets in payload"]


def tally(n):
    return f'42["tally",{{"n":{n},"pad":"xxxxxxxx"}}]'


def session(sid=OLD, t=1.0, src="browser"):
    """Connected on polling, the long-poll open; the server reports max_decode_packets 16 at start."""
    return [
        ev(0.5, "harness", "server.up", name="s", max_decode_packets=16),
        ev(t, src, "sio.connect", eio_sid=sid, transport="polling"),
        ev(t + 0.1, src, "http.request", id=f"g{sid}", method="GET", path="/socket.io/", sid=sid),
    ]


def burst(count=50, lost=True, server="python"):
    """The page emits `count` tallies in one loop: the first goes alone, the rest in the next POST. python-engineio
    drops a batch of more than 16 and answers 200 `OK`; Node takes it (`ok`)."""
    rest = count - 1
    arrived = [0] if lost and rest > 16 else list(range(count))
    answer = "OK" if server == "python" else "ok"
    events = [
        ev(2.0, "harness", "fault", name="client-emit", phase="begin", count=count),
        ev(2.01, "browser", "http.request", id="b1", method="POST", path="/socket.io/", sid=OLD, body=tally(0), packets=1),
        ev(2.02, "browser", "http.response", id="b1", method="POST", sid=OLD, status=200, body=answer),
        ev(2.03, "browser", "http.request", id="b2", method="POST", path="/socket.io/", sid=OLD,
           body=SEP.join(tally(n) for n in range(1, count)), packets=rest),
        ev(2.04, "browser", "sio.burst", event="tally", count=count, bytes=8, connected=True, transport="polling",
           emitted=count),
        ev(2.05, "harness", "fault", name="client-emit", phase="end"),
        ev(2.06, "browser", "http.response", id="b2", method="POST", sid=OLD, status=200, body=answer),
    ]
    events += [ev(2.02 + n / 1000, "server", "log", line=f"INFO siolab.reference: tally sid=s1 n={n}") for n in arrived]
    if server == "python" and rest > 16:
        events += [ev(2.04, "server", "log", line=line) for line in TRACEBACK]
    return events


def pong(sid=OLD, t=3.0, src="browser", status=200):
    return [
        ev(t, src, "http.response", id=f"g{sid}", method="GET", sid=sid, status=200, body="2"),
        ev(t + 0.01, src, "http.request", id=f"p{sid}{t}", method="POST", path="/socket.io/", sid=sid, body="3", packets=1),
        ev(t + 0.02, src, "http.response", id=f"p{sid}{t}", method="POST", sid=sid, status=status, body="OK"),
    ]


def test_a_batch_over_the_limit_is_answered_200_and_lost_whole_while_the_session_goes_on():
    f = measure(session() + burst() + pong())
    assert f["burst_emitted"].value == 50 and f["burst_transport"].value == "polling"
    assert f["burst_connected"].value is True
    assert f["tallies_received"].value == 1 and f["tallies_lost"].value == 49
    assert f["largest_batch"].value == 49
    assert [e.data["id"] for e in f["largest_batch"].evidence] == ["b2"]
    assert f["largest_batch_status"].value == 200 and f["largest_batch_answer"].value == "OK"
    assert f["server_batch_error"].value == "post request handler error / ValueError: Too many packets in payload"
    assert f["session_kept"].value is True
    assert f["server_max_decode_packets"].value == 16


def test_node_takes_the_whole_batch():
    events = [e for e in session() if e.kind != "server.up"] + burst(server="node", lost=False) + pong()
    f = measure(events)
    assert f["tallies_received"].value == 50 and f["tallies_lost"].value == 0
    assert f["server_batch_error"].value is None and f["server_max_decode_packets"].value is None
    assert f["largest_batch_answer"].value == "ok"


def test_a_tally_logged_twice_counts_once():
    twice = session() + burst(count=10, lost=False) + [ev(2.5, "server", "log", line="tally sid=s1 n=3")]
    f = measure(twice + pong())
    assert f["tallies_received"].value == 10 and f["tallies_lost"].value == 0


def test_session_kept_waits_for_a_pong_after_the_batch_and_a_drop_is_false():
    unanswered = [e for e in session() + burst() if not (e.kind == "http.response" and e.data.get("id") == "b2")]
    assert measure(unanswered + pong())["session_kept"].value is None        # the batch's answer still to come
    assert measure(session() + burst())["session_kept"].value is None        # no heartbeat since
    early_pong = pong(t=1.5)                                                 # a pong before the burst decides nothing
    assert measure(session() + early_pong + burst())["session_kept"].value is None
    dropped = session() + burst() + [ev(2.5, "browser", "sio.disconnect", reason="transport error")]
    assert measure(dropped)["session_kept"].value is False


def test_no_burst_no_figures():
    f = measure(session() + pong())
    assert f["burst_emitted"].value is None and f["tallies_lost"].value is None
    assert f["largest_batch"].value is None and f["session_kept"].value is None


def offline(server="python"):
    """The path goes down, the page reports the drop and emits 30 while disconnected (buffered); it reconnects on a
    new sid and sends its buffer: the first alone, 29 in the next POST."""
    lost = server == "python"
    events = session() + [
        ev(2.0, "harness", "fault", name="offline-emit", phase="begin"),
        ev(2.01, "browser", "http.failed", id=f"g{OLD}", method="GET", sid=OLD, error="net::ERR_CONNECTION_REFUSED"),
        ev(2.02, "browser", "sio.disconnect", reason="transport error"),
        ev(2.03, "browser", "sio.burst", event="tally", count=30, bytes=8, connected=False, transport=None, emitted=30),
        ev(2.04, "harness", "fault", name="offline-emit", phase="end"),
        ev(2.5, "browser", "sio.connect", eio_sid=NEW, transport="polling"),
        ev(2.6, "browser", "http.request", id="f1", method="POST", path="/socket.io/", sid=NEW, body=tally(0), packets=1),
        ev(2.61, "browser", "http.response", id="f1", method="POST", sid=NEW, status=200, body="OK"),
        ev(2.62, "browser", "http.request", id="f2", method="POST", path="/socket.io/", sid=NEW,
           body=SEP.join(tally(n) for n in range(1, 30)), packets=29),
        ev(2.63, "browser", "http.response", id="f2", method="POST", sid=NEW, status=200, body="OK"),
        ev(2.64, "browser", "http.request", id=f"g{NEW}", method="GET", path="/socket.io/", sid=NEW),
    ]
    events += [ev(2.61 + n / 1000, "server", "log", line=f"tally sid=s2 n={n}") for n in ([0] if lost else range(30))]
    return events


def test_offline_burst_figures():
    f = measure(offline() + pong(sid=NEW, t=3.5))
    assert f["burst_connected"].value is False and f["burst_transport"].value is None
    assert f["tallies_lost"].value == 29 and f["largest_batch"].value == 29
    assert f["recovered"].value is True
    assert f["session_kept"].value is None          # it held no session at the burst
    assert measure(offline(server="node") + pong(sid=NEW, t=3.5))["tallies_lost"].value == 0


def upto(events, t):
    return [e for e in events if e.t <= t]


def test_burst_settled_waits_for_every_answer_then_a_pong_after_the_last():
    events = session() + burst() + pong()
    progress = Progress(transport="polling", t_fault=2.0)
    assert not reached("burst_settled", upto(events, 1.9), Progress(transport="polling"))
    assert not reached("burst_settled", upto(events, 2.05), progress)     # the batch's POST still unanswered
    assert not reached("burst_settled", upto(events, 2.06), progress)     # answered; no pong since
    assert not reached("burst_settled", upto(events, 3.01), progress)     # the pong sent, not yet answered
    assert reached("burst_settled", events, progress)


def test_burst_settled_after_an_outage_needs_the_flush_on_the_new_session():
    events = offline() + pong(sid=NEW, t=3.5)
    progress = Progress(transport="polling", t_fault=2.0)
    assert not reached("burst_settled", upto(events, 2.5), progress)      # reconnected, the buffer not sent yet
    assert not reached("burst_settled", upto(events, 2.64), progress)     # sent and answered; no pong since
    assert reached("burst_settled", events, progress)
    old_pong = offline() + pong(sid=OLD, t=3.5)                            # a pong with the old sid is not the session's
    assert not reached("burst_settled", old_pong, progress)


def test_burst_settled_at_once_when_the_library_took_nothing():
    refused = session(src="pyclient") + [
        ev(2.0, "harness", "fault", name="offline-emit", phase="begin"),
        ev(2.1, "pyclient", "sio.emit_failed", event="tally", error="BadNamespaceError: / is not a connected namespace."),
        ev(2.2, "pyclient", "sio.burst", event="tally", count=30, bytes=8, connected=False, transport=None, emitted=0),
    ]
    assert reached("burst_settled", refused, Progress(transport="polling", t_fault=2.0))
    assert measure(refused)["tallies_lost"].value == 0


REJECTED = Claim("rejected-visibly", "the server rejects an oversized batch with an error the client sees", {},
                 {"largest_batch_status": ">= 400"},
                 {"largest_batch_status": 200, "tallies_lost": ">= 1", "session_kept": True, "console_problems_socket": 0},
                 1, given={"server_max_decode_packets": 16, "largest_batch": "> 16", "burst_transport": "polling"})


def test_the_claim_is_refuted_by_a_silent_200_and_has_no_evidence_where_the_batch_fit():
    over, fit = Cell({"mode": "gevent", "client": "browser", "fault": "burst-50"}), \
        Cell({"mode": "gevent", "client": "browser", "fault": "burst-17"})
    cells = [(over, measure(session() + burst() + pong())), (fit, measure(session() + burst(count=17) + pong()))]
    (verdict,) = judge_claims(cells, [REJECTED], [over, fit])
    assert verdict.verdict == REFUTED
    assert verdict.cells == {over.id: REFUTED, fit.id: NO_EVIDENCE}       # 1 + 16: nothing over the limit
