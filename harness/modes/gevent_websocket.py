"""`gevent-websocket`: gunicorn with gevent-websocket's worker (gevent async mode).

    gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker -w 1 servers.reference_app.wsgi:app

The worker's handler puts `wsgi.websocket` into the environ, which python-engineio's
gevent driver uses whenever gevent-websocket is importable. With gevent-websocket
installed (pyproject), this is the set-up where the WebSocket upgrade works under gevent;
plain `-k gevent` (mode `gevent`) then answers the upgrade with a 500.
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register
from .gthread import GRACEFUL_TIMEOUT

WORKER = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"


@register
class GeventWebSocketMode(Mode):
    name = "gevent-websocket"
    hosts = ("wsgi",)
    packages = ("flask", "flask-socketio", "gunicorn", "gevent", "packaging", "gevent-websocket")
    description = "gunicorn -k GeventWebSocketWorker -w 1 (gevent, gevent-websocket)"
    async_mode = "gevent"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [
            sys.executable, "-m", "gunicorn",
            "-k", WORKER, "-w", "1",
            "--no-control-socket",              # see gthread.py
            "--graceful-timeout", GRACEFUL_TIMEOUT,   # see gthread.py
            "--access-logfile", "-",
            "-b", f"{host}:{port}",
            "servers.reference_app.wsgi:app",
        ]
        return self.spec(argv, settings)
