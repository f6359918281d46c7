"""The opt-in tick (setting `tick_ms`): the lab's settings carry it to the apps, each app refuses a bad value,
and each real server emits numbered ticks to a connected client from its first connect on, logging each."""
from __future__ import annotations

import threading
import time

import pytest

from harness.lab.scenario import ScenarioError, load
from harness.modes.base import ServerSettings, server_env
from servers.reference_app.settings import AIOHTTP_ASYNC_MODES, FLASK_ASYNC_MODES, SettingsError, from_env

from .test_modes import RunningServer
from .test_scenario import GOOD, write


def test_server_settings_carry_ticks_only_when_asked():
    assert server_env(ServerSettings(tick_ms=250), "gevent")["SIOLAB_TICK_MS"] == "250"
    assert "SIOLAB_TICK_MS" not in server_env(ServerSettings(), "gevent")
    for bad in (10, -1, 0.5, True):
        with pytest.raises(ValueError, match="tick_ms"):
            ServerSettings(tick_ms=bad)


def test_app_settings_refuse_a_bad_tick():
    env = {"SIOLAB_ASYNC_MODE": "threading", "SIOLAB_SECRET_KEY": "k"}
    assert from_env(env, FLASK_ASYNC_MODES).tick_ms == 0
    assert from_env({**env, "SIOLAB_TICK_MS": "250"}, FLASK_ASYNC_MODES).tick_ms == 250
    for bad in ("10", "0.25", "-5"):
        with pytest.raises(SettingsError, match="SIOLAB_TICK_MS"):
            from_env({**env, "SIOLAB_TICK_MS": bad}, FLASK_ASYNC_MODES)


def test_scenario_tick_setting(tmp_path):
    assert load(write(tmp_path, GOOD.replace("faults:", "settings:\n  tick_ms: 250\nfaults:"))).settings == {"tick_ms": 250}
    path = write(tmp_path, GOOD.replace("faults:", "settings:\n  tick_ms: 20\nfaults:"))
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}:3: settings.tick_ms: ")


@pytest.mark.parametrize("mode", ["gevent", "aiohttp", "node"])
def test_each_app_ticks_to_its_clients_from_the_first_connect(mode):
    import socketio

    srv = RunningServer(mode, ServerSettings(tick_ms=100))
    client = socketio.Client(reconnection=False)
    got, enough = [], threading.Event()

    @client.on("tick")
    def on_tick(data):
        got.append(data["n"])
        if len(got) >= 3:
            enough.set()

    try:
        srv.wait_ready()
        assert "tick n=" not in srv.output()          # a handshake alone is no connect: nothing ticks yet
        client.connect(srv.url, transports=["websocket"], wait_timeout=10)
        assert enough.wait(10), f"{mode}: ticks received {got}\n{srv.output()}"
        assert got[:3] == sorted(got[:3]) and len(set(got)) == len(got) and got[0] >= 1
        out = srv.wait_output(f"tick n={got[2]}")
        assert "tick n=1" in out
    finally:
        client.disconnect()
        srv.close()


def test_a_bad_tick_stops_the_node_app_at_start():
    srv = RunningServer("node", ServerSettings(extra_env={"SIOLAB_TICK_MS": "10"}))
    try:
        deadline = time.monotonic() + 15
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.proc.returncode == 3 and "SIOLAB_TICK_MS" in srv.output()
    finally:
        srv.close()


def test_the_aiohttp_app_reads_the_same_setting():
    env = {"SIOLAB_ASYNC_MODE": "aiohttp", "SIOLAB_SECRET_KEY": "k", "SIOLAB_TICK_MS": "250"}
    assert from_env(env, AIOHTTP_ASYNC_MODES).tick_ms == 250
