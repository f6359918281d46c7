"""stability.*: the same cells run N times (`siolab run --repeat N`), each claim's verdict and
each expectation's outcome tallied over the repetitions (`checks.stability`); one that is not
unanimous is marked unstable in every output:

    stability.md  stability.html  stability.json  stability.junit.xml   in the run folder
    render_text                                                         the terminal summary

The run folder holds rep-1/ … rep-N/, each a complete run folder (or, with --all, a folder of
them); `build(run_dir)` rebuilds every repetition's reports and these from the folder alone.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..core import redaction
from ..checks.stability import CLAIM, EXPECTATION, Judged, Stability, Tally, tally
from .html import CSP, STYLE
from .index import run_dirs_under, write_index
from .model import RunReport

REP_PREFIX = "rep-"
SCHEMA = "siolab.stability/1"


@dataclass
class StabilityReport:
    run_dir: Path
    stability: Stability
    runs: list[list[RunReport]]      # per repetition, every scenario's judged run

    @property
    def ok(self) -> bool:
        return self.stability.ok

    @property
    def verdict(self) -> str:
        return "UNSTABLE" if self.stability.unstable else "PASS" if self.ok else "FAIL"


def rep_dirs(run_dir: Path) -> list[Path]:
    """rep-1/ … rep-N/ under a repeated run's folder, in number order."""
    found = [p for p in Path(run_dir).glob(REP_PREFIX + "*") if p.is_dir() and p.name[len(REP_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(REP_PREFIX):]))


def runs_in(rep: Path) -> list[Path]:
    """The run folders of one repetition: itself (one scenario), or those under it (--all)."""
    return [rep] if (rep / "run.json").is_file() else run_dirs_under(rep)


def judged(r: RunReport) -> Judged:
    return Judged(r.scenario.name, {c.cell.id: c.checks for c in r.cells}, r.claims,
                  frozenset(c.cell.id for c in r.cells if not c.judged), r.ok)


def from_reports(run_dir: Path, runs: list[list[RunReport]]) -> StabilityReport:
    return StabilityReport(Path(run_dir), tally([[judged(r) for r in rep] for rep in runs]), runs)


def build(run_dir: Path) -> StabilityReport:
    """Every repetition's reports rebuilt (and its index, with several scenarios), then stability.*."""
    from . import build as build_one

    runs = []
    for rep in rep_dirs(run_dir):
        reports = [build_one(d) for d in runs_in(rep)]
        if not (rep / "run.json").is_file():
            write_index(rep, reports)
        runs.append(reports)
    report = from_reports(run_dir, runs)
    write(report)
    return report


def write(report: StabilityReport) -> dict[str, Path]:
    d = report.run_dir
    scrub = redaction.current()
    paths = {"md": d / "stability.md", "html": d / "stability.html", "json": d / "stability.json",
             "junit": d / "stability.junit.xml"}
    paths["md"].write_text(scrub.text(render_markdown(report)), encoding="utf-8")
    paths["html"].write_text(scrub.text(render_html(report)), encoding="utf-8")
    paths["json"].write_text(json.dumps(scrub.data(to_json(report)), indent=2, ensure_ascii=False), encoding="utf-8")
    paths["junit"].write_text(scrub.text(render_junit(report)), encoding="utf-8")
    return paths


# -- words shared by every output --------------------------------------------------------

def status(t: Tally) -> str:
    if t.unstable:
        return "unstable"
    if t.failures:
        return "changed" if t.kind == CLAIM else "failed"
    return "stable"


def _what(t: Tally) -> str:
    return f"claim {t.name}" if t.kind == CLAIM else f"expectation {t.name} (line {t.line})"


def disagreement(t: Tally) -> list[str]:
    """Each cell that disagreed with itself, with its verdicts or outcomes in repetition order."""
    return [f"{cell}: {', '.join(t.cells[cell])}" for cell in t.disagreeing]


def _summary(report: StabilityReport) -> str:
    s = report.stability
    parts = []
    claims = sum(t.kind == CLAIM for t in s.unstable)
    exps = sum(t.kind == EXPECTATION for t in s.unstable)
    if claims or exps:
        parts.append(" and ".join(p for p in (f"{claims} claim{'s' * (claims != 1)}" if claims else "",
                                               f"{exps} expectation{'s' * (exps != 1)}" if exps else "") if p)
                     + " unstable")
    if s.failed:
        parts.append("failed: " + ", ".join(f"rep-{k} {name}" for k, name in s.failed))
    return "; ".join(parts) or "every claim and expectation came out the same in every repetition"


