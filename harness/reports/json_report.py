"""report.json: verdicts and figures for machines. Deterministic: rebuilt from the same run
folder it is byte-for-byte the same (no build time in it)."""
from __future__ import annotations

from typing import Any

from ..core.timeline import Event
from . import rca as rca_mod
from .model import RunReport

SCHEMA = "siolab.report/1"


def event_json(e: Event, t_zero: float | None) -> dict[str, Any]:
    return {"t": round(e.t - (t_zero or 0.0), 6), "src": e.src, "kind": e.kind, "data": e.data}


def to_json(r: RunReport, story: rca_mod.Rca | None = None) -> dict[str, Any]:
    story = story or rca_mod.build(r)
    by_id = r.by_id
    return {
        "schema": SCHEMA,
        "scenario": r.scenario.name,
        "title": r.scenario.title,
        "run": r.run_dir.name,
        "ok": r.ok,
        "versions": r.meta.get("versions", {}),
        "cells": [{
            "id": c.cell.id, "params": c.cell.params, "ok": c.ok, "error": c.error, "seconds": c.seconds,
            "judged": c.judged, "error_kind": getattr(c, "error_kind", None),
            "t_fault": c.t_fault, "client_kind": c.client,
            "figures": {k: f.value for k, f in c.findings.items()},
            "checks": [{"metric": x.metric, "condition": x.condition, "value": x.value, "ok": x.ok,
                        "why": x.why, "line": x.line, **({"premise_failed": x.premise_failed} if x.premise_failed else {})}
                       for x in c.checks],
            "artifacts": c.artifacts,
        } for c in r.cells],
        "claims": [{"id": e.verdict.claim.id, "text": e.verdict.claim.text, "verdict": e.verdict.verdict,
                    "recorded": e.verdict.claim.recorded, "changed": e.verdict.changed,
                    "why": e.why, "deciding_cells": e.verdict.deciding, "cells": e.verdict.cells,
                    "evidence": _claim_evidence(e, by_id),
                    **({"premise_failed": e.verdict.premise_failed} if e.verdict.premise_failed else {})}
                   for e in story.board],
        "focus_cell": story.focus.cell.id if story.focus else None,
        "comparison": [{"cells": row.label, "figure": row.figure, **row.values}
                       for row in story.comparison_totals + story.comparison],
        # The scenario's own words, when it has them (the Markdown and HTML show them first in their sections)
        **{key: text for key in rca_mod.WRITTEN if (text := rca_mod.scenario_text(r, key))},
    }


def _claim_evidence(entry: rca_mod.BoardEntry, by_id) -> list[dict[str, Any]]:
    if not entry.quoted_from:
        return []
    cell = by_id[entry.quoted_from]
    return [{"cell": cell.cell.id, **event_json(e, cell.t_zero)} for e in rca_mod.deciding_evidence(entry.verdict, cell)]
