"""`gevent`: the fix in the RCA, gunicorn's gevent worker (gevent async mode).

    gunicorn -k gevent -w 1 servers.reference_app.wsgi:app

As a team runs it that never installed gevent-websocket: python-engineio serves WebSocket
through simple-websocket on gevent's primitives, and the upgrade works. The lab's venv has
gevent-websocket (mode `gevent-websocket` needs it), so it is made absent in this process
(servers/absent_modules). With it installed, plain `-k gevent` answers every upgrade with 500:
that trap is mode `gevent-gws-installed`.
gunicorn 27's gevent worker needs `packaging` (gunicorn[gevent]).
"""
from __future__ import annotations

import sys

from dataclasses import replace

from .base import LaunchSpec, Mode, ServerSettings, register, with_absent_modules
from .gthread import GRACEFUL_TIMEOUT


@register
class GeventMode(Mode):
    name = "gevent"
    hosts = ("wsgi",)
    packages = ("flask", "flask-socketio", "gunicorn", "gevent", "packaging", "simple-websocket")
    description = "gunicorn -k gevent -w 1 (gevent)"
    async_mode = "gevent"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [
            sys.executable, "-m", "gunicorn",
            "-k", "gevent", "-w", "1",
            "--no-control-socket",              # see gthread.py
            "--graceful-timeout", GRACEFUL_TIMEOUT,   # see gthread.py
            "--access-logfile", "-",
            "-b", f"{host}:{port}",
            "servers.reference_app.wsgi:app",
        ]
        return with_absent_modules(self.spec(argv, settings), "geventwebsocket")


@register
class GeventWithGeventWebsocketMode(GeventMode):
    """The trap: plain `-k gevent` while gevent-websocket is installed.

    python-engineio's gevent driver then expects gevent-websocket's handler; every WebSocket
    upgrade answers 500 (RuntimeError "The gevent-websocket server is not configured
    appropriately") and clients stay on polling.
    """

    name = "gevent-gws-installed"
    packages = GeventMode.packages + ("gevent-websocket",)
    trap = True
    description = "gunicorn -k gevent -w 1 with gevent-websocket installed (upgrade fails: 500)"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        spec = super().launch(host, port, settings)
        env = {k: v for k, v in spec.env.items() if k != "SIOLAB_ABSENT_MODULES"}
        return replace(spec, env=env)
