"""`--repeat N`: the tally of verdicts and outcomes over repetitions, from hand-built judged results,
and the stability reports that mark what was not unanimous in every format."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from harness.checks.judge import NO_EVIDENCE, REFUTED, SUPPORTED, CheckResult, ClaimVerdict
from harness.checks.stability import CLAIM, EXPECTATION, FAILED, HELD, NO_PREMISE, NOT_JUDGED, Judged, tally
from harness.reports import stability as report
from harness.lab.scenario import Claim

CLAIM_A = Claim("stale-sid", "The close packet gets a 400", {}, {"stale_sid_400": ">= 1"}, {}, 40, recorded=SUPPORTED)
CLAIM_B = Claim("no-loss", "No session is lost", {}, {}, {}, 50)


def verdict(claim: Claim, cells: dict[str, str]) -> ClaimVerdict:
    values = set(cells.values())
    v = REFUTED if REFUTED in values else SUPPORTED if SUPPORTED in values else NO_EVIDENCE
    return ClaimVerdict(claim, v, dict(cells), [c for c, x in cells.items() if x == v])


def check(cell: str, ok: bool, metric: str = "stale_sid_400", condition: str = ">= 1", line: int = 30) -> CheckResult:
    return CheckResult(cell, metric, condition, 1 if ok else 0, ok, "the client's close packet", line)


def judged(scenario: str = "stale", *, a=None, b=None, ok=True, unjudged=(), cells=("c1", "c2")) -> Judged:
    a = a or {c: SUPPORTED for c in cells}
    results = {c: [check(c, c not in unjudged and ok)] for c in cells}
    claims = [verdict(CLAIM_A, a)] + ([verdict(CLAIM_B, b)] if b else [])
    return Judged(scenario, results, claims, frozenset(unjudged), ok)


def by_name(stability, name):
    (t,) = [t for t in stability.tallies if t.name == name]
    return t


def test_unanimous_repetitions_are_stable():
    s = tally([[judged()], [judged()], [judged()]])
    assert s.ok and s.unstable == [] and s.failed == []
    claim = by_name(s, "stale-sid")
    assert claim.counts == {SUPPORTED: 3} and claim.tally_text() == "supported 3/3"
    exp = by_name(s, "stale_sid_400 >= 1")
    assert exp.counts == {HELD: 6} and exp.cells == {"c1": [HELD] * 3, "c2": [HELD] * 3}


def test_a_claim_whose_verdict_flips_is_unstable_with_the_cells_that_disagreed():
    flipped = judged(a={"c1": SUPPORTED, "c2": REFUTED})
    s = tally([[judged()], [flipped], [judged()]])
    claim = by_name(s, "stale-sid")
    assert claim.unstable and claim.counts == {SUPPORTED: 2, REFUTED: 1}
    assert claim.tally_text() == "supported 2/3, refuted 1/3"
    assert claim.disagreeing == ["c2"] and claim.cells["c2"] == [SUPPORTED, REFUTED, SUPPORTED]
    assert claim.failures == 1        # the refuted repetition changed the recorded verdict
    assert not s.ok and s.unstable == [claim]


def test_a_cell_flipping_under_a_steady_verdict_is_shown_but_the_claim_stays_stable():
    s = tally([[judged(a={"c1": SUPPORTED, "c2": SUPPORTED})], [judged(a={"c1": SUPPORTED, "c2": NO_EVIDENCE})]])
    claim = by_name(s, "stale-sid")
    assert not claim.unstable and claim.counts == {SUPPORTED: 2}
    assert claim.disagreeing == ["c2"]


def test_an_expectation_failing_in_one_repetition_is_unstable():
    rep2 = judged(ok=False)
    rep2.checks["c1"][0] = check("c1", True)      # only c2 failed in repetition 2
    s = tally([[judged()], [rep2], [judged()]])
    exp = by_name(s, "stale_sid_400 >= 1")
    assert exp.unstable and exp.counts == {HELD: 5, FAILED: 1}
    assert exp.disagreeing == ["c2"] and exp.cells["c2"] == [HELD, FAILED, HELD]
    assert s.failed == [(2, "stale")]


def test_an_expectation_failing_every_time_is_failed_not_unstable():
    s = tally([[judged(ok=False)], [judged(ok=False)]])
    exp = by_name(s, "stale_sid_400 >= 1")
    assert not exp.unstable and exp.failures == 4
    assert report.status(exp) == "failed"
    assert s.unstable == [] and not s.ok and s.failed == [(1, "stale"), (2, "stale")]


def test_a_cell_that_could_not_run_once_is_its_own_outcome():
    s = tally([[judged()], [judged(unjudged=("c1",), a={"c2": SUPPORTED})]])
    exp = by_name(s, "stale_sid_400 >= 1")
    assert exp.cells["c1"] == [HELD, NOT_JUDGED] and exp.unstable
    claim = by_name(s, "stale-sid")
    assert claim.cells["c1"] == [SUPPORTED, NOT_JUDGED] and not claim.unstable


def test_an_expectation_whose_premise_failed_once_is_unstable_but_not_failed():
    rep2 = judged()
    rep2.checks["c1"][0].premise_failed = "transport_before_fault == polling (measured 'websocket')"
    s = tally([[judged()], [rep2]])
    exp = by_name(s, "stale_sid_400 >= 1")
    assert exp.cells["c1"] == [HELD, NO_PREMISE] and exp.unstable and exp.failures == 0
    assert exp.counts == {HELD: 3, NO_PREMISE: 1}


def test_a_claim_missing_from_a_repetition_counts_as_not_judged():
    s = tally([[judged(b={"c1": SUPPORTED})], [judged()]])
    claim = by_name(s, "no-loss")
    assert claim.counts == {SUPPORTED: 1, NOT_JUDGED: 1} and claim.unstable


def test_order_is_the_plan_then_claims_then_expectations_by_line():
    rep = [judged("zeta", b={"c1": SUPPORTED}), judged("alpha")]
    rep[0].checks["c1"].append(check("c1", True, "new_sid", "exists", line=20))
    s = tally([rep, rep])
    assert [(t.scenario, t.kind, t.name) for t in s.tallies] == [
        ("zeta", CLAIM, "stale-sid"), ("zeta", CLAIM, "no-loss"),
        ("zeta", EXPECTATION, "new_sid exists"), ("zeta", EXPECTATION, "stale_sid_400 >= 1"),
        ("alpha", CLAIM, "stale-sid"), ("alpha", EXPECTATION, "stale_sid_400 >= 1")]


def _report(tmp_path: Path) -> report.StabilityReport:
    reps = [[judged()], [judged(a={"c1": SUPPORTED, "c2": REFUTED})]]
    runs = [[SimpleNamespace(scenario=SimpleNamespace(name="stale"), ok=True, run_dir=tmp_path / f"rep-{k}",
                             cells=[SimpleNamespace(ok=True)] * 2)] for k in (1, 2)]
    return report.StabilityReport(tmp_path, tally(reps), runs)


def test_every_format_marks_the_unstable_claim_and_not_the_stable_expectation(tmp_path: Path):
    r = _report(tmp_path)
    assert r.verdict == "UNSTABLE" and not r.ok
    text = report.render_text(r)
    assert "UNSTABLE  refuted 1/2, supported 1/2" in text and "c2: supported, refuted" in text
    assert "stable    held 4/4" in text
    md = report.render_markdown(r)
    assert "| `stale` | `stale-sid` | 40 | refuted 1/2, supported 1/2 | **unstable** | `c2: supported, refuted` |" in md
    assert "| `stale` | `stale_sid_400 >= 1` | 30 | held 4/4 | stable | — |" in md
    assert "[rep-2/report.md](rep-2/report.md)" in md
    html = report.render_html(r)
    assert '<span class="badge error">unstable</span>' in html and "refuted 1/2, supported 1/2" in html
    data = report.to_json(r)
    assert data["ok"] is False and data["verdict"] == "UNSTABLE"
    assert data["claims"][0]["unstable"] is True and data["claims"][0]["counts"] == {SUPPORTED: 1, REFUTED: 1}
    assert data["expectations"][0]["status"] == "stable"
    suite = ET.fromstring(report.render_junit(r))
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    fail = cases["stale-sid (line 40)"].find("failure")
    assert fail is not None and fail.get("type") == "unstable"
    assert fail.get("message") == "unstable over 2 repetitions: refuted 1/2, supported 1/2"
    assert "c2: supported, refuted" in fail.text
    assert cases["stale_sid_400 >= 1 (line 30)"].find("failure") is None
    assert suite.get("failures") == "1"
    paths = report.write(r)
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(data))
