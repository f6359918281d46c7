"""Milestones over hand-written timelines, premises in judging, and a run that an interrupt stops."""
from __future__ import annotations

import threading

import pytest

from harness.checks import measure
from harness.checks.judge import NO_EVIDENCE, REFUTED, SUPPORTED, check_expectations, judge_claims
from harness.checks.milestones import Progress, reached
from harness.lab.scenario import Cell, Claim, Expectation

from .test_checks import NEW, OLD, ev, incident_timeline


def upto(events, t):
    return [e for e in events if e.t <= t]


def polling_session(sid=OLD):
    """Handshake, connect, one answered poll, then the long-poll that waits for the ping."""
    return [
        ev(1.0, "browser", "http.request", id="h", method="GET", path="/socket.io/", sid=None),
        ev(1.1, "browser", "http.response", id="h", method="GET", sid=None, status=200),
        ev(1.2, "browser", "sio.connect", eio_sid=sid, transport="polling"),
        ev(1.3, "browser", "http.request", id="p1", method="GET", path="/socket.io/", sid=sid),
        ev(1.4, "browser", "http.response", id="p1", method="GET", sid=sid, status=200),
        ev(1.5, "browser", "http.request", id="p2", method="GET", path="/socket.io/", sid=sid),
    ]


def test_steady_on_polling_waits_for_the_long_poll():
    events = polling_session()
    progress = Progress(transport="polling")
    assert not reached("steady", upto(events, 1.2), progress)      # connected, nothing pending yet
    assert not reached("steady", upto(events, 1.4), progress)      # the first poll answered, none open
    assert reached("steady", events, progress)                     # the long-poll is open


def test_steady_with_the_upgrade_waits_for_the_websocket_or_its_refusal():
    events = polling_session()
    progress = Progress(transport="default")
    assert not reached("steady", events, progress)                 # still polling, upgrade not settled
    upgraded = events + [ev(1.6, "browser", "sio.upgrade", transport="websocket")]
    assert reached("steady", upgraded, progress)
    refused = events + [ev(1.6, "browser", "ws.error", url="ws://x/socket.io/?sid=" + OLD, sid=OLD, error="500")]
    assert reached("steady", refused, progress)                    # stays on polling, with the long-poll open


def test_steady_over_websocket_only_needs_the_websocket():
    events = [ev(1.0, "pyclient", "sio.connect", eio_sid=OLD, transport="websocket")]
    assert reached("steady", events, Progress(transport="websocket"))
    assert reached("steady", events, Progress(transport="default"))
    assert not reached("steady", [], Progress(transport="websocket"))


def test_steady_belongs_to_the_page_loaded_last():
    """A login page's socket connects, the lab opens the scenario's page: the login page's session,
    whose connect is still reported after the next load began, does not make the new page steady."""
    login = [ev(0.5, "browser", "http.request", id="d1", method="GET", path="/login", document=True)]
    login += polling_session(OLD)
    page = [ev(1.55, "browser", "http.request", id="d2", method="GET", path="/", document=True),
            ev(1.56, "browser", "sio.connect", eio_sid=OLD, transport="polling"),          # the old page, late
            ev(1.6, "browser", "http.request", id="h2", method="GET", path="/socket.io/", sid=None)]
    progress = Progress(transport="polling")
    assert reached("steady", login, progress)
    assert not reached("steady", login + page, progress)
    new_session = [ev(1.7, "browser", "http.request", id="n1", method="GET", path="/socket.io/", sid=NEW),
                   ev(1.8, "browser", "sio.connect", eio_sid=NEW, transport="polling"),
                   ev(1.9, "browser", "http.response", id="n1", method="GET", sid=NEW, status=200),
                   ev(2.0, "browser", "http.request", id="n2", method="GET", path="/socket.io/", sid=NEW)]
    assert reached("steady", login + page + new_session, progress)


def test_settled_waits_for_every_old_sid_request():
    events = incident_timeline()
    progress = Progress(transport="polling", t_fault=3.0)
    assert not reached("reconnected", upto(events, 3.9), progress)
    # The new sid is in at 4.0 and the close packet with the old sid was answered at 3.6.
    assert reached("reconnected", events, progress)
    assert reached("settled", events, progress)
    # The same story with the old sid's POST still unanswered: not settled, whatever the new sid.
    unanswered = [e for e in events if not (e.kind == "http.response" and e.data.get("id") == "3")]
    assert reached("reconnected", unanswered, progress)
    assert not reached("settled", unanswered, progress)


