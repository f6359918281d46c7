"""The apps' settings: environment variables, validated once at start.

A bad value is one line on stderr naming the variable, and exit code 3. That is the
"server never becomes healthy because of a placeholder setting" incident made loud:
the lab sees a process that exits, not one that hangs.

Under the Werkzeug reloader, exit code 3 means "restart me" to the reloader parent;
the parent validates first (it imports the app before starting its child), so a bad
value never reaches a child and cannot make the reloader loop.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

EXIT_BAD_SETTING = 3
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NODE_MODULES = REPO_ROOT / "node_modules"
CLIENT_BUNDLE = Path("socket.io-client") / "dist" / "socket.io.min.js"

# Values copied from a template and never filled in.
PLACEHOLDER_SECRETS = frozenset({"", "your-service-key", "placeholder", "changeme"})

# What each async mode needs importable; without it the server fails later and obscurely
# (threading does not start at all without simple-websocket).
ASYNC_MODE_REQUIRES = {
    "threading": "simple_websocket",
    "gevent": "gevent",
    "eventlet": "eventlet",
    "aiohttp": "aiohttp",
}
FLASK_ASYNC_MODES = ("threading", "gevent", "eventlet")
AIOHTTP_ASYNC_MODES = ("aiohttp",)
# The explicit opt-in to the trap (modes gthread-autodetect, gevent-autodetect): no
# async_mode is passed to Flask-SocketIO, its auto-detection picks (eventlet first).
# Reference app only; never a default.
AUTO_ASYNC_MODE = "auto"


class SettingsError(ValueError):
    """One bad setting; the message starts with the variable's name."""

    def __init__(self, variable: str, problem: str):
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    async_mode: str             # or AUTO_ASYNC_MODE: let Flask-SocketIO's auto-detection pick
    ping_interval: int | float  # whole seconds: python-engineio advertises int(s) * 1000 ...
    ping_timeout: int | float   # ... fractions only with SIOLAB_ALLOW_SUBSECOND_PING=1 (a trap scenario)
    max_http_buffer_size: int
    cors_origins: str | list[str] | None   # None = same origin only
    secret_key: str
    reconnection_delay_ms: int
    reconnection_delay_max_ms: int
    node_modules: Path
    message_queue: str | None = None   # redis://host:port/db: several instances share emits and broadcasts
    max_decode_packets: int | None = None   # python-engineio's packets per polling POST; None: its default (16)
    tick_ms: int = 0    # > 0: emit `tick` {"n": n} to every client of `/` this often, and log `tick n=…`
    room_tick_ms: int = 0    # > 0: emit `room_tick` {"n": n} to the room `news` this often, logged with its members

    @property
    def client_bundle(self) -> Path:
        return self.node_modules / CLIENT_BUNDLE


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, unit: str) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        hint = " (whole seconds: python-engineio sends int(seconds)*1000, so 0.3 would go out as 0)" \
            if unit == "seconds" else ""
        raise SettingsError(name, f"{raw!r} is not a whole number of {unit}{hint}") from None
    if value < minimum:
        raise SettingsError(name, f"{value} is below the minimum of {minimum} {unit}")
    return value


def _ping(env: Mapping[str, str], name: str) -> int | float:
    """Whole seconds >= 1, or with SIOLAB_ALLOW_SUBSECOND_PING=1 any positive number (trap 12:
    the lab shows what python-engineio advertises for 0.3 s; never a default)."""
    if env.get("SIOLAB_ALLOW_SUBSECOND_PING", "").strip() != "1":
        return _int(env, name, 1, 1, "seconds")
    raw = env.get(name, "").strip()
    if not raw:
        return 1
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a number of seconds") from None
    if not value > 0:
        raise SettingsError(name, f"{raw} is not above 0 seconds")
    return int(value) if value.is_integer() else value


def _async_mode(env: Mapping[str, str], allowed: tuple[str, ...]) -> str:
    name = "SIOLAB_ASYNC_MODE"
    value = env.get(name, "").strip()
    if not value:
        # Never let auto-detection choose by default: it picks eventlet whenever eventlet
        # is installed. Only the explicit value `auto` (the trap modes) lets it.
        raise SettingsError(name, f"required, one of {', '.join(allowed)} (auto-detection is never used)")
    if value == AUTO_ASYNC_MODE and allowed == FLASK_ASYNC_MODES:
        return value
    if value not in allowed:
        raise SettingsError(name, f"{value!r} is not one of {', '.join(allowed)}")
    module = ASYNC_MODE_REQUIRES[value]
    if importlib.util.find_spec(module) is None:
        raise SettingsError(name, f"{value!r} needs the {module} package, which is not importable")
    return value


