"""The reconnect storm: its figures and curve from recorded events, the profile and --clients
checks, the reports' curve, and the driver against a real server."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.entrypoints import cli
from harness.checks import measure
from harness.checks.storm import curve, peak_window
from harness.reports import curve as curve_report
from harness.reports import html, judge_run, markdown, svg
from harness.lab.scenario import SCENARIO_DIR, ScenarioError
from harness.lab.scenario import load as load_scenario
from harness.core.timeline import Event

ROOT = Path(__file__).resolve().parent.parent


def ev(t, kind, src="pyclient", **data):
    return Event(t, src, kind, data)


def storm_events(n=4):
    """4 clients; the fault at 10 s, everyone drops at 10.1, the server answers at 11.5,
    one client back at 12.0, three at 12.1, all at 12.2; a 400 and failed attempts while down."""
    es = [ev(0.0, "storm.start", clients=n), ev(9.9, "storm.sample", connected=n),
          ev(10.0, "fault", "harness", name="kill-restart", phase="begin"),
          ev(10.05, "storm.sample", connected=n), ev(10.1, "storm.sample", connected=0),
          ev(10.3, "server.down", "harness"), ev(11.5, "server.up", "harness")]
    es += [ev(10.8 + 0.01 * i, "storm.handshake", i=i) for i in range(n)]
    es += [ev(11.1 + 0.01 * i, "storm.connect_error", i=i, message="Server disconnected") for i in range(n)]
    es += [ev(11.1 + 0.01 * i, "storm.http_failed", i=i, error="ServerDisconnectedError") for i in range(n)]
    es += [ev(11.9 + 0.01 * i, "storm.handshake", i=i) for i in range(n)]
    es += [ev(11.95, "storm.http_error", i=0, status=400, body='"Invalid session"', method="POST")]
    es += [ev(12.0, "storm.sample", connected=1), ev(12.1, "storm.sample", connected=3),
           ev(12.2, "storm.sample", connected=n), ev(12.3, "storm.sample", connected=n)]
    es += [ev(12.0 + 0.01 * i, "log", "server", name="server-aiohttp", line=f"INFO connect sid=s{i} eio_sid=e{i}")
           for i in range(n + 1)]
    es += [ev(9.0, "log", "server", name="server-aiohttp", line="INFO connect sid=old eio_sid=old")]
    return sorted(es, key=lambda e: e.t)


def test_storm_figures_from_the_recording():
    f = {k: v.value for k, v in measure(storm_events()).items() if k.startswith("storm_")}
    assert f["storm_clients"] == 4
    assert f["storm_connected_before"] == 4
    assert f["storm_dropped"] == 4 and f["storm_all_dropped"] is True
    assert f["storm_all_back"] is True
    assert f["storm_back_s"] == pytest.approx(2.2)
    assert f["storm_back_after_up_s"] == pytest.approx(0.7)
    assert f["storm_burst_s"] == pytest.approx(0.2)           # 10 % back at 12.0, 90 % at 12.2
    assert f["storm_peak_reconnects_per_s"] == 4
    assert f["storm_handshakes"] == 8 and f["storm_peak_handshakes_per_s"] == 4
    assert f["storm_400"] == 1 and f["storm_400_body"] == '"Invalid session"'
    assert f["storm_connect_errors"] == 4 and f["storm_failed_requests"] == 4
    assert f["storm_server_connects"] == 5                    # the one before the fault is not counted
    assert f["storm_extra_server_connects"] == 1              # one accepted beyond one per dropped client
    assert f["storm_sample_gap_s"] == pytest.approx(1.9)      # 10.1 → 12.0: the harness's loop stalled
    assert f["storm_retry_spread_s"] is None                  # no disconnect recorded per client here


def test_not_back_and_no_storm():
    es = [e for e in storm_events() if not (e.kind == "storm.sample" and e.t >= 12.2)]
    f = measure(es)
    assert f["storm_all_back"].value is False and f["storm_back_s"].value is None
    assert f["storm_burst_s"].value is None                   # 90 % never reached
    plain = measure([ev(0.0, "fault", "harness", phase="begin"), ev(1.0, "sio.connect", eio_sid="x")])
    assert all(plain[k].value is None for k in ("storm_clients", "storm_all_back", "storm_400", "storm_server_connects"))


def test_retry_spread_is_each_clients_first_handshake_after_its_drop():
    es = storm_events() + [ev(10.1, "storm.disconnect", i=i, reason="transport error") for i in range(4)]
    f = measure(es)["storm_retry_spread_s"]
    assert f.value == pytest.approx(0.03) and [e.data["i"] for e in f.evidence] == [0, 3]   # 10.80 … 10.83


def test_held_handshakes_are_the_ones_that_waited_for_the_server():
    assert measure(storm_events())["storm_held_handshakes"].value == 0        # all before the server failed
    es = storm_events() + [ev(11.2, "storm.handshake", i=1), ev(12.05, "storm.connect", i=1),
                           ev(11.3, "storm.handshake", i=2), ev(11.4, "storm.http_failed", i=2)]
    f = measure(es)["storm_held_handshakes"]
    assert f.value == 1 and f.evidence[0].t == 11.2


def test_connect_events_do_not_count_as_connected():
    # python-socketio fires connect again without a disconnect: only the samples say who is connected.
    es = storm_events() + [ev(12.25, "storm.connect", i=0), ev(12.26, "storm.connect", i=0)]
    assert measure(es)["storm_back_s"].value == pytest.approx(2.2)


def test_peak_window_and_curve():
    assert peak_window([]) == (0, None)
    assert peak_window([0.0, 0.5, 1.0, 1.01, 1.02, 3.0]) == (4, 0.5)   # [0.02, 1.02]
    assert peak_window([0.0, 2.0, 2.1, 2.2, 3.3]) == (3, 2.0)
    points = curve(storm_events())
    assert points[0] == (-0.1, 4) and points[-1] == (2.3, 4)
    assert (0.1, 0) in points


def test_resample_and_sparkline():
    pts = [(-0.1, 4), (0.1, 0), (2.0, 1), (2.2, 4)]
    assert curve_report.resample(pts, -0.5, 3.0, 0.5) == [
        (-0.5, None), (0.0, 4), (0.5, 0), (1.0, 0), (1.5, 0), (2.0, 1), (2.5, None), (3.0, None)]
    assert curve_report.sparkline([None, 0, 2, 4], 4) == "  ▄█"


def test_long_storms_get_a_coarser_step():
    short = [(None, [(-1.0, 5), (9.0, 5)])]
    long = [(None, [(-1.0, 5), (43.0, 5)])]
    assert curve_report.step_for(short, 0.25, 80) == 0.25
    assert curve_report.step_for(long, 0.25, 80) == 1.0      # 0.5 s would take 88 characters
    assert curve_report.step_for(long, 0.5, 40) == 2.0


def test_curve_chart_has_one_line_per_cell():
    out = svg.curve_chart([("a", [(-1.0, 10), (0.2, 0), (3.0, 10)]), ("b", [(-1.0, 10), (0.1, 0), (2.0, 10)])], top=10)
    assert out.count("<path ") == 2 and "fault" in out and ">a<" in out and ">b<" in out
    assert "no storm samples" in svg.curve_chart([], top=10)


def _run_folder(tmp_path: Path, events) -> Path:
    run = tmp_path / "run"
    cell = "aiohttp-jitter-kill"
    (run / "cells" / cell).mkdir(parents=True)
    shutil.copyfile(SCENARIO_DIR / "reconnect-storm.yaml", run / "scenario.yaml")
    (run / "run.json").write_text(json.dumps({"scenario": "reconnect-storm", "cells": [
        {"id": cell, "params": {"mode": "aiohttp", "client": "jitter", "fault": "kill"}, "seconds": 1.0, "error": None}]}))
    (run / "cells" / cell / "timeline.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    return run


def test_reports_draw_the_curve(tmp_path):
    r = judge_run(_run_folder(tmp_path, storm_events()))
    md = markdown.render(r)
    assert "## Reconnection curve" in md and "xychart-beta" in md
    assert "| `aiohttp-jitter-kill` | 4 | 2.20 | 0.70 | 0.20 | 4 | 8 | 1 | 4 | 5 | 1.90 |" in md
    assert "line [" in md
    page = html.render(r)
    assert 'id="curve"' in page and page.count('aria-label="reconnection curve') == 2   # the section and the cell
    assert "- 4 clients: all back 2.20 s after the fault" in md and "Storm: 4 client connections lost in 1 cells" in md
    lines = curve_report.text(r)
    assert lines[0].startswith("reconnection curve") and "aiohttp-jitter-kill" in lines[1] and "█" in lines[1]
    assert "1 × 400" in lines[2]
    # a run without a storm has no curve section
    r.cells[0].events = [e for e in r.cells[0].events if not e.kind.startswith("storm.")]
    assert curve_report.text(r) == [] and curve_report.markdown(r) == [] and curve_report.html(r) == ""


def test_storm_profile_is_validated(tmp_path):
    text = (SCENARIO_DIR / "reconnect-storm.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("    clients: 200\n    randomization_factor: 0", "    clients: 0\n    randomization_factor: 0"))
    with pytest.raises(ScenarioError, match=r"bad.yaml:\d+: clients.no-jitter.clients: a number >= 1"):
        load_scenario(bad)
    bad.write_text(text.replace("randomization_factor: 0", "randomization_factor: fast"))
    with pytest.raises(ScenarioError, match=r"clients.no-jitter.randomization_factor: must be a number"):
        load_scenario(bad)


def test_clients_flag(capsys):
    s = load_scenario("reconnect-storm")
    cli._override_storm_clients([s], 1000, strict=True)
    assert {s.client_profile(c)["clients"] for c in s.cells} == {1000}
    with pytest.raises(cli.BadInput, match="has no storm client"):
        cli._override_storm_clients([load_scenario("singleton-outage")], 10, strict=True)
    with pytest.raises(cli.BadInput, match="at least 1"):
        cli._override_storm_clients([s], 0, strict=True)
    assert cli.main(["run", "singleton-outage", "--clients", "5"]) == cli.EXIT_BAD_INPUT
    assert "no storm client" in capsys.readouterr().err


def test_driver_against_a_real_server(tmp_path):
    """20 clients connect to the aiohttp app; the samples reach 20; the server logged 20 connects;
    closing stops the loop and leaves no client connected."""
    from harness.clients.storm import StormDriver
    from harness.modes.base import ServerSettings
    from harness.core.supervisor import Supervisor
    from harness.core.timeline import Timeline
    from harness.lab.topology import bring_up

    with Timeline(tmp_path / "timeline.jsonl") as timeline, Supervisor(tmp_path, timeline) as sup:
        topology = bring_up(sup, timeline, "aiohttp", ServerSettings(ping_interval=5, ping_timeout=5), with_proxy=False)
        storm = StormDriver(timeline, topology.base_url, clients=20, sample_s=0.02)
        try:
            assert storm.start(timeout=30)
            assert storm.connected() == 20
        finally:
            storm.close()
        assert storm.connected() == 0
        events = timeline.events
    kinds = [e.kind for e in events]
    assert kinds.count("storm.connect") == 20 and kinds.count("storm.handshake") == 20
    assert max(e.data["connected"] for e in events if e.kind == "storm.sample") == 20
    assert sum(" connect sid=" in str(e.data.get("line")) for e in events if e.src == "server") == 20
    assert kinds[-1] == "storm.stop" or "storm.stop" in kinds


def test_wait_for_polls_only_new_events():
    import threading

    from harness.lab.steps import wait_for as _wait_for
    from harness.core.timeline import Timeline

    tl = Timeline()
    for i in range(3):
        tl.record("pyclient", "storm.sample", {"connected": i})
    assert tl.since(0)[1] == 3 and [e.data["connected"] for e in tl.since(1)[0]] == [1, 2]
    tl.record("pyclient", "storm.all_connected", {"connected": 3})
    t_fault = tl.now()
    args = {"event": "storm.all_connected", "after": "fault", "timeout": 0.2}
    assert _wait_for(tl, "pyclient", args, t_fault) is False        # the one before the fault does not count
    timer = threading.Timer(0.1, lambda: tl.record("pyclient", "storm.all_connected", {"connected": 3}))
    timer.start()
    assert _wait_for(tl, "pyclient", dict(args, timeout=5), t_fault) is True
    assert _wait_for(tl, "pyclient", dict(args, timeout=0.1), None) is True   # no fault: any time counts