def test_settled_waits_for_the_old_websocket_to_close():
    url = f"ws://x/socket.io/?EIO=4&transport=websocket&sid={OLD}"
    events = [
        ev(1.0, "browser", "sio.connect", eio_sid=OLD, transport="polling"),
        ev(1.1, "browser", "ws.open", url=url, sid=OLD),
        ev(1.2, "browser", "sio.upgrade", transport="websocket"),
        ev(2.0, "harness", "fault", name="restart", phase="begin"),
        ev(3.0, "browser", "sio.connect", eio_sid=NEW, transport="polling"),
    ]
    progress = Progress(t_fault=2.0)
    assert reached("reconnected", events, progress)
    assert not reached("settled", events, progress)
    assert reached("settled", events + [ev(3.1, "browser", "ws.close", url=url, sid=OLD)], progress)


def test_a_connect_before_the_fault_is_not_a_reconnect():
    events = polling_session()
    assert not reached("reconnected", events, Progress(t_fault=None))
    assert not reached("reconnected", events, Progress(t_fault=2.0))
    assert not reached("dropped", events, Progress(t_fault=2.0))
    dropped = events + [ev(2.5, "browser", "sio.disconnect", reason="transport error")]
    assert reached("dropped", dropped, Progress(t_fault=2.0))
    # the lab closing the client at the end is no drop
    closed = events + [ev(2.5, "browser", "sio.disconnect", reason="io client disconnect")]
    assert not reached("dropped", closed, Progress(t_fault=2.0))


def test_session_alive_at_fault():
    alive = measure(polling_session() + [ev(2.0, "harness", "fault", name="x", phase="begin")])
    assert alive["session_alive_at_fault"].value is True
    gone = measure(polling_session() + [ev(1.8, "browser", "sio.disconnect", reason="ping timeout"),
                                        ev(2.0, "harness", "fault", name="x", phase="begin")])
    assert gone["session_alive_at_fault"].value is False
    assert measure(polling_session())["session_alive_at_fault"].value is None     # no fault at all


def test_an_expectation_whose_premise_failed_is_not_judged():
    cell = Cell({"mode": "gevent", "client": "browser"})
    gone = measure(polling_session() + [ev(1.8, "browser", "sio.disconnect", reason="ping timeout"),
                                        ev(2.0, "harness", "fault", name="x", phase="begin")])
    exp = Expectation({}, {"stale_sid_400": "== 0"}, 7, given={"session_alive_at_fault": True})
    (result,) = check_expectations(cell, gone, [exp])
    assert result.ok and not result.judged and "session_alive_at_fault" in result.premise_failed
    alive = measure(polling_session() + [ev(2.0, "harness", "fault", name="x", phase="begin")])
    (result,) = check_expectations(cell, alive, [Expectation({}, {"recovered": True}, 7,
                                                             given={"session_alive_at_fault": True})])
    assert result.judged and not result.ok          # judged, and it fails: no new sid after the fault


def test_a_claim_counts_only_the_cells_where_its_premise_held():
    a, b = Cell({"mode": "a", "client": "browser"}), Cell({"mode": "b", "client": "browser"})
    fault = [ev(2.0, "harness", "fault", name="x", phase="begin")]
    alive = measure(polling_session() + fault)
    gone = measure(polling_session() + [ev(1.8, "browser", "sio.disconnect", reason="ping timeout")] + fault)
    claim = Claim("c", "no new sid after the fault", {}, {"recovered": False}, {"recovered": True}, 1,
                  recorded=SUPPORTED, given={"session_alive_at_fault": True})
    (v,) = judge_claims([(a, alive), (b, gone)], [claim], [a, b])
    assert v.verdict == SUPPORTED and v.cells == {"a-browser": SUPPORTED, "b-browser": NO_EVIDENCE}
    assert "b-browser" in v.premise_failed
    # A cell left out by its premise makes the run incomplete: never a CHANGED verdict.
    claim.recorded = REFUTED
    (v,) = judge_claims([(a, alive), (b, gone)], [claim], [a, b])
    assert not v.complete and not v.changed
    (v,) = judge_claims([(a, alive)], [claim], [a])
    assert v.complete and v.changed


