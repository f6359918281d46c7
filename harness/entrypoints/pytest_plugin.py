"""The siolab pytest plugin: a reconnect regression test in ten lines, with the lab's real parts.

Installed with the package (entry point `pytest11: siolab`); docs/pytest-plugin.md has the
guide. Every fixture tears down on every path (a failed assertion, an exception in a
fault, Ctrl-C): servers and proxies are processes of the test's `Supervisor`, clients and
browser contexts are closed by their fixture, the browser by the session.

    siolab_run_dir      Path        the test's run folder (timeline.jsonl, logs/, browser-N/, verdict.json)
    siolab_timeline     Timeline    the test's timeline, mirrored to run_dir/timeline.jsonl
    siolab_supervisor   Supervisor  every process the test starts; all killed at teardown
    siolab_server(mode="gevent", *, port=None, timeout=20, **settings) -> topology.Server
    siolab_proxy(server=None, *, name=None) -> topology.ProxyFront   (.proxy: toxics, down(), ...)
    siolab_pyclient(target=None, *, transport="default", connect=True, **options) -> PythonClient
    siolab_browser      BrowserDriver (session scope)
    siolab_page(target=None, path="/", *, name=None) -> BrowserCell
    siolab_fault(type, target=None, **attributes) -> Fault      (injected; returns when it is over)
    siolab_wait_for(event, *, src=None, after=None, new_sid=False, timeout=10) -> Event
    assert_verdict(timeline_or_events=None, *, within=None, **conditions) -> {figure: Finding}
    siolab_scenario(name=None, *, mode=…, client=…, fault=…, transport=…, app=…, page=…, hook=…) -> RunReport
        a catalogue scenario run as `siolab run` does, against your app: the target comes from the
        arguments, else --siolab-app/--siolab-cmd/--siolab-page/--siolab-hook/--siolab-app-path,
        else siolab.toml (rootdir, or --siolab-config), else SIOLAB_APP/…; with no name, from the
        test's `@pytest.mark.siolab_scenario(name, **filters)`. Fails listing each failed expectation.

A `target` is a Server, a ProxyFront, a Topology or a URL; by default the last server
started, through its proxy when it has one. Conditions are the scenario files' own
(`">= 1"`, `"== 0"`, `true`, `"~ Invalid session"`, `"any"`) on the figures of
`harness.checks` (`siolab_wait_for` and `assert_verdict` only read the timeline).

Run folders live under pytest's tmp_path (kept for failed tests, the path is printed in
the failure report); `--siolab-runs DIR` or SIOLAB_RUNS_DIR keeps every test's folder under
DIR instead (for CI artifacts). Under CI=true a missing browser fails instead of skipping.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the harness is imported lazily: this module loads in every pytest run
    from ..checks import Finding
    from ..clients.browser import BrowserCell, BrowserDriver
    from ..clients.pyclient import PythonClient
    from ..faults.registry import Fault
    from ..core.supervisor import Supervisor
    from ..core.timeline import Event, Timeline
    from ..lab.topology import ProxyFront, Server, Topology

RUN_DIR_KEY = pytest.StashKey[Path]()
TARGET_KNOBS = ("app", "cmd", "app_path", "page", "hook")
FILTER_AXES = ("mode", "client", "fault", "transport", "singleton")
TRANSPORTS = {"default": None, "polling": ["polling"], "websocket": ["websocket"]}
CLIENT_SOURCES = ("browser", "pyclient")
SHOWN_EVENTS = 8
DATA_WIDTH = 220


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with the reason locally; fail under CI=true (CI never passes by skipping)."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"siolab: required component missing under CI=true: {reason}", pytrace=False)
    pytest.skip(f"siolab: {reason}")


# --------------------------------------------------------------------------- hooks

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("siolab", "siolab (Socket.IO incident lab)")
    group.addoption("--siolab-runs", metavar="DIR", default=None,
                    help="keep every test's siolab run folder under DIR (default: under pytest's tmp_path; "
                         "environment: SIOLAB_RUNS_DIR)")
    from ..lab.config import BY_NAME, CONFIG_ENV, CONFIG_NAME, knob_help

    group.addoption("--siolab-config", metavar="PATH", default=None,
                    help=f"the knobs' file for siolab_scenario (default: {CONFIG_NAME} in the rootdir) [env: {CONFIG_ENV}]")
    for name in TARGET_KNOBS:
        group.addoption(f"--siolab-{name.replace('_', '-')}", dest=f"siolab_{name}", default=None,
                        help="siolab_scenario: " + knob_help(BY_NAME[name]))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "siolab_scenario(name, **filters): the catalogue scenario that "
                                       "the test's siolab_scenario() runs (filters: mode, client, fault, transport, singleton)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    run_dir = item.stash.get(RUN_DIR_KEY, None)
    if run_dir is not None and report.failed:
        report.sections.append(("siolab run folder", f"{run_dir}  (timeline.jsonl, logs/, browser-N/, verdict.json)"))
    return report


# --------------------------------------------------------------------------- targets

class _Lab:
    """What one test has started, so that factories can default to it and faults find the proxy."""

    def __init__(self) -> None:
        self.servers: list[Server] = []
        self.proxies: dict[int, ProxyFront] = {}     # id(server) -> the proxy in front of it

    def last_server(self, who: str) -> "Server":
        if not self.servers:
            raise ValueError(f"{who}: no server started in this test yet: call siolab_server(...) first, "
                             "or pass a target")
        return self.servers[-1]

    def default_target(self, who: str):
        server = self.last_server(who)
        return self.proxies.get(id(server), server)

    def topology(self, target, who: str) -> "Topology":
        from ..lab.topology import ProxyFront, Server, Topology

        target = self.last_server(who) if target is None else target
        if isinstance(target, Topology):
            return target
        if isinstance(target, Server):
            return Topology(target, self.proxies.get(id(target)))
        if isinstance(target, ProxyFront):
            for server in self.servers:
                if self.proxies.get(id(server)) is target:
                    return Topology(server, target)
        raise TypeError(f"{who}: cannot inject into {target!r}: pass a Server, a ProxyFront or a Topology "
                        "started by this test")


def base_url(target: Any) -> str:
    """The URL a client dials for a Server, a ProxyFront, a Topology or a URL."""
    from ..lab.topology import HOST, ProxyFront, Server, Topology

    if isinstance(target, str):
        return target.rstrip("/")
    if isinstance(target, Topology):
        return target.base_url
    if isinstance(target, ProxyFront):
        return f"http://{HOST}:{target.listen_port}"
    if isinstance(target, Server):
        return f"http://{HOST}:{target.port}"
    raise TypeError(f"not a target: {target!r} (a Server, a ProxyFront, a Topology or a URL)")


# --------------------------------------------------------------------------- fixtures

def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:120] or "test"


@pytest.fixture
def siolab_run_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The test's run folder; printed in the report when the test fails."""
    keep = request.config.getoption("siolab_runs", None) or os.environ.get("SIOLAB_RUNS_DIR")
    if keep:
        run_dir = Path(keep).resolve() / _safe_name(request.node.nodeid)
        n = 1
        while run_dir.exists():
            n += 1
            run_dir = run_dir.with_name(f"{_safe_name(request.node.nodeid)}-{n}")
    else:
        run_dir = tmp_path / "siolab-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    request.node.stash[RUN_DIR_KEY] = run_dir
    return run_dir


