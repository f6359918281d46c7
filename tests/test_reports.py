"""Reports: the RCA in Markdown, self-contained HTML (checked in Chromium), JSON, JUnit XML,
the catalogue index, and redaction: planted secrets never reach a file the lab writes."""
from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml

from harness.core import redaction
from harness.reports import build, build_all, judge_run, write_index

from . import lab_runs
from .conftest import require

SECTIONS = ("## Incident", "## Timeline", "### Sequence of the decisive seconds", "```mermaid", "sequenceDiagram",
            "## Hypothesis board", "### Deciding events", "### Rejected hypotheses", "## Root cause",
            "## What the recording shows", "## Fix and its validation", "## Prevention", "## Verdict table", "## Cells")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    from harness.clients.browser import find_chromium

    require(find_chromium() is not None, "no Chromium found (make setup installs Debian's chromium)")
    return lab_runs.catalogue_browser_runs(tmp_path_factory.getbasetemp())


# -- redaction, as a unit ---------------------------------------------------------------------------
def test_redaction_of_text_urls_headers_and_signed_values(monkeypatch):
    monkeypatch.setenv("SIOLAB_REDACT", "x-tenant, sso_ticket")
    r = redaction.current()
    line = '127.0.0.1 - - [x] "GET /login?user=a&token=s3cr3t&sso_ticket=T1&sid=KEEP&EIO=4&t=abc HTTP/1.1" 302 -'
    out = r.text(line)
    assert "s3cr3t" not in out and "T1&" not in out and "sid=KEEP" in out and "EIO=4" in out and "t=abc" in out
    assert r.text("Cookie: session=abc; theme=dark") == "Cookie: [redacted by siolab]"
    assert "abcdefghijklmnopq" not in r.text("Authorization: Bearer abcdefghijklmnopq")
    assert "zzzzzzzzzzzzzzzzzz" not in r.text("next=%2F%3Ftoken%3Dzzzzzzzzzzzzzzzzzz%26a%3D1")
    flask_cookie = "eyJ1c2VyIjoiYWxpY2UifQ.aR7nMA.q3k2Jx0u9Vh8sYf1mZbT4cW7eLd"
    assert flask_cookie not in r.text(f"set it to {flask_cookie} please")
    assert r.text(r.text(line)) == r.text(line)          # idempotent
    data = r.data({"headers": [{"name": "X-Tenant", "value": "acme"}, {"name": "Accept", "value": "*/*"}],
                   "cookies": [{"name": "a", "value": "b"}], "token": "t", "sid": "S", "nested": {"password": "p"}})
    assert data["headers"][0]["value"] == redaction.REDACTED and data["headers"][1]["value"] == "*/*"
    assert data["cookies"] == [] and data["token"] == redaction.REDACTED and data["sid"] == "S"
    assert data["nested"]["password"] == redaction.REDACTED


def test_the_fields_checks_need_are_never_redacted(monkeypatch):
    monkeypatch.setenv("SIOLAB_REDACT", "sid,transport,EIO,t")
    url = "/socket.io/?EIO=4&transport=polling&t=x&sid=ABC"
    assert redaction.current().text(url) == url


def test_timeline_redacts_every_event(tmp_path, monkeypatch):
    from harness.core.timeline import Timeline, load

    monkeypatch.setenv("SIOLAB_REDACT", "sso_ticket")
    with Timeline(tmp_path / "t.jsonl") as tl:
        tl.record("browser", "http.request", {"url": "http://h/login?sso_ticket=SECRET1&token=SECRET2", "sid": None})
        tl.record("server", "log", {"line": "Authorization: Bearer SECRET3SECRET3SECRET3"})
    text = (tmp_path / "t.jsonl").read_text()
    assert not any(s in text for s in ("SECRET1", "SECRET2", "SECRET3"))
    assert "sso_ticket=[redacted]" in text and len(load(tmp_path / "t.jsonl")) == 2


# -- the reports of real runs ---------------------------------------------------------------------------
def test_every_run_writes_the_four_reports_in_the_rca_layout(runs):
    for name, run_dir in runs.items():
        for f in ("report.md", "report.html", "report.json", "report.junit.xml"):
            assert (run_dir / f).is_file(), f"{name}: {f}"
        md = (run_dir / "report.md").read_text()
        missing = [s for s in SECTIONS if s not in md]
        if not json.loads((run_dir / "report.json").read_text())["claims"]:
            missing = [s for s in missing if "Hypothesis" not in s and "Deciding" not in s and "Rejected" not in s]
        assert not missing, f"{name}: report.md lacks {missing}"