def _cors(env: Mapping[str, str]) -> str | list[str] | None:
    name = "SIOLAB_CORS_ORIGINS"
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if raw == "*":
        return "*"
    origins = [o.strip() for o in raw.split(",") if o.strip()]
    for origin in origins:
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise SettingsError(name, f"{origin!r} is not an origin like http://host:port (or use *)")
    return origins


def _secret_key(env: Mapping[str, str]) -> str:
    name = "SIOLAB_SECRET_KEY"
    value = env.get(name)
    if value is None:
        raise SettingsError(name, "required (the Flask session key)")
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise SettingsError(name, f"{value!r} is a placeholder, not a secret key")
    return value


def _node_modules(env: Mapping[str, str]) -> Path:
    name = "SIOLAB_NODE_MODULES"
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_NODE_MODULES  # checked when served: python-only runs don't need it
    path = Path(raw).expanduser().resolve()
    if not (path / CLIENT_BUNDLE).is_file():
        raise SettingsError(name, f"{path / CLIENT_BUNDLE} does not exist (run npm install?)")
    return path


def _message_queue(env: Mapping[str, str]) -> str | None:
    name = "SIOLAB_MESSAGE_QUEUE"
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith("redis://"):
        raise SettingsError(name, f"{raw!r} is not a redis:// URL")
    if importlib.util.find_spec("redis") is None:
        raise SettingsError(name, "a Redis message queue needs the redis package, which is not importable")
    return raw


def _tick_ms(env: Mapping[str, str]) -> int:
    value = _int(env, "SIOLAB_TICK_MS", 0, 0, "milliseconds")
    if 0 < value < 50:
        raise SettingsError("SIOLAB_TICK_MS", f"{value} is below 50 milliseconds (0 turns ticks off)")
    return value


def _room_tick_ms(env: Mapping[str, str]) -> int:
    value = _int(env, "SIOLAB_ROOM_TICK_MS", 0, 0, "milliseconds")
    if 0 < value < 50:
        raise SettingsError("SIOLAB_ROOM_TICK_MS", f"{value} is below 50 milliseconds (0 turns room ticks off)")
    return value


def _no_state_recovery(env: Mapping[str, str]) -> None:
    # socket.io's connectionStateRecovery has no python-socketio counterpart: refuse rather than pretend.
    if env.get("SIOLAB_STATE_RECOVERY", "").strip() not in ("", "0"):
        raise SettingsError("SIOLAB_STATE_RECOVERY", "python-socketio has no connection state recovery "
                                                     "(socket.io's connectionStateRecovery is the Node server's)")


def from_env(env: Mapping[str, str] | None = None,
             allowed_async_modes: tuple[str, ...] = FLASK_ASYNC_MODES) -> Settings:
    env = os.environ if env is None else env
    _no_state_recovery(env)
    delay = _int(env, "SIOLAB_RECONNECTION_DELAY_MS", 500, 0, "milliseconds")
    return Settings(
        async_mode=_async_mode(env, allowed_async_modes),
        ping_interval=_ping(env, "SIOLAB_PING_INTERVAL"),
        ping_timeout=_ping(env, "SIOLAB_PING_TIMEOUT"),
        max_http_buffer_size=_int(env, "SIOLAB_MAX_HTTP_BUFFER_SIZE", 1_000_000, 1, "bytes"),
        cors_origins=_cors(env),
        secret_key=_secret_key(env),
        reconnection_delay_ms=delay,
        # socket.io-client's own ratio (1000 ms / 5000 ms), so production timings give its defaults.
        reconnection_delay_max_ms=_int(env, "SIOLAB_RECONNECTION_DELAY_MAX_MS", 5 * delay, delay, "milliseconds"),
        node_modules=_node_modules(env),
        message_queue=_message_queue(env),
        max_decode_packets=_int(env, "SIOLAB_MAX_DECODE_PACKETS", 0, 1, "packets") or None,
        tick_ms=_tick_ms(env),
        room_tick_ms=_room_tick_ms(env),
    )


def apply_max_decode_packets(settings: Settings) -> None:
    """python-engineio's limit is a class attribute of its payload decoder (its documented knob)."""
    if settings.max_decode_packets is not None:
        from engineio.payload import Payload

        Payload.max_decode_packets = settings.max_decode_packets


def load_or_exit(allowed_async_modes: tuple[str, ...] = FLASK_ASYNC_MODES) -> Settings:
    """Settings from the environment, or one line on stderr and exit code 3."""
    try:
        return from_env(allowed_async_modes=allowed_async_modes)
    except SettingsError as err:
        print(f"siolab: bad setting {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_SETTING)