def _rel(report: StabilityReport, path: Path) -> str:
    return str(path.relative_to(report.run_dir))


# -- terminal ---------------------------------------------------------------------------

def render_text(report: StabilityReport) -> str:
    s = report.stability
    lines = [f"stability over {s.repetitions} repetitions: {report.verdict} ({_summary(report)})"]
    width = max((len(_what(t)) for t in s.tallies), default=0)
    for t in s.tallies:
        flag = status(t).upper() if t.unstable or t.failures else status(t)
        lines.append(f"  {t.scenario:<28} {_what(t):<{width}}  {flag:<8}  {t.tally_text()}")
        lines += [f"      {d}" for d in disagreement(t)]
    lines.append(f"\n{report.verdict}  report: {report.run_dir / 'stability.md'}")
    return redaction.current().text("\n".join(lines))


# -- Markdown ---------------------------------------------------------------------------

def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(report: StabilityReport, kind: str) -> list[str]:
    rows = [t for t in report.stability.tallies if t.kind == kind]
    if not rows:
        return []
    head = "verdict" if kind == CLAIM else "outcome (cells × repetitions)"
    out = [f"## {'Claims' if kind == CLAIM else 'Expectations'}", "",
           f"| scenario | {kind} | line | {head} | stability | cells that disagreed |", "|---|---|---|---|---|---|"]
    for t in rows:
        st = status(t)
        out.append(f"| `{t.scenario}` | `{_md(t.name)}` | {t.line} | {_md(t.tally_text())} | "
                   f"{f'**{st}**' if st != 'stable' else st} | "
                   + ("<br>".join(f"`{_md(d)}`" for d in disagreement(t)) or "—") + " |")
    return out + [""]


def render_markdown(report: StabilityReport) -> str:
    s = report.stability
    names = list(dict.fromkeys(r.scenario.name for rep in report.runs for r in rep))
    lines = [f"# siolab: stability over {s.repetitions} repetitions", "",
             f"Scenario{'s' * (len(names) != 1)} {', '.join(f'`{n}`' for n in names)} · run `{report.run_dir.name}` "
             f"· verdict: **{report.verdict}** ({_summary(report)}) · also as [HTML](stability.html), "
             "[JSON](stability.json), [JUnit XML](stability.junit.xml)", "",
             "A claim is unstable when its verdict was not the same in every repetition; an expectation, when "
             "some cell's outcome was not. The cells that disagreed are listed with their verdicts or outcomes "
             "in repetition order.", "",
             "## Repetitions", "", "| repetition | scenario | verdict | cells that met every expectation | report |",
             "|---|---|---|---|---|"]
    for k, rep in enumerate(report.runs, 1):
        for r in rep:
            rel = _rel(report, r.run_dir / "report.md")
            lines.append(f"| rep-{k} | `{r.scenario.name}` | {'PASS' if r.ok else 'FAIL'} | "
                         f"{sum(c.ok for c in r.cells)}/{len(r.cells)} | [{rel}]({rel}) |")
    lines.append("")
    lines += _table(report, CLAIM)
    lines += _table(report, EXPECTATION)
    return "\n".join(lines)


# -- HTML -------------------------------------------------------------------------------

def _badge(text: str) -> str:
    kind = {"stable": "pass", "PASS": "pass", "unstable": "error", "UNSTABLE": "error"}.get(text, "fail")
    return f'<span class="badge {kind}">{escape(text)}</span>'


def _html_table(report: StabilityReport, kind: str) -> str:
    rows = [t for t in report.stability.tallies if t.kind == kind]
    if not rows:
        return ""
    head = "verdict" if kind == CLAIM else "outcome (cells × repetitions)"
    body = "".join(
        f"<tr><td><code>{escape(t.scenario)}</code></td><td><code>{escape(t.name)}</code>"
        f"{f'<br><span class=muted>{escape(t.text)}</span>' if t.text else ''}</td><td>{t.line}</td>"
        f"<td>{escape(t.tally_text())}</td><td>{_badge(status(t))}</td>"
        f"<td>{'<br>'.join(f'<code>{escape(d)}</code>' for d in disagreement(t)) or '—'}</td></tr>"
        for t in rows)
    return (f"<h2>{'Claims' if kind == CLAIM else 'Expectations'}</h2><table><tr><th>scenario</th><th>{kind}</th>"
            f"<th>line</th><th>{head}</th><th>stability</th><th>cells that disagreed</th></tr>{body}</table>")


