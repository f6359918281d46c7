"""Checks over hand-written timelines: each figure is decided by the events it names."""
from __future__ import annotations

from harness.checks import measure
from harness.checks.judge import NO_EVIDENCE, REFUTED, SUPPORTED, check_expectations, judge_claims
from harness.lab.scenario import Cell, Claim, Expectation
from harness.core.timeline import Event

OLD, NEW = "oldsid", "newsid"


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def incident_timeline():
    """The incident as the browser records it: reset GET, 400 POST with the old sid, new handshake."""
    return [
        ev(0.0, "harness", "server.up", name="s"),
        ev(1.0, "browser", "http.request", id="1", method="GET", path="/socket.io/", sid=None, transport="polling"),
        ev(1.1, "browser", "http.response", id="1", method="GET", path="/socket.io/", sid=None, status=200, body='0{"sid":"oldsid"}'),
        ev(1.2, "browser", "sio.connect", sid="s1", eio_sid=OLD, transport="polling"),
        ev(1.3, "browser", "http.request", id="2", method="GET", path="/socket.io/", sid=OLD, transport="polling"),
        ev(3.0, "harness", "fault", name="restart", phase="begin"),
        ev(3.1, "harness", "server.down", name="s"),
        ev(3.2, "browser", "http.failed", id="2", method="GET", path="/socket.io/", sid=OLD, error="net::ERR_CONNECTION_RESET"),
        ev(3.21, "browser", "sio.disconnect", reason="transport error"),
        ev(3.22, "browser", "http.request", id="3", method="POST", path="/socket.io/", sid=OLD, body="1"),
        ev(3.25, "browser", "http.request", id="4", method="GET", path="/socket.io/", sid=None, transport="polling"),
        ev(3.26, "browser", "http.failed", id="4", method="GET", path="/socket.io/", sid=None, error="net::ERR_CONNECTION_REFUSED"),
        ev(3.5, "harness", "server.up", name="s"),
        ev(3.6, "browser", "http.response", id="3", method="POST", path="/socket.io/", sid=OLD, status=400, body='"Invalid session"'),
        ev(3.8, "browser", "http.request", id="5", method="GET", path="/socket.io/", sid=None, transport="polling"),
        ev(3.9, "browser", "http.response", id="5", method="GET", path="/socket.io/", sid=None, status=200, body='0{"sid":"newsid"}'),
        ev(4.0, "browser", "sio.connect", sid="s2", eio_sid=NEW, transport="polling"),
        ev(4.1, "harness", "fault", name="restart", phase="end"),
    ]


def test_incident_figures():
    f = measure(incident_timeline())
    assert f["old_sid"].value == OLD
    assert f["stale_sid_400"].value == 1
    assert f["stale_sid_body"].value == '"Invalid session"'
    assert f["stale_sid_request"].value == "POST close"
    assert f["old_sid_failure"].value == "net::ERR_CONNECTION_RESET"
    assert f["console_pair"].value is True
    assert [e.data.get("id") for e in f["console_pair"].evidence] == ["2", "3", "3"]
    assert f["disconnect_reason"].value == "transport error"
    assert f["recovered"].value is True and f["new_sid"].value == NEW
    assert f["time_to_new_sid"].value == 1.0
    assert f["handshakes_while_down"].value == 1        # request 4, between down and up
    assert f["handshakes_after_fault"].value == 2        # requests 4 and 5
    assert f["transport_before_fault"].value == "polling"
    assert f["network_errors"].value == "net::ERR_CONNECTION_REFUSED, net::ERR_CONNECTION_RESET"


