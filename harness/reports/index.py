"""The index of a run of several scenarios (the whole catalogue): scenarios × (mode, client)
with verdicts, each linking to its scenario's report. Reads each run's report.json."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from .html import CSP, STYLE


def run_dirs_under(root: Path) -> list[Path]:
    """The run folders directly under `root` (those with a run.json), in name order."""
    return sorted(p for p in Path(root).iterdir() if (p / "run.json").is_file())


def _matrix(reports: list[tuple[Path, dict[str, Any]]]) -> tuple[list[tuple[str, str]], dict]:
    columns: list[tuple[str, str]] = []
    table: dict[tuple[str, tuple[str, str]], list[dict]] = {}
    for _, rep in reports:
        for c in rep["cells"]:
            col = (c["params"].get("mode", "?"), c["params"].get("client", "?"))
            if col not in columns:
                columns.append(col)
            table.setdefault((rep["scenario"], col), []).append(c)
    return sorted(columns), table


def render_markdown(root: Path, reports: list[tuple[Path, dict[str, Any]]]) -> str:
    columns, table = _matrix(reports)
    ok = all(rep["ok"] for _, rep in reports)
    lines = ["# siolab: catalogue run", "",
             f"{len(reports)} scenarios · verdict: **{'PASS' if ok else 'FAIL'}**", "",
             "| scenario | verdict | " + " | ".join(f"{m} / {c}" for m, c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for run_dir, rep in reports:
        link = f"[`{rep['scenario']}`]({run_dir.relative_to(root)}/report.md)"
        cells = []
        for col in columns:
            cs = table.get((rep["scenario"], col), [])
            cells.append("—" if not cs else f"{'✅' if all(c['ok'] for c in cs) else '❌'} "
                                            f"{sum(c['ok'] for c in cs)}/{len(cs)}")
        lines.append(f"| {link} | {'PASS' if rep['ok'] else 'FAIL'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_html(root: Path, reports: list[tuple[Path, dict[str, Any]]]) -> str:
    columns, table = _matrix(reports)
    ok = all(rep["ok"] for _, rep in reports)
    head = "".join(f"<th>{escape(m)} / {escape(c)}</th>" for m, c in columns)
    rows = []
    for run_dir, rep in reports:
        href = escape(f"{run_dir.relative_to(root)}/report.html")
        cells = []
        for col in columns:
            cs = table.get((rep["scenario"], col), [])
            if not cs:
                cells.append("<td>—</td>")
                continue
            good = all(c["ok"] for c in cs)
            ids = ", ".join(c["id"] for c in cs if not c["ok"])
            cells.append(f'<td title="{escape(ids)}"><span class="badge {"pass" if good else "fail"}">'
                         f'{sum(c["ok"] for c in cs)}/{len(cs)}</span></td>')
        rows.append(f'<tr><td><a href="{href}"><code>{escape(rep["scenario"])}</code></a><br>'
                    f'<span class="muted">{escape(rep.get("title", ""))}</span></td>'
                    f'<td><span class="badge {"pass" if rep["ok"] else "fail"}">{"PASS" if rep["ok"] else "FAIL"}</span></td>'
                    f'{"".join(cells)}</tr>')
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>siolab: catalogue run</title>'
            f"<style>{STYLE}</style></head><body><h1>siolab: catalogue run</h1>"
            f'<p>{len(reports)} scenarios · verdict <span class="badge {"pass" if ok else "fail"}">'
            f'{"PASS" if ok else "FAIL"}</span> · cells that met every expectation per mode and client</p>'
            f"<table><tr><th>scenario</th><th>verdict</th>{head}</tr>{''.join(rows)}</table></body></html>\n")


def write_index(root: Path, run_dirs: list[Path] | None = None) -> tuple[Path, Path]:
    """index.md and index.html in `root`, over the run folders under it (their report.json must exist)."""
    root = Path(root)
    reports = []
    for run_dir in run_dirs if run_dirs is not None else run_dirs_under(root):
        path = run_dir / "report.json"
        reports.append((run_dir, json.loads(path.read_text(encoding="utf-8"))))
    md, html = root / "index.md", root / "index.html"
    md.write_text(render_markdown(root, reports), encoding="utf-8")
    html.write_text(render_html(root, reports), encoding="utf-8")
    return md, html
