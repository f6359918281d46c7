"""Several imported files into one timeline: clocks lined up, times made relative.

A HAR's clock is absolute (UTC). A Werkzeug or python-logging line has a local time of an
unknown zone: it is shifted by the whole quarter-hours that make the requests it logs
line up with the same requests in the HAR (matched by Engine.IO's `t=` cache-buster, one
per request). A console copy without timestamps is placed by its requests too (same URL),
or kept in order at the start. Every decision is a note in the diagnosis.
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from ..core.redaction import current as redactor
from ..core.timeline import Event
from . import packets
from .imported import ORDER, UTC, Imported

QUARTER_HOUR = 900.0


def _cache_buster(url: str | None) -> str | None:
    if not url:
        return None
    try:
        values = parse_qs(urlsplit(url).query).get("t")
    except ValueError:
        return None
    return values[0] if values else None


def _request_keys(imp: Imported) -> dict[str, float]:
    out = {}
    for e in imp.events:
        if e.kind == "http.request":
            key = _cache_buster(e.data.get("url"))
        elif e.kind == "log" and "request" in e.data:
            key = _cache_buster("http://x" + str(e.data["request"].get("target", "")))
        else:
            continue
        if key:
            out.setdefault(key, e.t)
    return out


def _shift(imp: Imported, by: float) -> None:
    imp.events = [replace(e, t=e.t + by) for e in imp.events]


def align(imports: list[Imported], notes: list[str]) -> None:
    """Shift every import onto the clock of the first absolute one (in place)."""
    anchor = next((i for i in imports if i.clock == UTC and i.kind == "har"), None) \
        or next((i for i in imports if i.clock == UTC), None)
    if anchor is None:
        anchor = next((i for i in imports if i.clock != ORDER), None)
    if anchor is None:
        return
    anchor_keys = _request_keys(anchor)
    for imp in imports:
        if imp is anchor:
            continue
        keys = _request_keys(imp)
        common = [anchor_keys[k] - keys[k] for k in keys.keys() & anchor_keys.keys()]
        if imp.clock == ORDER:
            if common:
                _shift(imp, statistics.median(common))
                notes.append(f"{imp.path.name}: no timestamps; placed by {len(common)} requests it shares with "
                             f"{anchor.path.name}")
            else:
                start = min(e.t for e in anchor.events) if anchor.events else 0.0
                _shift(imp, start - (min(e.t for e in imp.events) if imp.events else 0.0))
                notes.append(f"{imp.path.name}: no timestamps and no request in common with {anchor.path.name}; "
                             "its lines keep their order at the start of the timeline")
            continue
        if imp.clock == UTC and anchor.clock == UTC:
            continue
        if common:
            offset = statistics.median(common)
            whole = round(offset / QUARTER_HOUR) * QUARTER_HOUR
            _shift(imp, whole)
            if whole:
                notes.append(f"{imp.path.name}: local times shifted by {whole / 3600:+g} h to line up with "
                             f"{anchor.path.name} ({len(common)} requests in common)")
        else:
            notes.append(f"{imp.path.name}: its local times could not be lined up with {anchor.path.name} "
                         "(no request in common); read as UTC")


def timeline(imports: list[Imported], notes: list[str]) -> list[Event]:
    """One time-sorted, redacted timeline with t in seconds since its first event."""
    align(imports, notes)
    events = sorted((e for imp in imports for e in imp.events), key=lambda e: e.t)
    # Requests seen in both a HAR and a console copy: the HAR's are richer; the copies go.
    har_urls = {e.data.get("url") for imp in imports if imp.kind == "har" for e in imp.events if e.kind == "http.request"}
    if har_urls:
        dropped = {e.data.get("id") for e in events if e.kind == "http.request" and str(e.data.get("id", "")).startswith("c")
                   and e.data.get("url") in har_urls}
        events = [e for e in events if not (e.kind.startswith("http.") and e.data.get("id") in dropped)]
    events = packets.attach_ws_sids(events)
    events = sorted(events + packets.derive(events), key=lambda e: e.t)
    if not events:
        return []
    t0 = events[0].t
    scrub = redactor()
    return [Event(round(e.t - t0, 6), e.src, e.kind, scrub.data(e.data)) for e in events]