def test_a_500_to_the_old_sid_is_refused_but_not_a_400():
    """python-engineio answers a POST that arrives while the session is being torn down with a
    500 (its KeyError escapes the POST handler): refused, like a 400; a 500 to another sid is not."""
    events = [ev(e.t, e.src, e.kind, **{**e.data, "status": 500, "body": ""}) if e.data.get("id") == "3"
              and e.kind == "http.response" else e for e in incident_timeline()]
    f = measure(events)
    assert f["stale_sid_400"].value == 0
    assert f["stale_sid_refused"].value == 1 and f["stale_sid_refused"].note == "statuses [500]"
    assert measure(incident_timeline())["stale_sid_refused"].value == 1
    others = [ev(e.t, e.src, e.kind, **{**e.data, "sid": "someone-else"}) if e.data.get("id") == "3" else e
              for e in events]
    assert measure(others)["stale_sid_refused"].value == 0


def test_no_fault_means_no_stale_figures():
    events = [e for e in incident_timeline() if e.kind != "fault"]
    f = measure(events)
    assert f["old_sid"].value is None
    assert f["stale_sid_400"].value == 0
    assert f["console_pair"].value is False
    assert f["recovered"].value is False


def test_websocket_close_is_not_a_400():
    events = [
        ev(1.0, "browser", "sio.connect", eio_sid=OLD, transport="polling"),
        ev(1.5, "browser", "sio.upgrade", transport="websocket"),
        ev(2.0, "harness", "fault", name="restart", phase="begin"),
        ev(2.1, "browser", "ws.close", url="ws://x/socket.io/?sid=oldsid", sid=OLD),
        ev(2.1, "browser", "sio.disconnect", reason="transport close"),
        ev(3.0, "browser", "sio.connect", eio_sid=NEW, transport="polling"),
    ]
    f = measure(events)
    assert f["transport_before_fault"].value == "websocket"
    assert f["stale_sid_400"].value == 0 and f["console_pair"].value is False
    assert f["disconnect_reason"].value == "transport close"
    assert f["ws_closed"].value == 1


def test_a_400_for_another_sid_is_not_stale():
    events = incident_timeline()
    events = [ev(e.t, e.src, e.kind, **{**e.data, "sid": "someone-else"}) if e.data.get("id") == "3" else e for e in events]
    f = measure(events)
    assert f["stale_sid_400"].value == 0
    assert f["http_400"].value == 1


def test_expectations_and_claims():
    cell = Cell({"mode": "gevent", "client": "browser", "transport": "polling", "fault": "restart"})
    findings = measure(incident_timeline())
    results = check_expectations(cell, findings, [
        Expectation({"transport": "polling"}, {"stale_sid_400": ">= 1", "disconnect_reason": "transport error"}, 1),
        Expectation({"transport": "websocket"}, {"stale_sid_400": "== 0"}, 2),
        Expectation({}, {"time_to_new_sid": "< 0.5"}, 3),
    ])
    assert [(r.metric, r.ok) for r in results] == [("stale_sid_400", True), ("disconnect_reason", True), ("time_to_new_sid", False)]

    claim = Claim("c", "reset gives 400", {"transport": "polling"}, {"console_pair": True}, {"stale_sid_400": "== 0"}, 1)
    other = Cell({**cell.params, "mode": "reloader"})
    clean = measure([e for e in incident_timeline() if e.data.get("id") != "3"])
    (v,) = judge_claims([(cell, findings)], [claim])
    assert v.verdict == SUPPORTED and v.deciding == [cell.id]
    (v,) = judge_claims([(cell, findings), (other, clean)], [claim])
    assert v.verdict == REFUTED and v.deciding == [other.id]
    (v,) = judge_claims([], [claim])
    assert v.verdict == NO_EVIDENCE