def render_html(report: StabilityReport) -> str:
    s = report.stability
    title = f"siolab: stability over {s.repetitions} repetitions"
    reps = "".join(
        f"<tr><td>rep-{k}</td><td><code>{escape(r.scenario.name)}</code></td>"
        f"<td>{_badge('PASS' if r.ok else 'FAIL')}</td><td>{sum(c.ok for c in r.cells)}/{len(r.cells)}</td>"
        f'<td><a href="{escape(_rel(report, r.run_dir / "report.html"))}">{escape(_rel(report, r.run_dir / "report.html"))}'
        f"</a></td></tr>"
        for k, rep in enumerate(report.runs, 1) for r in rep)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<p>run <code>{escape(report.run_dir.name)}</code> · verdict {_badge(report.verdict)} · "
            f"{escape(_summary(report))}</p>"
            "<p class=muted>A claim is unstable when its verdict was not the same in every repetition; an "
            "expectation, when some cell's outcome was not. The cells that disagreed are listed with their "
            "verdicts or outcomes in repetition order.</p>"
            "<h2>Repetitions</h2><table><tr><th>repetition</th><th>scenario</th><th>verdict</th>"
            f"<th>cells that met every expectation</th><th>report</th></tr>{reps}</table>"
            f"{_html_table(report, CLAIM)}{_html_table(report, EXPECTATION)}</body></html>\n")


# -- JSON -------------------------------------------------------------------------------

def _tally_json(t: Tally) -> dict[str, Any]:
    return {"scenario": t.scenario, "name": t.name, "text": t.text, "line": t.line, "status": status(t),
            "unstable": t.unstable, "counts": t.counts, "tally": t.tally_text(), "cells": t.cells,
            "disagreeing": t.disagreeing}


def to_json(report: StabilityReport) -> dict[str, Any]:
    s = report.stability
    return {
        "schema": SCHEMA, "run": report.run_dir.name, "repetitions": s.repetitions, "ok": report.ok,
        "verdict": report.verdict,
        "runs": [{"repetition": k, "scenario": r.scenario.name, "ok": r.ok,
                  "report": _rel(report, r.run_dir / "report.json")}
                 for k, rep in enumerate(report.runs, 1) for r in rep],
        "failed": [{"repetition": k, "scenario": name} for k, name in s.failed],
        "claims": [_tally_json(t) for t in s.tallies if t.kind == CLAIM],
        "expectations": [_tally_json(t) for t in s.tallies if t.kind == EXPECTATION],
    }


# -- JUnit ------------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def render_junit(report: StabilityReport) -> str:
    """One test case per claim and per expectation; unstable (or failed, or changed) is a <failure> with the tally."""
    s = report.stability
    cases, failures = [], 0
    for t in s.tallies:
        case = ET.Element("testcase", classname=f"{t.scenario}.{'claims' if t.kind == CLAIM else 'expectations'}",
                          name=_xml(f"{t.name} (line {t.line})"), time="0")
        st = status(t)
        if st != "stable":
            failures += 1
            fail = ET.SubElement(case, "failure", type=st, message=_xml(
                f"{st} over {s.repetitions} repetitions: {t.tally_text()}"))
            fail.text = _xml("\n".join(([t.text] if t.text else []) + (
                ["cells that disagreed (verdicts in repetition order):"] + disagreement(t) if t.disagreeing else [])))
        cases.append(case)
    suites = ET.Element("testsuites", name="siolab.stability", tests=str(len(cases)), failures=str(failures),
                        errors="0")
    suite = ET.SubElement(suites, "testsuite", name="stability", tests=str(len(cases)), failures=str(failures),
                          errors="0", skipped="0", time="0")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run", value=report.run_dir.name)
    ET.SubElement(props, "property", name="repetitions", value=str(s.repetitions))
    suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
