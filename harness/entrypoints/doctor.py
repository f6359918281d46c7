"""`siolab doctor`: is this machine ready for a run, and if not, what breaks and how to fix it.

Each check returns `Item`s: what was found, ok / missing / misconfigured / warning,
whether a run needs it now (`required`), what it is needed by (`Needs`: modes, clients,
proxy faults), the exact fix on Debian and a pointer for other systems. What an item
breaks is worked out from the catalogue: which scenarios have cells in those modes,
with those clients or with faults that need the proxy.

Some checks start things (Chromium once on about:blank, the Toxiproxy API server, the
gevent mode when gevent-websocket is installed); all of them run under a `Supervisor`
or the browser driver, and are gone when the check returns.

    siolab doctor [--json]         exit 0: every required item is ready; 1: one is not
    python -m harness.entrypoints.doctor       the same, without the rest of the CLI (a broken install)
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping

from ..core.paths import NODE_MODULES, REPO_ROOT, SCENARIO_DIR

DEFAULT_NODE_MODULES = NODE_MODULES

OK, MISSING, MISCONFIGURED, WARNING = "ok", "missing", "misconfigured", "warning"
# Where Debian puts binaries a user's PATH may lack (/usr/sbin for nginx).
USUAL_BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/snap/bin")
SUDO = "" if os.geteuid() == 0 else "sudo "
APT = f"{SUDO}apt-get install -y"
PIP_INSTALL = ".venv/bin/pip install -e ."
BROWSER_CHECK_LIMIT_S = 20.0


@dataclass(frozen=True)
class Needs:
    """What an item is needed by; `what_breaks` turns it into scenarios and cells."""

    everything: bool = False
    modes: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()          # scenario `client` values: browser, python
    proxy_faults: bool = False
    transports: tuple[str, ...] = ()       # only cells on these transports (a missing axis is "default")
    components: tuple[str, ...] = ()       # cells needing these binaries (harness/components: nginx, redis-server)
    also: str = ""                         # in words: make targets, parts not in the lab yet


@dataclass
class Item:
    name: str
    status: str
    found: str = ""
    required: bool = True
    problem: str = ""
    fix: str = ""                          # the exact command on Debian
    elsewhere: str = ""                    # a pointer for other systems
    needs: Needs = field(default_factory=Needs)
    breaks: str = ""

    @property
    def blocking(self) -> bool:
        return self.required and self.status in (MISSING, MISCONFIGURED)


# --------------------------------------------------------------------------- what breaks

class Catalogue:
    """Per scenario, each cell's (mode, client, fault needs the proxy); loaded once."""

    def __init__(self) -> None:
        self.cells: dict[str, list[tuple[str | None, str | None, bool, str, tuple[str, ...]]]] = {}
        self.modes: set[str] | None = None
        self.error = ""
        try:
            from ..faults.registry import FAULTS
            from ..modes import MODES
            from ..lab.scenario import catalogue, load

            self.modes = set(MODES)
            for path in catalogue():
                scenario = load(path)
                rows = []
                for cell in scenario.cells:
                    spec = scenario.faults.get(cell.params.get("fault", ""), {})
                    fault = FAULTS.get(spec.get("type", ""))
                    rows.append((cell.params.get("mode"), scenario.client_profile(cell)["kind"],
                                 bool(fault and fault.needs_proxy), cell.params.get("transport", "default"),
                                 scenario.components(cell)))
                self.cells[scenario.name] = rows
        except Exception as exc:  # noqa: BLE001 - a broken install is what the doctor reports
            self.error = f"{type(exc).__name__}: {exc}"

    def what_breaks(self, needs: Needs) -> str:
        """In words, with the scenarios and how many of their cells it breaks."""
        parts = []
        if needs.everything:
            parts.append("every run")
        known_modes = [m for m in needs.modes if self.modes is None or m in self.modes]
        later_modes = [m for m in needs.modes if m not in known_modes]
        if known_modes:
            parts.append("mode" + ("s " if len(known_modes) > 1 else " ") + ", ".join(known_modes))
        if needs.clients:
            parts.append(" and ".join(f"{c} clients" for c in needs.clients))
        if needs.proxy_faults:
            parts.append("proxy faults (proxy-reset, restart-behind-proxy, proxy-down)")
        if later_modes:
            parts.append("the " + ", ".join(later_modes) + " mode" + ("s" if len(later_modes) > 1 else "")
                         + " (not in the lab yet)")
        if needs.transports and parts:
            parts[-1] += " (transport " + " or ".join(needs.transports) + ")"
        if needs.also:
            parts.append(needs.also)
        hit = []
        for name, rows in self.cells.items():
            n = sum(1 for mode, client, proxy, transport, components in rows
                    if (needs.everything or mode in known_modes or client in needs.clients
                        or (needs.proxy_faults and proxy) or set(needs.components) & set(components))
                    and (not needs.transports or transport in needs.transports))
            if n:
                hit.append(f"{name} ({n} of {len(rows)} cells)")
        text = "; ".join(parts) or "nothing in the lab yet"
        if hit:
            text += " → scenarios: " + ", ".join(hit)
        elif self.cells and (known_modes or needs.clients or needs.proxy_faults or needs.everything
                             or needs.components):
            text += " → no scenario of the catalogue yet"
        return text


