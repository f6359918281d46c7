"""`reloader`: the incident's local set-up, Flask-SocketIO on Werkzeug with the reloader.

    socketio.run(app, debug=True, use_reloader=True, allow_unsafe_werkzeug=True)

The reloader parent holds the listening socket; the app runs in a child that the parent
replaces when a watched source file changes, dropping every session (a new boot id).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .base import LaunchSpec, Mode, REPO_ROOT, ServerSettings, register

# Imported by the app, so the stat reloader watches it; touching it changes nothing else.
RELOAD_MARKER = REPO_ROOT / "servers" / "reference_app" / "reload_marker.py"


@register
class ReloaderMode(Mode):
    name = "reloader"
    hosts, host_runner = ("wsgi",), "reloader"
    packages = ("flask", "flask-socketio", "simple-websocket")
    description = "Flask-SocketIO socketio.run on Werkzeug, debug=True, use_reloader=True (threading)"
    async_mode = "threading"   # needs simple-websocket for the WebSocket transport

    reloads = True

    def launch(self, host: str, port: int, settings: ServerSettings, reload_marker: Path | None = None) -> LaunchSpec:
        argv = [sys.executable, "-m", "servers.reference_app.run_dev", "--host", host, "--port", str(port)]
        if reload_marker is not None:      # this server's own file: a restart in one cell reloads no other
            argv += ["--reload-marker", str(reload_marker)]
        return self.spec(argv, settings)

    def reload_trigger(self, reload_marker: Path | None = None) -> Path | None:
        return reload_marker or RELOAD_MARKER
