"""`gevent`: the fix in the RCA, gunicorn's gevent worker (gevent async mode).

    gunicorn -k gevent -w 1 servers.reference_app.wsgi:app

Without gevent-websocket installed (the case here) python-engineio serves WebSocket
through simple-websocket on gevent's primitives; with gevent-websocket installed, plain
`-k gevent` fails the upgrade with a 500 and clients stay on polling.
gunicorn 27's gevent worker needs `packaging` (gunicorn[gevent]).
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings


class GeventMode(Mode):
    name = "gevent"
    description = "gunicorn -k gevent -w 1 (gevent)"
    async_mode = "gevent"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [
            sys.executable, "-m", "gunicorn",
            "-k", "gevent", "-w", "1",
            "--no-control-socket",              # see gthread.py
            "--access-logfile", "-",
            "-b", f"{host}:{port}",
            "servers.reference_app.wsgi:app",
        ]
        return self.spec(argv, settings)
