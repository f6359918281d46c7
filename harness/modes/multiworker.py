"""`multiworker`: gunicorn with two gevent workers and no sticky sessions.

    gunicorn -k gevent -w 2 servers.reference_app.wsgi:app

Both workers accept on the same socket; each holds its own Engine.IO sessions, so a polling
request that lands on the other worker than its handshake is answered 400 "Invalid session".
The same set-up with several instances behind nginx is the scenario's `front` axis
(harness/components/front.py), with this mode's single-worker sibling `gevent`.
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register, with_absent_modules
from .gthread import GRACEFUL_TIMEOUT

WORKERS = 2


@register
class MultiworkerMode(Mode):
    name = "multiworker"
    hosts = ("wsgi",)
    packages = ("flask", "flask-socketio", "gunicorn", "gevent", "packaging", "simple-websocket")
    description = f"gunicorn -k gevent -w {WORKERS} (gevent, no sticky sessions)"
    async_mode = "gevent"
    workers = WORKERS

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [
            sys.executable, "-m", "gunicorn",
            "-k", "gevent", "-w", str(WORKERS),
            "--no-control-socket",              # see gthread.py
            "--graceful-timeout", GRACEFUL_TIMEOUT,   # see gthread.py
            "--access-logfile", "-",
            "-b", f"{host}:{port}",
            "servers.reference_app.wsgi:app",
        ]
        # As in mode gevent: gevent-websocket absent, so WebSocket works through simple-websocket.
        return with_absent_modules(self.spec(argv, settings), "geventwebsocket")