def test_stale_sid_report_names_the_request_the_body_and_the_figures(runs):
    md = (runs["stale-sid-after-restart"] / "report.md").read_text()
    assert "POST close" in md                                  # the old-sid request
    assert "Invalid session" in md                             # the server's answer, quoted
    for figure in ("stale_sid_400", "old_sid_failure", "time_to_new_sid", "handshakes_while_down"):
        assert f"`{figure}`" in md
    assert "### Naive vs fixed singleton" in md and "| naive | fixed |" in md
    timeline = md.split("## Timeline", 1)[1].split("## Hypothesis board", 1)[0]
    assert "since the fault" in timeline and "`+0.000 s` | harness | fault" in timeline
    mermaid = md.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "participant client as Browser" in mermaid and "participant server as Server" in mermaid
    assert "->>" in mermaid and ";" not in mermaid and "#" not in mermaid


def test_a_scenario_without_faults_is_timed_from_its_first_request(runs):
    md = (runs["connect-refused"] / "report.md").read_text()
    assert "since the first Socket.IO request" in md
    assert "`refusal_status` measured" in md


def test_json_is_deterministic_and_carries_verdicts_and_figures(runs, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["stale-sid-after-restart"], run_dir)
    build(run_dir)
    first = (run_dir / "report.json").read_text()
    build(run_dir)
    assert (run_dir / "report.json").read_text() == first
    data = json.loads(first)
    original = json.loads((runs["stale-sid-after-restart"] / "report.json").read_text())
    assert data["cells"] == original["cells"] and data["claims"] == original["claims"]
    assert data["schema"] == "siolab.report/1" and {"cells", "claims", "comparison", "versions"} <= data.keys()
    cell = data["cells"][0]
    assert {"figures", "checks", "artifacts", "t_fault"} <= cell.keys() and "stale_sid_400" in cell["figures"]
    assert any(c["evidence"] for c in data["claims"])


def test_junit_has_one_case_per_cell_and_expectation_and_failures_say_measured_vs_expected(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs["stale-sid-after-restart"], run_dir)
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    scenario["expect"].append({"where": {"transport": "polling", "fault": "rst-after-listen"},
                               "that": {"stale_sid_400": ">= 99"}, "why": "planted to fail"})
    # Record for the first claim a verdict other than the one this run measured.
    flipped = scenario["claims"][0]
    measured = next(c["verdict"] for c in json.loads((run_dir / "report.json").read_text())["claims"]
                    if c["id"] == flipped["id"])
    flipped["verdict"] = "supported" if measured != "supported" else "refuted"
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    report = build(run_dir)
    root = ET.parse(run_dir / "report.junit.xml").getroot()
    cases = root.findall(".//testcase")
    claim_cases = [v for v in report.claims if v.complete and v.claim.recorded]
    assert len(cases) == sum(len(c.checks) if c.judged else 1 for c in report.cells) + len(claim_cases)
    changed = [f for f in root.findall(".//testcase/failure") if f.get("type") == "verdict"]
    assert f"claim {flipped['id']}" in [f.get("message").split(":")[0] for f in changed]
    assert not report.ok
    failures = root.findall(".//testcase/failure")
    planted = [c for c in report.cells if c.cell.params.get("transport") == "polling"
               and c.cell.params.get("fault") == "rst-after-listen" and c.judged]
    assert planted and len([f for f in failures if "stale_sid_400 >= 99" in f.get("message")]) == len(planted)
    sample = next(f for f in failures if "stale_sid_400 >= 99" in f.get("message"))
    assert sample.get("message").startswith("expected stale_sid_400 >= 99, measured ")
    assert "planted to fail" in sample.text
    assert root.get("failures") == str(len(failures))