# --------------------------------------------------------------------------- small helpers

def _run(argv: list[str], timeout: float = 5.0) -> str:
    """stdout + stderr of a short command ('' when it cannot run)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def _which(name: str, env: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=env.get("PATH", ""))


def _off_path(names: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    """An installed binary the PATH does not reach (e.g. /usr/sbin/nginx for a normal user)."""
    on_path = set(env.get("PATH", "").split(os.pathsep))
    for d in USUAL_BIN_DIRS:
        if d in on_path:
            continue
        for name in names:
            candidate = Path(d, name)
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def _path_fix(found: str, install: str) -> str:
    return f'export PATH="$PATH:{Path(found).parent}"   — or, to install it: {install}'


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_requirements() -> tuple[dict[str, str], str]:
    """siolab's declared dependencies {canonical name: specifier} and Requires-Python.

    From the installed distribution; from pyproject.toml when siolab is not installed.
    """
    lines: list[str] = []
    python_spec = ""
    try:
        dist = importlib.metadata.distribution("siolab")
        lines = list(dist.requires or [])
        python_spec = dist.metadata.get("Requires-Python") or ""
    except importlib.metadata.PackageNotFoundError:
        try:
            import tomllib

            project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
            lines = list(project.get("dependencies", []))
            python_spec = project.get("requires-python", "")
        except (OSError, KeyError, ValueError):
            pass
    out = {}
    for line in lines:
        if ";" in line and "extra ==" in line:
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)", line)
        if m:
            out[_canonical(m.group(1))] = m.group(2).strip()
    return out, python_spec


def _satisfies(version: str, spec: str) -> bool | None:
    """None when it cannot tell (no `packaging`, odd version)."""
    if not spec:
        return True
    try:
        from packaging.specifiers import SpecifierSet

        return SpecifierSet(spec).contains(version, prereleases=True)
    except Exception:  # noqa: BLE001 - packaging missing is reported as its own item
        return None


# --------------------------------------------------------------------------- checks

def check_python(python_spec: str) -> list[Item]:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = _satisfies(version, python_spec)
    if ok is None:
        ok = sys.version_info >= (3, 11)
    return [Item(
        "python", OK if ok else MISCONFIGURED, f"{version} ({sys.executable})",
        problem="" if ok else f"siolab needs Python {python_spec or '>=3.11'}",
        fix=f"{APT} python3 python3-venv && rm -rf .venv && make setup",
        elsewhere="Python 3.11+ from https://www.python.org/downloads/, then: python3 -m venv .venv && .venv/bin/pip install -e .",
        needs=Needs(everything=True))]


# dist name -> importable module: every Python distribution the doctor checks.
IMPORT_NAMES: dict[str, str] = {
    "python-socketio": "socketio", "python-engineio": "engineio", "flask": "flask",
    "flask-socketio": "flask_socketio", "simple-websocket": "simple_websocket", "gunicorn": "gunicorn",
    "gevent": "gevent", "packaging": "packaging", "aiohttp": "aiohttp", "playwright": "playwright",
    "toxiproxy-python": "toxiproxy", "requests": "requests", "websocket-client": "websocket",
    "pyyaml": "yaml", "pytest": "pytest", "eventlet": "eventlet", "gevent-websocket": "geventwebsocket",
}
# What needs a distribution besides the modes that declare it (harness/modes, `Mode.packages`).
HARNESS_NEEDS: dict[str, Needs] = {
    "python-socketio": Needs(everything=True),
    "python-engineio": Needs(everything=True),
    "packaging": Needs(also="gunicorn's gevent worker imports it; the doctor's version checks"),
    "playwright": Needs(clients=("browser",)),
    "toxiproxy-python": Needs(proxy_faults=True),
    "requests": Needs(everything=True),
    "websocket-client": Needs(clients=("python",)),
    "pyyaml": Needs(everything=True, also="scenario files"),
    "pytest": Needs(also="make test and the pytest plugin"),
}


def package_needs() -> dict[str, tuple[str, Needs]]:
    """dist name -> (importable module, what needs it): the modes from their own declarations."""
    from ..modes import MODES
    out = {}
    for dist, module in IMPORT_NAMES.items():
        needs = HARNESS_NEEDS.get(dist, Needs())
        modes = tuple(m.name for m in MODES.values() if dist in m.packages)
        out[dist] = (module, replace(needs, modes=modes) if modes else needs)
    return out


OPTIONAL_PACKAGES = ("eventlet", "gevent-websocket")   # unless siolab declares them


def check_packages(declared: dict[str, str]) -> list[Item]:
    items = []
    for dist, (module, needs) in package_needs().items():
        spec = declared.get(_canonical(dist), "")
        required = _canonical(dist) in declared or dist not in OPTIONAL_PACKAGES
        version = _version(dist)
        fix = f"{PIP_INSTALL}   (or: make setup)"
        elsewhere = f"in the lab's virtualenv: pip install -e {REPO_ROOT}"
        if version is None:
            items.append(Item(dist, MISSING, "", required,
                              "not installed" + ("" if required else " (optional: only its mode and its trap need it)"),
                              fix, elsewhere, needs))
            continue
        found = version + (f" (needs {spec})" if spec else "")
        if _satisfies(version, spec) is False:
            items.append(Item(dist, MISCONFIGURED, found, required, f"{version} does not satisfy {spec}",
                              fix, elsewhere, needs))
        elif importlib.util.find_spec(module) is None:
            items.append(Item(dist, MISCONFIGURED, found, required, f"installed, but `import {module}` finds nothing",
                              f".venv/bin/pip install --force-reinstall {dist}", elsewhere, needs))
        else:
            items.append(Item(dist, OK, found, required, needs=needs))
    return items


def check_install() -> list[Item]:
    """siolab itself: installed from this checkout, with its `siolab` command and pytest plugin."""
    needs = Needs(also="the `siolab` command and the pytest plugin (fixtures siolab_*)")
    try:
        dist = importlib.metadata.distribution("siolab")
    except importlib.metadata.PackageNotFoundError:
        return [Item("siolab (this checkout)", MISSING, "", True, "not installed in this interpreter",
                     PIP_INSTALL, f"pip install -e {REPO_ROOT}", needs)]
    eps = {(ep.group, ep.name) for ep in dist.entry_points}
    lacking = [f"{g}:{n}" for g, n in (("console_scripts", "siolab"), ("pytest11", "siolab")) if (g, n) not in eps]
    found = f"{dist.version} ({REPO_ROOT})"
    if lacking:
        what = {"console_scripts:siolab": "the `siolab` command", "pytest11:siolab": "the pytest plugin (fixtures siolab_*)"}
        return [Item("siolab (this checkout)", MISCONFIGURED, found, True,
                     "installed without the entry points " + ", ".join(lacking) + " (installed before they existed)",
                     PIP_INSTALL, f"pip install -e {REPO_ROOT}", Needs(also=" and ".join(what[x] for x in lacking)))]
    return [Item("siolab (this checkout)", OK, found + ", entry points siolab and pytest11:siolab", True, needs=needs)]


def check_traps(declared: dict[str, str]) -> list[Item]:
    """The design page's traps, each shown as checked even when it does not apply."""
    items = []
    have = {dist: _version(dist) is not None for dist in
            ("eventlet", "gevent", "gunicorn", "packaging", "flask-socketio", "simple-websocket", "gevent-websocket")}

    name = "trap: eventlet next to gevent"
    if have["eventlet"] and have["gevent"]:
        items.append(Item(
            name, WARNING, f"eventlet {_version('eventlet')} and gevent {_version('gevent')}", False,
            "async_mode auto-detection tries eventlet first: an app that sets no async_mode runs eventlet even "
            "under gunicorn gthread or gevent (or socketio.run) and breaks. The lab's modes always set it "
            "(SIOLAB_ASYNC_MODE); your own app may not",
            "in your app: SocketIO(app, async_mode=\"gevent\")  (or threading / eventlet; never auto-detected)"
            + ("" if "eventlet" in declared else f"; or: .venv/bin/pip uninstall -y eventlet"),
            "https://flask-socketio.readthedocs.io/en/latest/api.html (async_mode)",
            Needs(also="apps of yours that set no async_mode (a Mode of your own in the pytest plugin, --app)")))
    else:
        items.append(Item(name, OK, "not both installed", False))

    name = "trap: gunicorn -k gevent without packaging"
    if have["gunicorn"] and have["gevent"] and not have["packaging"]:
        items.append(Item(name, MISCONFIGURED, f"gunicorn {_version('gunicorn')}, no packaging", True,
                          "gunicorn's gevent worker imports packaging: the gevent mode's worker fails to boot",
                          ".venv/bin/pip install 'gunicorn[gevent]'", "pip install 'gunicorn[gevent]'",
                          Needs(modes=("gevent", "gevent-websocket"))))
    else:
        items.append(Item(name, OK, "packaging present" if have["packaging"] else "no gunicorn gevent worker", True))

    name = "trap: threading mode without simple-websocket"
    if have["flask-socketio"] and not have["simple-websocket"]:
        items.append(Item(name, MISCONFIGURED, "flask-socketio without simple-websocket", True,
                          "threading async mode does not start at all without simple-websocket",
                          ".venv/bin/pip install simple-websocket", "pip install simple-websocket",
                          Needs(modes=("reloader", "gthread"))))
    else:
        items.append(Item(name, OK, "simple-websocket present" if have["simple-websocket"] else "no flask-socketio", True))

    items.append(check_gevent_websocket_trap(have["gevent-websocket"], declared))
    return items


