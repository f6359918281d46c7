"""`gevent-autodetect`: mode `gevent` exactly, except that no async_mode reaches Flask-SocketIO.

    SIOLAB_ASYNC_MODE=auto gunicorn -k gevent -w 1 servers.reference_app.wsgi:app

The version of the trap that bites teams who move to gevent while eventlet stays
installed: auto-detection tries eventlet first, under gevent's monkey-patched worker.
`/__siolab/info` says which async_mode was picked; what breaks is measured in
tests/test_modes.py (servers/README.md).
"""
from __future__ import annotations

from .base import register
from .gevent import GeventMode
from .gthread_autodetect import AUTO


@register
class GeventAutodetectMode(GeventMode):
    name = "gevent-autodetect"
    cannot_host = "the autodetect traps are the reference app's opt-in (SIOLAB_ASYNC_MODE=auto)"
    packages = GeventMode.packages + ("eventlet",)
    trap = True
    description = "mode gevent with no async_mode set (auto-detection picks eventlet when installed)"
    async_mode = AUTO
