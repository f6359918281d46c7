"""Faults as small named things with attributes, registered by name (like Toxiproxy's toxics).

A scenario names a fault type and its attributes; `build_fault` validates them against the
class's declared attributes before anything starts. `inject(topology, timeline)` records the
`fault` begin event, runs the fault's own `act` until it is over (the server back up, the toxic
removed), and records the end event whatever happens; a fault never judges what happened.
Each fault module registers its classes on import (`harness/faults/__init__.py` imports them);
this module imports none of them.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, fields
from typing import Any, ClassVar

FAULTS: dict[str, type["Fault"]] = {}


class FaultError(ValueError):
    """A fault named or configured wrongly in a scenario."""


def register(cls: type["Fault"]) -> type["Fault"]:
    FAULTS[cls.type] = cls
    return cls


@dataclass
class Fault:
    type: ClassVar[str]
    description: ClassVar[str]
    needs_proxy: ClassVar[bool] = False

    def inject(self, topology, timeline) -> None:
        """The fault's whole lifecycle: begin recorded, the act, the end recorded even when the act fails."""
        timeline.record("harness", "fault", {"name": self.type, "phase": "begin", **self.attributes()})
        try:
            self.act(topology, timeline)
        finally:
            timeline.record("harness", "fault", {"name": self.type, "phase": "end"})

    def act(self, topology, timeline) -> None:  # pragma: no cover - interface
        """Drive the fault and return when it is over."""
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_fault(spec: dict[str, Any]) -> Fault:
    """A Fault from its scenario spec {"type": ..., attributes...}; FaultError names what is wrong."""
    spec = dict(spec)
    kind = spec.pop("type", None)
    if not isinstance(kind, str) or kind not in FAULTS:
        raise FaultError(f"unknown fault type {kind!r}; known: {', '.join(sorted(FAULTS))}")
    cls = FAULTS[kind]
    allowed = {f.name: f for f in fields(cls)}
    for key, value in spec.items():
        if key not in allowed:
            raise FaultError(f"fault {kind!r} has no attribute {key!r}; it takes: {', '.join(allowed) or 'none'}")
        expected = type(allowed[key].default)
        if expected in (int, float) and not isinstance(value, (int, float)) or expected is str and not isinstance(value, str):
            raise FaultError(f"fault {kind!r} attribute {key!r} must be {expected.__name__}, got {value!r}")
        if expected in (int, float):
            default = allowed[key].default
            if isinstance(value, bool) or not math.isfinite(value) or (value < 0 and value != default):
                # A time or a count; a default of -1 means "not set" and may be given as such.
                raise FaultError(f"fault {kind!r} attribute {key!r} must be a finite number >= 0, got {value!r}")
    return cls(**spec)

