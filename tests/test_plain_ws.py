"""The plain WebSocket backend (mode plain-ws, incident 7), real process: readiness by its
health endpoint, sessions in memory, 1008 "session expired" for an unknown one."""
from __future__ import annotations

import asyncio

import aiohttp

from harness.modes import ServerSettings, get_mode
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline
from harness.lab.topology import Server


async def _ws(base: str, session: str):
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{base}/ws?session={session}") as ws:
            msg = await ws.receive(timeout=5)
            return msg.type, msg.data, ws.close_code, msg.extra


async def _login(base: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/login") as r:
            return (await r.json())["session"]


def test_restart_loses_sessions_and_the_old_one_gets_1008(tmp_path):
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        server = Server(sup, tl, get_mode("plain-ws"), ServerSettings())
        server.start()   # ready when /health answers: there is no Engine.IO handshake
        base = f"http://127.0.0.1:{server.port}"
        session = asyncio.run(_login(base))
        kind, data, _, _ = asyncio.run(_ws(base, session))
        assert kind == aiohttp.WSMsgType.TEXT and '"ready"' in data
        old_boot = server.boot
        server.restart()
        assert server.boot and server.boot != old_boot
        kind, code, _, reason = asyncio.run(_ws(base, session))
        assert kind == aiohttp.WSMsgType.CLOSE and code == 1008 and reason == "session expired"
        kind, data, _, _ = asyncio.run(_ws(base, asyncio.run(_login(base))))
        assert '"ready"' in data
