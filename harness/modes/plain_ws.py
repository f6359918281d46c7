"""`plain-ws`: a plain WebSocket backend, no Socket.IO (incident 7, servers/plain_ws_app).

    python -m servers.plain_ws_app --host H --port P

Sessions live in the process's memory, so the mode's restart (stop, start on the same
port) loses them all. There is no Engine.IO handshake to wait for: the mode is up when its
health endpoint answers (`ready_path`).
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register


@register
class PlainWebSocketMode(Mode):
    name = "plain-ws"
    cannot_host = "mode plain-ws is incident 7's plain WebSocket backend, not a host for a Socket.IO app"
    packages = ("aiohttp",)
    description = "plain WebSocket backend on aiohttp (in-memory sessions, closes 1008 when unknown)"
    async_mode = "aiohttp"
    ready_path = "/health"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [sys.executable, "-m", "servers.plain_ws_app", "--host", host, "--port", str(port)]
        return self.spec(argv, settings)