def test_no_cell_starts_once_interrupted(monkeypatch, tmp_path):
    """An interrupt swallowed inside a cell (a browser context closing catches everything) still stops the run."""
    from harness.lab import runner
    from harness.lab.scenario import load

    scenario = load("placeholder-settings")
    started = []

    def fake_run_cell(scenario, cell, run_dir, browser=None, target=None):
        started.append(cell.id)
        runner.ABORT.set()          # the signal came, and its KeyboardInterrupt was lost in the cell
        return runner.CellRun(cell, run_dir)

    monkeypatch.setattr(runner, "run_cell", fake_run_cell)
    monkeypatch.setattr(runner, "ABORT", threading.Event())
    cells = [c for c in scenario.cells if scenario.client_profile(c)["kind"] != "browser"][:2]
    assert len(cells) == 2
    plan = [runner.Planned(scenario, cells, tmp_path / "run")]
    with pytest.raises(KeyboardInterrupt):
        runner.run_plan(plan, jobs=1, progress=lambda s: None)
    assert started == [scenario.cells[0].id]


def test_a_websocket_only_session_belongs_to_the_page_that_received_its_open_packet():
    """On a busy machine the page's connect report (stamped with the page's clock) can precede the driver's
    record of the page load: the open packet the page received says which page the session is on."""
    url = "ws://x/socket.io/?EIO=4&transport=websocket"
    events = [ev(5.80, "browser", "http.request", id="d", method="GET", path="/", document=True),
              ev(5.78, "browser", "sio.connect", eio_sid=OLD, transport="websocket"),      # the page's clock, early
              ev(5.92, "browser", "ws.open", url=url),
              ev(5.93, "browser", "ws.frame", url=url, dir="received", payload='0{"sid":"%s","upgrades":[]}' % OLD)]
    progress = Progress(transport="websocket")
    assert not reached("steady", events[:2], progress)      # nothing yet ties the session to this page
    assert reached("steady", events, progress)


def oversized_post(sid=OLD, src="browser"):
    """A session on polling, the fault at 2.0, and a 2 MB message POST sent at 2.1."""
    session = [ev(e.t, src, e.kind, **e.data) for e in polling_session(sid)]
    return session + [
        ev(2.0, "harness", "fault", name="client-emit", phase="begin"),
        ev(2.1, src, "http.request", id="big", method="POST", path="/socket.io/", sid=sid,
           body='42["message","xxxx"]', bytes=2_000_000),
    ]


def test_answered_when_the_page_is_back_while_its_oversized_post_is_still_pending():
    """gthread and the reloader never answer an oversized polling POST: the server drops the session, the
    page sees its long-poll closed and reconnects. Its new session decides the cell; the POST of the old one
    can only stay unanswered."""
    progress = Progress(transport="polling", t_fault=2.0)
    events = oversized_post() + [ev(2.3, "browser", "sio.disconnect", reason="transport close")]
    assert not reached("answered", events, progress)          # dropped, the POST pending, not back yet
    back = events + [ev(2.8, "browser", "sio.connect", eio_sid=NEW, transport="polling")]
    assert reached("answered", back, progress)
    # a new session without a drop first is not this story (nothing lost the old session)
    assert not reached("answered", oversized_post() + back[-1:], progress)


def test_answered_still_waits_for_the_post_of_a_client_that_does_not_come_back():
    """python-socketio after a server disconnect does not reconnect: the POST's own outcome (an answer, or its
    ReadTimeout) decides, as before."""
    progress = Progress(transport="polling", t_fault=2.0)
    events = oversized_post(src="pyclient") + [ev(2.3, "pyclient", "sio.disconnect", reason="server disconnect")]
    assert not reached("answered", events, progress)
    failed = events + [ev(7.1, "pyclient", "http.failed", id="big", method="POST", sid=OLD, error="ReadTimeout")]
    assert reached("answered", failed, progress)
    answered = events + [ev(2.2, "pyclient", "http.response", id="big", method="POST", sid=OLD, status=400)]
    assert reached("answered", answered, progress)
