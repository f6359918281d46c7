"""A cell's topology: the server in a deployment mode (or several instances behind nginx),
and the proxy in front of it when asked.

Driving only: starts processes through the supervisor, knows when a server is up (an
Engine.IO handshake answers) and which process instance answers (the app's boot id),
and records `server.up` / `server.down` for the checks. An app of yours (harness/lab/targets.py)
has no boot id: its process instance is the set of pids under the supervised process.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import requests

from ..components.front import FrontSpec
from ..components.nginx import Nginx, NginxConfig
from ..components.redis_server import RedisServer
from ..faults import toxiproxy_api
from ..modes import get_mode
from ..modes.base import Mode, ServerSettings
from ..core import procfs
from ..core.paths import REPO_ROOT
from ..core.supervisor import Managed, Supervisor, free_port
from ..core.timeline import Timeline

if TYPE_CHECKING:
    from .targets import Target

HOST = "127.0.0.1"


def handshake_ok(port: int, path: str = "/socket.io/") -> bool:
    """True when an Engine.IO v4 polling handshake answers with an open packet."""
    r = requests.get(f"http://{HOST}:{port}{path}", params={"EIO": "4", "transport": "polling"}, timeout=1.0)
    return r.status_code == 200 and r.text.startswith("0{")


class HandshakeProbe:
    """Readiness by an Engine.IO polling handshake sent once per connection and awaited across
    calls, never sent again while the server may still answer it.

    A server that binds before it serves (the Werkzeug reloader's parent holds the socket while
    its child boots) queues every probe; a probe re-sent after a read timeout is answered too,
    and each answered handshake uses a number of python-engineio's sid sequence, which
    `diagnose` reads to tell a new process from the same one. Each call returns at once: the
    supervisor calls it again when the server logs a line."""

    def __init__(self, port: int, path: str = "/socket.io/"):
        self.port, self.path = port, path
        self.sock: socket.socket | None = None
        self.answer = b""

    def __call__(self) -> bool:
        if self.sock is None:
            self.sock = socket.create_connection((HOST, self.port), timeout=1.0)   # refused: not yet
            self.sock.sendall(f"GET {self.path}?EIO=4&transport=polling HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                              "Connection: close\r\n\r\n".encode())
            self.sock.setblocking(False)
            self.answer = b""
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
            closed = True               # the server closed the connection (its answer is all here)
        except BlockingIOError:
            closed = False              # nothing more yet
        except OSError:
            self.close()
            raise
        head, sep, body = self.answer.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].split(b" ")
        status = status_line[1] if sep and len(status_line) >= 2 else None
        opened = status == b"200" and b'0{"sid"' in body
        if opened or closed or (status is not None and status != b"200"):
            self.close()                # answered: a session, or not yet one (ask again later)
        return opened

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def ready_probe(port: int, mode: Mode) -> Callable[[], bool]:
    """The mode's readiness: its own plain GET when it names one, else the Engine.IO handshake."""
    if mode.ready_path is None:
        return HandshakeProbe(port)
    return lambda: requests.get(f"http://{HOST}:{port}{mode.ready_path}", timeout=1.0).status_code == 200


def server_info(port: int) -> dict:
    """The reference apps' `/__siolab/info` (boot id, async mode, settings as the server applied them);
    {} for apps that don't serve it."""
    try:
        r = requests.get(f"http://{HOST}:{port}/__siolab/info", timeout=1.0)
        info = r.json() if r.status_code == 200 else {}
        return info if isinstance(info, dict) else {}
    except (requests.RequestException, ValueError):
        return {}


def boot_id(port: int) -> str | None:
    """The reference apps' per-process boot id; None for apps that don't serve it."""
    return server_info(port).get("boot")


# what the server says it applied, recorded with `server.up` (a premise the checks can read)
APPLIED_SETTINGS = ("max_decode_packets",)


