"""Versions of the parts under study, for the report: a finding holds for these versions."""
from __future__ import annotations

import importlib.metadata
import json
import platform

PACKAGES = ("python-socketio", "python-engineio", "flask-socketio", "flask", "werkzeug", "gunicorn",
            "gevent", "eventlet", "simple-websocket", "aiohttp", "playwright")
from .paths import NODE_MODULES


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    for module in ("socket.io-client", "socket.io"):
        pkg = NODE_MODULES / module / "package.json"
        if pkg.exists():
            out[f"npm:{module}"] = json.loads(pkg.read_text()).get("version", "?")
    return out
