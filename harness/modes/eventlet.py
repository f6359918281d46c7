"""`eventlet`: Flask-SocketIO's `socketio.run` on eventlet's WSGI server (eventlet async mode).

    python -m servers.reference_app.run_eventlet --host H --port P

gunicorn >= 26 removed its eventlet worker, so `socketio.run` (eventlet.wsgi.server) is
how eventlet apps are still started; the entry point monkey-patches first. WebSocket is
eventlet's own (eventlet.websocket), simple-websocket plays no part.
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register


@register
class EventletMode(Mode):
    name = "eventlet"
    hosts, host_runner = ("wsgi",), "eventlet"
    packages = ("flask", "flask-socketio", "eventlet")
    description = "Flask-SocketIO socketio.run on eventlet.wsgi (eventlet)"
    async_mode = "eventlet"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [sys.executable, "-m", "servers.reference_app.run_eventlet", "--host", host, "--port", str(port)]
        return self.spec(argv, settings)
