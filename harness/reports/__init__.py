"""Reports: rebuilt from a run folder alone (`siolab report RUN_DIR`).

`judge_run` reads scenario.yaml, run.json and each cell's timeline and runs the checks
(`model`); the renderers only render what it found, one module per output:

    report.md          markdown.py   the RCA, with a Mermaid sequence diagram
    report.html        html.py       the same, self-contained, with timeline charts
    report.json        json_report.py
    report.junit.xml   junit.py      one test case per cell × expectation
    index.md/.html     index.py      a run of several scenarios: one row per scenario
    stability.*        stability.py  `--repeat N`: each verdict and outcome tallied over the repetitions
    diagnosis.*        diagnosis.py  what `siolab diagnose` found in a real capture

Shared by them: `rca.py` (the RCA's content as data), `sequence.py` (the decisive seconds as
messages, and as Mermaid), `svg.py` (the HTML's drawings), `wording.py` (figures and events in words).

Every file written passes through `harness.core.redaction` once more on the way out.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from ..core import redaction
from . import html, json_report, junit, markdown, rca
from .index import run_dirs_under, write_index
from .model import CellReport, RunReport, judge_run
from .wording import fmt


class ReportFiles(NamedTuple):
    md: Path
    json: Path
    html: Path
    junit: Path


def write(report: RunReport) -> ReportFiles:
    story = rca.build(report)
    redactor = redaction.current()
    d = report.run_dir
    files = ReportFiles(d / "report.md", d / "report.json", d / "report.html", d / "report.junit.xml")
    files.md.write_text(redactor.text(markdown.render(report, story)), encoding="utf-8")
    files.json.write_text(json.dumps(redactor.data(json_report.to_json(report, story)), indent=2, default=str,
                                     ensure_ascii=False), encoding="utf-8")
    files.html.write_text(redactor.text(html.render(report, story)), encoding="utf-8")
    files.junit.write_text(redactor.text(junit.render(report)), encoding="utf-8")
    return files


def build(run_dir: Path) -> RunReport:
    report = judge_run(run_dir)
    write(report)
    return report


def build_all(root: Path) -> list[RunReport]:
    """Every run folder under `root` rebuilt, then root/index.md and index.html over them."""
    reports = [build(d) for d in run_dirs_under(Path(root))]
    write_index(Path(root), reports)
    return reports


render_markdown = markdown.render
to_json = json_report.to_json

__all__ = ["CellReport", "ReportFiles", "RunReport", "build", "build_all", "judge_run", "write", "write_index",
           "render_markdown", "to_json", "fmt"]
