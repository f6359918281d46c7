"""What a browser cell adds around the page: no request leaves the machine, and a page of
yours reports its socket's events like the reference page does.

- In a cell with a page of yours (the reference page makes no off-machine request, and its
  cells stay without request interception, which could change what Chromium does on the wire),
  every request to a non-loopback host is routed: a socket.io client file (the CDN's
  `…/socket.io.min.js`, jsDelivr's or cdnjs's copies, their source maps) is answered from the
  local npm copy (`node_modules/socket.io-client/dist/`) and recorded as `net.routed`; anything
  else is aborted (Chromium: `net::ERR_BLOCKED_BY_CLIENT`) and recorded as `net.blocked` with
  the reason, so a page that needs the internet shows why it broke. Loopback requests are
  never intercepted: what the lab measures on them is Chromium's own behaviour.
- For a page that is not the reference layout page, an init script wraps the global `io()`
  as the socket.io client's UMD build defines it (from a CDN or a local copy): every socket
  the page's own code creates reports `sio.connect` (with the Engine.IO sid),
  `sio.disconnect`, `sio.connect_error`, `sio.reconnect_attempt` and `sio.upgrade` through
  `window.__siolabReport`, and gets the cell's `transports` when the cell names one. The
  page's code is not changed. A page that imports the ESM build is recorded at the HTTP,
  WebSocket and console level only (or calls `window.__siolabReport` itself).
- `--page FILE`: the file is served at `/__siolab/page/<name>` on the app's own origin, so
  its socket and cookies are same-origin.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_FILES = ("socket.io.min.js", "socket.io.js", "socket.io.esm.min.js", "socket.io.msgpack.min.js")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PAGE_PREFIX = "/__siolab/page/"
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
    return Path(raw).expanduser() if raw else REPO_ROOT / "node_modules"


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


def page_url_path(page: str) -> str:
    """Where the browser goes for `--page`: the path itself, or the served file's path."""
    return page if page.startswith("/") else PAGE_PREFIX + Path(page).name


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
    if hasattr(context, "route_web_socket"):
        async def ws_off_machine(ws) -> None:
            recorder.record("net.blocked", {"url": ws.url, "method": "WEBSOCKET", "why": BLOCKED_WHY})
            await ws.close(code=1008, reason="siolab: no request leaves the machine")

        await context.route_web_socket(lambda url: not is_loopback(url), ws_off_machine)
    page_file = options.get("page_file")
    if page_file:
        path = Path(page_file)

        async def serve_page(route, _request) -> None:
            await route.fulfill(path=str(path), content_type="text/html; charset=utf-8")

        await context.route(f"**{PAGE_PREFIX}{path.name}*", serve_page)
    if options.get("instrument"):
        config = {"transports": options.get("transports")}
        await context.add_init_script(IO_WRAPPER % {"config": json.dumps(config)})
