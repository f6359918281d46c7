"""Trap 12's opt-in: sub-second ping settings are refused unless a scenario asks for them."""
from __future__ import annotations

import pytest

from harness.modes.base import ServerSettings, server_env
from harness.lab.scenario import ScenarioError, load
from servers.reference_app.settings import FLASK_ASYNC_MODES, SettingsError, from_env

from .test_scenario import GOOD, write


def test_server_settings_refuse_fractions_by_default_and_name_the_opt_in():
    with pytest.raises(ValueError, match="allow_subsecond_ping"):
        ServerSettings(ping_interval=0.3)


def test_server_settings_opt_in_reaches_the_app_environment():
    s = ServerSettings(ping_interval=0.3, ping_timeout=0.3, allow_subsecond_ping=True)
    env = server_env(s, "aiohttp")
    assert env["SIOLAB_PING_INTERVAL"] == "0.3" and env["SIOLAB_ALLOW_SUBSECOND_PING"] == "1"
    assert "SIOLAB_ALLOW_SUBSECOND_PING" not in server_env(ServerSettings(), "aiohttp")
    with pytest.raises(ValueError, match="> 0"):
        ServerSettings(ping_interval=0, allow_subsecond_ping=True)


def _env(**extra):
    return {"SIOLAB_ASYNC_MODE": "threading", "SIOLAB_SECRET_KEY": "k", **extra}


def test_app_settings_refuse_fractions_without_the_opt_in():
    with pytest.raises(SettingsError, match="SIOLAB_PING_INTERVAL"):
        from_env(_env(SIOLAB_PING_INTERVAL="0.3"), FLASK_ASYNC_MODES)
    got = from_env(_env(SIOLAB_PING_INTERVAL="0.3", SIOLAB_PING_TIMEOUT="2", SIOLAB_ALLOW_SUBSECOND_PING="1"),
                   FLASK_ASYNC_MODES)
    assert (got.ping_interval, got.ping_timeout) == (0.3, 2)
    with pytest.raises(SettingsError, match="SIOLAB_PING_TIMEOUT"):
        from_env(_env(SIOLAB_PING_TIMEOUT="-1", SIOLAB_ALLOW_SUBSECOND_PING="1"), FLASK_ASYNC_MODES)


def test_scenario_refuses_fractions_without_the_opt_in(tmp_path):
    path = write(tmp_path, GOOD.replace("faults:", "settings:\n  ping_interval: 0.3\nfaults:"))
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}:3: settings.ping_interval: ")
    assert "allow_subsecond_ping" in str(err.value)


def test_scenario_opt_in_loads(tmp_path):
    path = write(tmp_path, GOOD.replace(
        "faults:", "settings:\n  allow_subsecond_ping: true\n  ping_interval: 0.3\nfaults:"))
    assert load(path).settings == {"allow_subsecond_ping": True, "ping_interval": 0.3}
