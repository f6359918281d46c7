"""The content of the RCA, shared by the Markdown and the HTML report.

Sections as data: incident, timeline of the decisive seconds, hypothesis board with the
deciding events quoted, root cause, what the recording shows, fix and its validation
(singleton variants side by side), prevention. Lines are plain text with `code` and
**bold** marks, which the Markdown report keeps and the HTML report converts. Every
statement is derived from the run's own figures; a scenario may add its own words under
`root_cause`, `fix` and `prevention`, shown first.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from ..checks.judge import NO_EVIDENCE, REFUTED, SUPPORTED, ClaimVerdict
from ..core.timeline import Event
from .model import CellReport, RunReport
from .wording import event_line, fmt, is_socketio

FAULT_FIGURES = ("stale_sid_400", "time_to_new_sid", "handshakes_while_down", "handshakes_after_fault", "connect_errors")
DECISIVE_FIGURES = ("old_sid_failure", "stale_sid_400", "disconnect_reason", "new_sid", "refusal_status",
                    "connect_error_message")
TIMELINE_KINDS = ("fault", "server.up", "proc.exit", "proc.start", "proxy.reset", "toxic.add", "http.request",
                  "http.response", "http.failed", "ws.open", "ws.close", "ws.error", "sio.connect", "sio.disconnect",
                  "sio.connect_error", "sio.reconnect_attempt", "sio.upgrade", "singleton.reset", "singleton.create",
                  "log", "console", "client.frozen", "client.thawed")
SERVER_LOG_MARKS = ("Invalid session", "Session ID unknown", "refused", "Traceback", "CRITICAL", "ERROR", "bad setting",
                    "reason=ping timeout")
TIMELINE_LIMIT = 40
VARIANT_ORDER = ("naive", "fixed", "backoff")


@dataclass
class BoardEntry:
    verdict: ClaimVerdict
    why: str
    quoted: list[str] = field(default_factory=list)   # the deciding events, as event lines
    quoted_from: str | None = None                    # the cell they are quoted from


@dataclass
class ComparisonRow:
    label: str                  # the pair's other params, or "all N pairs"
    figure: str
    values: dict[str, Any]      # singleton variant -> value

    @property
    def naive(self) -> Any:
        return self.values.get("naive")

    @property
    def fixed(self) -> Any:
        return self.values.get("fixed")


@dataclass
class Rca:
    focus: CellReport | None
    focus_reason: str
    impact: list[str]
    timeline: list[Event]
    board: list[BoardEntry]
    root_cause: list[str]
    findings: list[str]
    fix: list[str]
    variants: list[str]
    comparison: list[ComparisonRow]
    comparison_totals: list[ComparisonRow]
    prevention: list[str]


def _ok(r: RunReport) -> list[CellReport]:
    """The cells the checks could judge (those that ran, and start failures a scenario expects)."""
    return [c for c in r.cells if c.judged]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cells(cs: list[CellReport], limit: int = 4) -> str:
    names = ", ".join(f"`{c.cell.id}`" for c in cs[:limit])
    return names + (f" and {len(cs) - limit} more" if len(cs) > limit else "")


# -- the cell that tells the story ----------------------------------------------------------
def focus_cell(r: RunReport) -> tuple[CellReport | None, str]:
    ok = _ok(r)
    by_id = r.by_id
    rules = [
        (lambda c: c.figure("console_pair"), "it reproduces the incident's console pair"),
        (lambda c: c.client == "browser" and (c.figure("stale_sid_400") or 0) > 0, "a browser got a 400 with its old sid"),
        (lambda c: (c.figure("stale_sid_400") or 0) > 0, "a client got a 400 with its old sid"),
        (lambda c: not c.ok, "it failed an expectation"),
    ]
    for verdict, reason in ((REFUTED, "it refutes a claim"), (SUPPORTED, "it supports a claim")):
        deciding = [d for v in r.claims if v.verdict == verdict for d in v.deciding]
        rules.append((lambda c, d=tuple(deciding): c.cell.id in d and by_id[c.cell.id].client == "browser",
                      reason + " (browser)"))
        rules.append((lambda c, d=tuple(deciding): c.cell.id in d, reason))
    rules += [(lambda c: c.client == "browser", "the first browser cell"), (lambda c: True, "the first cell")]
    for rule, reason in rules:
        for c in ok:
            if c.t_zero is not None and rule(c):
                return c, reason
    return None, "no cell of this run recorded a client"


def new_connect(c: CellReport) -> Event | None:
    ev = c.findings.get("new_sid")
    return ev.evidence[-1] if ev is not None and ev.evidence else None


def _old_sid_pending(c: CellReport) -> list[Event]:
    f = c.findings.get("old_sid_requests")
    return [e for e in (f.evidence if f else []) if c.t_fault is not None and e.t < c.t_fault]


def window(c: CellReport, pre_s: float = 0.3, post_s: float = 0.3) -> tuple[float, float]:
    """The decisive seconds of a cell: from the old-sid request pending at the fault (or just
    before the fault) to just after the new sid; without a fault, the first seconds of the client."""
    last = c.events[-1].t if c.events else 0.0
    if c.t_fault is None:
        zero = c.t_zero if c.t_zero is not None else 0.0
        return zero - 0.05, min(last, zero + 6.0)
    start = min([c.t_fault - pre_s] + [e.t for e in _old_sid_pending(c)])
    nc = new_connect(c)
    end = (nc.t + post_s) if nc else min(last, c.t_fault + 10)
    return start, end


def _is_relevant(c: CellReport, e: Event, pending_ids: set[Any]) -> bool:
    if e.kind not in TIMELINE_KINDS:
        return False
    if e.kind.startswith("http."):
        if e.src not in ("browser", "pyclient", "probe") or not is_socketio(e.data):
            return False
        return c.t_fault is None or e.t >= c.t_fault or e.data.get("id") in pending_ids
    if e.kind == "log":
        line = str(e.data.get("line", ""))
        return any(mark in line for mark in SERVER_LOG_MARKS)
    if e.kind == "console":
        return e.data.get("level") == "error" and not str(e.data.get("url", "")).startswith("siolab:")
    if e.kind == "fault":
        return e.data.get("phase") == "begin"
    if e.kind in ("proc.start", "proc.exit"):
        return e.src == "server"
    return True


def decisive_events(c: CellReport, limit: int = TIMELINE_LIMIT) -> list[Event]:
    if c.t_zero is None:
        return []
    start, end = window(c)
    pending = {e.data.get("id") for e in _old_sid_pending(c)}
    picked = [e for e in c.events if start <= e.t <= end and _is_relevant(c, e, pending)]
    return picked[:limit]


# -- the hypothesis board -------------------------------------------------------------------
def figure_evidence(c: CellReport, limit: int = 12) -> list[Event]:
    """The events behind a cell's decisive figures, once each, in time order."""
    found, seen = [], set()
    for name in DECISIVE_FIGURES:
        for e in c.findings[name].evidence if name in c.findings else []:
            if id(e) not in seen:
                seen.add(id(e))
                found.append(e)
    return sorted(found, key=lambda e: e.t)[:limit]


