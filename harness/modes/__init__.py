"""Deployment modes: how the lab starts the app under study, one module per mode.

    from harness.modes import MODES, get_mode
    spec = get_mode("gevent").launch("127.0.0.1", port, ServerSettings())
    subprocess.Popen(spec.argv, env=spec.env, cwd=spec.cwd, start_new_session=True)
"""
from __future__ import annotations

from .aiohttp import AiohttpMode
from .base import LaunchSpec, Mode, ServerSettings
from .eventlet import EventletMode
from .gevent import GeventMode, GeventWithGeventWebsocketMode
from .gevent_autodetect import GeventAutodetectMode
from .gevent_websocket import GeventWebSocketMode
from .gthread import GthreadMode
from .gthread_autodetect import GthreadAutodetectMode
from .gthread_nosw import GthreadNoSimpleWebsocketMode
from .multiworker import MultiworkerMode
from .node import NodeEio3Mode, NodeMode
from .plain_ws import PlainWebSocketMode
from .reloader import ReloaderMode

MODES: dict[str, Mode] = {mode.name: mode for mode in (
    ReloaderMode(), GthreadMode(), GeventMode(), AiohttpMode(),
    EventletMode(), GeventWebSocketMode(), NodeMode(), NodeEio3Mode(), MultiworkerMode(),
    # The traps: they start, but do not serve Socket.IO as the modes above do.
    GthreadNoSimpleWebsocketMode(), GthreadAutodetectMode(), GeventAutodetectMode(),
    GeventWithGeventWebsocketMode(),
    PlainWebSocketMode(),   # not Socket.IO: incident 7's plain WebSocket backend
)}


class UnknownModeError(ValueError):
    """A mode name the lab does not know; the message lists the ones it does."""


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise UnknownModeError(f"unknown server mode {name!r}; known modes: {', '.join(MODES)}") from None


__all__ = ["MODES", "LaunchSpec", "Mode", "ServerSettings", "UnknownModeError", "get_mode"]
