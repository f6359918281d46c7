"""`gthread`: the remote set-up of the RCA, gunicorn's threaded worker (threading async mode).

    gunicorn --worker-class gthread -w 1 --threads 8 servers.reference_app.wsgi:app

WebSocket goes through simple-websocket on gunicorn's raw socket; every WebSocket holds
one of the worker's threads for as long as it is open.
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register

THREADS = 8
GRACEFUL_TIMEOUT = "1"   # seconds; see launch()


@register
class GthreadMode(Mode):
    name = "gthread"
    hosts = ("wsgi",)
    packages = ("flask", "flask-socketio", "gunicorn", "simple-websocket")
    description = f"gunicorn --worker-class gthread -w 1 --threads {THREADS} (threading)"
    async_mode = "threading"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [
            sys.executable, "-m", "gunicorn",   # the venv's gunicorn, whatever PATH says
            "--worker-class", "gthread", "-w", "1", "--threads", str(THREADS),
            # gunicorn >= 25.1 otherwise shares a control socket under $HOME/.gunicorn
            # between every instance the lab starts.
            "--no-control-socket",
            # How long a stop waits for the worker before gunicorn SIGKILLs it (default 30 s): a
            # gthread worker cannot exit while a thread holds a WebSocket or a long-poll, even on
            # the quick shutdown (SIGINT); a restart in the lab must not wait for its clients.
            "--graceful-timeout", GRACEFUL_TIMEOUT,
            "--access-logfile", "-",            # status codes of /socket.io/ requests are evidence
            "-b", f"{host}:{port}",
            "servers.reference_app.wsgi:app",
        ]
        return self.spec(argv, settings)
