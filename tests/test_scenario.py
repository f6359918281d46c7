"""Scenario files: the catalogue loads, and bad files get file, line, field and reason."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.lab.scenario import ScenarioError, catalogue, load

ROOT = Path(__file__).resolve().parent.parent

GOOD = textwrap.dedent("""\
    name: tiny
    faults:
      restart: {type: restart}
    matrix:
      - mode: [gevent]
        client: [python]
        transport: [polling, default]
        fault: [restart]
    steps:
      - open: {}
      - fault: {}
    expect:
      - that: {recovered: true}
""")


def write(tmp_path, text):
    p = tmp_path / "tiny.yaml"
    p.write_text(text)
    return p


def test_catalogue_loads():
    names = [load(p).name for p in catalogue()]
    assert "stale-sid-after-restart" in names


def test_every_catalogue_claim_records_its_verdict():
    """The regression suite compares each claim's measured verdict with the recorded one."""
    unrecorded = [f"{s.name}: {c.id}" for s in map(load, catalogue()) for c in s.claims if c.recorded is None]
    assert unrecorded == []


def test_stale_sid_matrix():
    s = load("stale-sid-after-restart")
    browser = [c for c in s.cells if c.params["client"] == "browser"]
    python = [c for c in s.cells if c.params["client"] == "python"]
    assert len(browser) == 24 and len(python) == 12
    assert {c.params["singleton"] for c in browser} == {"naive", "fixed"}


def test_good_file(tmp_path):
    s = load(write(tmp_path, GOOD))
    assert [c.id for c in s.cells] == ["gevent-python-polling-restart", "gevent-python-default-restart"]


@pytest.mark.parametrize("old, new, line, field, reason", [
    ("mode: [gevent]", "mode: [gevnet]", 5, "matrix.0.mode", "unknown value 'gevnet'"),
    ("{type: restart}", "{type: restrat}", 3, "faults.restart", "unknown fault type 'restrat'"),
    ("{type: restart}", "{type: kill-restart, down: 2}", 3, "faults.restart", "no attribute 'down'"),
    ("{recovered: true}", "{recoverd: true}", 13, "expect.0.that.recoverd", "unknown metric"),
    ("{recovered: true}", "{recovered: '>= x'}", 13, "expect.0.that.recovered", "needs a number"),
    ("- fault: {}", "- faultt: {}", 11, "steps.1", "unknown step 'faultt'"),
    ("client: [python]", "client: [firefox]", 6, "matrix.0.client", "unknown value 'firefox'"),
    ("name: tiny", "name: tiny\nping: 3", 2, "ping", "unknown field"),
    ("name: tiny", "name: tiny\nsettings:\n  ping_intervall: 3", 3, "settings.ping_intervall",
     "unknown setting; known: ping_interval, ping_timeout, max_http_buffer_size"),
    ("name: tiny", "name: tiny\nsettings:\n  max_http_buffer_size: 1.5", 3, "settings.max_http_buffer_size",
     "must be int, got 1.5"),
    ("expect:", "claims:\n  - id: c\n    text: t\n    verdict: supportd\n    supported_if: {recovered: true}\n"
     "    refuted_if: {recovered: false}\nexpect:", 15, "claims.0.verdict", "unknown verdict 'supportd'"),
])
def test_errors_name_file_line_field(tmp_path, old, new, line, field, reason):
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: {field}: "), msg
    assert reason in msg


