"""The pages both apps render: which client variant a page load gets, and the files it loads.

A page load picks its variant by query parameters, rendered into `window.SIOLAB_CONFIG`
for static/app-socket.js:

    ?singleton=naive|fixed        getAppSocket() as in the incident, or with the RCA's fix
    ?transport=default|polling|websocket
    ?ns=/|/chat                   the namespace of the global socket
    ?tick=MS                      how often the page calls getAppSocket() (default: reconnection delay)
    ?client=v4|v2                 the socket.io-client build: 4.x, or 2.x (Engine.IO 3) from the npm alias
    ?url=http://host:port         connect there instead of the page's own origin (a cross-origin socket)
    ?path=/socket.io              the client's Socket.IO path (a wrong one for the wrong-path incident)
    ?join=none|once|every         emit `join` "news" on the first connect only, or on every connect
    ?handlers=once|in-connect     the app's handlers registered once, or inside `connect` (one more per reconnection)
    ?mounts=1|2                   2: a second mount makes its own socket besides the singleton (a double mount)
    ?socket=0                     do not load Socket.IO at all (incident 000's fix)

Plain paths only in templates (no url_for), so the aiohttp app renders them with Jinja2 too.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping

import jinja2

from .settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

SINGLETON_VARIANTS = ("naive", "fixed", "backoff")
TRANSPORTS = {
    "default": None,                 # socket.io-client's own default: polling, then upgrade
    "polling": ["polling"],
    "websocket": ["websocket"],
}
JOINS = ("none", "once", "every")         # when the page joins the room `news` (reconnect-state)
NAMESPACES = ("/", "/chat", "/admin")      # /admin: a namespace no server has (a path taken for one)
HANDLERS = ("once", "in-connect")          # where the page registers its handlers (duplicate-handlers)
MOUNTS = ("1", "2")                         # how many times the page mounts its socket code (2: a double mount)
# The only files served under /vendor/: the official client from npm, never a CDN.
# name -> (npm package folder, file in its dist/); 2.x comes from the alias socket.io-client-v2.
VENDOR_FILES = {
    "socket.io.min.js": ("socket.io-client", "socket.io.min.js"),
    "socket.io.min.js.map": ("socket.io-client", "socket.io.min.js.map"),
    "socket.io-v2.js": ("socket.io-client-v2", "socket.io.js"),
    "socket.io.js.map": ("socket.io-client-v2", "socket.io.js.map"),
}
CLIENT_BUILDS = {"v4": "socket.io.min.js", "v2": "socket.io-v2.js"}
URL_PATTERN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
PATH_PATTERN = re.compile(r"^/[A-Za-z0-9._/-]*$")


class PageParamError(ValueError):
    """A query parameter the page does not know; answered with 400 and this message."""


def _choice(query: Mapping[str, str], name: str, choices, default: str) -> str:
    value = query.get(name) or default
    if value not in choices:
        raise PageParamError(f"bad query parameter {name}={value!r}; expected one of {', '.join(choices)}")
    return value


def client_config(query: Mapping[str, str], settings: Settings) -> dict:
    """`window.SIOLAB_CONFIG` for one page load."""
    tick = query.get("tick") or str(settings.reconnection_delay_ms)
    if not tick.isdigit() or int(tick) < 50:
        raise PageParamError(f"bad query parameter tick={tick!r}; expected milliseconds >= 50")
    return {
        "singleton": _choice(query, "singleton", SINGLETON_VARIANTS, "naive"),
        "transports": TRANSPORTS[_choice(query, "transport", tuple(TRANSPORTS), "default")],
        "namespace": _choice(query, "ns", NAMESPACES, "/"),
        "reconnectionDelay": settings.reconnection_delay_ms,
        "reconnectionDelayMax": settings.reconnection_delay_max_ms,
        "tickMs": int(tick),
        "url": _pattern(query, "url", URL_PATTERN, "an origin like http://127.0.0.1:5000"),
        "path": _pattern(query, "path", PATH_PATTERN, "a path like /socket.io"),
        "join": _choice(query, "join", JOINS, "none"),
        "handlers": _choice(query, "handlers", HANDLERS, "once"),
        "mounts": int(_choice(query, "mounts", MOUNTS, "1")),
    }


def _pattern(query: Mapping[str, str], name: str, pattern: re.Pattern, what: str) -> str | None:
    value = query.get(name)
    if value and not pattern.match(value):
        raise PageParamError(f"bad query parameter {name}={value!r}; expected {what}")
    return value or None


def page_context(page: str, query: Mapping[str, str], settings: Settings, user: str | None,
                 app_name: str) -> dict:
    """Template variables for `layout.html` / `admin.html`."""
    load_socket = query.get("socket", "1") != "0"
    config = client_config(query, settings) if load_socket else None
    return {
        "page": page,
        "app_name": app_name,
        "user": user,
        "load_socket": load_socket,
        "client_bundle": CLIENT_BUILDS[_choice(query, "client", tuple(CLIENT_BUILDS), "v4")],
        # JSON inside <script>: keep "</script>" out of it.
        "config_json": json.dumps(config).replace("<", "\\u003c"),
    }


def vendor_file(settings: Settings, name: str) -> Path | None:
    """The socket.io-client file to serve, or None when it is not one of ours or not installed."""
    if name not in VENDOR_FILES:
        return None
    package, file = VENDOR_FILES[name]
    path = settings.node_modules / package / "dist" / file
    return path if path.is_file() else None


def jinja_environment() -> jinja2.Environment:
    """For apps without Flask: the same templates, the same autoescaping as Flask."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
    )
