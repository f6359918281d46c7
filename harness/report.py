"""Kept for callers of `harness.report` (cli, bench, tests): the reports live in `harness/reports/`."""
from .reports import (CellReport, ReportFiles, RunReport, _fmt, build, build_all, fmt, judge_run,  # noqa: F401
                      render_markdown, to_json, write, write_index)
