"""Your app under the lab's deployment modes: `--app package.module:app` (harness/lab/targets.py).

    python -m servers.user_app_runner inspect --app shop.app:app          # what kind of object it is (JSON)
    python -m servers.user_app_runner reloader --app shop.app:app --port P --reload-marker FILE
    python -m servers.user_app_runner eventlet --app shop.app:app --port P
    python -m servers.user_app_runner aiohttp  --app shop.app:app --port P

The gunicorn modes load `servers.user_app_wsgi:app` instead (the same object, as WSGI).
The object may be a Flask app with Flask-SocketIO, any WSGI app (`socketio.WSGIApp`, …),
a `socketio.Server` (wrapped in `socketio.WSGIApp`), a `socketio.AsyncServer` with
async_mode aiohttp, or an `aiohttp.web.Application`. The lab never picks an async_mode for
the app: SIOLAB_ASYNC_MODE says which one the mode serves, and an app whose server runs
another one stops at start with a line saying so (exit 3, as the reference app's bad settings).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys

EXIT_BAD_APP = 3
FAMILIES = {  # what hosts each kind of object (harness/lab/targets.py keeps the mode table)
    "flask-socketio": "wsgi", "socketio-server": "wsgi", "wsgi": "wsgi",
    "aiohttp-server": "aiohttp", "aiohttp-app": "aiohttp", "asgi": "asgi",
}


def fail(message: str) -> None:
    print(f"siolab: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_BAD_APP)


def load(spec: str):
    """The object named by `package.module:attribute` (a dotted attribute path is allowed)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        fail(f"SIOLAB_USER_APP {spec!r}: expected package.module:attribute")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        fail(f"SIOLAB_USER_APP {spec!r}: cannot import {module_name!r}: {exc}")
    for part in attr.split("."):
        if not hasattr(obj, part):
            fail(f"SIOLAB_USER_APP {spec!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def classify(obj) -> tuple[str, object | None]:
    """(kind, the Engine.IO server when one can be found) for the object."""
    import engineio
    import socketio

    extensions = getattr(obj, "extensions", None)
    if isinstance(extensions, dict) and "socketio" in extensions:
        return "flask-socketio", extensions["socketio"].server.eio
    if isinstance(obj, socketio.Server):
        return "socketio-server", obj.eio
    if isinstance(obj, socketio.AsyncServer):
        return ("aiohttp-server" if obj.eio.async_mode == "aiohttp" else "asgi"), obj.eio
    if isinstance(obj, engineio.WSGIApp):
        inner = obj.engineio_app
        return "wsgi", getattr(inner, "eio", inner)
    if isinstance(obj, engineio.ASGIApp):
        inner = obj.engineio_server
        return "asgi", getattr(inner, "eio", inner)
    try:
        from aiohttp import web
        if isinstance(obj, web.Application):
            return "aiohttp-app", None
    except ImportError:
        pass
    call = getattr(obj, "__call__", None)
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(call):
        return "asgi", None
    if callable(obj):
        return "wsgi", None
    fail(f"SIOLAB_USER_APP: {type(obj).__name__} is neither a WSGI/ASGI app nor a Socket.IO server")
    return "", None  # unreachable


def check_async_mode(spec: str, eio) -> None:
    """The app's server must run the async_mode the mode serves (auto-detection picks eventlet when installed)."""
    wanted = os.environ.get("SIOLAB_ASYNC_MODE")
    have = getattr(eio, "async_mode", None)
    if eio is None or not wanted or have == wanted:
        return
    fail(f"bad setting SIOLAB_ASYNC_MODE: this mode serves async_mode {wanted!r}, but {spec}'s "
         f"Socket.IO server runs {have!r}; pass async_mode explicitly (e.g. "
         f"async_mode=os.environ.get('SIOLAB_ASYNC_MODE', '{have}')) or run only the modes that fit")


def wsgi_app(spec: str):
    """The object as a WSGI callable, after the async_mode check (gunicorn modes, reloader, eventlet)."""
    import socketio

    obj = load(spec)
    kind, eio = classify(obj)
    if FAMILIES[kind] != "wsgi":
        fail(f"SIOLAB_USER_APP {spec!r} is {kind}: a WSGI mode cannot serve it")
    check_async_mode(spec, eio)
    return socketio.WSGIApp(obj) if kind == "socketio-server" else obj


def serve_reloader(spec: str, host: str, port: int, marker: str) -> None:
    """The local set-up: Werkzeug with the stat reloader; touching `marker` replaces the child."""
    import werkzeug.serving

    from servers.reloader_child import die_with_reloader_parent

    die_with_reloader_parent()

    obj = load(spec)
    kind, eio = classify(obj)
    if FAMILIES[kind] != "wsgi":
        fail(f"SIOLAB_USER_APP {spec!r} is {kind}: mode reloader serves WSGI apps")
    check_async_mode(spec, eio)
    werkzeug.serving._log_add_style = False
    options = {"reloader_type": "stat", "extra_files": [marker]}
    if kind == "flask-socketio":
        obj.extensions["socketio"].run(obj, host=host, port=port, debug=True, use_reloader=True,
                                       allow_unsafe_werkzeug=True, reloader_options=options)
    else:
        app = socketio_wsgi(obj, kind)
        werkzeug.serving.run_simple(host, port, app, use_reloader=True, threaded=True, **options)


def socketio_wsgi(obj, kind: str):
    import socketio

    return socketio.WSGIApp(obj) if kind == "socketio-server" else obj


def serve_eventlet(spec: str, host: str, port: int) -> None:
    import eventlet
    import eventlet.wsgi

    obj = load(spec)
    kind, eio = classify(obj)
    if FAMILIES[kind] != "wsgi":
        fail(f"SIOLAB_USER_APP {spec!r} is {kind}: mode eventlet serves WSGI apps")
    check_async_mode(spec, eio)
    if kind == "flask-socketio":
        obj.extensions["socketio"].run(obj, host=host, port=port, log_output=True)
    else:
        eventlet.wsgi.server(eventlet.listen((host, port)), socketio_wsgi(obj, kind))


def serve_aiohttp(spec: str, host: str, port: int) -> None:
    from aiohttp import web

    obj = load(spec)
    kind, eio = classify(obj)
    if FAMILIES[kind] != "aiohttp":
        fail(f"SIOLAB_USER_APP {spec!r} is {kind}: mode aiohttp serves an AsyncServer(async_mode='aiohttp') "
             "or an aiohttp.web.Application")
    check_async_mode(spec, eio)
    if kind == "aiohttp-server":
        app = web.Application()
        obj.attach(app)
    else:
        app = obj
    print(f"listening on http://{host}:{port}", file=sys.stderr, flush=True)
    web.run_app(app, host=host, port=port, print=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m servers.user_app_runner")
    parser.add_argument("server", choices=("inspect", "reloader", "eventlet", "aiohttp"))
    parser.add_argument("--app", default=os.environ.get("SIOLAB_USER_APP"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reload-marker")
    args = parser.parse_args(argv)
    if not args.app:
        fail("no app: --app package.module:attribute (or SIOLAB_USER_APP)")
    if args.server == "inspect":
        kind, eio = classify(load(args.app))
        print(json.dumps({"kind": kind, "family": FAMILIES[kind], "async_mode": getattr(eio, "async_mode", None)}))
    elif args.server == "reloader":
        serve_reloader(args.app, args.host, args.port, args.reload_marker)
    elif args.server == "eventlet":
        serve_eventlet(args.app, args.host, args.port)
    else:
        serve_aiohttp(args.app, args.host, args.port)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "eventlet":
        import eventlet  # monkey-patch before the app (or anything it imports) is loaded

        eventlet.monkey_patch()
    main()
