"""Fuzzing every front door (issue 13): bad input ends in exit 2 (or a ScenarioError) with a
message, never an uncaught exception, and in bounded time.

Scenario files are the catalogue's own, mutated field by field (wrong types, unknown keys and
values, huge numbers, negative times, empty matrices) or cut short; the CLI's `run`, `serve`,
`report` and `diagnose` get generated flags; `diagnose` gets captures cut at any offset,
re-encoded, binary, or with entries whose fields are missing or absurd. The CLI is called in
process (its `main`); what would start a run or a server is replaced by a stub that says so
(the harness's own plumbing: no server, browser or client is faked, none is started).

Random locally, derandomized under CI=true. The number of cases each test tried is printed at
the end of the session (conftest.py).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import shutil
import signal
import string
from pathlib import Path

import pytest
import yaml

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.entrypoints import cli
from harness.lab.scenario import ScenarioError, _Located, _validate, catalogue, load

from .conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASE_LIMIT_S = 30          # one case taking longer is a hang, on any machine
CASES: dict[str, int] = {}  # test name -> cases tried (printed by conftest.py)


def fuzz_settings(n: int):
    return settings(max_examples=n, derandomize=IN_CI, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


class Hang(Exception):
    pass


@contextlib.contextmanager
def bounded(what: str):
    """A case that runs past CASE_LIMIT_S fails as a hang instead of blocking the suite."""
    def fire(signum, frame):
        raise Hang(f"{what}: still running after {CASE_LIMIT_S} s")
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


# -- values a careless or hostile file holds ----------------------------------------------
NASTY = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.sampled_from([0, -1, -3, 2 ** 31, 2 ** 63, 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "default", "none", "browser", "python", "gevent", "auto", "{port}", ">= 1", "== true",
                     "-1", "1e999", "\x00", "é", "../../etc/passwd", "restart"]),
    st.lists(st.integers(), max_size=3), st.just([]), st.just({}),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)

RAW_CATALOGUE = [(p.stem, yaml.safe_load(p.read_text())) for p in catalogue()]


def _paths(node, prefix=()):
    """Every key path in a scenario's tree (mapping keys and list indexes)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated_scenario(draw):
    """A catalogue scenario with one to three fields replaced, removed, or joined by an unknown one."""
    stem, raw = draw(st.sampled_from(RAW_CATALOGUE))
    raw = copy.deepcopy(raw)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(raw) if p]
        path = draw(st.sampled_from(paths)) if paths else ()
        parent = raw
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1] if path else None
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
        if key is None or not isinstance(parent, (dict, list)):
            continue
        if action == "replace":
            parent[key] = draw(NASTY)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(NASTY)
    return stem, raw


def _load_or_clean_error(path: Path, raw: dict | None = None) -> None:
    try:
        if raw is None:
            load(path)
        else:   # the fields as YAML would give them; the parsing has its own test below
            _validate(path, raw, _Located(path, None))
    except ScenarioError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip() and "Traceback" not in message, message
        assert message.startswith(str(path)), message


@fuzz_settings(700)
@given(case=mutated_scenario())
def test_mutated_scenarios_load_or_name_the_field(case):
    stem, raw = case
    count("scenario fields")
    with bounded(f"load({stem} mutated)"):
        _load_or_clean_error(Path(f"/fuzz/{stem}.yaml"), raw)


@fuzz_settings(60)
@given(stem_text=st.sampled_from([(p.stem, p.read_bytes()) for p in catalogue()]), data=st.data())
def test_cut_or_garbled_scenario_files(tmp_path_factory, stem_text, data):
    stem, blob = stem_text
    how = data.draw(st.sampled_from(["cut", "bytes", "utf-16", "latin-1"]))
    if how == "cut":
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    elif how == "bytes":
        at = data.draw(st.integers(0, len(blob)))
        blob = blob[:at] + data.draw(st.binary(min_size=1, max_size=16)) + blob[at:]
    else:
        blob = blob.decode("utf-8").encode(how, errors="replace")
    path = tmp_path_factory.mktemp("fuzz") / f"{stem}.yaml"
    path.write_bytes(blob)
    count("scenario bytes")
    with bounded(f"load({stem} {how})"):
        _load_or_clean_error(path)


# -- the command line -----------------------------------------------------------------------
class WouldStart(Exception):
    """Raised by the stubs where a valid command would start real processes."""


