"""Stalls: did the client notice a stalled server while it was stalled, or only once it resumed?"""
from __future__ import annotations

from . import Finding, metric
from .cell_view import CellView


@metric("disconnect_vs_resume", "whether the client's first disconnect after the fault came before the fault ended "
                                "(the stalled server resumed) or after it")
def disconnect_vs_resume(v: CellView) -> Finding:
    if v.t_fault is None:
        return Finding(None)
    ends = [e for e in v.of("fault", src="harness", after=v.t_fault) if e.data.get("phase") == "end"]
    ds = v.drops(after=v.t_fault)
    if not ends or not ds:
        return Finding(None, ends[:1] + ds[:1])
    return Finding("before" if ds[0].t < ends[0].t else "after", [ds[0], ends[0]])
