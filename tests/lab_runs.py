"""Real lab runs shared by test_catalogue, test_reports and test_diagnose: each is made once per session.

Every catalogue run of the session goes through `run_cli` with secrets planted (a query token
in the login URL, a name listed in SIOLAB_REDACT, the Flask session cookie the login sets)
into `catalogue_dir(basetemp, name)`; test_catalogue makes them, and `catalogue_browser_runs`
reuses them (running only the browser cells itself when test_catalogue did not run first).
`healthy_har` records a browser session against a healthy server.

`python -m tests.lab_runs run …` is `siolab run …` with the secrets planted.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.core.supervisor import signal_when_parent_dies

ROOT = Path(__file__).resolve().parent.parent

PLANTED_TOKEN = "PLANTED-QUERY-TOKEN-7f3a9c"
PLANTED_TICKET = "PLANTED-TICKET-1d9c44"
REDACT_ENV = "sso_ticket"                 # not a default name: only SIOLAB_REDACT makes it secret
LOGIN_USER = "lab-user"
# The Flask session cookie's value starts with its payload, {"user": "lab-user"}, base64url-encoded.
SESSION_PAYLOAD = base64.urlsafe_b64encode(json.dumps({"user": LOGIN_USER}, separators=(",", ":")).encode()).decode().rstrip("=")
PLANTED = (PLANTED_TOKEN, PLANTED_TICKET, SESSION_PAYLOAD)

_cache: dict[str, object] = {}


@contextlib.contextmanager
def planted_secrets():
    """The login URL carries a token and a ticket; SIOLAB_REDACT names the ticket."""
    import harness.lab.cell_clients as runner

    old_query, old_env = runner.LOGIN_QUERY, os.environ.get("SIOLAB_REDACT")
    runner.LOGIN_QUERY = {"user": LOGIN_USER, REDACT_ENV: PLANTED_TICKET, "token": PLANTED_TOKEN}
    os.environ["SIOLAB_REDACT"] = REDACT_ENV
    try:
        yield
    finally:
        runner.LOGIN_QUERY = old_query
        if old_env is None:
            os.environ.pop("SIOLAB_REDACT", None)
        else:
            os.environ["SIOLAB_REDACT"] = old_env


def browser_clients(scenario) -> list[str]:
    return sorted({c.params["client"] for c in scenario.cells if scenario.client_profile(c)["kind"] == "browser"})


def catalogue_dir(basetemp: Path, name: str) -> Path:
    return basetemp / "catalogue" / name


def _interrupt_with_parent() -> None:
    # Between fork and exec: a pytest that is killed (CI's timeout, Ctrl-C twice) takes the run with it;
    # SIGTERM is the harness's interrupt, so the run still tears down every process it started.
    signal_when_parent_dies(signal.SIGTERM)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """`siolab ARGS` in a subprocess, as a user runs it, with the secrets planted."""
    return subprocess.run([sys.executable, "-m", "tests.lab_runs", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=timeout, preexec_fn=_interrupt_with_parent)


def catalogue_browser_runs(basetemp: Path) -> dict[str, Path]:
    """scenario name -> run folder holding (at least) every browser cell of that scenario."""
    if "runs" in _cache:
        return _cache["runs"]  # type: ignore[return-value]
    from harness.entrypoints import cli
    from harness.lab.scenario import catalogue
    from harness.lab.scenario import load as load_scenario

    from harness.lab.scenario import ScenarioError

    runs = {}
    with planted_secrets():
        for path in catalogue():
            try:
                scenario = load_scenario(path)
            except ScenarioError as exc:   # a scenario being written right now: test_catalogue reports it
                print(f"lab_runs: skipping {path.name}: {exc}")
                continue
            clients = browser_clients(scenario)
            if not clients:
                continue
            shared = catalogue_dir(basetemp, scenario.name)
            if (shared / "report.json").exists():     # test_catalogue ran it whole, secrets planted
                runs[scenario.name] = shared
                continue
            run_dir = basetemp / "lab-runs" / scenario.name
            code = cli.main(["run", scenario.name, "--client", ",".join(clients), "--out", str(run_dir)])
            assert code in (0, 1), f"siolab run {scenario.name} exited {code}"
            runs[scenario.name] = run_dir
    _cache["runs"] = runs
    return runs


def healthy_har(root: Path) -> Path:
    """The HAR of a browser session against a healthy gevent server: log in, open the page, stay 4 s."""
    if "healthy" in _cache:
        return _cache["healthy"]  # type: ignore[return-value]
    from harness.clients.browser import BrowserDriver
    from harness.modes.base import ServerSettings
    from harness.core.supervisor import Supervisor
    from harness.core.timeline import Timeline
    from harness.lab.topology import bring_up

    cell_dir = root / "healthy"
    with Timeline(cell_dir / "timeline.jsonl") as timeline, Supervisor(cell_dir, timeline) as supervisor, \
            BrowserDriver() as browser:
        topology = bring_up(supervisor, timeline, "gevent", ServerSettings(), with_proxy=False)
        with browser.new_cell(timeline, cell_dir, base_url=topology.base_url) as page:
            page.goto(f"/login?user={LOGIN_USER}")
            page.goto("/?singleton=naive&transport=default")
            time.sleep(4)   # several ping intervals (1 s)
    _cache["healthy"] = cell_dir / "browser.har"
    return cell_dir / "browser.har"


def open_in_chromium(path: Path, click: str | None = None) -> dict:
    """Open a report in the machine's Chromium: every request it made, console errors and warnings,
    counts of its drawings and its links; `click` a selector and see whether passing rows hide."""
    import asyncio

    from playwright.async_api import async_playwright

    from harness.clients.browser import find_chromium

    async def visit() -> dict:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
            try:
                page = await browser.new_page()
                requests, problems = [], []
                page.on("request", lambda r: requests.append(r.url))
                page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
                await page.goto(path.as_uri(), wait_until="load")
                await page.wait_for_timeout(300)
                facts = {"charts": await page.locator("svg.chart").count(),
                         "sequences": await page.locator("svg.sequence").count(),
                         "links": await page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")}
                if click:
                    rows = page.locator("#verdict-table tr.ok-row")
                    before = await rows.first.is_visible() if await rows.count() else None
                    await page.click(click)
                    facts["ok_rows_visible_before"] = before
                    facts["ok_rows_visible_after"] = await rows.first.is_visible() if await rows.count() else None
                facts.update(requests=requests, problems=problems)
                return facts
            finally:
                await browser.close()

    return asyncio.run(visit())


if __name__ == "__main__":
    from harness.entrypoints import cli

    with planted_secrets():
        sys.exit(cli.main(sys.argv[1:]))
