"""The aiohttp app: python-socketio's AsyncServer, the same behaviour as the reference app.

Same settings (SIOLAB_ASYNC_MODE must be `aiohttp`), namespaces and handlers, routes,
templates and static JS as servers/reference_app, which it reuses rather than copies;
only the login is its own (a signed cookie, see session.py).
"""
from __future__ import annotations

import logging
import sys

import socketio
from aiohttp import web

from servers.reference_app.backup import STEP_SECONDS, STEPS, BackupJobs
from servers.reference_app.info import info
from servers.reference_app.pages import (STATIC_DIR, PageParamError, jinja_environment, page_context,
                                         vendor_file)
from servers.reference_app.info import BOOT_ID
from servers.reference_app.settings import Settings, apply_max_decode_packets

from .session import CookieSession

APP_NAME = "aiohttp"
CHAT_ROOM = "lobby"
NEWS_ROOM = "news"    # what the room ticks (SIOLAB_ROOM_TICK_MS) go to
VERSION_KEYS = ("socketio", "engineio", "aiohttp")

log = logging.getLogger("siolab.aiohttp")


def configure_logging() -> None:
    """Our connect/disconnect lines and aiohttp's access log, at INFO on stderr."""
    formatter = logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    for name in ("siolab.aiohttp", "aiohttp.access"):
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def create_app(settings: Settings) -> tuple[web.Application, socketio.AsyncServer]:
    configure_logging()
    apply_max_decode_packets(settings)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_http_buffer_size,
        cors_allowed_origins=settings.cors_origins,
    )
    app = web.Application()
    sio.attach(app)
    sessions = CookieSession(settings.secret_key)
    templates = jinja_environment()
    jobs = BackupJobs()
    ticking = []    # the tick task (SIOLAB_TICK_MS), started by the first connect
    room_ticking = []    # the room tick task (SIOLAB_ROOM_TICK_MS), likewise

    async def tick_forever() -> None:
        n = 0
        while True:
            await sio.sleep(settings.tick_ms / 1000)
            n += 1
            await sio.emit("tick", {"n": n})
            log.info("tick n=%d", n)

    async def room_tick_forever() -> None:
        n = 0
        while True:
            await sio.sleep(settings.room_tick_ms / 1000)
            n += 1
            members = sorted(sid for sid, _ in sio.manager.get_participants("/", NEWS_ROOM))
            await sio.emit("room_tick", {"n": n, "boot": BOOT_ID}, to=NEWS_ROOM)
            log.info("room_tick n=%d boot=%s room=%s members=%s", n, BOOT_ID, NEWS_ROOM, ",".join(members))

    def eio_sid(sid: str, namespace: str) -> str | None:
        try:
            return sio.manager.eio_sid_from_sid(sid, namespace)
        except Exception:  # noqa: BLE001 -- logging must never break a handler
            return None

    def render_page(request: web.Request, template: str, page: str) -> web.Response:
        try:
            context = page_context(page, request.query, settings, sessions.user(request), APP_NAME)
        except PageParamError as err:
            return web.Response(status=400, text=str(err) + "\n")
        return web.Response(text=templates.get_template(template).render(**context), content_type="text/html")

    # --- HTTP ---------------------------------------------------------------

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post() if request.method == "POST" else request.query
        user = str(form.get("user") or "").strip()
        if not user:
            return web.Response(status=400, text="login needs a user: /login?user=NAME or POST form field user\n")
        response = web.HTTPFound(_safe_next(form.get("next") or request.query.get("next")))
        sessions.log_in(response, user)
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound("/")
        sessions.log_out(response)
        return response

    async def layout_page(request: web.Request) -> web.Response:
        return render_page(request, "layout.html", "layout")

    async def admin_page(request: web.Request) -> web.Response:
        return render_page(request, "admin.html", "admin")

    async def start_backup(request: web.Request) -> web.Response:
        job = jobs.start()

        async def run() -> None:
            for step in range(1, STEPS + 1):
                await sio.sleep(STEP_SECONDS)
                jobs.advance(job, step)
            log.info("backup job=%s done", job)

        sio.start_background_task(run)
        log.info("backup job=%s started", job)
        return web.json_response({"job": job}, status=202)

    async def backup_status(request: web.Request) -> web.Response:
        job = request.match_info["job"]
        status = jobs.status(job)
        if status is None:
            return web.json_response({"error": f"no backup job {job}"}, status=404)
        return web.json_response(status)

    async def vendor(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = vendor_file(settings, name)
        if path is None:
            return web.Response(status=404, text=f"{name} is not served (is socket.io-client installed "
                                                 f"under {settings.node_modules}?)\n")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def siolab_info(request: web.Request) -> web.Response:
        return web.json_response(info(APP_NAME, sio.async_mode, settings, VERSION_KEYS))

    app.router.add_route("GET", "/login", login)
    app.router.add_route("POST", "/login", login)
    app.router.add_get("/logout", logout)
    app.router.add_get("/", layout_page)
    app.router.add_get("/admin", admin_page)
    app.router.add_post("/api/backup", start_backup)
    app.router.add_get("/api/backup/{job}", backup_status)
    app.router.add_get("/vendor/{name}", vendor)
    app.router.add_get("/__siolab/info", siolab_info)
    app.router.add_static("/static", STATIC_DIR)

    # --- Socket.IO ----------------------------------------------------------

    @sio.on("connect")
    async def on_connect(sid, environ, auth=None):
        user = sessions.user_from_environ(environ)
        log.info("connect sid=%s eio_sid=%s namespace=/ user=%s", sid, eio_sid(sid, "/"), user)
        await sio.emit("hello", {"user": user}, to=sid)
        if settings.tick_ms and not ticking:
            ticking.append(sio.start_background_task(tick_forever))
        if settings.room_tick_ms and not room_ticking:
            room_ticking.append(sio.start_background_task(room_tick_forever))

    @sio.on("disconnect")
    async def on_disconnect(sid, reason=None):
        log.info("disconnect sid=%s namespace=/ reason=%s", sid, reason)

    @sio.on("tally")
    async def on_tally(sid, data=None):
        # One line per event received: the lab counts what arrived against what the client sent.
        log.info("tally sid=%s n=%s", sid, data.get("n") if isinstance(data, dict) else data)

    @sio.on("join")
    async def on_join(sid, room=None):
        room = str(room or NEWS_ROOM)
        await sio.enter_room(sid, room)
        log.info("join sid=%s room=%s", sid, room)

    @sio.on("connect", namespace="/chat")
    async def on_chat_connect(sid, environ, auth=None):
        user = sessions.user_from_environ(environ)
        if not user:
            # The incident's handler: no session user, no connection.
            log.info("refused sid=%s eio_sid=%s namespace=/chat: no session user", sid, eio_sid(sid, "/chat"))
            return False
        await sio.save_session(sid, {"user": user}, namespace="/chat")
        await sio.enter_room(sid, CHAT_ROOM, namespace="/chat")
        log.info("connect sid=%s eio_sid=%s namespace=/chat user=%s", sid, eio_sid(sid, "/chat"), user)
        return None

    @sio.on("disconnect", namespace="/chat")
    async def on_chat_disconnect(sid, reason=None):
        log.info("disconnect sid=%s namespace=/chat reason=%s", sid, reason)

    @sio.on("message", namespace="/chat")
    async def on_chat_message(sid, text):
        session = await sio.get_session(sid, namespace="/chat")
        await sio.emit("message", {"user": session.get("user"), "text": text}, to=CHAT_ROOM, namespace="/chat")

    log.info("app ready async_mode=%s ping_interval=%ss ping_timeout=%ss max_http_buffer_size=%s cors=%s tick_ms=%s room_tick_ms=%s",
             sio.async_mode, settings.ping_interval, settings.ping_timeout,
             settings.max_http_buffer_size, settings.cors_origins or "same-origin", settings.tick_ms,
             settings.room_tick_ms)
    if not settings.client_bundle.is_file():
        log.warning("%s is missing: pages will not load socket.io-client (run npm install)", settings.client_bundle)
    return app, sio
