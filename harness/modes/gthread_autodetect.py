"""`gthread-autodetect`: mode `gthread` exactly, except that no async_mode reaches Flask-SocketIO.

    SIOLAB_ASYNC_MODE=auto gunicorn --worker-class gthread -w 1 --threads 8 servers.reference_app.wsgi:app

SIOLAB_ASYNC_MODE=auto is the reference app's explicit opt-in to auto-detection:
python-engineio tries eventlet first, and eventlet is installed (mode `eventlet` needs it),
so the eventlet driver runs inside gunicorn's threaded worker. `/__siolab/info` says which
async_mode was picked; what breaks is measured in tests/test_modes.py (servers/README.md).
"""
from __future__ import annotations

from .base import register
from .gthread import GthreadMode

AUTO = "auto"   # servers/reference_app/settings.py AUTO_ASYNC_MODE


@register
class GthreadAutodetectMode(GthreadMode):
    name = "gthread-autodetect"
    cannot_host = "the autodetect traps are the reference app's opt-in (SIOLAB_ASYNC_MODE=auto)"
    packages = GthreadMode.packages + ("eventlet",)
    trap = True
    description = "mode gthread with no async_mode set (auto-detection picks eventlet when installed)"
    async_mode = AUTO
