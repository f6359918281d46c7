"""The knobs of `siolab run` (and the pytest plugin), each with one place: the command-line
flag, then `siolab.toml`, then the environment variable, then the default.

`siolab.toml` is looked up in the current directory (or named with `--config PATH` /
SIOLAB_CONFIG); its keys are the knobs' names, at the top level:

    app = "shop.app:app"        # or cmd = "node server.js --port {port}"
    page = "/"
    hook = "hooks:login"
    mode = ["gevent", "reloader"]

Relative paths in the file (app_path, page and hook files, out) are relative to the file's
folder, and app_path defaults to that folder. A bad file is bad input: `FILE:LINE: FIELD: problem`.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

CONFIG_NAME = "siolab.toml"
CONFIG_ENV = "SIOLAB_CONFIG"


class ConfigError(ValueError):
    """A bad siolab.toml or knob value; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Knob:
    name: str            # toml key and argparse dest
    kind: type           # str, int, or list (a list of strings, or "a,b" on the command line / env)
    help: str
    path: bool = False   # a path: relative to siolab.toml's folder when it comes from there
    words: tuple[str, ...] = ()   # an int knob's other accepted values (jobs: "auto")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SIOLAB_" + self.name.upper()


KNOBS: tuple[Knob, ...] = (
    Knob("app", str, "your app, package.module:attribute: a Flask app with Flask-SocketIO, a WSGI app, "
                     "a socketio.Server, or an AsyncServer(async_mode='aiohttp') / aiohttp Application; "
                     "started in the mode of each cell"),
    Knob("cmd", str, "any other server, as a shell command with {port} (and optionally {host}): "
                     "the harness picks the port, supervises the process and waits for the Engine.IO handshake"),
    Knob("app_path", str, "folder put first on PYTHONPATH and used as the app's working directory "
                          "(default: siolab.toml's folder, else the current directory)", path=True),
    Knob("page", str, "the page the browser cells load: a path on the app (/dashboard) or an HTML file "
                      "(default: the reference layout page)", path=True),
    Knob("hook", str, "set-up before the page loads (login…): module:function or file.py[:function], "
                      "an `async def f(page, context, base_url)` getting Playwright's page and context", path=True),
    Knob("mode", list, "only these deployment modes (comma-separated)"),
    Knob("client", list, "only these clients: browser, python"),
    Knob("fault", list, "only these faults (names from the scenario)"),
    Knob("transport", list, "only these transports: polling, websocket, default"),
    Knob("singleton", list, "only these singleton variants: naive, fixed, backoff"),
    Knob("jobs", int, "cells run side by side: a number, or auto (picked from the CPUs, the load average and "
                      "the memory available; printed with the reason in the first progress line); "
                      "default: auto with --all, else 1", words=("auto",)),
    Knob("repeat", int, "run the selected cells N times (rep-1/ … rep-N/ in the run folder), then tally each "
                        "claim's verdict and each expectation's outcome: one that is not unanimous is unstable "
                        "and the run exits 1 (default 1)"),
    Knob("clients", int, "storm scenarios: clients per storm (default: the scenario's, 200)"),
    Knob("out", str, "run folder (default: reports/runs/<time>-<scenario>, or <time>-all with --all)", path=True),
    Knob("runs_warn_size", str, "warn at the start of a run when reports/runs/ holds more than this "
                                "(2GB, 500MB; 0 never warns; default 2GB): `siolab clean` frees it"),
)
BY_NAME = {k.name: k for k in KNOBS}
DEFAULTS: dict[str, Any] = {"repeat": 1, "runs_warn_size": "2GB"}   # jobs: auto with --all, else 1 (harness/entrypoints/cli.py)


def knob_help(knob: Knob) -> str:
    return f"{knob.help} [toml: {knob.name}; env: {knob.env}]"


def find_config(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """--config PATH, else SIOLAB_CONFIG, else ./siolab.toml when there is one."""
    named = explicit or env.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{named}: no such configuration file")
        return path
    found = cwd / CONFIG_NAME
    return found if found.is_file() else None


def _line_of(text: str, key: str) -> int:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return n
    return 1


def read_config(path: Path) -> dict[str, Any]:
    """The knobs set in `path`, checked; relative paths made absolute against its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = m.group(1) if m else "1"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"{path}:{line}: (toml): not valid TOML: {reason}"
                          + (f" (column {m.group(2)})" if m else "")) from None
    values: dict[str, Any] = {}
    for key, value in raw.items():
        line = _line_of(text, key)
        knob = BY_NAME.get(key)
        if knob is None:
            raise ConfigError(f"{path}:{line}: {key}: unknown field; siolab.toml has: {', '.join(BY_NAME)}")
        values[key] = _check(knob, value, f"{path}:{line}: {key}")
        if knob.path and isinstance(values[key], str) and not _is_app_path_like(knob, values[key]):
            values[key] = str((path.parent / values[key]).resolve()) if not Path(values[key]).is_absolute() else values[key]
    return values


def _is_app_path_like(knob: Knob, value: str) -> bool:
    """Values of path knobs that are not files: a URL path (`/dashboard`), a `module:function` hook."""
    if knob.name == "page" and value.startswith("/"):
        return True
    if knob.name == "hook" and ":" in value and not value.split(":", 1)[0].endswith(".py"):
        return True
    return False


def _check(knob: Knob, value: Any, where: str) -> Any:
    if knob.kind is list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{where}: must be a string or a list of strings, got {value!r}")
    if knob.kind is int:
        if isinstance(value, str) and value in knob.words:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be a whole number{_or_words(knob)}, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _or_words(knob: Knob) -> str:
    return "".join(f" or {w!r}" for w in knob.words)


def parse_int(knob: Knob, raw: str, where: str) -> int | str:
    """An int knob's value written as text (the command line, the environment)."""
    if raw.strip() in knob.words:
        return raw.strip()
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{where}: must be a whole number{_or_words(knob)}") from None


def _from_env(knob: Knob, env: Mapping[str, str]) -> Any:
    raw = env.get(knob.env)
    if raw is None or raw == "":
        return None
    if knob.kind is int:
        return parse_int(knob, raw, f"environment {knob.env}={raw!r}")
    if knob.kind is list:
        return [v.strip() for v in raw.split(",") if v.strip()]
    return raw


def resolve(cli: Mapping[str, Any], *, config: str | None = None, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> dict[str, Any]:
    """Every knob's value: the command line (not None), else siolab.toml, else the environment, else
    the default. `cli` holds the command-line values by knob name (list knobs as "a,b" or lists)."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    path = find_config(config, env, cwd)
    from_file = read_config(path) if path else {}
    values: dict[str, Any] = {"config": str(path) if path else None}
    for knob in KNOBS:
        given = cli.get(knob.name)
        if given is not None and knob.kind is list and isinstance(given, str):
            given = [v.strip() for v in given.split(",") if v.strip()]
        for candidate in (given, from_file.get(knob.name), _from_env(knob, env), DEFAULTS.get(knob.name)):
            if candidate is not None:
                values[knob.name] = candidate
                break
        else:
            values[knob.name] = None
    if path and values["app_path"] is None:
        values["app_path"] = str(path.parent.resolve())
    return values
