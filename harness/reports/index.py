"""The index of a run of several scenarios (`siolab run --all`, and each repetition of `--repeat N --all`):
one row per scenario, read at a glance. Its verdict, the cells that met every expectation, the time its
cells took, the claims whose measured verdict is not the one recorded, and links to its failing cells; then
a totals line. The matrix of modes and clients is each scenario's own report (its verdict table).

Reads the judged runs (`model.py`); judges nothing itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from ..checks.judge import ClaimVerdict
from ..core import redaction
from . import html as html_mod
from . import markdown as markdown_mod
from .model import RunReport, judge_run

TITLE = "siolab: catalogue run"
FAILING_SHOWN = 12   # failing cells linked one by one; beyond that, the report's verdict table
TIME_NOTE = ("cell time: the seconds of the scenario's cells summed (cells run side by side, so the run's wall "
             "time is shorter)")
NOT_RUN_NOTE = "not run: cells of the scenario's matrix this run did not include (filtered out, or a missing component)"


def run_dirs_under(root: Path) -> list[Path]:
    """The run folders directly under `root` (those with a run.json), in name order."""
    return sorted(p for p in Path(root).iterdir() if (p / "run.json").is_file())


@dataclass(frozen=True)
class Row:
    """One scenario of the run, as the index shows it."""

    report: RunReport
    folder: str                     # the run folder, relative to the index
    failing: list[tuple[str, bool]]  # (cell id, judged) of each cell that did not meet every expectation

    @property
    def name(self) -> str:
        return self.report.scenario.name

    @property
    def cells(self) -> int:
        return len(self.report.cells)

    @property
    def ok_cells(self) -> int:
        return sum(c.ok for c in self.report.cells)

    @property
    def not_run(self) -> int:
        ran = {c.cell.id for c in self.report.cells}
        return sum(c.id not in ran for c in self.report.scenario.cells)

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.report.cells)

    @property
    def changed(self) -> list[ClaimVerdict]:
        return self.report.changed_claims


def rows(root: Path, reports: list[RunReport]) -> list[Row]:
    root = Path(root)
    return [Row(r, Path(r.run_dir).relative_to(root).as_posix(), [(c.cell.id, c.judged) for c in r.cells if not c.ok])
            for r in reports]


def wall_seconds(reports: list[RunReport]) -> float | None:
    """The run's own wall time: from the first start to the last finish run.json records (None if any lacks them)."""
    try:
        starts = [datetime.fromisoformat(r.meta["started"]) for r in reports]
        ends = [datetime.fromisoformat(r.meta["finished"]) for r in reports]
    except (KeyError, TypeError, ValueError):
        return None
    return (max(ends) - min(starts)).total_seconds() if reports else None


def _cells_text(row: Row) -> str:
    return f"{row.ok_cells}/{row.cells}" + (f" ({row.not_run} not run)" if row.not_run else "")


def _change(v: ClaimVerdict) -> str:
    return f"recorded {v.claim.recorded}, measured {v.verdict}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _totals(rows_: list[Row], reports: list[RunReport]) -> list[str]:
    """The totals line's parts, as plain text (both renderers wrap them)."""
    passed = sum(r.report.ok for r in rows_)
    not_run = sum(r.not_run for r in rows_)
    changed = sum(len(r.changed) for r in rows_)
    wall = wall_seconds(reports)
    return [f"{passed} of {_plural(len(rows_), 'scenario')} passed",
            f"{sum(r.ok_cells for r in rows_)}/{sum(r.cells for r in rows_)} cells met every expectation"
            + (f" ({not_run} not run)" if not_run else ""),
            f"cells {sum(r.seconds for r in rows_):.1f} s summed",
            *([f"wall {wall:.1f} s (run.json: first start to last finish)"] if wall is not None else []),
            _plural(changed, "claim") + " changed"]


