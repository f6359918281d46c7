"""The plain WebSocket backend of incident 7: sessions live in this process's memory only.

    POST /login            → {"session": "<id>"}: a new server-side session
    GET  /ws?session=<id>  → WebSocket; an unknown session is accepted, then closed with
                             1008 "session expired" (what the incident's backend did after
                             a restart lost its sessions); a known one gets {"type": "ready"}
    GET  /                 → the page (servers/plain_ws_app/page.html), ?singleton=naive|fixed
    GET  /health           → 200 {"ok": true}: what a load balancer's health check sees
    GET  /__siolab/info    → this process's boot id (the lab tells a restart from a survivor)
"""
from __future__ import annotations

import logging
import os
import secrets
import sys
import uuid
from pathlib import Path

from aiohttp import WSCloseCode, web

BOOT_ID = str(uuid.uuid4())
PAGE = Path(__file__).with_name("page.html")
EXPIRED_REASON = "session expired"

log = logging.getLogger("siolab.plain_ws")


def configure_logging() -> None:
    formatter = logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    for name in ("siolab.plain_ws", "aiohttp.access"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False


def create_app() -> web.Application:
    configure_logging()
    sessions: set[str] = set()   # in memory on purpose: a restart loses every session
    open_sockets: set[web.WebSocketResponse] = set()

    async def login(request: web.Request) -> web.Response:
        sid = secrets.token_urlsafe(12)
        sessions.add(sid)
        log.info("session created %s", sid)
        return web.json_response({"session": sid})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sid = request.query.get("session", "")
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        if sid not in sessions:
            log.info("ws refused: unknown session %s", sid or "(none)")
            await sock.close(code=WSCloseCode.POLICY_VIOLATION, message=EXPIRED_REASON.encode())
            return sock
        log.info("ws open session=%s", sid)
        open_sockets.add(sock)
        try:
            await sock.send_json({"type": "ready", "session": sid, "boot": BOOT_ID})
            async for msg in sock:   # echo: the page may send pings of its own
                if msg.type == web.WSMsgType.TEXT:
                    await sock.send_str(msg.data)
        finally:
            open_sockets.discard(sock)
        log.info("ws closed session=%s code=%s", sid, sock.close_code)
        return sock

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(encoding="utf-8"), content_type="text/html")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def info(request: web.Request) -> web.Response:
        return web.json_response({"boot": BOOT_ID, "pid": os.getpid(), "app": "plain-ws",
                                  "sessions": len(sessions)})

    async def going_away(app: web.Application) -> None:
        # A clean stop (SIGTERM) closes every socket with 1001, as a well-behaved backend does;
        # otherwise aiohttp waits for them until the lab's stop timeout kills it.
        for sock in list(open_sockets):
            await sock.close(code=WSCloseCode.GOING_AWAY, message=b"server restarting")

    app = web.Application()
    app.on_shutdown.append(going_away)
    app.add_routes([web.post("/login", login), web.get("/ws", ws), web.get("/", page),
                    web.get("/health", health), web.get("/__siolab/info", info)])
    return app