def claim_why(v: ClaimVerdict, by_id: dict[str, CellReport]) -> str:
    """The figures that decided a claim, quoted from the first deciding cell."""
    if not v.deciding:
        applies = len(v.cells)
        return f"no cell met either condition ({applies} cells apply)" if applies else "no cell of this run applies"
    conds = v.claim.refuted_if if v.verdict == REFUTED else v.claim.supported_if
    cell = by_id[v.deciding[0]]
    figures = ", ".join(f"`{m}` = {fmt(cell.figure(m))}" for m in conds)
    more = f" (and {len(v.deciding) - 1} more of {len(v.cells)} cells)" if len(v.deciding) > 1 else f" (1 of {len(v.cells)} cells)"
    return f"{figures} in `{cell.cell.id}`{more}"


def deciding_evidence(v: ClaimVerdict, cell: CellReport) -> list[Event]:
    conds = v.claim.refuted_if if v.verdict == REFUTED else v.claim.supported_if
    seen: list[Event] = []
    for m in conds:
        for e in cell.findings[m].evidence if m in cell.findings else []:
            if all(e is not s for s in seen):
                seen.append(e)
    return sorted(seen, key=lambda e: e.t)


def board(r: RunReport) -> list[BoardEntry]:
    by_id = r.by_id
    out = []
    for v in r.claims:
        entry = BoardEntry(v, claim_why(v, by_id))
        if v.deciding:
            cell = by_id[v.deciding[0]]
            entry.quoted = [event_line(e, cell.t_zero) for e in deciding_evidence(v, cell)[:6]]
            entry.quoted_from = cell.cell.id
        out.append(entry)
    return out


# -- singleton variants side by side --------------------------------------------------------
def compared_figures(r: RunReport) -> list[str]:
    return list(dict.fromkeys((list(FAULT_FIGURES) if r.has_faults else []) + r.referenced_figures()))


