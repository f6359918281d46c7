"""A scenario's `fronts`: what stands between the clients and the app, as data.

    fronts:
      round-robin: {instances: 2, balance: round-robin}
      sticky:      {instances: 2, balance: ip_hash, message_queue: redis}
      short-idle:  {read_timeout_s: 1}
      no-upgrade:  {websocket: drop}

A front is nginx (servers/nginx/) in front of `instances` copies of the cell's mode, each
on its own port; with `message_queue: redis` a Redis server is started and every instance
gets it as Flask-SocketIO's message queue. The matrix axis `front` picks one per cell
(`none`, or no axis: the clients talk to the app directly).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .nginx import BALANCES, WEBSOCKET

NO_FRONT = "none"
FIELDS = {"instances": int, "balance": str, "websocket": str, "read_timeout_s": int, "message_queue": str}
MESSAGE_QUEUES = ("none", "redis")


class FrontError(ValueError):
    """A front spec with a wrong field; `.field` names it (empty: the spec as a whole)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FrontSpec:
    instances: int = 1
    balance: str = "round-robin"       # round-robin | ip_hash
    websocket: str = "pass"            # pass | drop (nginx forwards the Upgrade headers or not)
    read_timeout_s: int = 60           # nginx proxy_read_timeout, its default
    message_queue: str = "none"        # none | redis

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "FrontSpec":
        if not isinstance(raw, dict):
            raise FrontError("a front is a mapping: instances, balance, websocket, read_timeout_s, message_queue")
        for key, value in raw.items():
            if key not in FIELDS:
                raise FrontError(f"{key}: unknown; a front has {', '.join(FIELDS)}", key)
            if not isinstance(value, FIELDS[key]) or isinstance(value, bool):
                raise FrontError(f"{key}: must be {FIELDS[key].__name__}, got {value!r}", key)
        spec = cls(**raw)
        if not 1 <= spec.instances <= 8:
            raise FrontError(f"instances: 1 to 8, got {spec.instances}", "instances")
        if spec.balance not in BALANCES:
            raise FrontError(f"balance: {spec.balance!r} is not one of {', '.join(BALANCES)}", "balance")
        if spec.websocket not in WEBSOCKET:
            raise FrontError(f"websocket: {spec.websocket!r} is not one of {', '.join(WEBSOCKET)}", "websocket")
        if spec.read_timeout_s < 1:
            raise FrontError(f"read_timeout_s: whole seconds >= 1, got {spec.read_timeout_s}", "read_timeout_s")
        if spec.message_queue not in MESSAGE_QUEUES:
            raise FrontError(f"message_queue: {spec.message_queue!r} is not one of {', '.join(MESSAGE_QUEUES)}", "message_queue")
        return spec

    @property
    def components(self) -> tuple[str, ...]:
        return ("nginx",) + (("redis-server",) if self.message_queue == "redis" else ())
