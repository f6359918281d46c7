"""`/__siolab/info`: which process answers, and with what.

The boot id is made when this module is first imported, i.e. once per serving process
(a gunicorn worker, each Werkzeug reloader child), so the lab can tell a restart from a
surviving process.
"""
from __future__ import annotations

import os
import uuid
from importlib import metadata

from .settings import Settings

BOOT_ID = str(uuid.uuid4())

# key in the answer -> distribution name
_DISTRIBUTIONS = {
    "flask": "flask",
    "flask_socketio": "flask-socketio",
    "socketio": "python-socketio",
    "engineio": "python-engineio",
    "werkzeug": "werkzeug",
    "gunicorn": "gunicorn",
    "gevent": "gevent",
    "gevent_websocket": "gevent-websocket",
    "eventlet": "eventlet",
    "simple_websocket": "simple-websocket",
    "aiohttp": "aiohttp",
}


def versions(keys: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the given packages; absent ones are left out."""
    found = {}
    for key in keys:
        try:
            found[key] = metadata.version(_DISTRIBUTIONS[key])
        except metadata.PackageNotFoundError:
            pass
    return found


def info(app_name: str, async_mode: str, settings: Settings, version_keys: tuple[str, ...]) -> dict:
    return {
        "boot": BOOT_ID,
        "pid": os.getpid(),
        "app": app_name,
        "async_mode": async_mode,
        "versions": versions(version_keys),
        "ping_interval": settings.ping_interval,
        "ping_timeout": settings.ping_timeout,
        "max_http_buffer_size": settings.max_http_buffer_size,
        "max_decode_packets": _max_decode_packets(),
    }


def _max_decode_packets() -> int | None:
    try:
        from engineio.payload import Payload
    except ImportError:
        return None
    return Payload.max_decode_packets
