"""`aiohttp`: the asyncio stack, python-socketio's AsyncServer on aiohttp.

    python -m servers.aiohttp_app --host H --port P
"""
from __future__ import annotations

import sys

from .base import LaunchSpec, Mode, ServerSettings, register


@register
class AiohttpMode(Mode):
    name = "aiohttp"
    hosts, host_runner = ("aiohttp",), "aiohttp"
    packages = ("aiohttp",)
    description = "python-socketio AsyncServer on aiohttp (web.run_app)"
    async_mode = "aiohttp"

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        argv = [sys.executable, "-m", "servers.aiohttp_app", "--host", host, "--port", str(port)]
        return self.spec(argv, settings)