def test_not_yaml(tmp_path):
    with pytest.raises(ScenarioError, match=r"tiny.yaml:2: not valid YAML"):
        load(write(tmp_path, "name: x\n  - : ]["))


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace("[gevent]", "[gevnet]"))
    out = subprocess.run([sys.executable, "-m", "harness", "run", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert "matrix.0.mode" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "harness", "run", "no-such-scenario"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "stale-sid-after-restart" in out.stderr
    out = subprocess.run([sys.executable, "-m", "harness", "run", "stale-sid-after-restart", "--mode", "nope"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "--mode nope" in out.stderr


PROFILES = textwrap.dedent("""\
    name: tiny
    settings:
      cors_origins: "http://127.0.0.1:{port}"
    clients:
      page-v2: {kind: browser, login: false, build: v2, page_host: localhost, socket_host: 127.0.0.1, sio_path: /ws}
      py-ws: {kind: python, sio_path: /ws, namespace: /admin}
    matrix:
      - mode: [node, node-eio3]
        client: [page-v2, py-ws]
    steps:
      - open: {}
""")


def test_client_profiles_pick_build_origin_and_path(tmp_path):
    from harness.modes.base import ServerSettings
    from harness.lab.cell_clients import BrowserClient

    s = load(write(tmp_path, PROFILES))
    cell = s.cells[0]
    assert cell.id == "node-page-v2"
    profile = s.client_profile(cell)
    assert (profile["build"], profile["page_host"], profile["socket_host"], profile["sio_path"]) == \
        ("v2", "localhost", "127.0.0.1", "/ws")
    assert s.client_profile(s.cells[1])["build"] == "v4"          # the default for every profile
    # The page URL the runner opens: another origin of the same server, the 2.x build, a socket URL and path.
    client = object.__new__(BrowserClient)     # the page URL alone: no browser behind it
    client.cell, client.profile, client.transport, client.target = cell, profile, "default", None
    client.topology = type("T", (), {"port": 5000})()
    assert client.page_path() == ("http://localhost:5000/?singleton=naive&transport=default&client=v2"
                                  "&url=http://127.0.0.1:5000&path=/ws")
    # The page's own code around its socket (duplicate-handlers): only what differs from the default is asked for.
    client.profile = {**profile, "handlers": "in-connect", "mounts": 2}
    assert client.page_path().endswith("&path=/ws&handlers=in-connect&mounts=2")
    # {port} in cors_origins is the server's own port.
    settings = ServerSettings(cors_origins=s.settings["cors_origins"])
    assert settings.for_port(5001).cors_origins == "http://127.0.0.1:5001"
    assert ServerSettings(cors_origins="*").for_port(5001).cors_origins == "*"


@pytest.mark.parametrize("old, new, field, reason", [
    ("build: v2,", "build: v3,", "clients.page-v2.build", "one of v4, v2"),
    ("py-ws: {kind: python,", "py-ws: {kind: python, build: v2,", "clients.py-ws.build", "only for browser clients"),
    ("py-ws: {kind: python,", "py-ws: {kind: python, page_host: localhost,", "clients.py-ws.page_host",
     "only for browser clients"),
    ("py-ws: {kind: python,", "py-ws: {kind: python, clients: 50,", "clients.py-ws.clients",
     "only for storm clients"),
    ("page_host: localhost", "page_host: 'http://localhost'", "clients.page-v2.page_host", "a host name"),
    ("sio_path: /ws}", "sio_path: ws}", "clients.page-v2.sio_path", "a path such as /socket.io"),
    ("sio_path: /ws}", "sio_path: /ws, handlers: twice}", "clients.page-v2.handlers", "one of once, in-connect"),
    ("sio_path: /ws}", "sio_path: /ws, mounts: 3}", "clients.page-v2.mounts", "1 or 2"),
    ("sio_path: /ws}", "sio_path: /ws, mounts: true}", "clients.page-v2.mounts", "1 or 2"),
    ("py-ws: {kind: python,", "py-ws: {kind: python, handlers: in-connect,", "clients.py-ws.handlers",
     "only for browser clients"),
    ("py-ws: {kind: python,", "py-ws: {kind: python, mounts: 2,", "clients.py-ws.mounts", "only for browser clients"),
])
def test_client_profile_errors_name_file_line_field(tmp_path, old, new, field, reason):
    path = write(tmp_path, PROFILES.replace(old, new, 1))
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and f": {field}: " in msg and reason in msg, msg


def test_root_cause_fix_and_prevention_are_text(tmp_path):
    import yaml as _yaml

    from harness.lab.scenario import ScenarioError, load

    raw = _yaml.safe_load((Path(__file__).resolve().parent.parent / "scenarios" / "stale-sid-after-restart.yaml").read_text())
    raw["root_cause"] = "the close packet"
    raw["fix"] = ["one", "two"]
    path = tmp_path / "x.yaml"
    path.write_text(_yaml.safe_dump(raw, sort_keys=False))
    assert load(path).raw["fix"] == ["one", "two"]
    raw["prevention"] = {"not": "text"}
    path.write_text(_yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ScenarioError, match=r"x.yaml:\d+: prevention: text, or a list"):
        load(path)


@pytest.mark.parametrize("change, where", [
    (("  - fault: {}", "  - fault: {}\n  - nap: 1"), r"tiny.yaml:\d+: steps.2: unknown step 'nap'; steps: open, sleep, wait_for"),
    (("  - fault: {}", "  - fault: {}\n  - wait_for: {until: soon}"), r"steps.2.wait_for.until: unknown milestone 'soon'"),
    (("  - fault: {}", "  - fault: {}\n  - probe: {path: /x, repeat: two}"), r"steps.2.probe.repeat: wrong type"),
    (("  - fault: {}", "  - fault: {}\n  - sleep: -1"), r"steps.2.sleep: seconds, a number >= 0"),
    (("    fault: [restart]\n", ""), r"steps.1.fault: cells without a `fault` axis would skip it: gevent-python-polling"),
])
def test_each_step_validates_its_own_arguments(tmp_path, change, where):
    with pytest.raises(ScenarioError, match=where):
        load(write(tmp_path, GOOD.replace(*change)))


VARIANTS = textwrap.dedent("""\
    name: tiny
    settings:
      ping_interval: 2
    setting_variants:
      decode-64: {max_decode_packets: 64}
    faults:
      burst: {type: client-emit, event: tally, count: 50, bytes: 8}
    matrix:
      - mode: [gevent]
        client: [browser]
        fault: [burst]
      - mode: [gevent]
        client: [browser]
        fault: [burst]
        settings: [decode-64]
    steps:
      - open: {}
      - fault: {}
    expect:
      - where: {settings: default}
        that: {tallies_lost: ">= 1"}
      - where: {settings: decode-64}
        that: {tallies_lost: 0}
""")


def test_a_settings_variant_changes_its_cells_settings_only(tmp_path):
    from harness.lab.runner import server_settings

    s = load(write(tmp_path, VARIANTS))
    plain, raised = s.cells
    assert [c.id for c in s.cells] == ["gevent-browser-burst", "gevent-browser-burst-decode-64"]
    assert server_settings(s, plain).max_decode_packets is None
    assert server_settings(s, raised).max_decode_packets == 64 and server_settings(s, raised).ping_interval == 2
    # a cell without the axis is the `default` variant, as a cell without a front has `none`
    assert [c.id for c in s.cells if c.matches({"settings": "default"})] == [plain.id]
    assert [c.id for c in s.cells if c.matches(s.expectations[1].where)] == [raised.id]


@pytest.mark.parametrize("old, new, field, reason", [
    ("decode-64: {max_decode_packets: 64}", "default: {max_decode_packets: 64}", "setting_variants.default", "reserved"),
    ("decode-64: {max_decode_packets: 64}", "decode-64: {max_decode: 64}", "setting_variants.decode-64.max_decode",
     "unknown setting"),
    ("decode-64: {max_decode_packets: 64}", "decode-64: {ping_interval: 0.5}", "setting_variants.decode-64.ping_interval",
     "whole seconds"),
    ("settings: [decode-64]", "settings: [decode-46]", "matrix.1.settings", "unknown value 'decode-46'"),
])
def test_settings_variant_errors_name_file_line_field(tmp_path, old, new, field, reason):
    path = write(tmp_path, VARIANTS.replace(old, new))
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert f": {field}: " in str(err.value) and reason in str(err.value), str(err.value)


SECTIONS = {"settings": dict, "clients": dict, "faults": dict, "fronts": dict, "setting_variants": dict,
            "matrix": list, "steps": list, "expect": list, "claims": list}


WRONG = {dict: ["3", "'text'", "[1, 2]", "true", "2.5"], list: ["3", "'text'", "{a: 1}", "true", "2.5"]}


@pytest.mark.parametrize("section, value", [(s, v) for s in sorted(SECTIONS) for v in WRONG[SECTIONS[s]]])
def test_a_section_of_the_wrong_type_names_its_line_and_field(tmp_path, section, value):
    """Issue 13: `clients: 3` (or a string, a list …) was an AttributeError traceback."""
    path = write(tmp_path, GOOD.replace("name: tiny", f"name: tiny\n{section}: {value}", 1)
                 if section not in ("matrix", "steps", "expect", "faults")
                 else _replace_section(GOOD, section, value))
    with pytest.raises(ScenarioError) as err:
        load(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith(f"{section}:"))
    assert str(err.value).startswith(f"{path}:{line}: {section}: must be "), err.value


def _replace_section(text: str, section: str, value: str) -> str:
    """GOOD with the block of `section:` replaced by a one-line value."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith(f"{section}:"):
            out.append(f"{section}: {value}")
            skipping = True
        elif skipping and line.startswith(" "):
            continue
        else:
            skipping = False
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("old, new, field, reason", [
    ("matrix:\n  - mode: [gevent]\n    client: [python]\n    transport: [polling, default]\n    fault: [restart]",
     "matrix: []", "matrix", "no group"),
    ("transport: [polling, default]", "transport: []", "matrix.0.transport", "no value"),
    ("name: tiny", "name: tiny\ntitle: [a, b]", "title", "must be text"),
])
def test_empty_matrices_and_untyped_text_are_errors(tmp_path, old, new, field, reason):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ScenarioError, match=rf"tiny.yaml:\d+: {field}: .*{reason}"):
        load(path)


@pytest.mark.parametrize("argv, says", [
    (["serve", "gevent", "--port", "99999"], "a TCP port is 1-65535"),
    (["serve", "gevent", "--port", "-1"], "a TCP port is 1-65535"),
    (["serve", "aiohttp", "--ping-interval", "-3"], "--ping-interval -3: must be whole seconds >= 1"),
    (["serve", "aiohttp", "--ping-timeout", "0"], "--ping-timeout 0: must be whole seconds >= 1"),
])
def test_serve_refuses_bad_flags_with_exit_2(argv, says):
    """Issue 13: these ended in gunicorn's OverflowError and a SettingError traceback."""
    out = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert says in out.stderr and "Traceback" not in out.stderr


def test_validate_checks_scenarios_and_config_without_running(tmp_path, capsys):
    from harness.entrypoints.cli import main

    good = write(tmp_path, GOOD)
    assert main(["validate", str(good), "server-stall"]) == 0
    out = capsys.readouterr().out
    assert f"{good}: ok (2 cells, 0 claims)" in out and "server-stall.yaml: ok" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("name: tiny", "name: bad\nclients: 3"))
    toml_bad, toml_good = tmp_path / "siolab.toml", tmp_path / "ok.toml"
    toml_bad.write_text('mode = ["gevent"]\njobs = "many"\n')
    toml_good.write_text('mode = ["gevent"]\n')
    assert main(["validate", str(good), str(bad), str(toml_bad), str(toml_good)]) == 2
    captured = capsys.readouterr()
    assert f"{bad}:2: clients: must be a mapping" in captured.err
    assert f"{toml_bad}:2: jobs: must be a whole number" in captured.err
    assert f"{good}: ok" in captured.out and f"{toml_good}: ok (1 knob)" in captured.out


def test_a_run_folder_keeps_the_scenario_as_loaded_not_as_the_file_is_now(tmp_path):
    """A `--repeat` run loads its scenarios once; a file edited meanwhile must not reach a later
    repetition's folder (the stress bench judged repetition 2 against a file that had gained cells
    and a figure its process did not know)."""
    from harness.lab.runner import Planned, run_plan

    path = write(tmp_path, GOOD)
    scenario = load(path)
    path.write_text(GOOD.replace("name: tiny", "name: tiny\ntitle: edited"))
    run_plan([Planned(scenario, [], tmp_path / "run")], progress=lambda s: None)
    assert (tmp_path / "run" / "scenario.yaml").read_text() == GOOD