def process_instance(pid: int) -> str | None:
    """The pids in `pid`'s process tree below it ("" when it has none), e.g. the reloader's child:
    a new one is a new serving process."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return ",".join(str(p) for p in sorted(found))


class Server:
    """One Socket.IO server in one deployment mode, on one port, across restarts."""

    def __init__(self, supervisor: Supervisor, timeline: Timeline, mode: Mode,
                 settings: ServerSettings, port: int | None = None, instance: int | None = None,
                 target: "Target | None" = None, host: str = HOST):
        self.supervisor = supervisor
        self.host = host              # what the server binds; readiness is asked on 127.0.0.1 (so 0.0.0.0 or loopback)
        self.target = target          # None: the reference app
        self.timeline = timeline
        self.mode = mode
        self.settings = settings
        self.port = port or free_port()
        self.instance = instance      # 0, 1, … when several instances run behind nginx
        self.proc: Managed | None = None
        self.boot: str | None = None

    @property
    def name(self) -> str:
        return f"server-{self.mode.name}" + (f"-{self.instance}" if self.instance is not None else "")

    @property
    def reload_marker(self) -> Path:
        return self.supervisor.run_dir / f"{self.name}.reload"

    def _boot(self) -> str | None:
        """Which process instance serves: the reference apps' boot id, or the pids under ours."""
        if self.target is None or self.target.has_info:
            return boot_id(self.port)
        return process_instance(self.proc.pid) if self.proc else None

    def start(self, timeout: float = 20.0) -> None:
        if self.target is None and self.mode.reloads:
            self.reload_marker.touch()
            spec = self.mode.launch(self.host, self.port, self.settings.for_port(self.port), reload_marker=self.reload_marker)
        elif self.target is None:
            spec = self.mode.launch(self.host, self.port, self.settings.for_port(self.port))
        else:
            self.reload_marker.touch()
            spec = self.target.launch(self.mode, self.host, self.port, self.settings.for_port(self.port),
                                      reload_marker=self.reload_marker)
        self.proc = self.supervisor.start(self.name, spec.argv, env=spec.env, cwd=spec.cwd, port=self.port,
                                          quit_signal=spec.quit_signal)
        probe = ready_probe(self.port, self.mode)
        try:
            after = self.supervisor.wait_ready(self.proc, probe, timeout=timeout)
        finally:
            getattr(probe, "close", lambda: None)()
        self.boot = self._boot()
        info = self.target is None or self.target.has_info
        boots = self._wait_for_workers(timeout) if self.mode.workers > 1 and info else [self.boot]
        self.timeline.record("server", "proc.ready", {"name": self.name, "port": self.port, "after_s": round(after, 3)})
        if self.target is not None and self.target.cmd:
            self._report_exposure()
        applied = {}
        if self.target is None or self.target.has_info:
            applied = {k: v for k, v in server_info(self.port).items() if k in APPLIED_SETTINGS and v is not None}
        self.timeline.record("harness", "server.up", {"name": self.name, "port": self.port, "boot": self.boot,
                                                      **({"boots": boots} if len(boots) > 1 else {}), **applied})

    def _report_exposure(self) -> None:
        """A `--cmd` command binds where it likes: say so when it listens beyond loopback (the lab's own
        servers bind 127.0.0.1 only; the command decides for itself, even with {host} in it)."""
        beyond = [f"{addr}:{port}" if ":" not in addr else f"[{addr}]:{port}"
                  for addr, port in procfs.listening(self.proc.popen.pid) if not procfs.is_loopback(addr)]
        if beyond:
            self.timeline.record("harness", "target.exposed", {"name": self.name, "listening": beyond})
            print(f"siolab: warning: the --cmd server listens beyond loopback on {', '.join(beyond)} "
                  f"(reachable from other machines); bind it to {{host}} (127.0.0.1)", file=sys.stderr, flush=True)

    def _wait_for_workers(self, timeout: float) -> list[str]:
        """Every worker answered once (each new connection lands on any of them), so none is still booting."""
        seen = {self.boot}
        self.supervisor.wait_ready(self.proc, lambda: bool(seen.add(boot_id(self.port))) or
                                   len(seen - {None}) >= self.mode.workers,
                                   timeout=timeout, what=f"{self.mode.workers} workers' /__siolab/info")
        return sorted(seen - {None})

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 3.0) -> None:
        if self.proc and self.proc.alive():
            self.supervisor.stop(self.proc, sig, timeout=timeout)
        self.timeline.record("harness", "server.down", {"name": self.name, "port": self.port, "boot": self.boot})

    def restart(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """The mode's own restart: the reloader reloads; every other mode is stopped and started again."""
        trigger = (self.mode.reload_trigger(self.reload_marker) if self.target is None
                   else self.target.reload_trigger(self.mode, self.reload_marker))
        if trigger is None:
            self.stop(sig)
            self.start(timeout=timeout)
            return
        old = self.boot
        os.utime(trigger)  # the Werkzeug stat reloader sees a newer mtime and replaces its child
        self._wait_for_new_boot(old, timeout)

    def _wait_for_new_boot(self, old: str | None, timeout: float) -> None:
        """Until a new process answers; `timeout` is how long the server may make no progress
        (no CPU used by its group) meanwhile, as for a start."""
        probe = ready_probe(self.port, self.mode)
        try:
            if self._poll_new_boot(old, timeout, probe):
                return
        finally:
            getattr(probe, "close", lambda: None)()
        raise TimeoutError(f"{self.name} did not come back with a new process (idle for {timeout:.0f} s, "
                           f"or busy for {procfs.stuck_limit(timeout):.0f} s, without answering)")

    def _poll_new_boot(self, old: str | None, timeout: float, probe: Callable[[], bool]) -> bool:
        down_recorded = False
        activity = procfs.Activity(self.proc.pid)
        while not activity.stuck(timeout):
            current = self._boot()
            if current != old and not down_recorded:
                self.timeline.record("harness", "server.down", {"name": self.name, "port": self.port, "boot": old})
                down_recorded = True
            if current and current != old:
                try:
                    ok = probe()
                except (OSError, requests.RequestException):
                    ok = False
                if ok:
                    self.boot = current
                    self.timeline.record("harness", "server.up", {"name": self.name, "port": self.port, "boot": current})
                    return True
            time.sleep(0.02)
        return False

    def pause(self, *, quiescent_within: float | None = None) -> None:
        """SIGSTOP the whole group: the process stays, the sockets stay open, nothing answers.

        With `quiescent_within`, first wait (at most that long) until the server has read every
        request sent to it and sleeps, so it freezes holding them; `quiescent` on server.down says
        whether it did."""
        assert self.proc
        calm = procfs.wait_quiescent(self.proc.pid, self.port, quiescent_within) if quiescent_within else None
        self.proc.signal_group(signal.SIGSTOP)
        self.timeline.record("harness", "server.down", {"name": self.name, "port": self.port, "boot": self.boot,
                                                        "stalled": True, "quiescent": calm})

    def resume(self) -> None:
        assert self.proc
        self.proc.signal_group(signal.SIGCONT)
        self.timeline.record("harness", "server.up", {"name": self.name, "port": self.port, "boot": self.boot, "resumed": True})


class ProxyFront:
    """The TCP proxy (Toxiproxy API: real server, URL, or the embedded one) in front of a server."""

    def __init__(self, supervisor: Supervisor, timeline: Timeline, upstream_port: int, name: str = "app"):
        self.timeline = timeline
        self.backend = toxiproxy_api.choose_backend()
        self.proc: Managed | None = None
        if self.backend == "url":
            api_url = os.environ["TOXIPROXY_URL"].rstrip("/")
        else:
            api_port = free_port()
            argv = toxiproxy_api.server_argv(self.backend, HOST, api_port)
            self.proc = supervisor.start("proxy", argv, src="proxy", json_events=True, cwd=REPO_ROOT, port=api_port)
            api_url = f"http://{HOST}:{api_port}"
            supervisor.wait_ready(self.proc, lambda: requests.get(api_url + "/version", timeout=1).ok,
                                  timeout=10, what="the Toxiproxy API")
        self.api = toxiproxy_api.ToxiproxyAPI(api_url)
        self.listen_port = free_port()
        if self.backend == "url":  # a shared server (docker-compose): one proxy per cell, side by side
            name = f"{name}-{self.listen_port}"
        self.proxy = self.api.create_proxy(name, f"{HOST}:{self.listen_port}", f"{HOST}:{upstream_port}")
        timeline.record("harness", "proxy.ready", {"backend": self.backend, "api": api_url,
                                                   "listen": self.listen_port, "upstream": upstream_port})

    def close(self) -> None:
        """A shared server outlives the cell: remove the cell's proxy (its port, its toxics)."""
        if self.backend == "url":
            try:
                self.proxy.destroy()
            except Exception:  # noqa: BLE001 - the server may be gone; nothing of ours is left then
                pass


class NginxFront:
    """`spec.instances` copies of the mode behind nginx, sharing a Redis message queue when asked.

    Redis first (the instances connect to it at start), then the instances, then nginx.
    """

    def __init__(self, supervisor: Supervisor, timeline: Timeline, mode: Mode, settings: ServerSettings,
                 spec: FrontSpec):
        self.spec = spec
        self.redis: RedisServer | None = None
        if spec.message_queue == "redis":
            self.redis = RedisServer(supervisor, timeline, supervisor.run_dir / "redis").start()
            settings = replace(settings, extra_env={**settings.extra_env, "SIOLAB_MESSAGE_QUEUE": self.redis.url})
        several = spec.instances > 1
        self.servers = [Server(supervisor, timeline, mode, settings, instance=i if several else None)
                        for i in range(spec.instances)]
        for server in self.servers:
            server.start()
        config = NginxConfig(upstreams=[s.port for s in self.servers], balance=spec.balance,
                             websocket=spec.websocket, read_timeout_s=spec.read_timeout_s)
        self.nginx = Nginx(supervisor, timeline, supervisor.run_dir / "nginx", config).start()

    @property
    def port(self) -> int:
        return self.nginx.port


@dataclass
class Topology:
    """What one cell runs: a server (or several behind nginx), optionally a proxy, and the clients;
    `port` is what clients dial: the proxy, else nginx, else the server."""

    server: Server
    proxy: ProxyFront | None
    clients: list = field(default_factory=list)   # the runner's cell clients, for client-side faults
    front: NginxFront | None = None

    @property
    def servers(self) -> list[Server]:
        return self.front.servers if self.front else [self.server]

    @property
    def port(self) -> int:
        if self.proxy:
            return self.proxy.listen_port
        return self.front.port if self.front else self.server.port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def bring_up(supervisor: Supervisor, timeline: Timeline, mode_name: str, settings: ServerSettings,
             *, with_proxy: bool, front: FrontSpec | None = None, target: "Target | None" = None) -> Topology:
    """The cell's processes: client → [proxy] → [nginx] → server(s)."""
    if front is not None:
        nginx_front = NginxFront(supervisor, timeline, get_mode(mode_name), settings, front)
        proxy = ProxyFront(supervisor, timeline, nginx_front.port) if with_proxy else None
        return Topology(nginx_front.servers[0], proxy, front=nginx_front)
    if target is None or target.is_reference:
        server = Server(supervisor, timeline, get_mode(mode_name), settings)
    else:
        server = Server(supervisor, timeline, target.mode(mode_name), settings, target=target)
    server.start()
    proxy = ProxyFront(supervisor, timeline, server.port) if with_proxy else None
    return Topology(server, proxy)
