"""What every deployment mode shares: the server settings, the launch spec, the interface.

A mode only says how to start the app under study (argv, environment, working
directory) and how it restarts on its own; the supervisor starts, watches and kills it,
the topology decides when it is up (an Engine.IO handshake answers).
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from ..core.paths import REPO_ROOT, SERVERS_DIR

# The app's own settings (servers/reference_app/settings.py); the harness decides them.
APP_SETTING_VARS = (
    "SIOLAB_ASYNC_MODE", "SIOLAB_PING_INTERVAL", "SIOLAB_PING_TIMEOUT", "SIOLAB_MAX_HTTP_BUFFER_SIZE",
    "SIOLAB_CORS_ORIGINS", "SIOLAB_SECRET_KEY", "SIOLAB_RECONNECTION_DELAY_MS",
    "SIOLAB_RECONNECTION_DELAY_MAX_MS", "SIOLAB_ALLOW_EIO3", "SIOLAB_ABSENT_MODULES",
    "SIOLAB_MESSAGE_QUEUE",
    "SIOLAB_ALLOW_SUBSECOND_PING", "SIOLAB_MAX_DECODE_PACKETS", "SIOLAB_TICK_MS",
    "SIOLAB_ROOM_TICK_MS", "SIOLAB_STATE_RECOVERY",
)


class SettingError(ValueError):
    """A server setting the lab cannot run with; `name` is the setting (a scenario's `settings.<name>`)."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"ServerSettings.{name}: {reason}")
        self.name, self.reason = name, reason


def _scenario(default, kinds, **kw):
    """A setting a scenario may give in its `settings:` (of these types): declared here, once."""
    return field(default=default, metadata={"scenario": kinds}, **kw)


NUMBER = (int, float)


@dataclass(frozen=True)
class ServerSettings:
    """The app's settings as the lab chooses them; compressed timings by default."""

    ping_interval: int | float = _scenario(1, NUMBER)   # whole seconds (trap: engineio sends int(s)*1000) ...
    ping_timeout: int | float = _scenario(1, NUMBER)
    max_http_buffer_size: int = _scenario(1_000_000, int)
    cors_origins: str | None = _scenario(None, str)     # None: same origin only; "*" or "http://a,http://b"
    reconnection_delay_ms: int = _scenario(500, int)
    secret_key: str = _scenario("siolab-dev-secret", str)
    extra_env: Mapping[str, str] = field(default_factory=dict)   # applied last, may override
    # ... unless a trap scenario opts in (trap 12: what 0.3 s really does); the apps then
    # accept any positive number of seconds too (SIOLAB_ALLOW_SUBSECOND_PING=1).
    allow_subsecond_ping: bool = _scenario(False, bool)
    # python-engineio's packets per polling POST (engineio.payload.Payload.max_decode_packets,
    # 16 by default): None leaves the library's own default. The Node server has no such limit.
    max_decode_packets: int | None = _scenario(None, int)
    # Opt-in: every tick_ms the app emits `tick` {"n": n} to every client of `/` and logs `tick n=…`,
    # so a check can tell which emits reached a client (frozen-client); 0: no ticks.
    tick_ms: int = _scenario(0, int)
    # Opt-in: every room_tick_ms the app emits `room_tick` {"n": n} to the room `news` (joined by a client's
    # `join` event) and logs `room_tick n=… room=news members=…` (reconnect-state); 0: none.
    room_tick_ms: int = _scenario(0, int)
    # socket.io's connectionStateRecovery (the Node server only: python-socketio has no such option, and
    # the Python apps refuse to start with it rather than pretend).
    state_recovery: bool = _scenario(False, bool)

    def __post_init__(self) -> None:
        # Fail here, in the harness, rather than as a server that never comes up.
        for name in ("ping_interval", "ping_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, NUMBER):
                raise SettingError(name, f"must be a number of seconds, got {value!r}")
            if self.allow_subsecond_ping:
                if not value > 0:
                    raise SettingError(name, f"must be > 0 seconds, got {value!r}")
            elif not isinstance(value, int) or value < 1:
                raise SettingError(name, f"must be whole seconds >= 1 (python-engineio advertises "
                                         f"int(seconds)*1000), got {value!r}; allow_subsecond_ping: true "
                                         f"opts in to the trap")
        if isinstance(self.tick_ms, bool) or not isinstance(self.tick_ms, int) or self.tick_ms < 0 or 0 < self.tick_ms < 50:
            raise SettingError("tick_ms", f"must be 0 (no ticks) or whole milliseconds >= 50, got {self.tick_ms!r}")
        if isinstance(self.room_tick_ms, bool) or not isinstance(self.room_tick_ms, int) or self.room_tick_ms < 0 \
                or 0 < self.room_tick_ms < 50:
            raise SettingError("room_tick_ms", f"must be 0 (no room ticks) or whole milliseconds >= 50, got {self.room_tick_ms!r}")

    @classmethod
    def scenario_keys(cls) -> dict[str, type | tuple[type, ...]]:
        """The settings a scenario may give, with their types."""
        return {f.name: f.metadata["scenario"] for f in fields(cls) if "scenario" in f.metadata}

    @classmethod
    def from_scenario(cls, raw: Mapping) -> "ServerSettings":
        """A scenario's `settings:` mapping, checked key by key (SettingError names the key)."""
        keys = cls.scenario_keys()
        for key, value in raw.items():
            if key not in keys:
                raise SettingError(key, f"unknown setting; known: {', '.join(keys)}")
            kind = keys[key]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise SettingError(key, f"must be {'a number' if isinstance(kind, tuple) else kind.__name__}, "
                                        f"got {value!r}")
        return cls(**raw)

    def for_port(self, port: int) -> "ServerSettings":
        """`{port}` in cors_origins is the port the server listens on (an origin naming the app itself)."""
        if not self.cors_origins or "{port}" not in self.cors_origins:
            return self
        return replace(self, cors_origins=self.cors_origins.replace("{port}", str(port)))

    @classmethod
    def production(cls, **overrides) -> "ServerSettings":
        """`--timing production`: python-engineio's and socket.io-client's real defaults."""
        return cls(**{"ping_interval": 25, "ping_timeout": 20, "reconnection_delay_ms": 1000, **overrides})


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]      # full environment for the child (os.environ + settings)
    cwd: Path                # the repo root, so `servers.*` imports
    # What ends it when the cell is over. gunicorn's SIGTERM is a graceful shutdown that waits
    # on open long-polls and WebSockets (the supervisor would wait 3 s, then SIGKILL); SIGINT
    # is its quick shutdown (gevent workers exit at once; a gthread worker still waits on the
    # thread holding a WebSocket, and is SIGKILLed). Faults choose their own signals.
    quit_signal: int = signal.SIGTERM


def server_env(settings: ServerSettings, async_mode: str) -> dict[str, str]:
    """os.environ plus the app's SIOLAB_* variables, for a child process."""
    env = dict(os.environ)
    # A leftover value in the harness's own environment must not leak into the app
    # (SIOLAB_NODE_MODULES may: it says where npm put the client).
    for key in APP_SETTING_VARS:
        env.pop(key, None)
    env.update({
        "SIOLAB_ASYNC_MODE": async_mode,
        "SIOLAB_PING_INTERVAL": str(settings.ping_interval),
        "SIOLAB_PING_TIMEOUT": str(settings.ping_timeout),
        "SIOLAB_MAX_HTTP_BUFFER_SIZE": str(settings.max_http_buffer_size),
        "SIOLAB_RECONNECTION_DELAY_MS": str(settings.reconnection_delay_ms),
        "SIOLAB_SECRET_KEY": settings.secret_key,
        "PYTHONUNBUFFERED": "1",   # log lines reach the timeline as they happen
    })
    if settings.cors_origins:
        env["SIOLAB_CORS_ORIGINS"] = settings.cors_origins
    if settings.allow_subsecond_ping:
        env["SIOLAB_ALLOW_SUBSECOND_PING"] = "1"
    if settings.max_decode_packets is not None:
        env["SIOLAB_MAX_DECODE_PACKETS"] = str(settings.max_decode_packets)
    if settings.tick_ms:
        env["SIOLAB_TICK_MS"] = str(settings.tick_ms)
    if settings.room_tick_ms:
        env["SIOLAB_ROOM_TICK_MS"] = str(settings.room_tick_ms)
    if settings.state_recovery:
        env["SIOLAB_STATE_RECOVERY"] = "1"
    env.update(settings.extra_env)
    return env


class Mode:
    """One way of starting the app under study."""

    name: str = ""
    description: str = ""
    async_mode: str = ""
    requires: tuple[str, ...] = ()    # binaries besides Python (harness/components), e.g. ("node",)
    # Python distributions the mode's server imports besides python-socketio/-engineio, which every
    # Python mode needs: `siolab doctor` builds its "what needs it" from these.
    packages: tuple[str, ...] = ()
    # A trap starts but does not serve Socket.IO as the modes do (listed after them).
    trap: bool = False
    workers: int = 1                  # serving processes on the one port; "up" once each has answered
    # A plain HTTP GET that answers 200 once the app serves, for apps without Socket.IO;
    # None: the app is up when an Engine.IO handshake answers.
    ready_path: str | None = None
    # Your own app (`--app`, harness/lab/targets.py): the app families this mode can host
    # ("wsgi", "aiohttp"); the server of servers/user_app_runner.py that stands in for the mode
    # ("": the mode's own command, serving the app's WSGI callable); or why it hosts none.
    hosts: tuple[str, ...] = ()
    host_runner: str = ""
    cannot_host: str = ""

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        raise NotImplementedError

    # The mode restarts "on its own" when a file changes (the reloader): the lab gives each server
    # a file of its own (`launch(…, reload_marker=…)`), so cells side by side never reload each other.
    reloads: bool = False

    def reload_trigger(self, reload_marker: Path | None = None) -> Path | None:
        """How this mode restarts "on its own": a file to touch (the reloader), or None
        (the lab kills the process and starts it again)."""
        return None

    def spec(self, argv: list[str], settings: ServerSettings) -> LaunchSpec:
        quit_signal = signal.SIGINT if "gunicorn" in argv else signal.SIGTERM
        return LaunchSpec(argv=argv, env=server_env(settings, self.async_mode), cwd=REPO_ROOT, quit_signal=quit_signal)

    def __repr__(self) -> str:
        return f"<Mode {self.name}: {self.description}>"



ABSENT_MODULES_DIR = SERVERS_DIR / "absent_modules"


def with_absent_modules(spec: LaunchSpec, modules: str) -> LaunchSpec:
    """The same launch, with `modules` (comma-separated) made absent in the child, exactly as if
    not installed (servers/absent_modules/sitecustomize.py): one venv can stand for several."""
    env = dict(spec.env)
    env["SIOLAB_ABSENT_MODULES"] = modules
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ABSENT_MODULES_DIR), env.get("PYTHONPATH", "")) if p)
    return replace(spec, env=env)


# -- the registry: each mode module registers its classes on import; this module imports none -----
_REGISTERED: dict[str, Mode] = {}


class UnknownModeError(ValueError):
    """A mode name the lab does not know; the message lists the ones it does."""


def register(cls: type[Mode]) -> type[Mode]:
    """Class decorator: the mode is known by its `name` from now on."""
    if not cls.name or cls.name in _REGISTERED:
        raise ValueError(f"mode class {cls.__name__}: name {cls.name!r} is empty or taken")
    _REGISTERED[cls.name] = cls()
    return cls


def registered() -> dict[str, Mode]:
    """Every registered mode by name: the modes in registration order, then the traps."""
    return {m.name: m for m in sorted(_REGISTERED.values(), key=lambda m: m.trap)}
