"""nginx in front of the app: a configuration rendered per cell from servers/nginx/, and the process.

    config = NginxConfig(upstreams=[5001, 5002], balance="ip_hash", websocket="pass", read_timeout_s=60)
    front = Nginx(supervisor, timeline, cell_dir / "nginx", config).start()

The configuration is the base template (servers/nginx/nginx.conf.template) with one snippet
per variant: the balancing (`balance-*.conf`) and the WebSocket headers (`websocket-*.conf`).
nginx runs as the current user with every path inside the cell's folder; each request is a
JSON line on its stdout, which the supervisor turns into a `nginx.access` timeline event.
"""
from __future__ import annotations

import os
import pwd
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ..core.paths import SERVERS_DIR
from ..core.supervisor import Managed, Supervisor, free_port
from ..core.timeline import Timeline
from . import COMPONENTS

HOST = "127.0.0.1"
TEMPLATES = SERVERS_DIR / "nginx"
BALANCES = {"round-robin": "balance-round-robin.conf", "ip_hash": "balance-ip-hash.conf"}
WEBSOCKET = {"pass": "websocket-pass.conf", "drop": "websocket-drop.conf"}
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class NginxConfigError(ValueError):
    """A front asked for a variant the templates do not have."""


@dataclass(frozen=True)
class NginxConfig:
    upstreams: list[int] = field(default_factory=list)   # app ports on 127.0.0.1
    balance: str = "round-robin"                         # round-robin | ip_hash
    websocket: str = "pass"                              # pass | drop (the Upgrade headers)
    read_timeout_s: int = 60                             # proxy_read_timeout (nginx's default 60 s)
    listen_port: int = 0

    def __post_init__(self) -> None:
        if self.balance not in BALANCES:
            raise NginxConfigError(f"balance {self.balance!r}: one of {', '.join(BALANCES)}")
        if self.websocket not in WEBSOCKET:
            raise NginxConfigError(f"websocket {self.websocket!r}: one of {', '.join(WEBSOCKET)}")
        if not isinstance(self.read_timeout_s, int) or isinstance(self.read_timeout_s, bool) or self.read_timeout_s < 1:
            raise NginxConfigError(f"read_timeout_s {self.read_timeout_s!r}: whole seconds >= 1")

    def render(self) -> str:
        if not self.upstreams or not self.listen_port:
            raise NginxConfigError("a configuration needs its upstream ports and a listen port")
        fields = {
            # nginx ignores `user` (with a warning) unless started as root; as root it keeps
            # the workers under the current user, who owns the cell folder.
            "user": f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else "",
            "balance": (TEMPLATES / BALANCES[self.balance]).read_text().rstrip("\n"),
            "servers": "\n".join(f"        server {HOST}:{port};" for port in self.upstreams),
            "websocket": (TEMPLATES / WEBSOCKET[self.websocket]).read_text().rstrip("\n"),
            "read_timeout": f"{self.read_timeout_s}s",
            "listen": f"{HOST}:{self.listen_port}",
        }
        text = (TEMPLATES / "nginx.conf.template").read_text()
        text = re.sub(r"\{\{ (\w+) \}\}", lambda m: fields[m.group(1)], text)
        return text


def nginx_argv(binary: str, prefix: Path, conf: Path) -> list[str]:
    return [binary, "-p", f"{prefix}/", "-e", "stderr", "-c", str(conf),
            "-g", f"daemon off; pid {prefix / 'nginx.pid'};"]


class Nginx:
    """One nginx master (and its worker) under the supervisor, in `prefix` (the cell's nginx folder)."""

    def __init__(self, supervisor: Supervisor, timeline: Timeline, prefix: Path, config: NginxConfig):
        self.supervisor = supervisor
        self.timeline = timeline
        self.prefix = Path(prefix).resolve()
        if not config.listen_port:
            config = NginxConfig(**{**config.__dict__, "listen_port": free_port()})
        self.config = config
        self.proc: Managed | None = None

    @property
    def port(self) -> int:
        return self.config.listen_port

    def write_config(self) -> Path:
        for name in TEMP_DIRS:
            (self.prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config.render())
        return conf

    def start(self, timeout: float = 10.0) -> "Nginx":
        binary = COMPONENTS["nginx"].binary()
        if binary is None:
            raise FileNotFoundError(f"nginx not found (fix: {COMPONENTS['nginx'].fix})")
        conf = self.write_config()
        self.proc = self.supervisor.start("nginx", nginx_argv(binary, self.prefix, conf), src="proxy",
                                          json_events=True, cwd=self.prefix, port=self.port,
                                          # Graceful: nginx logs a request when it ends, an upgraded
                                          # WebSocket only when it closes; a fast stop (SIGTERM) exits
                                          # without logging the ones still open, and their 101 is lost.
                                          quit_signal=signal.SIGQUIT)
        # Any HTTP answer means nginx listens (a 502 before the app is up is still nginx).
        self.supervisor.wait_ready(self.proc, lambda: requests.get(f"http://{HOST}:{self.port}/__siolab/nginx",
                                                                   timeout=1).status_code > 0,
                                   timeout=timeout, what="an HTTP request")
        self.timeline.record("harness", "nginx.ready", {
            "port": self.port, "upstreams": self.config.upstreams, "balance": self.config.balance,
            "websocket": self.config.websocket, "read_timeout_s": self.config.read_timeout_s,
            "conf": str(conf)})
        return self

    def stop(self) -> None:
        if self.proc and self.proc.alive():
            self.supervisor.stop(self.proc, signal.SIGQUIT)