def render_markdown(root: Path, reports: list[RunReport]) -> str:
    rows_ = rows(root, reports)
    ok = all(r.ok for r in reports)
    lines = [f"# {TITLE}", "", f"{len(reports)} scenarios · verdict: **{'PASS' if ok else 'FAIL'}**", "",
             "| scenario | verdict | cells ok/total | cell time | claims changed | failing cells |",
             "|---|---|---|---|---|---|"]
    for row in rows_:
        report = f"{row.folder}/report.md"
        changed = "; ".join(f"`{v.claim.id}` ({_change(v)})" for v in row.changed) or "—"
        failing = [f"[`{cell}`]({report}#{markdown_mod.cell_anchor(cell)})" + ("" if judged else " (could not run)")
                   for cell, judged in row.failing[:FAILING_SHOWN]]
        if len(row.failing) > FAILING_SHOWN:
            failing.append(f"[{len(row.failing) - FAILING_SHOWN} more]({report}#verdict-table)")
        lines.append(f"| [`{row.name}`]({report}) | {'PASS' if row.report.ok else 'FAIL'} | {_cells_text(row)} "
                     f"| {row.seconds:.1f} s | {changed} | {', '.join(failing) or '—'} |")
    lines += ["", "**Total**: " + " · ".join(_totals(rows_, reports)), "",
              f"cells ok/total: cells that met every expectation / cells that ran; {NOT_RUN_NOTE}. {TIME_NOTE}. "
              "Each scenario's report has its cells by mode and client.", ""]
    return "\n".join(lines)


def _badge(ok: bool) -> str:
    return f'<span class="badge {"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}</span>'


def render_html(root: Path, reports: list[RunReport]) -> str:
    rows_ = rows(root, reports)
    ok = all(r.ok for r in reports)
    body = []
    for row in rows_:
        report = escape(f"{row.folder}/report.html")
        changed = ", ".join(f'<code title="{escape(_change(v))}">{escape(v.claim.id)}</code> '
                            f'<span class="muted">({escape(_change(v))})</span>' for v in row.changed) or "—"
        failing = [f'<a href="{report}#{escape(html_mod.cell_anchor(cell))}"><code>{escape(cell)}</code></a>'
                   + ("" if judged else ' <span class="muted">(could not run)</span>')
                   for cell, judged in row.failing[:FAILING_SHOWN]]
        if len(row.failing) > FAILING_SHOWN:
            failing.append(f'<a href="{report}#verdicts">{len(row.failing) - FAILING_SHOWN} more</a>')
        body.append(f'<tr class="scenario"><td><a href="{report}"><code>{escape(row.name)}</code></a><br>'
                    f'<span class="muted">{escape(row.report.scenario.title or "")}</span></td>'
                    f"<td>{_badge(row.report.ok)}</td><td>{escape(_cells_text(row))}</td>"
                    f"<td>{row.seconds:.1f} s</td><td>{changed}</td><td>{', '.join(failing) or '—'}</td></tr>")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{html_mod.CSP}"><title>{TITLE}</title>'
            f"<style>{html_mod.STYLE}</style></head><body><h1>{TITLE}</h1>"
            f"<p>{len(reports)} scenarios · verdict {_badge(ok)}</p>"
            "<table><tr><th>scenario</th><th>verdict</th><th>cells ok/total</th><th>cell time</th>"
            f"<th>claims changed</th><th>failing cells</th></tr>{''.join(body)}</table>"
            f"<p><strong>Total</strong>: {escape(' · '.join(_totals(rows_, reports)))}</p>"
            f'<p class="muted">cells ok/total: cells that met every expectation / cells that ran; {escape(NOT_RUN_NOTE)}. '
            f"{escape(TIME_NOTE)}. Each scenario's report has its cells by mode and client.</p></body></html>\n")


def write_index(root: Path, reports: list[RunReport] | None = None) -> tuple[Path, Path]:
    """index.md and index.html in `root`, over the judged runs given (or every run folder under it, judged)."""
    root = Path(root)
    if reports is None:
        reports = [judge_run(d) for d in run_dirs_under(root)]
    scrub = redaction.current()
    md, html = root / "index.md", root / "index.html"
    md.write_text(scrub.text(render_markdown(root, reports)), encoding="utf-8")
    html.write_text(scrub.text(render_html(root, reports)), encoding="utf-8")
    return md, html
