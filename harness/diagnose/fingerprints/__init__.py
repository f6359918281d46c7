"""Fingerprints of known causes: pure functions of a timeline, each in its own module.

A fingerprint looks at a `CaptureView` and says, for its cause: `likely` (the signature is
there), `possible` (compatible, not proven), `ruled out` (the capture contradicts it, and
why), or `no evidence` (the capture cannot tell). It quotes the events it relied on and,
when the catalogue has one, the scenario that replays the cause (`siolab run …`).
Adding a cause touches one file: write a module with `@fingerprint(...)` and import it below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...core.timeline import Event
from .view import CaptureView

LIKELY, POSSIBLE, RULED_OUT, NO_EVIDENCE = "likely", "possible", "ruled out", "no evidence"
RANK = {LIKELY: 0, POSSIBLE: 1, RULED_OUT: 2, NO_EVIDENCE: 3}


@dataclass(frozen=True)
class Cause:
    id: str
    title: str
    scenarios: tuple[str, ...] = ()     # the catalogue scenarios that replay it, the closest first

    @property
    def scenario(self) -> str | None:
        return self.scenarios[0] if self.scenarios else None


@dataclass
class Result:
    cause: Cause
    status: str
    why: str
    evidence: list[Event] = field(default_factory=list)
    replay: dict[str, str] = field(default_factory=dict)    # matrix filters for `siolab run` (mode, fault, …)
    scenarios: tuple[str, ...] = ()   # the catalogue scenarios that replay what was found (default: the cause's)

    def __post_init__(self) -> None:
        self.scenarios = tuple(self.scenarios) or self.cause.scenarios
        unique: list[Event] = []
        for e in self.evidence:
            if all(e is not u for u in unique):
                unique.append(e)
        self.evidence = sorted(unique, key=lambda e: e.t)

    @property
    def scenario(self) -> str | None:
        return self.scenarios[0] if self.scenarios else None

    @property
    def found(self) -> bool:
        return self.status in (LIKELY, POSSIBLE)


FINGERPRINTS: list[tuple[Cause, Callable[[CaptureView, Cause], Result]]] = []


def fingerprint(id: str, title: str, *scenarios: str):
    def register(fn: Callable[[CaptureView, Cause], Result]):
        FINGERPRINTS.append((Cause(id, title, tuple(scenarios)), fn))
        return fn
    return register


def nothing_lost(view: CaptureView, cause: Cause, detail: str = "") -> Result:
    """The verdict of a fingerprint about a lost session when no session was lost (or there was none)."""
    if view.sessions:
        return Result(cause, RULED_OUT, "no session was lost" + (f": {detail}" if detail else ""))
    return Result(cause, NO_EVIDENCE, "the capture holds no Socket.IO session")


def replayable() -> set[str]:
    """The catalogue scenarios some known cause names: what a diagnosis can point a capture to."""
    return {s for cause, _ in FINGERPRINTS for s in cause.scenarios}


def match_all(view: CaptureView) -> list[Result]:
    """Every fingerprint's result, the likely ones first."""
    results = []
    for cause, fn in FINGERPRINTS:
        try:
            results.append(fn(view, cause))
        except Exception as exc:  # noqa: BLE001 - one fingerprint tripping on odd data must not lose the others
            results.append(Result(cause, NO_EVIDENCE, f"this fingerprint could not read the capture "
                                  f"({type(exc).__name__}: {exc})"))
    return sorted(results, key=lambda r: RANK[r.status])


# Registration order is the order of equally likely causes in a diagnosis: the most specific first.
from . import restart, idle_timeout, reset, ping_timeout, refused, outage, sticky, handshake, payload, upgrade  # noqa: E402,F401,I001
from . import wrong_path  # noqa: E402,F401