def test_html_is_self_contained_and_clean_in_chromium(runs):
    run_dir = runs["stale-sid-after-restart"]
    report = judge_run(run_dir)
    facts = lab_runs.open_in_chromium(run_dir / "report.html", click="#only-failing")
    assert [u for u in facts["requests"] if not u.startswith("file://")] == []
    assert facts["problems"] == []
    assert facts["charts"] == sum(1 for c in report.cells if c.judged)
    assert facts["sequences"] >= 1
    if facts["ok_rows_visible_before"] is not None:
        assert facts["ok_rows_visible_before"] and not facts["ok_rows_visible_after"]
    artifacts = [h for h in facts["links"] if h.startswith("cells/")]
    assert artifacts and all((run_dir / h).is_file() for h in artifacts)
    assert any(h.endswith("trace.zip") for h in artifacts) and any(h.endswith("browser.har") for h in artifacts)
    html = (run_dir / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html.split("<body>", 1)[0]


def test_index_of_a_catalogue_run_links_each_report(runs, tmp_path):
    root = tmp_path / "all"
    root.mkdir()
    for name, run_dir in runs.items():
        shutil.copytree(run_dir, root / name)
    reports = build_all(root)
    assert {r.scenario.name for r in reports} == set(runs)
    index = (root / "index.html").read_text()
    for name in runs:
        assert f'href="{name}/report.html"' in index
    assert "| scenario | verdict |" in (root / "index.md").read_text()
    facts = lab_runs.open_in_chromium(root / "index.html")
    assert [u for u in facts["requests"] if not u.startswith("file://")] == [] and facts["problems"] == []
    write_index(root)   # from the run folders alone
    assert (root / "index.html").read_text() == index


def _written_files(root: Path):
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    yield f"{path}!{name}", z.read(name)
        else:
            yield str(path), path.read_bytes()


def test_planted_secrets_appear_in_no_file_the_lab_wrote(runs):
    root = next(iter(runs.values())).parent
    leaks, files = [], 0
    for name, content in _written_files(root):
        files += 1
        for secret in lab_runs.PLANTED:
            if secret.encode() in content:
                leaks.append(f"{name}: {secret}")
    assert files > 50 and leaks == []
    # The secrets did travel through the run: the server logged the login URL, redacted.
    logs = "\n".join(p.read_text(errors="replace") for p in root.rglob("logs/*.log"))
    assert f"{lab_runs.REDACT_ENV}=[redacted]" in logs or "token=[redacted]" in logs
    hars = [json.loads(p.read_text()) for p in root.rglob("browser.har")]
    set_cookies = [h for har in hars for e in har["log"]["entries"] for h in e["response"]["headers"]
                   if h["name"].lower() == "set-cookie"]
    assert set_cookies and all(h["value"] == redaction.REDACTED for h in set_cookies)
    assert os.environ.get("SIOLAB_REDACT") != lab_runs.REDACT_ENV   # the run restored the environment


def test_a_scenarios_own_root_cause_fix_and_prevention_are_rendered_everywhere(runs, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(runs["stale-sid-after-restart"], run_dir)
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    scenario["root_cause"] = "PLANTED-CAUSE: the close packet carries the old sid."
    scenario["fix"] = ["PLANTED-FIX-1", "PLANTED-FIX-2"]
    scenario["prevention"] = "PLANTED-PREVENTION"
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    build(run_dir)
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    data = json.loads((run_dir / "report.json").read_text())
    for text in ("PLANTED-CAUSE", "PLANTED-FIX-1", "PLANTED-FIX-2", "PLANTED-PREVENTION"):
        assert text in md and text in html
    assert md.index("PLANTED-CAUSE") > md.index("## Root cause") and md.index("PLANTED-PREVENTION") > md.index("## Prevention")
    assert data["root_cause"] == ["PLANTED-CAUSE: the close packet carries the old sid."]
    assert data["fix"] == ["PLANTED-FIX-1", "PLANTED-FIX-2"] and data["prevention"] == ["PLANTED-PREVENTION"]
    # Without them, the JSON has no such keys (reports of older runs rebuild identical).
    original = json.loads((runs["stale-sid-after-restart"] / "report.json").read_text())
    assert not {"root_cause", "fix", "prevention"} & original.keys()


# -- the catalogue index, from small judged runs (no lab run needed) ------------------------------------
SAVED_RUN = Path(__file__).parent / "fixtures" / "saved-run"   # one python cell of stale-sid-after-restart
SAVED_CELL = "reloader-python-polling-restart"


def _small_run(root: Path, name: str, *, transports: list[str], recorded: str, planted_failure: bool) -> Path:
    """The saved run under another name: its matrix cut to the saved cell (and, with two transports, one
    cell that did not run), one claim about it recorded as `recorded`, and maybe an expectation that fails."""
    run_dir = root / name
    shutil.copytree(SAVED_RUN, run_dir)
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    scenario["name"] = name
    scenario["matrix"] = [{"mode": ["reloader"], "client": ["python"], "transport": transports, "fault": ["restart"]}]
    scenario["claims"] = [{"id": "python-never-resends-old-sid", "text": "python-socketio never resends the old sid",
                           "verdict": recorded, "where": {"transport": "polling"},
                           "supported_if": {"stale_sid_400": "== 0"}, "refuted_if": {"stale_sid_400": ">= 1"}}]
    scenario["expect"] = [{"that": {"recovered": True}}]
    if planted_failure:
        scenario["expect"].append({"that": {"stale_sid_400": ">= 99"}, "why": "planted to fail"})
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return run_dir


def test_index_is_one_row_per_scenario_with_failing_cells_and_changed_claims(tmp_path):
    root = tmp_path / "all"
    root.mkdir()
    _small_run(root, "a-failing", transports=["polling", "default"], recorded="refuted", planted_failure=True)
    _small_run(root, "b-passing", transports=["polling"], recorded="supported", planted_failure=False)
    errored = _small_run(root, "c-errored", transports=["polling", "default"], recorded="supported", planted_failure=False)
    meta = json.loads((errored / "run.json").read_text())
    meta["cells"].append({"id": "reloader-python-default-restart", "params": {**meta["cells"][0]["params"], "transport": "default"},
                          "seconds": 1.0, "error": "planted: the cell could not run", "error_kind": None})
    (errored / "run.json").write_text(json.dumps(meta))
    reports = {r.scenario.name: r for r in build_all(root)}
    failing, passing = reports["a-failing"], reports["b-passing"]
    assert not failing.ok and passing.ok and not reports["c-errored"].ok
    assert [v.claim.id for v in failing.changed_claims] == ["python-never-resends-old-sid"]
    assert not reports["c-errored"].changed_claims
    seconds = json.loads((SAVED_RUN / "run.json").read_text())["cells"][0]["seconds"]

    md = (root / "index.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in md.splitlines() if line.startswith("| [")}
    assert set(rows) == {f"[`{n}`]({n}/report.md)" for n in ("a-failing", "b-passing", "c-errored")}
    header = next(line for line in md.splitlines() if line.startswith("| scenario |"))
    assert len(header.strip().strip("|").split("|")) == len(rows["[`b-passing`](b-passing/report.md)"]) == 6
    bad = rows["[`a-failing`](a-failing/report.md)"]
    assert bad[1] == "FAIL" and bad[2] == "0/1 (1 not run)" and bad[3] == f"{seconds:.1f} s"
    assert bad[4] == "`python-never-resends-old-sid` (recorded refuted, measured supported)"
    assert bad[5] == f"[`{SAVED_CELL}`](a-failing/report.md#{SAVED_CELL})"
    good = rows["[`b-passing`](b-passing/report.md)"]
    assert good[1:] == ["PASS", "1/1", f"{seconds:.1f} s", "—", "—"]
    assert rows["[`c-errored`](c-errored/report.md)"][1:] == [
        "FAIL", "1/2", f"{seconds + 1.0:.1f} s", "—",
        "[`reloader-python-default-restart`](c-errored/report.md#reloader-python-default-restart) (could not run)"]
    totals = next(line for line in md.splitlines() if line.startswith("**Total**"))
    assert "1 of 3 scenarios passed" in totals and "2/4 cells" in totals and "(1 not run)" in totals
    assert f"{3 * seconds + 1.0:.1f} s summed" in totals and "1 claim changed" in totals
    # The anchor is the one the cell's section in report.md gets (its heading, `### `<cell>``).
    assert f"### `{SAVED_CELL}`" in (root / "a-failing" / "report.md").read_text()

    html = (root / "index.html").read_text()
    assert html.count('<tr class="scenario">') == 3
    assert f'href="a-failing/report.html#cell-{SAVED_CELL}"' in html
    assert f'id="cell-{SAVED_CELL}"' in (root / "a-failing" / "report.html").read_text()
    assert "python-never-resends-old-sid" in html and f"{3 * seconds + 1.0:.1f} s summed" in html
    assert "reloader / python" not in html and "reloader / python" not in md    # no mode × client matrix

    write_index(root)   # from the run folders alone: the same pages
    assert (root / "index.md").read_text() == md and (root / "index.html").read_text() == html


def test_each_repetition_of_a_repeated_catalogue_run_gets_the_same_index(tmp_path):
    from harness.reports import stability

    for k in (1, 2):
        rep = tmp_path / "run" / f"rep-{k}"
        rep.mkdir(parents=True)
        _small_run(rep, "a-failing", transports=["polling"], recorded="refuted", planted_failure=k == 2)
    stability.build(tmp_path / "run")
    first, second = ((tmp_path / "run" / f"rep-{k}" / "index.md").read_text() for k in (1, 2))
    assert "| FAIL | 1/1 |" in first and "`python-never-resends-old-sid` (recorded refuted" in first
    assert "| FAIL | 0/1 |" in second and f"(a-failing/report.md#{SAVED_CELL})" in second
    assert f"(a-failing/report.md#{SAVED_CELL})" not in first