def _groups(r: RunReport) -> list[tuple[str, dict[str, CellReport]]]:
    groups: dict[tuple, dict[str, CellReport]] = {}
    for c in _ok(r):
        variant = c.cell.params.get("singleton")
        if variant:
            key = tuple((k, v) for k, v in c.cell.params.items() if k != "singleton")
            groups.setdefault(key, {})[variant] = c
    return [(", ".join(v for k, v in key if k != "client"), by_variant)
            for key, by_variant in groups.items() if len(by_variant) >= 2]


def variants(r: RunReport) -> list[str]:
    present = {v for _, g in _groups(r) for v in g}
    return [v for v in VARIANT_ORDER if v in present] + sorted(present - set(VARIANT_ORDER))


def comparison(r: RunReport) -> list[ComparisonRow]:
    rows = []
    for label, group in _groups(r):
        for m in compared_figures(r):
            values = {v: c.figure(m) for v, c in group.items()}
            if any(x is not None for x in values.values()):
                rows.append(ComparisonRow(label, m, values))
    return rows


def comparison_by_pair(rows: list[ComparisonRow]) -> dict[str, dict[str, dict[str, Any]]]:
    """label -> figure -> {variant: value}: the variants side by side, one row per group of cells."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.label, {})[row.figure] = row.values
    return out


def _total(values: list[Any], how: str) -> Any:
    if how == "yes":
        return sum(bool(v) for v in values)
    nums = [v for v in values if _num(v)]
    if not nums:
        return None
    if how == "sum":
        return sum(nums)
    if how == "max":
        return max(nums)
    return round(statistics.median(nums), 3)


def comparison_totals(r: RunReport) -> list[ComparisonRow]:
    groups = _groups(r)
    if not groups:
        return []
    label = f"all {len(groups)} groups"
    rows = []
    for m in compared_figures(r) + (["recovered"] if r.has_faults else []):
        per_variant = {v: [g[v].figure(m) for _, g in groups if v in g] for v in variants(r)}
        sample = [x for xs in per_variant.values() for x in xs if x is not None]
        if not sample:
            continue
        if all(isinstance(x, bool) for x in sample):
            hows = [("yes", f"{m}: cells with yes")]
        elif all(_num(x) for x in sample):
            hows = [("median", f"{m} (median)"), ("max", f"{m} (max)")] if m.startswith("time_") else [("sum", f"{m} (sum)")]
        else:
            continue
        for how, name in hows:
            rows.append(ComparisonRow(label, name, {v: _total(xs, how) for v, xs in per_variant.items()}))
    return rows


# -- what the recording shows ---------------------------------------------------------------
def _value_counts(cells: list[CellReport], figure: str) -> str:
    counts: dict[str, int] = {}
    for c in cells:
        key = fmt(c.figure(figure), 60)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} in {n} cell{'s' if n > 1 else ''}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def findings(r: RunReport) -> list[str]:
    """What the recording shows, stated from the figures (never from prior knowledge)."""
    ok = _ok(r)
    out = []
    faulted = [c for c in ok if c.t_fault is not None and c.figure("old_sid")]
    if faulted:
        pair = [c for c in ok if c.figure("console_pair")]
        if pair:
            out.append("The incident's console pair (GET `net::ERR_CONNECTION_RESET`, then POST 400 with the old sid) "
                       f"was reproduced in: {', '.join(f'`{c.cell.id}`' for c in pair)}.")
        else:
            out.append("The incident's console pair was not reproduced in any cell of this run.")
        by_fault: dict[str, set[str]] = {}
        for c in faulted:
            key = f"{c.cell.params.get('fault')} / {c.cell.params.get('mode')} / {c.cell.params.get('transport')}"
            err = c.figure("old_sid_failure") or "no failed request with the old sid"
            by_fault.setdefault(key, set()).add(f"{err}; 400s with old sid: {c.figure('stale_sid_400')}")
        for key, outcomes in sorted(by_fault.items()):
            out.append(f"fault / mode / transport `{key}`: " + " | ".join(sorted(outcomes)))
    bodies = sorted({str(c.figure("stale_sid_body")) for c in ok if c.figure("stale_sid_body")})
    if bodies:
        out.append(f"The server's answer to the old sid: {', '.join(f'`{b}`' for b in bodies)}.")
    ws = [c for c in ok if c.figure("transport_before_fault") == "websocket"]
    if ws:
        n400 = sum(c.figure("stale_sid_400") or 0 for c in ws)
        reasons = sorted({str(c.figure("disconnect_reason")) for c in ws})
        out.append(f"On WebSocket ({len(ws)} cells): {n400} 400s with the old sid; disconnect reasons: {', '.join(reasons)}.")
    requests_ = sorted({str(c.figure("stale_sid_request")) for c in ok if c.figure("stale_sid_request")})
    if requests_:
        out.append(f"The requests that carried the old sid into a 400: {', '.join(requests_)} "
                   "(a POST `close` is the client's own close packet, sent over the old transport after the transport error).")
    retried = [c for c in ok if c.figure("silent_retry")]
    if retried:
        out.append(f"The proxy reset the open poll, yet the page saw no network error in {len(retried)} cells "
                   f"({_cells(retried)}): Chromium retried the request on a new "
                   "connection without telling the page, and the retry got the 400.")
    for figure in r.referenced_figures():
        if figure in ("console_pair", "stale_sid_body", "stale_sid_request", "old_sid_failure"):
            continue  # stated above
        by_kind: dict[str, list[CellReport]] = {}
        for c in ok:
            by_kind.setdefault(c.client or "?", []).append(c)
        parts = [f"{kind}: {_value_counts(cs, figure)}" for kind, cs in sorted(by_kind.items())]
        out.append(f"`{figure}` measured — " + "; ".join(parts) + ".")
    if not ok:
        out.append("No cell of this run could be judged: every cell failed to run.")
    return out


# -- root cause, fix, prevention ------------------------------------------------------------
WRITTEN = ("root_cause", "fix", "prevention")     # a scenario's own words for these sections


def scenario_text(r: RunReport, key: str) -> list[str]:
    raw = r.scenario.raw.get(key)
    if isinstance(raw, str) and raw.strip():
        return [raw.strip()]
    if isinstance(raw, list):
        return [str(x).strip() for x in raw if str(x).strip()]
    return []


def root_cause(r: RunReport, entries: list[BoardEntry]) -> list[str]:
    out = scenario_text(r, "root_cause")
    ok = _ok(r)
    for e in entries:
        if e.verdict.verdict == SUPPORTED:
            out.append(f"Supported: {e.verdict.claim.text} — {e.why}.")
    for e in entries:
        if e.verdict.verdict == REFUTED:
            out.append(f"Not so: {e.verdict.claim.text} — refuted by {e.why}.")
    by_request: dict[str, list[CellReport]] = {}
    for c in ok:
        if c.figure("stale_sid_request"):
            by_request.setdefault(str(c.figure("stale_sid_request")), []).append(c)
    for request, cs in sorted(by_request.items()):
        out.append(f"The 400 came from `{request}` with the old sid in {len(cs)} cells ({_cells(cs)}).")
    timing: dict[str, list[CellReport]] = {}
    for c in ok:
        if c.figure("reset_vs_listen"):
            timing.setdefault(str(c.figure("reset_vs_listen")), []).append(c)
    for when, cs in sorted(timing.items()):
        n400 = sum(c.figure("stale_sid_400") or 0 for c in cs)
        out.append(f"Reset reaching the client {when} the new process listened (`reset_vs_listen` = {when}): "
                   f"{n400} 400s with the old sid in {len(cs)} cells.")
    if not out:
        out.append("No claim was decided and no 400 with an old sid was recorded: the run names no root cause.")
    return out


def fix(r: RunReport) -> list[str]:
    out = scenario_text(r, "fix")
    groups = _groups(r)
    if groups:
        names = ", ".join(f"`{v}`" for v in variants(r))
        out.append(f"Validated by {len(groups)} groups of cells that differ only in the page's `getAppSocket()` "
                   f"(`singleton`: {names}; `naive` is the incident's, `fixed` the RCA's fix).")
    for v in r.claims:
        if v.claim.where.get("singleton") not in (None, "naive") or v.claim.id.startswith("fix"):
            out.append(f"{v.claim.text}: **{v.verdict}**" + (f" ({claim_why(v, r.by_id)})." if v.verdict != NO_EVIDENCE else "."))
    if not out:
        out.append("This run has no cells that differ only by the fix: nothing validates a fix here.")
    return out


def prevention(r: RunReport) -> list[str]:
    out = scenario_text(r, "prevention")
    ok = [c for c in _ok(r) if c.t_fault is not None]
    fixed_400 = [c for c in ok if c.cell.params.get("singleton") == "fixed" and (c.figure("stale_sid_400") or 0) > 0]
    closes = [c for c in ok if c.figure("stale_sid_request") == "POST close"]
    if fixed_400 and closes:
        out.append(f"Do not page on a lone 400 `Invalid session` right after a transport error: in {len(closes)} cells it "
                   f"was the client's own close packet (`stale_sid_request` = POST close), fixed singleton included "
                   f"({len(fixed_400)} fixed cells); alert on `recovered` = no instead.")
    ws = [c for c in ok if c.figure("transport_before_fault") == "websocket"]
    if ws and not any((c.figure("stale_sid_400") or 0) for c in ws):
        out.append(f"Keep the WebSocket upgrade working in every deployment: in all {len(ws)} cells on WebSocket at the "
                   "fault there was no 400, only a closed socket.")
    down = [c for c in ok if (c.figure("handshakes_while_down") or 0) > 0]
    if down:
        worst = max(c.figure("handshakes_while_down") for c in down)
        out.append(f"Clients sent handshakes while the server was down in {len(down)} cells (up to {worst} per cell): "
                   "keep the reconnection back-off (`reconnectionDelay`, `reconnectionDelayMax`) so that a restart "
                   "under many open pages does not turn into a storm.")
    not_recovered = [c for c in ok if c.figure("recovered") is False and not c.figure("storm_clients")]
    bursts = [c for c in ok if c.figure("storm_clients") and _num(c.figure("storm_burst_s"))
              and c.figure("storm_burst_s") <= 0.5]
    if bursts:
        out.append(f"In {len(bursts)} storm cells ({_cells(bursts)}) the clients came back within 0.5 s of each other: "
                   "a server that restarts under many clients takes every handshake at once; size its accept "
                   "backlog and start-up for that, and spread the clients' retries (jitter) where the server "
                   "does not listen before it is ready.")
    if not_recovered:
        out.append(f"{len(not_recovered)} cells never got a new sid ({_cells(not_recovered)}): a client that does not "
                   "recover needs its own alert.")
    out.append(f"Keep the incident in the regression suite: `siolab run {r.scenario.name}` exits 1 when a measured "
               "behaviour changes, and `report.junit.xml` feeds the CI's test view.")
    return out


def impact(r: RunReport) -> list[str]:
    ok = _ok(r)
    faulted = [c for c in ok if c.t_fault is not None]
    out = []
    storms = [c for c in faulted if c.figure("storm_clients")]   # many clients: their own line
    if storms:
        back = [c.figure("storm_back_s") for c in storms if _num(c.figure("storm_back_s"))]
        out.append(f"Storm: {sum(c.figure('storm_dropped') or 0 for c in storms)} client connections lost in "
                   f"{len(storms)} cells; every client back in {len(back)} of them"
                   + (f", at most {max(back):.2f} s after the fault" if back else "")
                   + f"; 400 answers: {sum(c.figure('storm_400') or 0 for c in storms)}.")
        faulted = [c for c in faulted if c not in storms]
    if faulted:
        lost = [c for c in faulted if c.figure("disconnect_reason")]
        got400 = [c for c in faulted if (c.figure("stale_sid_400") or 0) > 0]
        out.append(f"Sessions lost at the fault: {len(lost)} of {len(faulted)} cells; 400 with the old sid: {len(got400)} "
                   f"cells ({sum(c.figure('stale_sid_400') or 0 for c in faulted)} answers).")
        rec = [c.figure("time_to_new_sid") for c in faulted if _num(c.figure("time_to_new_sid"))]
        if rec:
            out.append(f"Time from the fault to a new sid: median {statistics.median(rec):.2f} s, max {max(rec):.2f} s; "
                       f"recovered: {sum(bool(c.figure('recovered')) for c in faulted)} of {len(faulted)} cells.")
    errors = [c for c in ok if (c.figure("connect_errors_total") or 0) > 0]
    if errors:
        out.append(f"Clients that saw connect_error: {len(errors)} of {len(ok)} cells "
                   f"({sum(c.figure('connect_errors_total') for c in errors)} events).")
    consoles = [c for c in ok if (c.figure("console_errors") or 0) > 0]
    if consoles:
        out.append(f"Pages with console errors: {len(consoles)} of {sum(c.client == 'browser' for c in ok)} browser cells.")
    failed = [c for c in r.cells if not c.judged]
    if failed:
        out.append(f"Cells that could not run: {len(failed)} ({_cells(failed)}).")
    never = [c for c in r.cells if c.judged and c.error]
    if never:
        out.append(f"Cells whose server never became healthy: {len(never)} ({_cells(never)}).")
    return out or ["Nothing in this run's figures measures an impact."]


def build(r: RunReport) -> Rca:
    focus, reason = focus_cell(r)
    entries = board(r)
    return Rca(focus=focus, focus_reason=reason, impact=impact(r),
               timeline=decisive_events(focus) if focus else [], board=entries,
               root_cause=root_cause(r, entries), findings=findings(r), fix=fix(r), variants=variants(r),
               comparison=comparison(r), comparison_totals=comparison_totals(r), prevention=prevention(r))
