"""The cell's client, one adapter per client kind (browser, python, storm), behind what steps do.

Steps and faults call `open`, `browser_step` and `python_step` on whatever client the cell
has; a kind ignores the steps of another kind (a `python: emit` step does nothing in a browser
cell), so one scenario can drive a matrix of client kinds with one list of steps.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..modes.base import ServerSettings
from ..core.timeline import Timeline
from .topology import Topology

if TYPE_CHECKING:
    from .scenario import Cell, Scenario

# kind (a client profile's `kind`) -> its adapter; each adapter registers itself below (@client_kind).
CLIENT_KINDS: dict[str, type["CellClient"]] = {}


def client_kind(name: str, description: str):
    """Class decorator: a client profile's `kind: name` is driven by this adapter."""
    def register(cls):
        cls.description = description
        CLIENT_KINDS[name] = cls
        return cls
    return register


LOGIN_QUERY = {"user": "lab-user"}      # the reference app's /login takes any user name
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"]}   # "default": polling, then the upgrade

# The page's own socket emits in one synchronous loop, as an app's code would: socket.io-client
# queues them (buffers them while disconnected) and Engine.IO decides how they go on the wire.
EMIT_BURST_JS = """({event, count, bytes}) => {
  const s = window.__appSocket || (typeof window.getAppSocket === "function" ? window.getAppSocket() : null);
  if (!s) return {emitted: 0, connected: false, transport: null};
  const engine = s.io && s.io.engine;
  const state = {connected: s.connected, transport: s.connected && engine && engine.transport ? engine.transport.name : null};
  const pad = "x".repeat(bytes);
  for (let i = 0; i < count; i++) s.emit(event, count === 1 ? pad : {n: i, pad: pad});
  return Object.assign(state, {emitted: count});
}"""


class CellClient:
    """What every kind shares: the cell, its client profile, its transport, and the target app."""

    src = "pyclient"     # the timeline source its events carry (what `wait_for` looks for)

    def __init__(self, cell: Cell, profile: dict[str, Any], topology: Topology, timeline: Timeline,
                 settings: ServerSettings, *, target=None, browser=None, cell_dir: Path | None = None,
                 stack: ExitStack | None = None):
        # browser (the run's BrowserDriver), cell_dir and stack are what an adapter may need to start;
        # every adapter gets the same, so the runner never asks which kind it has.
        self.cell, self.profile, self.topology, self.timeline = cell, profile, topology, timeline
        self.browser, self.cell_dir, self.stack = browser, cell_dir, stack
        self.settings = settings
        self.target = target          # None: the reference app and its layout page (harness/lab/targets.py)
        self.transport = cell.params.get("transport", "default")

    @property
    def on_reference_app(self) -> bool:
        return self.target is None or self.target.is_reference

    def open(self) -> None:
        raise NotImplementedError

    def browser_step(self, action: str, value: str) -> None:
        """`browser:` steps (goto, click, eval): only a browser acts on them."""

    def python_step(self, action: str, value) -> None:
        """`python:` steps (emit, disconnect): only a Python client acts on them."""

    def emit_burst(self, event: str, count: int, size: int) -> None:
        """`count` emits of `event` in one loop (the `client-emit` fault); one emit carries 'x' * size, several
        carry {n: i, pad: 'x' * size}. The kind's `_burst` records a `sio.burst` event (src: the client's) with
        how many the client library took (`emitted`), and whether it was connected and on which transport as
        the loop began."""
        self.timeline.record("harness", "client.action", {"action": "emit_burst", "args": {
            "event": event, "count": count, "bytes": size}})
        self._burst(event, count, size)

    def _burst(self, event: str, count: int, size: int) -> None:
        raise NotImplementedError(f"a {type(self).__name__} does not emit bursts (the client-emit and offline-emit faults)")

    def freeze(self, frozen: bool) -> None:
        """Stop the client's code while its connections stay open (True), or let it run again (False)."""
        raise NotImplementedError(f"a {type(self).__name__} cannot be frozen: its client runs inside the harness's "
                                  "own process, which a SIGSTOP would stop too")


