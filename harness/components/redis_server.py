"""Redis as Flask-SocketIO's message queue: its own port, no persistence, 127.0.0.1 only.

    redis = RedisServer(supervisor, timeline, cell_dir / "redis").start()
    redis.url   # redis://127.0.0.1:PORT/0, for SIOLAB_MESSAGE_QUEUE
"""
from __future__ import annotations

import socket
from pathlib import Path

from ..core.supervisor import Managed, Supervisor, free_port
from ..core.timeline import Timeline
from . import COMPONENTS

HOST = "127.0.0.1"


def redis_argv(binary: str, port: int, workdir: Path) -> list[str]:
    return [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--daemonize", "no", "--logfile", ""]


def ping(port: int) -> bool:
    """True when a Redis on `port` answers PING with +PONG (raw RESP: no client library needed)."""
    with socket.create_connection((HOST, port), timeout=1.0) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")


class RedisServer:
    def __init__(self, supervisor: Supervisor, timeline: Timeline, workdir: Path):
        self.supervisor = supervisor
        self.timeline = timeline
        self.workdir = Path(workdir).resolve()
        self.port = free_port()
        self.proc: Managed | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        binary = COMPONENTS["redis-server"].binary()
        if binary is None:
            raise FileNotFoundError(f"redis-server not found (fix: {COMPONENTS['redis-server'].fix})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = self.supervisor.start("redis", redis_argv(binary, self.port, self.workdir), src="harness",
                                          cwd=self.workdir, port=self.port)
        self.supervisor.wait_ready(self.proc, lambda: ping(self.port), timeout=timeout, what="a Redis PING")
        self.timeline.record("harness", "redis.ready", {"port": self.port})
        return self

    def stop(self) -> None:
        if self.proc and self.proc.alive():
            self.supervisor.stop(self.proc)
