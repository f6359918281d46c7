"""Deployment modes: how the lab starts the app under study, one module per mode.

    from harness.modes import MODES, get_mode
    spec = get_mode("gevent").launch("127.0.0.1", port, ServerSettings())
    subprocess.Popen(spec.argv, env=spec.env, cwd=spec.cwd, start_new_session=True)

Each mode module registers its classes with `@register` (harness/modes/base.py) when it is
imported; the imports below are that and nothing else, in the order the modes are listed.
"""
from __future__ import annotations

from . import reloader, gthread, gevent, aiohttp, eventlet, gevent_websocket, node  # noqa: F401 - registration
from . import multiworker, plain_ws, gthread_nosw, gthread_autodetect, gevent_autodetect  # noqa: F401
from .base import LaunchSpec, Mode, ServerSettings, UnknownModeError, registered

MODES: dict[str, Mode] = registered()


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise UnknownModeError(f"unknown server mode {name!r}; known modes: {', '.join(MODES)}") from None


__all__ = ["MODES", "LaunchSpec", "Mode", "ServerSettings", "UnknownModeError", "get_mode"]
