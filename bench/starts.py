"""Where a cell's starts and stops go, per deployment mode, and what a browser context costs.

    .venv/bin/python bench/starts.py [--modes reloader,gthread,...] [--repeat 5] [--no-browser]

For each mode, --repeat times, under the lab's own supervisor (harness/topology.Server):
- start: `Server.start()` split at the server's own log lines, which the timeline stamps as
  they arrive: the first process's interpreter and imports (gunicorn's master, the reloader's
  parent), the worker or child taking over, the app imported and built (its "app ready"
  line), the first Engine.IO handshake answered (`proc.ready`), and `server.up`;
- stop: `Server.stop()` (the mode's quick stop) with one python-socketio client connected,
  over polling and over WebSocket, and SIGTERM for comparison; then `Server.restart()`
  with a client connected (the `restart` fault);
- imports: `python -c pass`, and a bare interpreter importing the app as each async mode
  does (gevent and eventlet monkey-patch first), timed from outside;
- browser (one Chromium, as a run has): a cell's context and page (HAR and trace on, as the
  lab records them), the login and the page until its socket connects, the cell's close;
  and the same without the trace and without the HAR, to show what each costs.

Figures are medians over --repeat, in seconds. Run it on a quiet machine for absolute
figures; side by side (this checkout against another: PYTHONPATH=OTHER) for ratios.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import socketio

from harness.modes import ServerSettings, get_mode
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline
from harness.lab.topology import Server

MODES = ("reloader", "gthread", "gevent", "gevent-websocket", "eventlet", "aiohttp", "node", "multiworker")
# Log lines that mark a start's stages: (label, pattern, which occurrence).
GUNICORN = [("master up", r"Listening at:", 1), ("worker forked", r"Booting worker", 1),
            ("app imported", r"app ready", 1)]
MARKERS = {
    "reloader": [("parent: app imported", r"app ready", 1), ("child started", r"Restarting with stat", 1),
                 ("child: app imported", r"app ready", 2)],
    "gthread": GUNICORN, "gevent": GUNICORN, "gevent-websocket": GUNICORN,
    "multiworker": GUNICORN + [("2nd worker: app imported", r"app ready", 2)],
    "eventlet": [("app imported", r"app ready", 1)],
    "aiohttp": [("app imported", r"app ready", 1)],
    "node": [],
}
# A bare interpreter importing what each stack's serving process imports.
IMPORTS = {
    "python -c pass": ("", "pass"),
    "Flask app, threading": ("threading", "import servers.reference_app.wsgi"),
    "Flask app, gevent (patched)": ("gevent", "from gevent import monkey; monkey.patch_all(); "
                                              "import servers.reference_app.wsgi"),
    "Flask app, eventlet (patched)": ("eventlet", "import eventlet; eventlet.monkey_patch(); "
                                                  "import servers.reference_app.wsgi"),
    "aiohttp app": ("aiohttp", "import servers.aiohttp_app.app"),
    "gunicorn master": ("", "import gunicorn.app.wsgiapp, gunicorn.arbiter"),
}
SETTINGS = ServerSettings(ping_interval=5, ping_timeout=5)   # stale-sid-after-restart's


def median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f}" if xs else "—"


def start_split(mode_name: str, repeat: int) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp, Timeline(Path(tmp) / "t.jsonl") as tl, \
                Supervisor(Path(tmp), tl) as sup:
            server = Server(sup, tl, get_mode(mode_name), SETTINGS)
            mark = time.monotonic()
            server.start()
            total = time.monotonic() - mark
            events = tl.events
            t0 = next(e.t for e in events if e.kind == "proc.start")
            lines = [(e.t, e.data["line"]) for e in events if e.kind == "log" and e.src == "server"]
            if lines:
                rows.setdefault("first output line", []).append(lines[0][0] - t0)
            for label, pattern, nth in MARKERS[mode_name]:
                hits = [t for t, line in lines if re.search(pattern, line)]
                if len(hits) >= nth:
                    rows.setdefault(label, []).append(hits[nth - 1] - t0)
            ready = next(e.t for e in events if e.kind == "proc.ready")
            rows.setdefault("handshake answered", []).append(ready - t0)
            rows.setdefault("Server.start()", []).append(total)
    return rows


def stops(mode_name: str, repeat: int) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    transports = ("websocket",) if get_mode(mode_name).workers > 1 else ("polling", "websocket")
    for _ in range(repeat):
        for transport in transports:
            for label, sig in (("quick stop", None), ("SIGTERM", signal.SIGTERM), ("restart", "restart")):
                with tempfile.TemporaryDirectory() as tmp, Timeline(Path(tmp) / "t.jsonl") as tl, \
                        Supervisor(Path(tmp), tl) as sup:
                    server = Server(sup, tl, get_mode(mode_name), SETTINGS)
                    server.start()
                    client = socketio.Client(reconnection=False)
                    client.connect(f"http://127.0.0.1:{server.port}", transports=[transport], wait_timeout=5)
                    mark = time.monotonic()
                    if sig == "restart":
                        server.restart()
                    else:   # explicit, so that the script also runs against an older checkout
                        server.stop(server.proc.quit_signal if sig is None else sig)
                    rows.setdefault(f"{label}, {transport} client", []).append(time.monotonic() - mark)
                    try:
                        client.disconnect()
                    except Exception:  # noqa: BLE001 - the server is gone or new
                        pass
    return rows


def imports(repeat: int) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {}
    root = Path(get_mode("gevent").launch("127.0.0.1", 1, SETTINGS).cwd)
    for _ in range(repeat):
        for label, (async_mode, code) in IMPORTS.items():
            env = {**os.environ, "SIOLAB_SECRET_KEY": "bench", "SIOLAB_ASYNC_MODE": async_mode or "threading"}
            mark = time.monotonic()
            subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rows.setdefault(label, []).append(time.monotonic() - mark)
    return rows


def browser(repeat: int) -> dict[str, list[float]]:
    from harness.clients import browser as driver_module
    from harness.clients.browser import BrowserDriver

    rows: dict[str, list[float]] = {}
    real_open = driver_module.BrowserCell._open
    variants = {"as recorded (HAR + trace)": {}, "without trace": {"trace": False},
                "without HAR": {"har": False}, "neither": {"trace": False, "har": False}}

    def variant_open(har: bool = True, trace: bool = True):
        async def _open(self) -> None:
            await real_open(self)
            if not trace and self._tracing:
                await self._context.tracing.stop()
                self._tracing = False
        if har:
            return _open

        async def _open_without_har(self) -> None:
            har_path, self.har_path = self.har_path, None
            browser_ = self._driver._browser
            real_new_context = browser_.new_context

            async def new_context(**kwargs):
                kwargs.pop("record_har_path", None)
                kwargs.pop("record_har_content", None)
                return await real_new_context(**kwargs)
            browser_.new_context = new_context
            try:
                await _open(self)
            finally:
                browser_.new_context = real_new_context
                self.har_path = har_path
        return _open_without_har

    with tempfile.TemporaryDirectory() as tmp, Timeline(Path(tmp) / "t.jsonl") as tl, \
            Supervisor(Path(tmp), tl) as sup:
        server = Server(sup, tl, get_mode("aiohttp"), SETTINGS)
        server.start()
        mark = time.monotonic()
        with BrowserDriver() as driver:
            rows["Chromium (once per run)"] = [time.monotonic() - mark]
            for i in range(repeat):
                for name, options in variants.items():
                    driver_module.BrowserCell._open = variant_open(**options)
                    try:
                        mark = time.monotonic()
                        cell = driver.new_cell(tl, Path(tmp) / f"cell{i}-{len(rows)}",
                                               base_url=f"http://127.0.0.1:{server.port}")
                        rows.setdefault(f"{name}: context + page", []).append(time.monotonic() - mark)
                        mark = time.monotonic()
                        cell.goto("/login?user=lab-user")
                        cell.goto("/?singleton=naive&transport=polling")
                        cell.wait_for_function("window.__appSocket && window.__appSocket.connected", 10)
                        rows.setdefault(f"{name}: login + page + connect", []).append(time.monotonic() - mark)
                        mark = time.monotonic()
                        cell.close()
                        rows.setdefault(f"{name}: close", []).append(time.monotonic() - mark)
                    finally:
                        driver_module.BrowserCell._open = real_open
    return rows


def table(title: str, rows: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    for label, values in rows.items():
        print(f"  {label:<44}{median(values):>8} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stop-repeat", type=int, default=2, help="repeats of the stops (each starts a server)")
    ap.add_argument("--no-stops", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    print(f"starts and stops, median of {args.repeat}, seconds since the process was spawned "
          f"(harness {Path(sys.modules['harness'].__file__).parent})")
    table("imports (a bare interpreter, timed from outside)", imports(args.repeat))
    for mode in modes:
        table(f"{mode}: start", start_split(mode, args.repeat))
        if not args.no_stops:
            table(f"{mode}: stop and restart, one client connected (median of {args.stop_repeat})",
                  stops(mode, args.stop_repeat))
    if not args.no_browser:
        table("browser cell (aiohttp server)", browser(args.repeat))


if __name__ == "__main__":
    main()
