"""`node`: the reference Socket.IO server from npm (`socket.io` 4.x on Node's `http`).

    node servers/node_app/server.js --host H --port P

The baseline for "is this Python-specific?": the same routes, pages, namespaces and
settings as the reference app (servers/node_app/server.js); `node` from PATH.
"""
from __future__ import annotations

import shutil

from .base import LaunchSpec, Mode, REPO_ROOT, ServerSettings, register

SERVER_JS = REPO_ROOT / "servers" / "node_app" / "server.js"


def node_binary() -> str | None:
    """The `node` on PATH, or None when there is none (a missing component)."""
    return shutil.which("node")


@register
class NodeMode(Mode):
    name = "node"
    cannot_host = "mode node runs the reference Node server; a Python app cannot be hosted by it"
    description = "socket.io (npm) on Node http"
    async_mode = "node"
    requires = ("node",)

    def launch(self, host: str, port: int, settings: ServerSettings) -> LaunchSpec:
        # Without node on PATH, starting this fails with FileNotFoundError naming "node";
        # callers that skip missing components check node_binary() first.
        argv = [node_binary() or "node", str(SERVER_JS), "--host", host, "--port", str(port)]
        return self.spec(argv, settings)


@register
class NodeEio3Mode(NodeMode):
    """socket.io's compatibility switch for 2.x clients: `new Server(..., {allowEIO3: true})`."""

    name = "node-eio3"
    description = "socket.io (npm) on Node http, allowEIO3: true"

    def spec(self, argv, settings: ServerSettings) -> LaunchSpec:
        spec = super().spec(argv, settings)
        spec.env["SIOLAB_ALLOW_EIO3"] = "1"
        return spec
