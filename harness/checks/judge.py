"""Judging: measured figures against the scenario's expectations and claims.

An expectation holds or fails in each cell it applies to. A claim gets, per cell, a
verdict: supported (its `supported_if` all hold), refuted (its `refuted_if` all hold),
or no evidence; across cells, refuted wins over supported (one counter-example refutes),
and the deciding cells are named. A claim whose file records a verdict (`verdict:`) and
whose cells all ran is *changed* when the measured verdict differs: the run fails, which
is what makes the catalogue a regression suite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.conditions import parse_condition
from . import Finding

if TYPE_CHECKING:    # the scenario's data, as the lab loads it; judging never imports the lab
    from ..lab.scenario import Cell, Claim, Expectation

SUPPORTED, REFUTED, NO_EVIDENCE = "supported", "refuted", "no evidence"


@dataclass
class CheckResult:
    cell: str
    metric: str
    condition: str
    value: Any
    ok: bool
    why: str = ""
    line: int = 0
    premise_failed: str = ""   # not judged: the expectation's premise (`given`) did not hold in the cell, and why

    @property
    def judged(self) -> bool:
        return not self.premise_failed


@dataclass
class ClaimVerdict:
    claim: Claim
    verdict: str
    cells: dict[str, str] = field(default_factory=dict)      # cell id -> verdict
    deciding: list[str] = field(default_factory=list)        # cell ids that decided it
    complete: bool = True     # every cell the claim covers ran and was judged (not a filtered run)
    premise_failed: dict[str, str] = field(default_factory=dict)   # cell id -> why it is no evidence there
    your_app: bool = False    # judged on an app of yours: the recorded verdict is the reference app's

    @property
    def changed(self) -> bool:
        """The measured verdict differs from the one the scenario file records."""
        return (self.complete and not self.your_app and self.claim.recorded is not None
                and self.verdict != self.claim.recorded)


def conditions_hold(conds: dict[str, Any], findings: dict[str, Finding]) -> bool:
    return all(parse_condition(c).holds(findings[m].value) for m, c in conds.items())


def premise_failure(given: dict[str, Any], findings: dict[str, Finding]) -> str:
    """'' when the premise holds; else which of its conditions failed, with what was measured."""
    failed = []
    for name, cond in given.items():
        c = parse_condition(cond)
        value = findings[name].value
        if not c.holds(value):
            failed.append(f"{name} {c.text} (measured {value!r})")
    return "; ".join(failed)


def check_expectations(cell: Cell, findings: dict[str, Finding], expectations: list[Expectation]) -> list[CheckResult]:
    out = []
    for exp in expectations:
        if not cell.matches(exp.where):
            continue
        unmet = premise_failure(exp.given, findings)
        for name, cond in exp.that.items():
            c = parse_condition(cond)
            value = findings[name].value
            out.append(CheckResult(cell.id, name, c.text, value, True if unmet else c.holds(value), exp.why, exp.line,
                                   premise_failed=unmet))
    return out


def judge_claims(cells: list[tuple[Cell, dict[str, Finding]]], claims: list[Claim],
                 planned: list[Cell] | None = None) -> list[ClaimVerdict]:
    """`planned`: every cell of the scenario; a claim with a planned cell that was not judged
    (filtered out, or it could not run) is incomplete and never counts as changed."""
    judged_ids = {cell.id for cell, _ in cells}
    verdicts = []
    for claim in claims:
        complete = all(c.id in judged_ids for c in (planned or []) if c.matches(claim.where))
        per_cell, unmet = {}, {}
        for cell, findings in cells:
            if not cell.matches(claim.where):
                continue
            why = premise_failure(claim.given, findings)
            if why:
                per_cell[cell.id] = NO_EVIDENCE
                unmet[cell.id] = why
            elif conditions_hold(claim.refuted_if, findings):
                per_cell[cell.id] = REFUTED
            elif conditions_hold(claim.supported_if, findings):
                per_cell[cell.id] = SUPPORTED
            else:
                per_cell[cell.id] = NO_EVIDENCE
        # A cell whose premise failed is like a cell that did not run: the verdict may lack it.
        complete = complete and not unmet
        refuting = [c for c, v in per_cell.items() if v == REFUTED]
        supporting = [c for c, v in per_cell.items() if v == SUPPORTED]
        if refuting:
            verdicts.append(ClaimVerdict(claim, REFUTED, per_cell, refuting, complete, premise_failed=unmet))
        elif supporting:
            verdicts.append(ClaimVerdict(claim, SUPPORTED, per_cell, supporting, complete, premise_failed=unmet))
        else:
            verdicts.append(ClaimVerdict(claim, NO_EVIDENCE, per_cell, [], complete, premise_failed=unmet))
    return verdicts
