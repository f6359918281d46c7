"""State across a reconnect (reconnect-state): the room settings reach the apps, each real app emits its room
ticks to the room's members only and logs them, and the checks read rooms, missed emits and recovery from a
timeline."""
from __future__ import annotations

import threading

import pytest

from harness.checks import measure
from harness.checks.milestones import Progress, reached
from harness.core.timeline import Event
from harness.lab.scenario import ScenarioError, load
from harness.modes.base import ServerSettings, server_env
from servers.reference_app.settings import FLASK_ASYNC_MODES, SettingsError, from_env

from .test_modes import RunningServer
from .test_scenario import GOOD, write


def test_server_settings_carry_room_ticks_and_recovery_only_when_asked():
    env = server_env(ServerSettings(room_tick_ms=500, state_recovery=True), "node")
    assert env["SIOLAB_ROOM_TICK_MS"] == "500" and env["SIOLAB_STATE_RECOVERY"] == "1"
    plain = server_env(ServerSettings(), "node")
    assert "SIOLAB_ROOM_TICK_MS" not in plain and "SIOLAB_STATE_RECOVERY" not in plain
    for bad in (10, -1, 0.5, True):
        with pytest.raises(ValueError, match="room_tick_ms"):
            ServerSettings(room_tick_ms=bad)


def test_python_apps_refuse_state_recovery_they_do_not_have():
    env = {"SIOLAB_ASYNC_MODE": "threading", "SIOLAB_SECRET_KEY": "k"}
    assert from_env({**env, "SIOLAB_ROOM_TICK_MS": "500"}, FLASK_ASYNC_MODES).room_tick_ms == 500
    with pytest.raises(SettingsError, match="SIOLAB_STATE_RECOVERY.*no connection state recovery"):
        from_env({**env, "SIOLAB_STATE_RECOVERY": "1"}, FLASK_ASYNC_MODES)
    with pytest.raises(SettingsError, match="SIOLAB_ROOM_TICK_MS"):
        from_env({**env, "SIOLAB_ROOM_TICK_MS": "10"}, FLASK_ASYNC_MODES)


def test_a_client_profile_joins_once_or_every_time(tmp_path):
    ok = GOOD.replace("faults:", "clients:\n  b: {kind: browser, join: every}\nfaults:")
    assert load(write(tmp_path, ok)).clients["b"]["join"] == "every"
    path = write(tmp_path, GOOD.replace("faults:", "clients:\n  b: {kind: browser, join: always}\nfaults:"))
    with pytest.raises(ScenarioError, match=r"clients\.b\.join: one of none, once, every"):
        load(path)


@pytest.mark.parametrize("mode", ["gevent", "aiohttp", "node"])
def test_each_app_ticks_its_room_to_members_only(mode):
    import socketio

    srv = RunningServer(mode, ServerSettings(room_tick_ms=100))
    member, bystander = socketio.Client(reconnection=False), socketio.Client(reconnection=False)
    got, other, enough = [], [], threading.Event()

    @member.on("room_tick")
    def on_tick(data):
        got.append(data)
        if len(got) >= 3:
            enough.set()

    bystander.on("room_tick", lambda data: other.append(data))
    try:
        srv.wait_ready()
        bystander.connect(srv.url, transports=["websocket"], wait_timeout=10)
        member.connect(srv.url, transports=["websocket"], wait_timeout=10)
        member.emit("join", "news")
        assert enough.wait(10), f"{mode}: room ticks received {got}\n{srv.output()}"
        assert other == [], "a client that did not join got the room's emits"
        boot = got[0]["boot"]
        assert boot and all(d["boot"] == boot for d in got) and [d["n"] for d in got] == sorted({d["n"] for d in got})
        out = srv.wait_output(f"room_tick n={got[2]['n']} boot={boot} room=news members={member.get_sid()}")
        assert f"join sid={member.get_sid()} room=news" in out
    finally:
        member.disconnect()
        bystander.disconnect()
        srv.close()


# --- the checks, over timelines written by hand


def ev(t, src, kind, **data):
    return Event(t, src, kind, data)


def log(t, line):
    return ev(t, "server", "log", name="server-node", stream="stderr", line=f"2026-12-06 INFO siolab.node: {line}")


def room(t, n, members, boot="B1"):
    return log(t, f"room_tick n={n} boot={boot} room=news members={members}")


