"""`gthread-nosw`: mode `gthread` exactly, with simple-websocket absent from the server process.

    SIOLAB_ABSENT_MODULES=simple_websocket PYTHONPATH=servers/absent_modules:… \\
    gunicorn --worker-class gthread -w 1 --threads 8 servers.reference_app.wsgi:app

python-engineio depends on simple-websocket, so pip always installs it; the import blocker
(servers/absent_modules/sitecustomize.py) makes it absent exactly as if it were not
installed: `import simple_websocket` raises ModuleNotFoundError, find_spec returns None,
importlib.metadata finds no distribution. Same venv, same versions of everything else.

Measured: the process never serves. python-engineio's threading driver imports
simple_websocket, so `SocketIO(async_mode="threading")` raises "Invalid async_mode
specified"; the reference app checks first and says why (SIOLAB_ASYNC_MODE needs the
simple_websocket package); the gunicorn worker exits 3 and the master stops with
"Worker failed to boot" (exit code 3), before any handshake.
"""
from __future__ import annotations

from .base import LaunchSpec, ServerSettings, register, with_absent_modules
from .gthread import GthreadMode

ABSENT = "simple_websocket"


@register
class GthreadNoSimpleWebsocketMode(GthreadMode):
    name = "gthread-nosw"
    packages = ("flask", "flask-socketio", "gunicorn")
    trap = True
    description = "gunicorn gthread as mode gthread, simple-websocket absent (threading; never starts)"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        return with_absent_modules(super().launch(host, port, settings), ABSENT)
