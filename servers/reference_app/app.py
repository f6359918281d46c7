"""The reference Flask-SocketIO app: the incident's app, small enough to read in one go.

    create_app(settings) -> (Flask app, SocketIO)

- `/` accepts every Socket.IO client and greets it with `hello` {"user": name or null, "boot": the process}.
- `/chat` refuses a client without `session["user"]` (the incident's connect handler
  returning False: a CONNECT_ERROR packet, not an HTTP error).
- A `broadcast` event goes back to every client of `/` (of every instance, with a message queue).
- The admin page's backup is REST plus polling; Socket.IO plays no part in it.
- With SIOLAB_TICK_MS, every client of `/` gets `tick` {"n": n} that often, from the first connect
  on, each logged `tick n=…`: which emits reached a client is then countable.
- A `join` event puts the client in the room it names (logged `join sid=… room=…`); with
  SIOLAB_ROOM_TICK_MS the room `news` gets `room_tick` {"n": n, "boot": the process} that often, each logged with the
  room's members at that moment: who was in the room, and which emits reached them.

`async_mode` always comes from SIOLAB_ASYNC_MODE: auto-detection would pick eventlet
whenever it is installed, under every server. Only SIOLAB_ASYNC_MODE=auto (the trap
modes gthread-autodetect and gevent-autodetect) passes none and lets it pick;
`/__siolab/info` and the "app ready" line show what it picked.
"""
from __future__ import annotations

import logging
import sys

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, session
from flask_socketio import SocketIO, emit, join_room

from . import reload_marker  # noqa: F401  -- imported so the Werkzeug reloader watches it
from .backup import STEP_SECONDS, STEPS, BackupJobs
from .info import BOOT_ID, info
from .pages import STATIC_DIR, TEMPLATES_DIR, PageParamError, page_context, vendor_file
from .settings import AUTO_ASYNC_MODE, Settings, apply_max_decode_packets, load_or_exit

APP_NAME = "reference"
CHAT_ROOM = "lobby"
NEWS_ROOM = "news"    # what the room ticks (SIOLAB_ROOM_TICK_MS) go to
VERSION_KEYS = ("flask", "flask_socketio", "socketio", "engineio", "werkzeug", "gunicorn",
                "gevent", "gevent_websocket", "eventlet", "simple_websocket")

log = logging.getLogger("siolab.reference")


