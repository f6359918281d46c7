"""What a browser cell adds around the page: no request leaves the machine, and a page of
yours reports its socket's events like the reference page does.

- In a cell with a page of yours (the reference page makes no off-machine request, and its
  cells stay without request interception, which could change what Chromium does on the wire),
  every request to a non-loopback host is routed: a socket.io client file (the CDN's
  `…/socket.io.min.js`, jsDelivr's or cdnjs's copies, their source maps) is answered from the
  local npm copy (`node_modules/socket.io-client/dist/`) and recorded as `net.routed`; anything
  else is aborted (Chromium: `net::ERR_BLOCKED_BY_CLIENT`) and recorded as `net.blocked` with
  the reason, so a page that needs the internet shows why it broke. Whatever is not routed
  (a WebSocket to another host) cannot resolve a name: Chromium runs with a host-resolver rule
  that maps every name but loopback to "not found" (`browser.py` LAUNCH_ARGS). Playwright's
  WebSocket routing is not used: it replaces the page's `WebSocket`, which is under study. Loopback requests are
  never intercepted: what the lab measures on them is Chromium's own behaviour.
- For a page that is not the reference layout page, an init script wraps the global `io()`
  as the socket.io client's UMD build defines it (from a CDN or a local copy): every socket
  the page's own code creates reports `sio.connect` (with the Engine.IO sid),
  `sio.disconnect`, `sio.connect_error`, `sio.reconnect_attempt` and `sio.upgrade` through
  `window.__siolabReport`, and gets the cell's `transports` when the cell names one. The
  page's code is not changed. A page that imports the ESM build is recorded at the HTTP,
  WebSocket and console level only (or calls `window.__siolabReport` itself).
- `--page FILE`: the file becomes the document at `/__siolab/page/<name>` on the app's own
  origin (the browser goes there, whatever the app answers, and the file is written into the
  document), so its socket and cookies are same-origin.
- No `--page` with an app of yours: the reference layout page (servers/reference_app, its
  `getAppSocket()` variants and socket.io-client from npm) becomes the document at
  `/__siolab/layout` on your app's origin, the same way, rendered for the cell's query (`singleton`, `transport`) as the reference
  app renders it; it reports its own events.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..core.paths import NODE_MODULES, REPO_ROOT
CLIENT_FILES = ("socket.io.min.js", "socket.io.js", "socket.io.esm.min.js", "socket.io.msgpack.min.js")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PAGE_PREFIX = "/__siolab/page/"
REFERENCE_PAGE = "/__siolab/layout"
BLOCKED_WHY = "no request may leave the machine: only loopback hosts and socket.io client files (served locally)"

IO_WRAPPER = r"""
(() => {
  const cfg = %(config)s;
  const report = (kind, data) => {
    try {
      const f = window.__siolabReport;
      if (typeof f === "function") {
        Promise.resolve(f(kind, Object.assign({}, data, { wall: Date.now() / 1000 }))).catch(() => {});
      }
    } catch (e) { /* the lab went away; the page carries on */ }
  };
  const wire = (socket) => {
    const manager = socket.io;
    const nsp = socket.nsp;
    socket.on("connect", () => {
      const engine = manager.engine;
      report("sio.connect", { sid: socket.id, eio_sid: engine ? engine.id : null,
        transport: engine && engine.transport ? engine.transport.name : null, namespace: nsp });
    });
    socket.on("disconnect", (reason) => report("sio.disconnect", { reason: reason, namespace: nsp }));
    socket.on("connect_error", (err) => report("sio.connect_error",
      { message: err && err.message ? err.message : String(err), namespace: nsp }));
    if (manager.__siolabWired) return;
    manager.__siolabWired = true;
    manager.on("reconnect_attempt", (attempt) => report("sio.reconnect_attempt", { attempt: attempt }));
    manager.on("open", () => manager.engine.on("upgrade", (t) => report("sio.upgrade", { transport: t.name })));
  };
  const wrap = (io) => {
    if (typeof io !== "function" || io.__siolabWrapped) return io;
    const wrapped = function (uri, opts) {
      if (typeof uri === "object" && uri !== null) { opts = uri; uri = undefined; }
      if (cfg.transports) opts = Object.assign({}, opts || {}, { transports: cfg.transports });
      const socket = io(uri, opts);
      try { wire(socket); } catch (e) { /* never break the page */ }
      return socket;
    };
    Object.assign(wrapped, io);
    wrapped.io = wrapped;
    wrapped.connect = wrapped;
    wrapped.__siolabWrapped = true;
    return wrapped;
  };
  let current;
  Object.defineProperty(window, "io", {
    configurable: true, enumerable: true,
    get() { return current; },
    set(value) { current = wrap(value); },
  });
})();
"""


def node_modules() -> Path:
    raw = os.environ.get("SIOLAB_NODE_MODULES", "").strip()
    return Path(raw).expanduser() if raw else NODE_MODULES


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("http", "https", "ws", "wss") or (parts.hostname or "") in LOOPBACK


def local_client_file(url: str) -> Path | None:
    """The local socket.io-client file standing in for `url`, when it asks for one."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    base = name[:-4] if name.endswith(".map") else name
    if base not in CLIENT_FILES:
        return None
    path = node_modules() / "socket.io-client" / "dist" / name
    return path if path.is_file() else None


