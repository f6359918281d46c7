"""The pytest plugin as a user meets it: installed by entry point, used from their own test files.

Each test writes a small test file (the examples are taken from docs/pytest-plugin.md, so the
guide is what is tested) and runs pytest on it in a subprocess with `pytester`: real servers,
a real fault, a real python-socketio client, real Chromium. Under CI=true a missing browser
fails (the plugin's `siolab_browser` fails instead of skipping, and so does this file).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.entrypoints.pytest_plugin import assert_verdict
from harness.core.timeline import Event
from tests.conftest import pids_alive, require

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "pytest-plugin.md"
RUN_TIMEOUT_S = 180


def guide_file(name: str) -> str:
    """The ```python block of docs/pytest-plugin.md whose first line is `# NAME`."""
    for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S):
        if block.splitlines()[0].strip() == f"# {name}":
            return block
    raise AssertionError(f"docs/pytest-plugin.md has no ```python block starting with '# {name}'")


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # A subprocess: the inner session has its own browser, servers and atexit, like a user's run.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=RUN_TIMEOUT_S)


def started_pids(run_dir: Path) -> list[int]:
    pids = []
    for line in (run_dir / "timeline.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] == "proc.start":
            pids.append(event["data"]["pid"])
    return pids


def test_plugin_is_registered(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    out = result.stdout.str()
    for name in ("siolab_run_dir", "siolab_timeline", "siolab_supervisor", "siolab_server", "siolab_proxy",
                 "siolab_browser", "siolab_page", "siolab_pyclient", "siolab_fault", "siolab_wait_for",
                 "assert_verdict"):
        assert name in out, name


def test_guide_example_kill_restart_recovers(pytester: pytest.Pytester):
    pytester.makepyfile(test_reconnect=guide_file("test_reconnect.py"))
    result = run_inner(pytester)
    result.assert_outcomes(passed=1)


def test_failing_verdict_shows_the_deciding_events_and_the_run_folder(pytester: pytest.Pytester):
    pytester.makepyfile(test_wrong=guide_file("test_wrong.py"))
    result = run_inner(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "siolab verdict: 2 of 3 condition(s) failed" in out
    assert re.search(r"FAIL  recovered false  got True", out)
    assert re.search(r"FAIL  disconnect_reason 'transport close'  got 'transport error'", out)
    assert "ok    stale_sid_400 == 0" in out
    assert re.search(r"deciding events:\n[E\s]+t=\s*[\d.]+\s+pyclient\s+sio\.connect\s", out)
    assert re.search(r"t=\s*[\d.]+\s+pyclient\s+sio\.disconnect\s+\{\"reason\": \"transport error\"", out)
    assert "siolab run folder" in out                         # the report section of the failed test
    run_dir = Path(re.search(r"run folder: (\S+)", out).group(1))
    assert (run_dir / "timeline.jsonl").is_file() and (run_dir / "logs").is_dir()
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["ok"] is False and verdict["conditions"]["recovered"]["value"] is True
    # Every process the failed test started is gone.
    assert started_pids(run_dir) and not pids_alive(started_pids(run_dir))


def test_proxy_toxics_and_a_fault_through_the_proxy(pytester: pytest.Pytester):
    pytester.makepyfile(test_proxy=guide_file("test_proxy.py"))
    result = run_inner(pytester)
    result.assert_outcomes(passed=1)


def test_your_own_app_as_a_mode(pytester: pytest.Pytester):
    pytester.makepyfile(myapp=guide_file("myapp.py"), test_my_app=guide_file("test_my_app.py"))
    result = run_inner(pytester)
    result.assert_outcomes(passed=1)


def test_browser_page_through_the_plugin(pytester: pytest.Pytester, chromium_path):
    require((REPO / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").is_file(),
            "socket.io-client is not installed (npm ci)")
    pytester.makepyfile(test_page=guide_file("test_page.py"))
    result = run_inner(pytester, "--siolab-runs", str(pytester.path / "runs"))
    result.assert_outcomes(passed=1)
    run_dirs = list((pytester.path / "runs").iterdir())
    assert len(run_dirs) == 1                                  # kept under --siolab-runs, passed or not
    cell = run_dirs[0] / "browser-1"
    assert (cell / "browser.har").is_file() and (cell / "trace.zip").is_file()
    events = [json.loads(line) for line in (run_dirs[0] / "timeline.jsonl").read_text().splitlines()]
    assert any(e["src"] == "browser" and e["kind"] == "sio.connect" for e in events)


def test_misuse_gets_a_clear_message(pytester: pytest.Pytester):
    pytester.makepyfile(test_misuse="""
        import pytest

        def test_unknown_figure(assert_verdict):
            with pytest.raises(ValueError, match="no figure named recoverd; the checks measure: .*recovered"):
                assert_verdict(recoverd=True)

        def test_proxy_fault_without_proxy(siolab_server, siolab_fault):
            siolab_server("gevent")
            with pytest.raises(ValueError, match="acts through the proxy"):
                siolab_fault("proxy-reset")

        def test_unknown_setting(siolab_server):
            with pytest.raises(TypeError, match="unknown setting.*ping_intervall"):
                siolab_server("gevent", ping_intervall=5)

        def test_client_before_server(siolab_pyclient):
            with pytest.raises(ValueError, match="no server started"):
                siolab_pyclient()
    """)
    result = run_inner(pytester)
    result.assert_outcomes(passed=4)


def _events(*rows) -> list[Event]:
    return [Event(t, src, kind, data) for t, src, kind, data in rows]


def test_assert_verdict_on_saved_events_writes_the_timeline_on_failure(tmp_path):
    events = _events(
        (0.1, "pyclient", "sio.connect", {"eio_sid": "old", "transport": "polling"}),
        (1.0, "harness", "fault", {"name": "kill-restart", "phase": "begin"}),
        (1.1, "pyclient", "sio.disconnect", {"reason": "transport error"}),
        (2.0, "pyclient", "sio.connect", {"eio_sid": "new", "transport": "polling"}),
    )
    findings = assert_verdict(events, recovered=True, disconnect_reason="transport error")
    assert findings["new_sid"].value == "new"
    with pytest.raises(AssertionError) as failure:
        assert_verdict(events, run_dir=tmp_path, recovered=False)
    text = str(failure.value)
    assert "FAIL  recovered false  got True" in text and "sio.connect" in text and str(tmp_path) in text
    assert len((tmp_path / "timeline.jsonl").read_text().splitlines()) == len(events)
    assert json.loads((tmp_path / "verdict.json").read_text())["ok"] is False


def test_ci_recipe_is_a_workflow_that_installs_runs_and_uploads():
    import yaml

    text = (REPO / "docs" / "ci-recipe.md").read_text(encoding="utf-8")
    workflow = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, flags=re.S).group(1))
    steps = workflow["jobs"]["siolab"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "make -C siolab setup" in runs and "siolab doctor" in runs
    assert re.search(r"pytest .*--siolab-runs \S*siolab-runs", runs)
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "siolab-runs"
