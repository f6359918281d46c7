"""What a run studies: the reference app (default), your app (`--app module:app`), or any
command (`--cmd "… {port} …"`), with the page the browser cells load and a set-up hook.

Driving only: a target says how a deployment mode starts the app on the port the harness
picks (a `LaunchSpec`), which modes can host it, and how the matrix's cells read for it.
Decisions (README "Use it on your app"):

- `--app`: the object is inspected once, in a child process (`servers/user_app_runner.py
  inspect`). A WSGI object (a Flask app with Flask-SocketIO, `socketio.Server`, any WSGI
  app) runs in the modes reloader, gthread, gevent, gevent-websocket, eventlet and the
  traps gthread-nosw and gevent-gws-installed; an `AsyncServer(async_mode="aiohttp")` or an
  `aiohttp.web.Application` runs in mode aiohttp. Cells whose mode cannot host the object
  are left out with the reason printed (node: not Python; the autodetect traps: they are
  the reference app's opt-in); naming such a mode with `--mode` is bad input. An ASGI app
  needs an ASGI server the lab does not ship: use `--cmd "uvicorn module:app --port {port}"`.
- `--cmd`: the command is the deployment; the matrix's mode axis collapses to one mode, `cmd`.
- The page: without `--page`, the reference layout page is served on your app's origin
  (`/__siolab/layout`, by request routing) with its `getAppSocket()` variants: every axis holds.
  With your page, the page's own client code replaces the reference page's singleton variants,
  so the singleton axis collapses to `own`; expectations and claims that name a variant
  (`singleton: fixed`) do not apply. The transport axis still holds: the lab's wrapper of
  the page's `io()` sets `transports` (harness/clients/page_instrument.py).
- Readiness is the Engine.IO handshake; a restart is seen as a new serving process (the
  pids under the supervised one), since your app has no `/__siolab/info`.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..modes import get_mode
from ..modes.base import REPO_ROOT, LaunchSpec, Mode, ServerSettings, registered, server_env

REFERENCE_WSGI = "servers.reference_app.wsgi:app"
USER_WSGI = "servers.user_app_wsgi:app"
NO_FRONT = "none"
CMD_MODE = "cmd"
OWN_SINGLETON = "own"
INSPECT_TIMEOUT_S = 60


class TargetError(ValueError):
    """A target that cannot be used (bad `module:app`, a hook that does not load); exit 2."""


class CmdMode(Mode):
    """`--cmd`: the command decides how the app runs; the lab stops and starts it for a restart."""

    name = CMD_MODE
    description = "the command given with --cmd"
    async_mode = ""


@dataclass
class Target:
    """The app under study and the page the browser cells load. `Target()` is the reference app."""

    app: str | None = None              # package.module:attribute
    cmd: str | None = None              # a shell command with {port} (and optionally {host})
    app_path: Path | None = None        # put on PYTHONPATH, the app's working directory (default: cwd)
    page: str | None = None             # a path on the app (`/`, `/dashboard`) or an HTML file
    hook: str | None = None             # module:func, or file.py[:func]
    app_kind: str | None = None         # from `inspect`: flask-socketio, socketio-server, wsgi, aiohttp-…, asgi
    family: str | None = None           # wsgi, aiohttp, asgi
    hook_fn: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def is_reference(self) -> bool:
        return not self.app and not self.cmd

    @property
    def own_page(self) -> bool:
        """The browser loads a page of yours, not the reference layout page."""
        return bool(self.page)

    @property
    def serves_reference_page(self) -> bool:
        """Your app without --page: the harness serves the reference layout page on its origin."""
        return not self.is_reference and not self.page

    @property
    def has_info(self) -> bool:
        """Only the reference apps serve `/__siolab/info` (the boot id)."""
        return self.is_reference

    @property
    def cwd(self) -> Path:
        return (self.app_path or Path.cwd()).resolve()

    def describe(self) -> dict[str, Any]:
        return {"kind": "cmd" if self.cmd else "app" if self.app else "reference", "app": self.app,
                "app_kind": self.app_kind, "cmd": self.cmd, "page": self.page, "hook": self.hook,
                "app_path": str(self.cwd) if not self.is_reference else None}

    # -- modes

    def why_not(self, mode_name: str) -> str | None:
        """None when the mode can host this target, else the reason."""
        if self.is_reference or self.cmd:
            return None
        mode = registered().get(mode_name)
        if mode is not None and mode.cannot_host:
            return mode.cannot_host
        fits = [name for name, m in registered().items() if self.family in m.hosts and not m.cannot_host]
        if mode_name not in fits:
            if self.family == "asgi":
                return (f"{self.app} is an ASGI app and the lab ships no ASGI server: "
                        f"use --cmd \"uvicorn {self.app} --port {{port}}\" (or hypercorn)")
            return (f"mode {mode_name} cannot host {self.app} ({self.app_kind}); "
                    f"modes that can: {', '.join(fits) or 'none'}")
        return None

    def mode(self, mode_name: str) -> Mode:
        return CmdMode() if self.cmd else get_mode(mode_name)

    def launch(self, mode: Mode, host: str, port: int, settings: ServerSettings, *,
               reload_marker: Path | None = None) -> LaunchSpec:
        if self.is_reference:
            return mode.launch(host, port, settings)
        if self.cmd:
            command = self.cmd.replace("{port}", str(port)).replace("{host}", host)
            env = server_env(settings, "")
            env.pop("SIOLAB_ASYNC_MODE", None)
            env["PORT"] = str(port)
            return LaunchSpec(["/bin/sh", "-c", command], env, self.cwd)
        runner = mode.host_runner
        if runner:
            argv = [sys.executable, "-m", "servers.user_app_runner", runner, "--app", self.app,
                    "--host", host, "--port", str(port)]
            if runner == "reloader":
                argv += ["--reload-marker", str(reload_marker)]
            spec = mode.spec(argv, settings)
        else:
            spec = mode.launch(host, port, settings)
            if spec.argv[-1] != REFERENCE_WSGI:
                raise TargetError(f"mode {mode.name} does not start the reference WSGI app; it cannot host {self.app}")
            spec = replace(spec, argv=[*spec.argv[:-1], USER_WSGI])
        env = dict(spec.env)
        env["SIOLAB_USER_APP"] = self.app
        # The app's folder first, then the repo (servers.user_app_runner), after any module blocker.
        parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        blockers = [p for p in parts if p.endswith("absent_modules")]
        rest = [p for p in parts if p not in blockers]
        env["PYTHONPATH"] = os.pathsep.join(blockers + [str(self.cwd), str(REPO_ROOT)] + rest)
        return replace(spec, env=env, cwd=self.cwd)

    def reload_trigger(self, mode: Mode, reload_marker: Path | None) -> Path | None:
        """The file whose newer mtime makes the reloader replace its child."""
        if self.is_reference:
            return mode.reload_trigger()
        if self.app and mode.name == "reloader":
            return reload_marker
        return None

    # -- cells

    def cells(self, cells: list) -> tuple[list, list[tuple[Any, str]]]:
        """(the cells as they run for this target, [(cell, why it is left out)])."""
        from .scenario import Cell

        kept, skipped, seen = [], [], set()
        for cell in cells:
            reason = self.why_not(cell.params.get("mode", ""))
            if not reason and not self.is_reference and cell.params.get("front", NO_FRONT) != NO_FRONT:
                reason = "nginx fronts start instances of the reference app only (harness/components/front.py)"
            if reason:
                skipped.append((cell, reason))
                continue
            params = dict(cell.params)
            if self.cmd:
                params["mode"] = CMD_MODE
            if self.own_page and "singleton" in params:
                params["singleton"] = OWN_SINGLETON
            relabeled = Cell(params)
            if relabeled.id not in seen:
                seen.add(relabeled.id)
                kept.append(relabeled)
        return kept, skipped


def inspect_app(spec: str, app_path: Path) -> dict[str, Any]:
    """What `spec` names, asked in a child process (importing it here could monkey-patch the harness)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(app_path), str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    try:
        out = subprocess.run([sys.executable, "-m", "servers.user_app_runner", "inspect", "--app", spec],
                             cwd=app_path, env=env, capture_output=True, text=True, timeout=INSPECT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise TargetError(f"--app {spec}: importing it took longer than {INSPECT_TIMEOUT_S} s") from None
    if out.returncode != 0:
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        raise TargetError(f"--app {spec}: {lines[-1] if lines else f'inspection exited {out.returncode}'}"
                          f" (app path {app_path})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_hook(spec: str, app_path: Path) -> Callable[..., Any]:
    """`module:func` or `file.py[:func]` (func defaults to `setup`): an `async def f(page, context, base_url)`."""
    target, _, func = spec.partition(":") if not spec.endswith(".py") else (spec, "", "")
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else app_path / target
        if not path.is_file():
            raise TargetError(f"--hook {spec}: no such file {path}")
        module_spec = importlib.util.spec_from_file_location(f"siolab_hook_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's file: say what broke
            raise TargetError(f"--hook {spec}: {path} failed to load: {type(exc).__name__}: {exc}") from None
        func = func or "setup"
    else:
        if not func:
            raise TargetError(f"--hook {spec}: expected module:function or a file.py")
        if str(app_path) not in sys.path:
            sys.path.insert(0, str(app_path))
        try:
            module = importlib.import_module(target)
        except Exception as exc:  # noqa: BLE001
            raise TargetError(f"--hook {spec}: cannot import {target!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, func, None)
    if fn is None:
        raise TargetError(f"--hook {spec}: {target} has no function {func!r}")
    if not inspect.iscoroutinefunction(fn):
        raise TargetError(f"--hook {spec}: {func} must be `async def {func}(page, context, base_url)` "
                          "(Playwright's async API: the lab's browser runs on an asyncio loop)")
    return fn


def resolve(*, app: str | None = None, cmd: str | None = None, app_path: str | Path | None = None,
            page: str | None = None, hook: str | None = None) -> Target:
    """A checked Target from the knobs (harness/lab/config.py); TargetError says what is wrong."""
    if app and cmd:
        raise TargetError("--app and --cmd: name one target, not both")
    if cmd and "{port}" not in cmd:
        raise TargetError(f"--cmd {cmd!r}: must contain {{port}}, where the harness puts the port it picked")
    path = Path(app_path).expanduser().resolve() if app_path else Path.cwd().resolve()
    if (app or cmd) and not path.is_dir():
        raise TargetError(f"--app-path {app_path}: not a directory")
    target = Target(app=app, cmd=cmd, app_path=path if (app or cmd) else None, page=page, hook=hook)
    if app:
        info = inspect_app(app, path)
        target.app_kind, target.family = info["kind"], info["family"]
    if page and not page.startswith("/") and not (path / page).is_file() and not Path(page).is_file():
        raise TargetError(f"--page {page}: neither a path on the app (starting with /) nor an HTML file")
    if hook:
        target.hook_fn = load_hook(hook, path)
    return target


def page_file(target: Target) -> Path | None:
    """The HTML file to put on the app's origin, when --page names an existing file rather than a path on the app."""
    if not target.page:
        return None
    for candidate in ((target.app_path or Path.cwd()) / target.page, Path(target.page)):
        if candidate.is_file():
            return candidate.resolve()
    return None


def page_path(target: Target) -> str | None:
    """Where the browser cells go: the reference layout page on your app, your file's place, or your path."""
    from ..clients.page_instrument import PAGE_PREFIX, REFERENCE_PAGE

    if target.serves_reference_page:
        return REFERENCE_PAGE
    found = page_file(target)
    return PAGE_PREFIX + found.name if found else target.page
