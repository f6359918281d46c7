"""Idle timeouts: a proxy that closes a connection with nothing to read for a while, seen from
the client (its disconnects and their reasons) and from nginx (504s, "upstream timed out")."""
from __future__ import annotations

from statistics import median

from . import Finding, metric
from .cell_view import CLIENT_SOURCES, CellView


@metric("disconnect_reasons", "the distinct reasons of the client's unrequested disconnects, sorted, comma-separated")
def disconnect_reasons(v: CellView) -> Finding:
    ds = v.drops()
    firsts = {}
    for e in ds:
        firsts.setdefault(str(e.data.get("reason")), e)
    return Finding(", ".join(sorted(firsts)) if firsts else None, list(firsts.values()))


@metric("drop_interval", "median seconds between the client's successive unrequested disconnects")
def drop_interval(v: CellView) -> Finding:
    ds = v.drops()
    if len(ds) < 2:
        return Finding(None, ds)
    return Finding(round(median(b.t - a.t for a, b in zip(ds, ds[1:])), 2), ds[:3])


@metric("proxy_timeouts", "nginx's 'upstream timed out' errors (its idle timeout fired)")
def proxy_timeouts(v: CellView) -> Finding:
    es = [e for e in v.of("log", src="proxy") if "upstream timed out" in str(e.data.get("line"))]
    return Finding(len(es) if v.of("nginx.access", src="proxy") or es else None, es[:3])


@metric("http_504", "504 answers to the client's Socket.IO requests (nginx gave up waiting for the app)")
def http_504(v: CellView) -> Finding:
    es = [e for e in v.of("http.response", src=CLIENT_SOURCES) if e.data.get("status") == 504]
    return Finding(len(es), es[:3])