@client_kind("browser", "Chromium loading the page with socket.io-client")
class BrowserClient(CellClient):
    src = "browser"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        browser, cell_dir, stack = self.browser, self.cell_dir, self.stack
        if browser is None:
            raise RuntimeError("browser cell without a browser driver")
        self.page = stack.enter_context(browser.new_cell(
            self.timeline, cell_dir, base_url=self.topology.base_url, page_options=self._page_options()))

    def _page_options(self) -> dict[str, Any] | None:
        """What the browser adds for a page that is not the reference one: the io() wrapper that
        reports the socket's events (and applies the cell's transport), and the page file to serve."""
        target = self.target
        if target is None or target.is_reference and not target.page:
            return None
        if target.serves_reference_page:
            return {"reference_page": {"reconnection_delay_ms": self.settings.reconnection_delay_ms}}
        from .targets import page_file

        return {"instrument": True, "transports": TRANSPORTS.get(self.transport), "page_file": page_file(target)}

    def page_path(self, path: str | None = None) -> str:
        return f"{self._page_origin()}{self._path_and_query(path)}"

    def _path_and_query(self, path: str | None = None) -> str:
        target = self.target
        if path is None and target is not None:
            from .targets import page_path

            path = page_path(target)
        path = path or self.profile["path"]
        variant = self.cell.params.get("singleton", "naive")
        sep = "&" if "?" in path else "?"
        query = f"singleton={variant}&transport={self.transport}"
        if self.profile["namespace"] != "/":
            query += f"&ns={self.profile['namespace']}"
        if self.profile["build"] != "v4":
            query += f"&client={self.profile['build']}"
        if self.profile["socket_host"]:
            query += f"&url=http://{self.profile['socket_host']}:{self.topology.port}"
        if self.profile["sio_path"]:
            query += f"&path={self.profile['sio_path']}"
        if self.profile["join"] != "none":
            query += f"&join={self.profile['join']}"
        if self.profile["handlers"] != "once":
            query += f"&handlers={self.profile['handlers']}"
        if self.profile["mounts"] != 1:
            query += f"&mounts={self.profile['mounts']}"
        return f"{path}{sep}{query}"

    def _page_origin(self) -> str:
        """'' (the topology's own origin), or another origin of the same server (`page_host`)."""
        host = self.profile["page_host"]
        return f"http://{host}:{self.topology.port}" if host else ""

    def open(self) -> None:
        if self.target is not None and self.target.hook_fn is not None:
            self.page.run_hook(self.target.hook_fn)
        elif self.profile["login"] and self.on_reference_app:
            # One navigation, as a user's: the login answers with a redirect to the cell's page.
            # (Logging in on the app's front page first would open a socket there, then lose it.)
            query = urlencode({**LOGIN_QUERY, "next": self._path_and_query()})
            self.page.goto(f"{self._page_origin()}/login?{query}")
            return
        self.page.goto(self.page_path())

    def _burst(self, event: str, count: int, size: int) -> None:
        state = self.page.evaluate(EMIT_BURST_JS, {"event": event, "count": count, "bytes": size})
        self.timeline.record("browser", "sio.burst", {"event": event, "count": count, "bytes": size, **(state or {})})

    def browser_step(self, action: str, value: str) -> None:
        if action == "goto":
            self.page.goto(self.page_path(value))
        elif action == "click":
            self.page.click(value)
        elif action == "eval":
            result = self.page.evaluate(value)
            self.timeline.record("harness", "browser.eval", {"js": value, "result": result})

    def freeze(self, frozen: bool) -> None:
        self.page.freeze(frozen)


@client_kind("python", "one python-socketio client")
class PythonClient(CellClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stack = self.stack
        from ..clients.pyclient import PythonClient as Driver

        self.py = Driver(self.timeline, self.topology.base_url,
                         transports=self.profile["transports"] or TRANSPORTS.get(self.transport),
                         headers=self._headers(), namespace=self.profile["namespace"],
                         max_emit_bytes=self.profile["max_emit_bytes"],
                         socketio_path=self.profile["sio_path"] or "socket.io",
                         join=self.profile["join"],
                         reconnection_delay=self.settings.reconnection_delay_ms / 1000)
        stack.callback(self.py.close)

    def _headers(self):
        """The login cookie, passed as the profile says: a dict, a callable, or not at all."""
        if not self.profile["login"] or self.profile["headers"] == "none":
            return None
        if not self.on_reference_app:
            return None   # the reference app's /login; your app's login is the browser hook's
        import requests

        jar = requests.Session()
        jar.get(f"{self.topology.base_url}/login", params=LOGIN_QUERY, timeout=5, allow_redirects=False)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar.cookies)
        if self.profile["headers"] == "callable":
            return lambda: {"Cookie": cookie}
        return {"Cookie": cookie}

    def open(self) -> None:
        self.py.connect()

    def _burst(self, event: str, count: int, size: int) -> None:
        self.py.emit_burst(event, count, size)

    def python_step(self, action: str, value) -> None:
        args = dict(value) if isinstance(value, dict) else value
        self.timeline.record("harness", "client.action", {"action": action, "args": args})
        if action == "emit":
            data = value.get("data")
            if "bytes" in value:
                data = "x" * int(value["bytes"])
            self.py.emit(value["event"], data)
        elif action == "disconnect":
            self.py.close()


@client_kind("storm", "N python-socketio clients at once")
class StormClient(CellClient):
    """N python-socketio clients on one loop (harness/clients/storm.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stack = self.stack
        from ..clients.storm import StormDriver

        self.storm = StormDriver(self.timeline, self.topology.base_url, clients=int(self.profile["clients"]),
                                 transports=self.profile["transports"], namespace=self.profile["namespace"],
                                 reconnection_delay=self.settings.reconnection_delay_ms / 1000,
                                 randomization_factor=float(self.profile["randomization_factor"]))
        stack.callback(self.storm.close)

    def open(self) -> None:
        self.storm.start()


def cell_client(scenario: Scenario, cell: Cell, topology: Topology, timeline: Timeline, cell_dir: Path,
                browser, settings: ServerSettings, stack: ExitStack, target=None) -> CellClient:
    """The client the cell's profile names, started and registered for teardown on `stack`."""
    profile = scenario.client_profile(cell)
    common = (cell, profile, topology, timeline, settings)
    return CLIENT_KINDS[profile["kind"]](*common, target=target, browser=browser, cell_dir=cell_dir, stack=stack)
