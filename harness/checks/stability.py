"""Stability over repetitions (`siolab run --repeat N`): how often each verdict came out.

Pure, over what the judge already decided in each repetition (`checks.judge`): nothing here
measures or reaches into a run. A claim is *unstable* when its verdict was not the same in
every repetition; an expectation is *unstable* when some cell's outcome was not the same in
every repetition (an expectation that fails in one cell every time is failed, not unstable).
A cell that could not run in a repetition counts as its own outcome, "not judged"; so does an
expectation whose premise (`given`) did not hold there, "premise failed": a repetition that
tested nothing is not the same outcome as one that held.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from .judge import CheckResult, ClaimVerdict

HELD, FAILED, NOT_JUDGED, NO_PREMISE = "held", "failed", "not judged", "premise failed"
CLAIM, EXPECTATION = "claim", "expectation"


@dataclass(frozen=True)
class Judged:
    """One scenario's judged results in one repetition."""

    scenario: str
    checks: dict[str, list[CheckResult]]     # cell id -> its expectations' results
    claims: list[ClaimVerdict]
    unjudged: frozenset[str] = frozenset()   # cells that could not run (their checks say nothing)
    ok: bool = True                          # the repetition's own verdict for the scenario


@dataclass
class Tally:
    """One claim or expectation over the repetitions."""

    scenario: str
    kind: str                    # CLAIM or EXPECTATION
    name: str                    # the claim's id, or "metric condition"
    text: str                    # the claim's words, or the expectation's why
    line: int                    # in scenario.yaml
    repetitions: int
    counts: dict[str, int]       # claim: verdict -> repetitions; expectation: outcome -> cell runs
    cells: dict[str, list[str]]  # cell id -> its verdict (claim) or outcome (expectation) in each repetition
    failures: int = 0            # claim: repetitions where its verdict changed from the record; expectation: failed runs

    @property
    def disagreeing(self) -> list[str]:
        """The cells whose own verdict or outcome was not the same in every repetition."""
        return [c for c, seq in self.cells.items() if len(set(seq)) > 1]

    @property
    def unstable(self) -> bool:
        if self.kind == CLAIM:
            return len(self.counts) > 1
        return bool(self.disagreeing)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def tally_text(self) -> str:
        """e.g. "supported 2/3, refuted 1/3"."""
        return ", ".join(f"{k} {n}/{self.total}" for k, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class Stability:
    repetitions: int
    tallies: list[Tally]
    failed: list[tuple[int, str]] = field(default_factory=list)   # (repetition, scenario) whose run failed

    @property
    def unstable(self) -> list[Tally]:
        return [t for t in self.tallies if t.unstable]

    @property
    def ok(self) -> bool:
        return not self.unstable and not self.failed


def _outcome(x: CheckResult, unjudged: bool) -> str:
    if unjudged:
        return NOT_JUDGED
    if getattr(x, "premise_failed", ""):     # CheckResult.premise_failed: the expectation's `given` did not hold
        return NO_PREMISE
    return HELD if x.ok else FAILED


def tally(repetitions: Sequence[Sequence[Judged]]) -> Stability:
    """`repetitions[k]`: every scenario's judged results in repetition k+1, in the same plan."""
    n = len(repetitions)
    found: dict[tuple, Tally] = {}
    failed = []
    for k, rep in enumerate(repetitions):
        for j in rep:
            if not j.ok:
                failed.append((k + 1, j.scenario))
            for v in j.claims:
                t = found.setdefault((j.scenario, CLAIM, v.claim.id), Tally(
                    j.scenario, CLAIM, v.claim.id, v.claim.text, v.claim.line, n, Counter(), {}))
                t.counts[v.verdict] += 1
                t.failures += v.changed
                for cell, verdict in v.cells.items():
                    t.cells.setdefault(cell, [NOT_JUDGED] * n)[k] = verdict
            for cell, checks in j.checks.items():
                for x in checks:
                    t = found.setdefault((j.scenario, EXPECTATION, x.line, x.metric, x.condition), Tally(
                        j.scenario, EXPECTATION, f"{x.metric} {x.condition}", x.why, x.line, n, Counter(), {}))
                    outcome = _outcome(x, cell in j.unjudged)
                    t.counts[outcome] += 1
                    t.failures += outcome in (FAILED, NOT_JUDGED)
                    t.cells.setdefault(cell, [NOT_JUDGED] * n)[k] = outcome
    for t in found.values():
        t.counts = dict(t.counts)
        if t.kind == CLAIM:
            # A claim judged in fewer repetitions than were run (its cells never ran) is not unanimous either.
            missing = n - t.total
            if missing:
                t.counts[NOT_JUDGED] = t.counts.get(NOT_JUDGED, 0) + missing
    order = {name: i for i, name in enumerate(dict.fromkeys(j.scenario for rep in repetitions for j in rep))}
    tallies = sorted(found.values(), key=lambda t: (order[t.scenario], t.kind != CLAIM, t.line))
    return Stability(n, tallies, failed)