@pytest.fixture
def no_starts(monkeypatch, tmp_path):
    import harness.lab.runner as runner
    import harness.lab.topology as topology

    def would_start(*a, **k):
        raise WouldStart()
    monkeypatch.setattr(runner, "run_plan", would_start)
    monkeypatch.setattr(cli, "_run_repeated", would_start)
    monkeypatch.setattr(runner, "new_run_dir", lambda name, base=None: tmp_path / "runs" / name)
    monkeypatch.setattr(topology, "Server", would_start)
    monkeypatch.chdir(tmp_path)          # no siolab.toml of the developer's leaks in
    for var in ("SIOLAB_CONFIG", "SIOLAB_MODE", "SIOLAB_APP", "SIOLAB_CMD", "SIOLAB_HOOK", "SIOLAB_PAGE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def call_cli(argv: list[str]) -> tuple[int, str]:
    """main(argv) in process: its exit code and what it wrote to stderr; WouldStart is code -1."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), bounded(" ".join(argv)[:200]):
        try:
            code = cli.main(argv)
        except SystemExit as exc:          # argparse's own errors (exit 2) and --help (exit 0)
            code = exc.code if isinstance(exc.code, int) else 2
        except WouldStart:
            code = -1
    return code, err.getvalue()


def assert_clean(argv: list[str], code: int, err: str, allowed=(0, 1, 2, -1)) -> None:
    assert code in allowed, (argv, code, err)
    if code == 2:
        assert err.strip(), (argv, "exit 2 without a message")
    assert "Traceback" not in err, (argv, err)


SCENARIO_NAMES = [p.stem for p in catalogue()]
WORD = st.one_of(st.sampled_from(["gevent", "reloader", "browser", "python", "polling", "websocket", "default",
                                  "naive", "fixed", "restart", "auto", "", ",", "gevent,nope", "0", "-1", "3",
                                  "99999999999999999999", "1e3", "é", "\x7f", " ", "--all"]),
                 st.text(alphabet=string.printable, max_size=12))
VALUE_FLAGS = ["--mode", "--client", "--fault", "--transport", "--singleton", "--jobs", "--repeat", "--clients",
               "--out", "--page", "--config", "--cmd", "--app-path"]


@st.composite
def run_argv(draw):
    argv = ["run"]
    target = draw(st.sampled_from(SCENARIO_NAMES + ["no-such-scenario", "", "scenarios", "x.yaml", None]))
    if target is not None:
        argv.append(target)
    for _ in range(draw(st.integers(0, 4))):
        flag = draw(st.sampled_from(VALUE_FLAGS + ["--all", "--bogus"]))
        argv += [flag] if flag in ("--all", "--bogus") else [flag, draw(WORD)]
    return argv


@fuzz_settings(250)
@given(argv=run_argv())
def test_run_flags(no_starts, argv):
    if "--all" in argv and "--jobs" not in argv:
        argv += ["--mode", "nope"]           # the whole catalogue per case is slow; the filter check still runs
    if "--out" in argv:
        argv[argv.index("--out") + 1:argv.index("--out") + 2] = [str(no_starts / "out")]
    count("run flags")
    code, err = call_cli(argv)
    assert_clean(argv, code, err, allowed=(2, -1, 0))


@st.composite
def serve_argv(draw):
    argv = ["serve", draw(st.sampled_from(["gevent", "aiohttp", "reloader", "node", "gevnet", "", "-x"]))]
    for _ in range(draw(st.integers(0, 3))):
        flag = draw(st.sampled_from(["--port", "--ping-interval", "--ping-timeout", "--message-queue", "--bogus"]))
        value = draw(st.one_of(WORD, st.integers(-(10 ** 20), 10 ** 20).map(str)))
        argv += [flag] if flag == "--bogus" else [flag, value]
    return argv


@fuzz_settings(200)
@given(argv=serve_argv())
def test_serve_flags(no_starts, argv):
    argv = argv + ["--out", str(no_starts / "serve")]
    count("serve flags")
    code, err = call_cli(argv)
    assert_clean(argv, code, err, allowed=(2, -1))


# -- saved run folders and captures -----------------------------------------------------------
def _garble(draw, blob: bytes) -> bytes:
    how = draw(st.sampled_from(["cut", "cut", "bytes", "utf-16", "binary", "empty"]))
    if how == "cut":
        return blob[:draw(st.integers(0, len(blob)))]
    if how == "bytes":
        at = draw(st.integers(0, len(blob)))
        return blob[:at] + draw(st.binary(min_size=1, max_size=32)) + blob[at:]
    if how == "utf-16":
        return blob.decode("utf-8", errors="replace").encode("utf-16")
    if how == "binary":
        return draw(st.binary(max_size=512))
    return b""


def _absurd_entries(draw, har: dict) -> dict:
    """A HAR whose entries lose fields or get values of the wrong type."""
    har = copy.deepcopy(har)
    entries = har.get("log", {}).get("entries", [])
    for _ in range(draw(st.integers(1, 4))):
        if not entries:
            break
        entry = entries[draw(st.integers(0, len(entries) - 1))]
        paths = [p for p in _paths(entry) if p]
        path = draw(st.sampled_from(paths))
        parent = entry
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(NASTY)
    return har


CAPTURES = sorted(p for p in FIXTURES.iterdir() if p.is_file())
# One cell of `siolab run stale-sid-after-restart --mode reloader --client python`, as it was written.
SAVED_RUN = FIXTURES / "saved-run"


@st.composite
def capture_file(draw):
    source = draw(st.sampled_from(CAPTURES))
    blob = source.read_bytes()
    if source.suffix == ".har" and draw(st.booleans()):
        har = _absurd_entries(draw, json.loads(blob))
        try:
            return source.name, json.dumps(har, allow_nan=True).encode()
        except (ValueError, OverflowError):
            return source.name, blob
    return source.name, _garble(draw, blob)


@fuzz_settings(250)
@given(case=capture_file())
def test_diagnose_captures(no_starts, case):
    name, blob = case
    path = no_starts / name
    path.write_bytes(blob)
    argv = ["diagnose", str(path), "--out", str(no_starts / "diagnosis")]
    count("diagnose captures")
    code, err = call_cli(argv)
    assert_clean(argv, code, err, allowed=(0, 2))


@fuzz_settings(80)
@given(data=st.data())
def test_report_of_broken_run_folders(no_starts, data):
    """`siolab report DIR` on a folder whose run.json or timeline is cut, garbled or missing."""
    target = no_starts / "broken"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SAVED_RUN, target)
    files = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".yaml"))
    for _ in range(data.draw(st.integers(1, 2))):
        victim = data.draw(st.sampled_from(files))
        victim.write_bytes(_garble(data.draw, victim.read_bytes()))
    argv = ["report", str(target)]
    count("report folders")
    code, err = call_cli(argv)
    assert_clean(argv, code, err, allowed=(0, 1, 2))