def got(t, n, boot="B1", src="browser"):
    if src == "pyclient":
        return ev(t, src, "sio.event", event="room_tick", namespace="/", args=f"({{'n': {n}, 'boot': '{boot}'}},)")
    return ev(t, src, "sio.event", event="room_tick", n=n, boot=boot, namespace="/")


def cell(*extra, back_sid="S2", recovered=None, src="browser"):
    """In the room as S1 (emit 1 received), a fault at 1.0, a drop, emits 2 and 3 while away, back at 2.2 with
    `back_sid`, then emits 4..6 with members as `extra` says."""
    events = [
        ev(0.1, src, "sio.connect", sid="S1", eio_sid="e1", transport="websocket", namespace="/"),
        ev(0.11, src, "sio.join", room="news", sid="S1", namespace="/"),
        room(0.6, 1, "S1"), got(0.61, 1, src=src),
        ev(1.0, "harness", "fault", name="proxy-reset", phase="begin"),
        ev(1.2, src, "sio.disconnect", reason="transport close", namespace="/"),
        room(1.6, 2, ""), room(2.1, 3, ""),
        ev(2.2, src, "sio.connect", sid=back_sid, eio_sid="e2", transport="websocket", namespace="/", recovered=recovered),
        *extra,
    ]
    return sorted(events, key=lambda e: e.t)


def figures(events):
    found = measure(events)
    return {k: found[k].value for k in ("in_room_at_fault", "state_recovered", "room_ticks_missed", "room_ticks_lost",
                                         "room_ticks_replayed", "room_ticks_duplicated", "back_in_room",
                                         "room_ticks_after_back", "rejoined")}


def test_joined_once_without_recovery_is_out_of_the_room_and_lost_what_it_missed():
    events = cell(room(2.6, 4, ""), room(3.1, 5, ""), room(3.6, 6, ""))
    assert figures(events) == {"in_room_at_fault": True, "state_recovered": None, "room_ticks_missed": 2,
                               "room_ticks_lost": 2, "room_ticks_replayed": 0, "room_ticks_duplicated": 0,
                               "back_in_room": False, "room_ticks_after_back": 0, "rejoined": 0}
    assert reached("room_caught_up", events, Progress(t_fault=1.0))
    assert not reached("room_caught_up", events[:-1], Progress(t_fault=1.0))


def test_recovery_replays_the_missed_emits_and_keeps_the_room():
    events = cell(got(2.21, 2), got(2.22, 3), room(2.6, 4, "S1"), got(2.61, 4), room(3.1, 5, "S1"), got(3.11, 5),
                  back_sid="S1", recovered=True)
    assert figures(events) == {"in_room_at_fault": True, "state_recovered": True, "room_ticks_missed": 2,
                               "room_ticks_lost": 0, "room_ticks_replayed": 2, "room_ticks_duplicated": 0,
                               "back_in_room": True, "room_ticks_after_back": 1, "rejoined": 0}


def test_a_rejoining_python_client_is_back_but_a_duplicate_counts():
    events = cell(ev(2.21, "pyclient", "sio.join", room="news", sid="S2", namespace="/"),
                  room(2.6, 4, "S2"), got(2.61, 4, src="pyclient"), got(2.62, 4, src="pyclient"),
                  room(3.1, 5, "S2"), got(3.11, 5, src="pyclient"), src="pyclient")
    found = figures(events)
    assert (found["back_in_room"], found["room_ticks_after_back"], found["room_ticks_duplicated"], found["rejoined"],
            found["room_ticks_lost"]) == (True, 1, 1, 1, 2)


def test_a_restarted_process_counting_from_1_again_is_not_a_duplicate():
    events = cell(room(2.6, 1, "S2", boot="B2"), got(2.61, 1, boot="B2"), room(3.1, 2, "S2", boot="B2"),
                  recovered=False)
    found = figures(events)
    assert (found["room_ticks_duplicated"], found["room_ticks_after_back"], found["state_recovered"]) == (0, 1, False)


def test_the_servers_line_read_after_the_fault_still_counts():
    events = [e for e in cell() if "room_tick n=1 " not in str(e.data.get("line", ""))] + [room(1.02, 1, "S1")]
    assert measure(sorted(events, key=lambda e: e.t))["in_room_at_fault"].value is True


def test_no_room_emit_before_the_fault_is_no_premise():
    events = [e for e in cell() if e.data.get("event") != "room_tick" and "room_tick n=1 " not in str(e.data.get("line", ""))]
    assert measure(events)["in_room_at_fault"].value is None
    assert measure(events)["back_in_room"].value is None      # no emit after the reconnect: nothing to tell