def render_reference_page(url: str, reconnection_delay_ms: int) -> str:
    """The reference app's layout page for this URL's query, rendered as the reference app does."""
    import sys
    from urllib.parse import parse_qsl

    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    import jinja2
    from servers.reference_app import pages, settings

    config = settings.from_env({"SIOLAB_ASYNC_MODE": "threading", "SIOLAB_SECRET_KEY": "siolab-page-only",
                                "SIOLAB_RECONNECTION_DELAY_MS": str(reconnection_delay_ms),
                                "SIOLAB_NODE_MODULES": str(node_modules())})
    query = dict(parse_qsl(urlsplit(url).query))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(pages.TEMPLATES_DIR)), autoescape=True)
    context = pages.page_context("layout", query, config, None, "your")
    return env.get_template("layout.html").render(**context)


def document_for(options: dict[str, Any] | None, url: str) -> str | None:
    """The HTML the lab puts on the app's origin at `url` (the reference page, or --page FILE), or None.

    Written into the document after a real navigation to `url` (BrowserCell.goto), never answered
    by request routing: Chromium refuses every WebSocket of a document that routing fulfilled
    (net::ERR_BLOCKED_BY_CLIENT, measured)."""
    if not options:
        return None
    path = urlsplit(url).path
    if options.get("reference_page") and path == REFERENCE_PAGE:
        return render_reference_page(url, int(options["reference_page"]["reconnection_delay_ms"]))
    page_file = options.get("page_file")
    if page_file and path == PAGE_PREFIX + Path(page_file).name:
        return Path(page_file).read_text(encoding="utf-8")
    return None


async def install(context, recorder, options: dict[str, Any] | None) -> None:
    """Route the context's off-machine requests and add the io() wrapper, for a page of yours."""
    if not options:
        return

    async def off_machine(route, request) -> None:
        url = request.url
        local = local_client_file(url)
        if local is not None:
            recorder.record("net.routed", {"url": url, "file": str(local)})
            content_type = "application/json" if local.name.endswith(".map") else "application/javascript"
            await route.fulfill(path=str(local), content_type=content_type)
            return
        recorder.record("net.blocked", {"url": url, "method": request.method, "why": BLOCKED_WHY})
        await route.abort("blockedbyclient")

    await context.route(lambda url: not is_loopback(url), off_machine)
    if options.get("reference_page"):
        async def serve_file(route, request) -> None:
            name = urlsplit(request.url).path.rsplit("/", 1)[-1]
            path = (node_modules() / "socket.io-client" / "dist" / name if "/vendor/" in request.url
                    else REPO_ROOT / "servers" / "reference_app" / "static" / name)
            await route.fulfill(path=str(path), content_type="application/javascript")

        await context.route("**/vendor/socket.io.min.js*", serve_file)
        await context.route("**/static/app-socket.js*", serve_file)
    if options.get("instrument"):
        config = {"transports": options.get("transports")}
        await context.add_init_script(IO_WRAPPER % {"config": json.dumps(config)})