def check_gevent_websocket_trap(installed: bool, declared: dict[str, str]) -> Item:
    """With gevent-websocket importable, python-engineio's gevent driver expects its worker:
    under plain `gunicorn -k gevent` the upgrade fails with 500. Measured on the lab's own
    gevent mode. A warning, not a failure: the lab installs gevent-websocket on purpose
    (mode gevent-websocket) and its gevent mode then shows this trap."""
    name = "trap: gevent-websocket under plain -k gevent"
    needs = Needs(modes=("gevent",), transports=("default", "websocket"),
                  also="WebSocket in any app run with plain `gunicorn -k gevent`")
    if not installed:
        return Item(name, OK, "gevent-websocket not installed", False)
    fix = ("run gevent-websocket's worker (mode gevent-websocket): "
           "gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker")
    if "gevent-websocket" not in declared:
        fix += "; or: .venv/bin/pip uninstall -y gevent-websocket"
    version = _version("gevent-websocket")
    try:
        status, detail = _gevent_upgrade_status()
    except Exception as exc:  # noqa: BLE001 - the report says why it could not tell
        return Item(name, WARNING, f"gevent-websocket {version}", False,
                    f"could not start the gevent mode to measure the upgrade: {type(exc).__name__}: {exc}",
                    fix, "", needs)
    found = f"gevent-websocket {version}; the lab's gevent mode answers a WebSocket upgrade with {detail}"
    if status == 101:
        return Item(name, OK, found, False, needs=needs)
    return Item(name, WARNING, found, False,
                "python-engineio uses gevent-websocket whenever it is importable, and plain -k gevent does not "
                "provide it: the upgrade fails and clients stay on polling",
                fix, "https://flask-socketio.readthedocs.io/en/latest/deployment.html#gunicorn-web-server", needs)