@pytest.fixture
def siolab_timeline(request: pytest.FixtureRequest, siolab_run_dir: Path):
    from ..core.timeline import Timeline

    with Timeline(siolab_run_dir / "timeline.jsonl") as timeline:
        timeline.record("harness", "cell.start", {"cell": request.node.nodeid})
        try:
            yield timeline
        finally:
            timeline.record("harness", "cell.end", {"cell": request.node.nodeid})


@pytest.fixture
def siolab_supervisor(siolab_run_dir: Path, siolab_timeline: "Timeline"):
    from ..core.supervisor import Supervisor

    with Supervisor(siolab_run_dir, siolab_timeline) as supervisor:
        yield supervisor


@pytest.fixture
def _siolab_lab() -> _Lab:
    return _Lab()


@pytest.fixture
def siolab_server(siolab_supervisor: "Supervisor", siolab_timeline: "Timeline", _siolab_lab: _Lab):
    """Factory: `siolab_server("gevent", ping_interval=5)` starts a mode and returns its `Server` once
    an Engine.IO handshake answers. `mode` is a name (harness.modes) or a `Mode` object."""
    from dataclasses import fields

    from ..modes import get_mode
    from ..modes.base import Mode, ServerSettings
    from ..lab.topology import Server

    def start(mode: "str | Mode" = "gevent", *, port: int | None = None, timeout: float = 20.0,
              **settings: Any) -> Server:
        mode_obj = mode if isinstance(mode, Mode) else get_mode(mode)
        known = {f.name for f in fields(ServerSettings)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise TypeError(f"siolab_server: unknown setting(s) {', '.join(unknown)}; "
                            f"ServerSettings has: {', '.join(sorted(known))}")
        server = Server(siolab_supervisor, siolab_timeline, mode_obj, ServerSettings(**settings), port=port)
        _siolab_lab.servers.append(server)
        server.start(timeout=timeout)
        return server

    yield start
    for server in reversed(_siolab_lab.servers):
        if server.proc is not None and server.proc.alive():
            server.proc.signal_group(signal.SIGCONT)  # a stalled server cannot act on a signal
            server.stop(signal.SIGINT, timeout=2)     # gunicorn's quick shutdown; SIGTERM waits for clients


@pytest.fixture
def siolab_proxy(siolab_supervisor: "Supervisor", siolab_timeline: "Timeline", siolab_server, _siolab_lab: _Lab):
    """Factory: `siolab_proxy(server)` puts the Toxiproxy-API proxy in front of a server.

    The returned `ProxyFront` has `.listen_port` and `.proxy` (add_toxic, remove_toxic,
    toxics, disable/enable, `with .proxy.down(): ...`). The proxy server is TOXIPROXY_URL's,
    toxiproxy-server on PATH, or the embedded one."""
    from ..lab.topology import ProxyFront

    made: list[ProxyFront] = []

    def front(server: "Server | None" = None, *, name: str | None = None) -> ProxyFront:
        server = server or _siolab_lab.last_server("siolab_proxy")
        proxy = ProxyFront(siolab_supervisor, siolab_timeline, server.port,
                           name=name or f"siolab-{uuid.uuid4().hex[:8]}")
        made.append(proxy)
        _siolab_lab.proxies[id(server)] = proxy
        return proxy

    yield front
    for proxy in made:
        if proxy.proc is None:  # a shared Toxiproxy (TOXIPROXY_URL): leave it as it was
            try:
                proxy.proxy.destroy()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass


@pytest.fixture
def siolab_pyclient(siolab_timeline: "Timeline", siolab_proxy, _siolab_lab: _Lab):
    """Factory: a python-socketio client recording into the timeline, connected unless `connect=False`.

    `transport` is default / polling / websocket; other options go to `PythonClient`
    (headers, namespace, reconnection_delay, wait_timeout, transports)."""
    from ..clients.pyclient import PythonClient

    clients: list[PythonClient] = []

    def make(target: Any = None, *, transport: str = "default", connect: bool = True, **options: Any) -> PythonClient:
        if transport not in TRANSPORTS:
            raise ValueError(f"siolab_pyclient: transport {transport!r}; expected one of {', '.join(TRANSPORTS)}")
        url = base_url(target if target is not None else _siolab_lab.default_target("siolab_pyclient"))
        options.setdefault("transports", TRANSPORTS[transport])
        client = PythonClient(siolab_timeline, url, **options)
        clients.append(client)
        if connect:
            client.connect()
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def siolab_browser():
    """One headless Chromium for the session (skipped without one locally, failed under CI=true)."""
    from ..clients.browser import BrowserDriver, find_chromium

    executable = find_chromium()
    require(executable is not None,
            "no Chromium: no Playwright-managed browser and no chromium on PATH "
            "(make setup, or apt-get install -y chromium; elsewhere: playwright install chromium)")
    with BrowserDriver(executable=executable) as driver:
        yield driver


@pytest.fixture
def siolab_page(siolab_browser: "BrowserDriver", siolab_timeline: "Timeline", siolab_run_dir: Path,
                siolab_proxy, _siolab_lab: _Lab):
    """Factory: a fresh browser context on `target` (HAR and trace in run_dir/browser-N), at `path`
    (None: stay on about:blank). Drive it with goto / evaluate / click / wait_for_function."""
    cells: list[BrowserCell] = []

    def open_page(target: Any = None, path: str | None = "/", *, name: str | None = None) -> "BrowserCell":
        url = base_url(target if target is not None else _siolab_lab.default_target("siolab_page"))
        cell = siolab_browser.new_cell(siolab_timeline, siolab_run_dir / (name or f"browser-{len(cells) + 1}"),
                                       base_url=url)
        cells.append(cell)
        if path is not None:
            cell.goto(path)
        return cell

    yield open_page
    for cell in cells:
        cell.close()


@pytest.fixture
def siolab_fault(siolab_timeline: "Timeline", siolab_proxy, _siolab_lab: _Lab):
    """Factory: `siolab_fault("kill-restart", server, down_s=1)` builds a registered fault
    (harness.faults.registry) and injects it; it returns when the fault is over."""
    from ..faults.registry import build_fault

    def inject(type: str, target: Any = None, **attributes: Any) -> "Fault":
        fault = build_fault({"type": type, **attributes})
        topology = _siolab_lab.topology(target, "siolab_fault")
        if fault.needs_proxy and topology.proxy is None:
            raise ValueError(f"siolab_fault: {type!r} acts through the proxy: put one in front of the server "
                             "first (siolab_proxy(server)) and let the clients dial it")
        fault.inject(topology, siolab_timeline)
        return fault

    return inject


@pytest.fixture
def siolab_wait_for(siolab_timeline: "Timeline"):
    """`siolab_wait_for("sio.connect", src="browser", after="fault", new_sid=True, timeout=15)`:
    the first matching event, or an AssertionError listing the last events. Reads only."""
    def wait(event: str, *, src: str | None = None, after: "float | str | None" = None,
             new_sid: bool = False, timeout: float = 10.0) -> "Event":
        return wait_for(siolab_timeline, event, src=src, after=after, new_sid=new_sid, timeout=timeout)

    return wait


@pytest.fixture(name="assert_verdict")
def assert_verdict_fixture(request: pytest.FixtureRequest, siolab_run_dir: Path):
    """`assert_verdict(recovered=True, within=10)` on the test's own timeline, or on one given."""
    def check(timeline_or_events: Any = None, /, **kwargs: Any) -> "dict[str, Finding]":
        __tracebackhide__ = True
        if timeline_or_events is None:
            timeline_or_events = request.getfixturevalue("siolab_timeline")
        kwargs.setdefault("run_dir", siolab_run_dir)
        return assert_verdict(timeline_or_events, **kwargs)

    return check


@pytest.fixture
def siolab_scenario(request: pytest.FixtureRequest, siolab_run_dir: Path):
    """Factory: run a catalogue scenario (or a scenario file) as `siolab run` does, against your app."""
    def run(name: str | None = None, /, **options: Any):
        __tracebackhide__ = True
        marker = request.node.get_closest_marker("siolab_scenario")
        if name is None:
            if marker is None or not marker.args:
                raise ValueError("siolab_scenario(): name a scenario, or mark the test "
                                 "@pytest.mark.siolab_scenario('middlebox-reset', mode='gevent', ...)")
            name, options = marker.args[0], {**marker.kwargs, **options}
        unknown = sorted(set(options) - set(TARGET_KNOBS) - set(FILTER_AXES) - {"jobs"})
        if unknown:
            raise TypeError(f"siolab_scenario: unknown option(s) {', '.join(unknown)}; "
                            f"known: {', '.join(TARGET_KNOBS + FILTER_AXES)}, jobs")
        return run_scenario_checked(request.config, name, siolab_run_dir / "scenario", **options)

    return run


def run_scenario_checked(config: pytest.Config, name: str, run_dir: Path, **options: Any):
    """Plan, run and judge `name` (harness.lab.runner, harness.reports); an AssertionError when an
    expectation fails or a cell could not run, naming each with its value and the report."""
    __tracebackhide__ = True
    from .. import reports as report_mod
    from ..clients.browser import find_chromium
    from ..lab.config import resolve as resolve_knobs
    from ..lab.plan import PlanError, check_filters, plan
    from ..lab.runner import run_plan
    from ..lab.scenario import load
    from ..lab.targets import resolve as resolve_target

    cli = {k: options.get(k, config.getoption(f"siolab_{k}", None)) for k in TARGET_KNOBS}
    knobs = resolve_knobs(cli, config=config.getoption("siolab_config", None), cwd=config.rootpath)
    target = resolve_target(**{k: knobs[k] for k in TARGET_KNOBS})
    scenario = load(name)
    filters = {axis: ([options[axis]] if isinstance(options.get(axis), str) else options.get(axis))
               for axis in FILTER_AXES}
    try:
        check_filters(scenario, filters)
        # A missing component fails here (the test says which), as under CI=true: no silent skip.
        planned, _ = plan([scenario], filters, target, run_dir_for=lambda s: run_dir, skip_missing=False)
    except PlanError as exc:
        raise ValueError(f"siolab_scenario({name!r}): {exc}") from None
    if any(scenario.client_profile(c)["kind"] == "browser" for p in planned for c in p.cells):
        require(find_chromium() is not None, "no Chromium for the scenario's browser cells")
    run_plan(planned, jobs=int(options.get("jobs") or 1),
             target=None if target.is_reference and not target.page else target)
    result = report_mod.build(run_dir)
    if result.ok:
        return result
    lines = [f"siolab scenario {scenario.name}: {sum(not c.ok for c in result.cells)} of {len(result.cells)} cell(s) failed"]
    for c in result.cells:
        if c.error and not c.judged:
            lines.append(f"  ERROR {c.cell.id}: {c.error.splitlines()[0]}")
        for x in c.checks:
            if not x.ok:
                lines.append(f"  FAIL  {c.cell.id}: {x.metric} {x.condition} (got {x.value!r})"
                             + (f"  — {x.why}" if x.why else ""))
    lines.append(f"report: {run_dir / 'report.md'}")
    raise AssertionError("\n".join(lines))


# --------------------------------------------------------------------------- reading the timeline

def _events_of(source: Any) -> "list[Event]":
    from ..core.timeline import Event, Timeline, load

    if isinstance(source, Timeline):
        return source.events
    if isinstance(source, (str, Path)):
        return load(Path(source))
    events = [e if isinstance(e, Event) else Event.from_dict(e) for e in source]
    return sorted(events, key=lambda e: e.t)


def _last_fault_t(events: "list[Event]") -> float | None:
    begins = [e.t for e in events if e.kind == "fault" and e.data.get("phase") == "begin"]
    return begins[-1] if begins else None


def wait_for(timeline: "Timeline", event: str, *, src: str | None = None, after: "float | str | None" = None,
             new_sid: bool = False, timeout: float = 10.0) -> "Event":
    """Like a scenario's `wait_for` step: the first `event` (from `src`) after `after`
    ("fault": the last fault's beginning; a number: timeline seconds); with `new_sid`, only
    one whose eio_sid was not seen before that point."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        events = timeline.events
        t0 = _last_fault_t(events) if after == "fault" else after
        if after == "fault" and t0 is None:
            raise AssertionError(f"siolab_wait_for({event!r}, after='fault'): no fault in the timeline yet")
        t0 = float(t0 or 0.0)
        seen = {e.data.get("eio_sid") for e in events if e.kind == "sio.connect" and e.t < t0} if new_sid else set()
        for e in events:
            if e.t >= t0 and e.kind == event and (src is None or e.src == src) \
                    and (not new_sid or e.data.get("eio_sid") not in seen):
                return e
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    recent = [e for e in events if e.src != "server" or e.kind != "log"][-SHOWN_EVENTS:]
    where = f" (run folder: {timeline.path.parent})" if timeline.path else ""
    raise AssertionError(
        f"siolab: no {src + ' ' if src else ''}{event}{' with a new sid' if new_sid else ''} "
        f"after t={t0:.3f} within {timeout:g} s{where}; the last events:\n"
        + "\n".join(_format_event(e) for e in recent))


def _format_event(e: "Event") -> str:
    data = json.dumps(e.data, ensure_ascii=False, default=str)
    if len(data) > DATA_WIDTH:
        data = data[:DATA_WIDTH - 1] + "…"
    return f"          t={e.t:7.3f}  {e.src:<8}  {e.kind:<16}  {data}"


def _context_events(events: "list[Event]") -> "list[Event]":
    """For a figure without deciding events: the fault and what the clients did after it."""
    t0 = _last_fault_t(events)
    if t0 is None:
        return []
    shown = [e for e in events if e.t >= t0 and (
        (e.src == "harness" and e.kind in ("fault", "server.down", "server.up"))
        or (e.src in CLIENT_SOURCES and e.kind.startswith("sio.")))]
    return shown[:SHOWN_EVENTS]


def _write_timeline(events: "list[Event]", source: Any, run_dir: Path) -> Path:
    from ..core.timeline import Timeline

    own = getattr(source, "path", None) if isinstance(source, Timeline) else None
    if own is not None and Path(own).resolve().parent == run_dir.resolve():
        return Path(own)
    target = run_dir / "timeline.jsonl"
    n = 1
    while target.exists():
        n += 1
        target = run_dir / f"timeline-{n}.jsonl"
    target.write_text("".join(e.to_json() + "\n" for e in events), encoding="utf-8")
    return target


def assert_verdict(timeline_or_events: Any, /, *, run_dir: "Path | str | None" = None,
                   within: float | None = None, **conditions: Any) -> "dict[str, Finding]":
    """Measure the timeline with harness.checks and assert each `figure=condition`.

    `timeline_or_events`: a Timeline, a list of events, or a timeline.jsonl path. With
    `within`, measures again until every condition holds at once, for up to that many
    seconds. On failure: an AssertionError naming each failed figure, its value and its
    deciding events, and the run folder, where the timeline and verdict.json are written.
    Returns every figure (name -> Finding) when all hold."""
    __tracebackhide__ = True
    from ..checks import METRICS, measure
    from ..core.conditions import parse_condition
    from ..core.timeline import Timeline

    if not conditions:
        raise ValueError("assert_verdict needs at least one condition, e.g. assert_verdict(tl, recovered=True)")
    unknown = sorted(set(conditions) - set(METRICS))
    if unknown:
        raise ValueError(f"assert_verdict: no figure named {', '.join(unknown)}; the checks measure: "
                         + ", ".join(sorted(METRICS)))
    parsed = {name: parse_condition(raw) for name, raw in conditions.items()}
    if run_dir is None and isinstance(timeline_or_events, Timeline) and timeline_or_events.path:
        run_dir = timeline_or_events.path.parent
    if run_dir is None and isinstance(timeline_or_events, (str, Path)):
        run_dir = Path(timeline_or_events).parent
    deadline = time.monotonic() + (within or 0)
    while True:
        events = _events_of(timeline_or_events)
        findings = measure(events)
        failed = [name for name, cond in parsed.items() if not cond.holds(findings[name].value)]
        if not failed or time.monotonic() >= deadline:
            break
        time.sleep(0.1)

    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "verdict.json").write_text(json.dumps({
            "ok": not failed,
            "conditions": {n: {"condition": c.text, "value": findings[n].value, "holds": n not in failed}
                           for n, c in parsed.items()},
            "figures": {n: f.value for n, f in findings.items()},
        }, indent=2, default=str), encoding="utf-8")
    if not failed:
        return findings

    lines = [f"siolab verdict: {len(failed)} of {len(parsed)} condition(s) failed "
             f"(measured over {len(events)} events{f', for {within:g} s' if within else ''})"]
    for name, cond in parsed.items():
        finding = findings[name]
        if name not in failed:
            lines.append(f"  ok    {name} {cond.text}  (got {finding.value!r})")
            continue
        lines.append(f"  FAIL  {name} {cond.text}  got {finding.value!r}  ({METRICS[name][0]})")
        if finding.note:
            lines.append(f"        note: {finding.note}")
        if finding.evidence:
            lines.append("        deciding events:")
            lines += [_format_event(e) for e in finding.evidence[:SHOWN_EVENTS]]
        else:
            context = _context_events(events)
            if context:
                lines.append("        no deciding event; the fault and what the clients did after it:")
                lines += [_format_event(e) for e in context]
            else:
                lines.append("        no deciding event, and no fault in the timeline (inject one with siolab_fault)")
    if run_dir is not None:
        written = _write_timeline(events, timeline_or_events, run_dir)
        lines.append(f"run folder: {run_dir}  (timeline: {written.name}, verdict.json, logs/)")
    else:
        lines.append("run folder: none (pass run_dir=... to keep the timeline)")
    raise AssertionError("\n".join(lines))


__all__ = ["assert_verdict", "base_url", "require", "wait_for"]