def test_a_claim_against_its_recorded_verdict():
    cell = Cell({"mode": "gevent", "client": "browser", "transport": "polling", "fault": "restart"})
    other = Cell({**cell.params, "mode": "reloader"})
    findings = measure(incident_timeline())
    recorded = Claim("c", "reset gives 400", {"transport": "polling"}, {"console_pair": True},
                     {"stale_sid_400": "== 0"}, 1, recorded=REFUTED)
    (v,) = judge_claims([(cell, findings), (other, findings)], [recorded], planned=[cell, other])
    assert v.verdict == SUPPORTED and v.complete and v.changed
    # a filtered run (one of the claim's cells never ran) cannot change the verdict
    (v,) = judge_claims([(cell, findings)], [recorded], planned=[cell, other])
    assert not v.complete and not v.changed
    agreeing = Claim(**{**recorded.__dict__, "recorded": SUPPORTED})
    (v,) = judge_claims([(cell, findings), (other, findings)], [agreeing], planned=[cell, other])
    assert not v.changed
    unrecorded = Claim(**{**recorded.__dict__, "recorded": None})
    (v,) = judge_claims([(cell, findings), (other, findings)], [unrecorded], planned=[cell, other])
    assert not v.changed


def test_handshake_figures_keep_the_page_and_the_server_apart():
    """A CORS-blocked handshake: the page sees net::ERR_FAILED and a CORS error, the 400 is in the server's log."""
    path = "/socket.io/?EIO=4&transport=polling&t=a"
    url = "http://127.0.0.1:5" + path
    f = measure([
        ev(0.5, "harness", "step", step="open", args={}),
        ev(0.6, "server", "log", line='127.0.0.1 - - [x] "GET /socket.io/?EIO=4&transport=polling&sid=old HTTP/1.1" 200 1'),
        ev(1.0, "browser", "http.request", id=1, method="GET", url=url, path="/socket.io/", eio="4"),
        ev(1.01, "server", "log", line="http://localhost:5 is not an accepted origin. (further occurrences …)"),
        ev(1.02, "server", "log", line=f'127.0.0.1 - - [x] "GET {path} HTTP/1.1" 400 25 "-" "Mozilla"'),
        ev(1.03, "browser", "console", level="error", text=f"Access to XMLHttpRequest at '{url}' from origin "
           "'http://localhost:5' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header"),
        ev(1.04, "browser", "http.failed", id=1, method="GET", url=url, error="net::ERR_FAILED"),
        ev(1.05, "browser", "sio.connect_error", message="xhr poll error"),
    ])
    assert f["eio_first_answer"].value == "net::ERR_FAILED"
    assert f["eio_first_path"].value == "/socket.io/" and f["client_eio"].value == 4
    assert f["server_handshake_status"].value == 400          # the line with a sid is not the handshake
    assert f["server_origin_rejected"].value is True
    assert f["cors_blocked"].value == 1 and "blocked by CORS policy" in f["cors_blocked"].note
    assert f["eio_400_body"].value is None and f["polling_handshakes_ok"].value == 0


def test_handshake_figures_websocket_and_nginx():
    ws = "ws://127.0.0.1:5/ws/?EIO=3&transport=websocket"
    f = measure([
        ev(1.0, "browser", "ws.open", url=ws),
        ev(1.1, "browser", "ws.error", url=ws, error="Error during WebSocket handshake: Unexpected response code: 404"),
        # nginx logs an upgraded WebSocket when it closes; the probe's bare request carries no Upgrade header.
        ev(1.2, "proxy", "nginx.access", uri="/socket.io/?EIO=4&transport=websocket", status=400, upgrade=""),
        ev(1.3, "proxy", "nginx.access", uri="/?transport=websocket", status=200, upgrade=""),
        ev(2.0, "proxy", "nginx.access", uri="/socket.io/?EIO=4&transport=websocket&sid=x", status=101, upgrade="websocket"),
        ev(2.1, "probe", "http.response", id="py-1", url="http://127.0.0.1:5/socket.io/?EIO=4&transport=websocket",
           status=400, body='{"code":3,"message":"Bad request"}'),
    ])
    assert f["eio_first_answer"].value == 404 and f["eio_first_path"].value == "/ws/"
    assert f["client_eio"].value == 3 and f["eio_404_total"].value == 1
    assert f["ws_error"].value.endswith("404")
    assert f["proxy_websocket_status"].value == 101
    assert (f["probe_status"].value, f["probe_body"].value) == (400, '{"code":3,"message":"Bad request"}')