def _gevent_upgrade_status() -> tuple[int, str]:
    from ..modes import MODES
    from ..modes.base import ServerSettings
    from ..core.supervisor import Supervisor
    from ..core.timeline import Timeline
    from ..lab.topology import HOST, Server

    if "gevent" not in MODES:
        raise RuntimeError("the lab has no gevent mode")
    with tempfile.TemporaryDirectory(prefix="siolab-doctor-") as tmp, \
            Timeline(None) as timeline, Supervisor(Path(tmp), timeline) as sup:
        server = Server(sup, timeline, MODES["gevent"], ServerSettings())
        server.start(timeout=15)
        with socket.create_connection((HOST, server.port), timeout=3) as s:
            s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: c2lvbGFiLWRvY3Rvci1rZXk=\r\n\r\n").encode())
            line = s.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return code, line or "no answer"


def check_browser(env: Mapping[str, str]) -> list[Item]:
    needs = Needs(clients=("browser",))
    fix = f"{APT} chromium   (or: make setup)"
    elsewhere = ".venv/bin/playwright install chromium (a Playwright-managed Chromium, found first)"
    try:
        from ..clients.browser import CHROMIUM_NAMES, BrowserDriver, find_chromium
    except ImportError as exc:
        return [Item("chromium", MISSING, "", True, f"cannot import the browser driver: {exc}",
                     PIP_INSTALL, elsewhere, needs)]
    path = find_chromium()
    if path is None:
        off = _off_path(CHROMIUM_NAMES, env)
        problem = ("no Playwright-managed Chromium and none of " + ", ".join(CHROMIUM_NAMES) + " on PATH"
                   + (f" (installed at {off}, outside PATH)" if off else ""))
        return [Item("chromium", MISSING, "", True, problem, _path_fix(off, fix) if off else fix, elsewhere, needs)]
    from ..core.timeline import Timeline

    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="siolab-doctor-") as tmp, Timeline(None) as timeline, \
                BrowserDriver(executable=path) as driver:
            with driver.new_cell(timeline, Path(tmp), base_url="http://127.0.0.1/") as cell:
                cell.goto("about:blank", timeout_s=BROWSER_CHECK_LIMIT_S)
                agent = cell.evaluate("navigator.userAgent")
            version = driver.version
    except Exception as exc:  # noqa: BLE001 - whatever stops Chromium is the finding
        return [Item("chromium", MISCONFIGURED, path, True,
                     f"found, but it does not start headless: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                     f"{APT} chromium   (a complete install pulls the libraries it needs)", elsewhere, needs)]
    headless = "HeadlessChrome" in str(agent)
    return [Item("chromium", OK if headless else MISCONFIGURED,
                 f"{version} at {path}; headless about:blank in {time.monotonic() - t0:.1f} s", True,
                 "" if headless else f"started, but not headless ({agent})", fix, elsewhere, needs)]


def _npm_version(root: Path, module: str) -> str | None:
    try:
        return str(json.loads((root / module / "package.json").read_text()).get("version", "?"))
    except (OSError, ValueError):
        return None


def check_npm_modules(env: Mapping[str, str]) -> list[Item]:
    raw = env.get("SIOLAB_NODE_MODULES", "").strip()
    root = Path(raw).expanduser() if raw else DEFAULT_NODE_MODULES
    where = f"{root}" + (" (SIOLAB_NODE_MODULES)" if raw else "")
    fix = "npm ci --no-audit --no-fund   (or: make setup)"
    elsewhere = "Node.js 18+ from https://nodejs.org/, then npm ci in the checkout"
    wanted = (
        ("socket.io-client", "4.", Needs(clients=("browser",)), "dist/socket.io.min.js"),
        ("socket.io-client-v2", "2.", Needs(also="client 2.x (EIO=3) cells: the protocol-mismatch incident"), "dist/socket.io.js"),
        ("socket.io", "4.", Needs(modes=("node", "node-eio3")), None),
    )
    items = []
    for module, major, needs, bundle in wanted:
        version = _npm_version(root, module)
        label = f"npm {module}" + (" (npm:socket.io-client@2)" if module.endswith("-v2") else "")
        if version is None:
            items.append(Item(label, MISSING, "", True, f"not in {where}", fix, elsewhere, needs))
        elif not version.startswith(major):
            items.append(Item(label, MISCONFIGURED, f"{version} in {where}", True,
                              f"expected {major}x (package-lock.json)", fix, elsewhere, needs))
        elif bundle and not (root / module / bundle).is_file():
            items.append(Item(label, MISCONFIGURED, f"{version} in {where}", True,
                              f"{bundle} is missing (an incomplete install)", fix, elsewhere, needs))
        else:
            items.append(Item(label, OK, f"{version} in {where}", True, needs=needs))
    return items


def _binary_item(label: str, names: tuple[str, ...], version_argv: list[str], env: Mapping[str, str], *,
                 required: bool, needs: Needs, fix: str, elsewhere: str, why_optional: str = "") -> Item:
    path = next((p for p in (_which(n, env) for n in names) if p), None)
    if path is None:
        off = _off_path(names, env)
        problem = "not on PATH" + (f" (installed at {off})" if off else "") + (f"; {why_optional}" if why_optional else "")
        return Item(label, MISSING, "", required, problem, _path_fix(off, fix) if off else fix, elsewhere, needs)
    out = _run([path, *version_argv])
    version = out.splitlines()[0] if out else "version unknown"
    return Item(label, OK, f"{version} ({path})", required, needs=needs)


def check_binaries(env: Mapping[str, str]) -> list[Item]:
    return [
        _binary_item("node", ("node", "nodejs"), ["--version"], env, required=True,
                     needs=Needs(modes=("node", "node-eio3"), also="npm ci (installing the JavaScript clients)"),
                     fix=f"{APT} nodejs npm", elsewhere="https://nodejs.org/en/download"),
        _binary_item("npm", ("npm",), ["--version"], env, required=True,
                     needs=Needs(also="npm ci (installing the JavaScript clients)"),
                     fix=f"{APT} npm", elsewhere="npm comes with Node.js: https://nodejs.org/en/download"),
        # Cells behind nginx (a scenario's `fronts`): locally skipped without it, failed under CI=true.
        _binary_item("nginx", ("nginx",), ["-v"], env, required=True,
                     needs=Needs(components=("nginx",), also="cells behind nginx (a scenario's fronts: several "
                                 "instances, upgrade headers dropped, idle timeouts)"),
                     fix=f"{APT} nginx   (or: make system-deps)",
                     elsewhere="https://nginx.org/en/download.html (macOS: brew install nginx)"),
        _binary_item("redis-server", ("redis-server",), ["--version"], env, required=True,
                     needs=Needs(components=("redis-server",), also="several instances sharing a Redis message queue"),
                     fix=f"{APT} redis-server   (or: make system-deps)",
                     elsewhere="https://redis.io/docs/latest/operate/oss_and_stack/install/ (macOS: brew install redis)"),
    ]


def check_toxiproxy(env: Mapping[str, str]) -> list[Item]:
    """A reachable Toxiproxy API: TOXIPROXY_URL, else toxiproxy-server on PATH, else the embedded one."""
    needs = Needs(proxy_faults=True)
    try:
        from ..faults import toxiproxy_api
    except ImportError as exc:
        return [Item("toxiproxy API", MISSING, "", True, f"cannot import the proxy driver: {exc}",
                     PIP_INSTALL, "", needs)]
    backend = toxiproxy_api.choose_backend(env)
    releases = "https://github.com/Shopify/toxiproxy/releases (or leave it out: the embedded one serves the same API)"
    try:
        if backend == "url":
            api = toxiproxy_api.ToxiproxyAPI(env["TOXIPROXY_URL"])
            version = api.wait_ready(timeout=3)
            detail = _probe_proxy(api)
            return [Item("toxiproxy API", OK, f"TOXIPROXY_URL {api.url}: version {version}, {detail}", True, needs=needs)]
        version, detail = _start_and_probe(toxiproxy_api, backend, env)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        if backend == "url":
            fix = f"unset TOXIPROXY_URL   (the embedded proxy is used), or start the server at {env['TOXIPROXY_URL']}"
        elif backend == "toxiproxy-server":
            fix = "remove toxiproxy-server from PATH (the embedded proxy is used), or install a working 2.x"
        else:
            fix = PIP_INSTALL
        return [Item("toxiproxy API", MISCONFIGURED, backend, True,
                     f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}", fix, releases, needs)]
    where = {"toxiproxy-server": _which("toxiproxy-server", env), "embedded": "harness/faults/embedded_toxiproxy.py"}[backend]
    return [Item("toxiproxy API", OK, f"{backend} ({where}): version {version}, {detail}", True, needs=needs)]


def _start_and_probe(toxiproxy_api, backend: str, env: Mapping[str, str]) -> tuple[str, str]:
    from ..core.supervisor import Supervisor, free_port
    from ..core.timeline import Timeline

    with tempfile.TemporaryDirectory(prefix="siolab-doctor-") as tmp, \
            Timeline(None) as timeline, Supervisor(Path(tmp), timeline) as sup:
        port = free_port()
        proc = sup.start("proxy", toxiproxy_api.server_argv(backend, "127.0.0.1", port), src="proxy",
                         json_events=True, cwd=REPO_ROOT, port=port, env=dict(env))
        api = toxiproxy_api.ToxiproxyAPI(f"http://127.0.0.1:{port}")
        sup.wait_ready(proc, lambda: bool(api.version()), timeout=10, what="the Toxiproxy API")
        return api.version(), _probe_proxy(api)


def _probe_proxy(api) -> str:
    """Create a proxy and remove it again: the API does more than answer /version."""
    from ..core.supervisor import free_port

    name = f"siolab-doctor-{os.getpid()}"
    proxy = api.create_proxy(name, f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    proxy.destroy()
    return "creates proxies"


def diagnose(env: Mapping[str, str] | None = None) -> list[Item]:
    env = dict(os.environ if env is None else env)
    declared, python_spec = declared_requirements()
    items: list[Item] = []
    items += check_python(python_spec)
    items += check_install()
    items += check_packages(declared)
    items += check_traps(declared)
    items += check_browser(env)
    items += check_npm_modules(env)
    items += check_binaries(env)
    items += check_toxiproxy(env)
    catalogue = Catalogue()
    for item in items:
        if item.status != OK:
            item.breaks = catalogue.what_breaks(item.needs)
    if catalogue.error:
        items.append(Item("scenario catalogue", MISCONFIGURED, str(SCENARIO_DIR), True,
                          f"cannot load the catalogue: {catalogue.error}", PIP_INSTALL, "",
                          Needs(everything=True), breaks="every run"))
    return items


# --------------------------------------------------------------------------- output

LABELS = {OK: "ok", MISSING: "MISSING", MISCONFIGURED: "MISCONFIGURED", WARNING: "warning"}


def _label(item: Item) -> str:
    return LABELS[item.status] + ("" if item.required or item.status == OK else " (optional)")


def render_text(items: list[Item]) -> str:
    system = "Debian" if Path("/etc/debian_version").exists() else "Debian (this machine is not Debian: see elsewhere)"
    lines = [f"siolab doctor: what a run needs on this machine",
             f"(fix: the command on {system}, run in {REPO_ROOT}; elsewhere: other systems)", ""]
    width = max(len(_label(i)) for i in items)
    pad = " " * (width + 4)
    for item in items:
        lines.append(f"  {_label(item):<{width}}  {item.name}" + (f": {item.found}" if item.found else ""))
        if item.status == OK:
            continue
        for key in ("problem", "breaks", "fix", "elsewhere"):
            if getattr(item, key):
                lines.append(f"{pad}{key + ':':<10} {getattr(item, key)}")
    blocking = [i for i in items if i.blocking]
    notes = [i for i in items if not i.blocking and i.status != OK]
    lines.append("")
    if blocking:
        lines.append(f"NOT READY: {len(blocking)} required item(s) need a fix: " + ", ".join(i.name for i in blocking))
    else:
        lines.append("READY: every required item is ok"
                     + (f" ({len(notes)} note(s) above: optional parts or traps)" if notes else ""))
    return "\n".join(lines)


def render_json(items: list[Item]) -> str:
    return json.dumps({"ready": not any(i.blocking for i in items), "repo": str(REPO_ROOT),
                       "items": [{**asdict(i), "blocking": i.blocking} for i in items]}, indent=2)


def run(as_json: bool = False, env: Mapping[str, str] | None = None) -> int:
    items = diagnose(env)
    print(render_json(items) if as_json else render_text(items), flush=True)
    return 1 if any(i.blocking for i in items) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siolab doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        return run(args.json)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