def configure_logging() -> None:
    """Connects, refusals and disconnects at INFO on stderr, one line each, with the pid
    (a reloader restart shows as a new pid)."""
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _safe_next(target: str | None) -> str:
    # Only paths on this site: /login?user=alice&next=/admin?singleton=fixed
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def create_app(settings: Settings | None = None) -> tuple[Flask, SocketIO]:
    settings = settings or load_or_exit()
    configure_logging()
    apply_max_decode_packets(settings)

    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static",
                template_folder=str(TEMPLATES_DIR))
    app.secret_key = settings.secret_key
    socketio = SocketIO(
        app,
        async_mode=None if settings.async_mode == AUTO_ASYNC_MODE else settings.async_mode,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_http_buffer_size,
        cors_allowed_origins=settings.cors_origins,
        message_queue=settings.message_queue,
    )
    jobs = BackupJobs()
    ticking = []    # the tick task, once started (the first connect starts it: a reloader's parent never ticks)
    room_ticking = []    # the room tick task (SIOLAB_ROOM_TICK_MS), likewise

    def tick_forever() -> None:
        n = 0
        while True:
            socketio.sleep(settings.tick_ms / 1000)
            n += 1
            socketio.emit("tick", {"n": n})
            log.info("tick n=%d", n)

    def room_tick_forever() -> None:
        n = 0
        while True:
            socketio.sleep(settings.room_tick_ms / 1000)
            n += 1
            members = sorted(sid for sid, _ in socketio.server.manager.get_participants("/", NEWS_ROOM))
            socketio.emit("room_tick", {"n": n, "boot": BOOT_ID}, to=NEWS_ROOM)
            log.info("room_tick n=%d boot=%s room=%s members=%s", n, BOOT_ID, NEWS_ROOM, ",".join(members))

    def eio_sid(sid: str, namespace: str) -> str | None:
        # The Engine.IO sid is what a later "Invalid session <sid>" names.
        try:
            return socketio.server.manager.eio_sid_from_sid(sid, namespace)
        except Exception:  # noqa: BLE001 -- logging must never break a handler
            return None

    def render_page(template: str, page: str):
        try:
            context = page_context(page, request.args, settings, session.get("user"), APP_NAME)
        except PageParamError as err:
            return str(err) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
        return render_template(template, **context)

    # --- HTTP ---------------------------------------------------------------

    @app.route("/login", methods=["GET", "POST"])
    def login():
        user = (request.form.get("user") if request.method == "POST" else request.args.get("user")) or ""
        user = user.strip()
        if not user:
            return "login needs a user: /login?user=NAME or POST form field user\n", 400
        session["user"] = user
        return redirect(_safe_next(request.values.get("next")))

    @app.route("/logout")
    def logout():
        session.pop("user", None)
        return redirect("/")

    @app.route("/")
    def layout_page():
        return render_page("layout.html", "layout")

    @app.route("/admin")
    def admin_page():
        return render_page("admin.html", "admin")

    @app.route("/api/backup", methods=["POST"])
    def start_backup():
        job = jobs.start()

        def run() -> None:
            for step in range(1, STEPS + 1):
                socketio.sleep(STEP_SECONDS)
                jobs.advance(job, step)
            log.info("backup job=%s done", job)

        socketio.start_background_task(run)
        log.info("backup job=%s started", job)
        return jsonify({"job": job}), 202

    @app.route("/api/backup/<job>")
    def backup_status(job: str):
        status = jobs.status(job)
        if status is None:
            return jsonify({"error": f"no backup job {job}"}), 404
        return jsonify(status)

    @app.route("/vendor/<name>")
    def vendor(name: str):
        path = vendor_file(settings, name)
        if path is None:
            abort(404, description=f"{name} is not served (is socket.io-client installed under "
                                   f"{settings.node_modules}?)")
        return send_file(path, max_age=0)

    @app.route("/health")
    def health():
        # What a load balancer's health check asks: plain HTTP, no Socket.IO.
        return jsonify(ok=True)

    @app.route("/__siolab/info")
    def siolab_info():
        return jsonify(info(APP_NAME, socketio.async_mode, settings, VERSION_KEYS))

    # --- Socket.IO ----------------------------------------------------------

    @socketio.on("connect")
    def on_connect(auth=None):
        user = session.get("user")
        log.info("connect sid=%s eio_sid=%s namespace=/ user=%s", request.sid, eio_sid(request.sid, "/"), user)
        emit("hello", {"user": user, "boot": BOOT_ID})   # which process (instance, worker) answered
        if settings.tick_ms and not ticking:
            ticking.append(socketio.start_background_task(tick_forever))
        if settings.room_tick_ms and not room_ticking:
            room_ticking.append(socketio.start_background_task(room_tick_forever))

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        log.info("disconnect sid=%s namespace=/ reason=%s", request.sid, reason)

    @socketio.on("tally")
    def on_tally(data=None):
        # One line per event received: the lab counts what arrived against what the client sent.
        log.info("tally sid=%s n=%s", request.sid, (data or {}).get("n") if isinstance(data, dict) else data)

    @socketio.on("join")
    def on_join(room=None):
        room = str(room or NEWS_ROOM)
        join_room(room)
        log.info("join sid=%s room=%s", request.sid, room)

    @socketio.on("broadcast")
    def on_broadcast(data=None):
        # To every client of every instance: with a message queue, through Redis.
        log.info("broadcast sid=%s from boot=%s", request.sid, BOOT_ID)
        socketio.emit("broadcast", {"data": data, "from_boot": BOOT_ID})

    @socketio.on("connect", namespace="/chat")
    def on_chat_connect(auth=None):
        user = session.get("user")
        if not user:
            # The incident's handler: no session user, no connection.
            log.info("refused sid=%s eio_sid=%s namespace=/chat: no session user",
                     request.sid, eio_sid(request.sid, "/chat"))
            return False
        join_room(CHAT_ROOM)
        log.info("connect sid=%s eio_sid=%s namespace=/chat user=%s",
                 request.sid, eio_sid(request.sid, "/chat"), user)
        return None

    @socketio.on("disconnect", namespace="/chat")
    def on_chat_disconnect(reason=None):
        log.info("disconnect sid=%s namespace=/chat reason=%s", request.sid, reason)

    @socketio.on("message", namespace="/chat")
    def on_chat_message(text):
        emit("message", {"user": session.get("user"), "text": text}, to=CHAT_ROOM)

    if settings.async_mode == AUTO_ASYNC_MODE:
        log.warning("async_mode auto-detected: %s (SIOLAB_ASYNC_MODE=auto, no async_mode passed)",
                    socketio.async_mode)
    log.info("app ready async_mode=%s ping_interval=%ss ping_timeout=%ss max_http_buffer_size=%s cors=%s mq=%s tick_ms=%s room_tick_ms=%s",
             socketio.async_mode, settings.ping_interval, settings.ping_timeout,
             settings.max_http_buffer_size, settings.cors_origins or "same-origin", settings.message_queue or "none",
             settings.tick_ms, settings.room_tick_ms)
    if not settings.client_bundle.is_file():
        log.warning("%s is missing: pages will not load socket.io-client (run npm install)",
                    settings.client_bundle)
    return app, socketio
