"""The reconnection curve of storm cells (connected clients over time), for the terminal,
the Markdown report (a table and Mermaid xycharts) and the HTML report (an SVG chart).

The points come from `checks.storm.curve` (the driver's samples); the figures beside the
curve are the checks' own. Nothing here measures anything.
"""
from __future__ import annotations

from html import escape

from ..checks.storm import curve
from .model import CellReport, RunReport
from .wording import fmt, plain

SPARKS = " ▁▂▃▄▅▆▇█"
# (figure, column heading) beside every curve
SUMMARY = (("storm_clients", "clients"), ("storm_back_s", "all back after fault (s)"),
           ("storm_back_after_up_s", "after server up (s)"), ("storm_burst_s", "wave 10–90 % (s)"),
           ("storm_peak_handshakes_per_s", "peak handshakes/s"), ("storm_handshakes", "handshakes"),
           ("storm_400", "400s"), ("storm_connect_errors", "connect errors"),
           ("storm_server_connects", "server connects"), ("storm_sample_gap_s", "longest sample gap (s)"))


def storm_cells(r: RunReport) -> list[tuple[CellReport, list[tuple[float, int]]]]:
    out = []
    for c in r.cells:
        points = curve(c.events)
        if points:
            out.append((c, points))
    return out


def resample(points: list[tuple[float, int]], start: float, end: float, step: float) -> list[tuple[float, int | None]]:
    """The curve at start, start + step, … end: the last sample at or before each time
    (None before the first sample and after the last)."""
    out, i, last = [], 0, None
    n = int(round((end - start) / step))
    for k in range(n + 1):
        t = round(start + k * step, 6)
        while i < len(points) and points[i][0] <= t + 1e-9:
            last = points[i][1]
            i += 1
        out.append((t, last if points and t <= points[-1][0] + 1e-9 else None))
    return out


def sparkline(values: list[int | None], top: int) -> str:
    if top <= 0:
        return "".join(" " for _ in values)
    return "".join(" " if v is None else SPARKS[min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))] for v in values)


def step_for(cells: list[tuple[CellReport, list[tuple[float, int]]]], smallest: float, most: int) -> float:
    """The smallest of smallest, 0.5, 1, 2, 5, 10 s that draws the longest curve in at most `most` steps."""
    span = max(p[-1][0] for _, p in cells) - max(-1.0, min(p[0][0] for _, p in cells))
    for step in (smallest, 0.5, 1.0, 2.0, 5.0, 10.0):
        if step >= smallest and span / step <= most:
            return step
    return 10.0


def _span(cells: list[tuple[CellReport, list[tuple[float, int]]]], step: float) -> tuple[float, float]:
    start = max(-1.0, min(p[0][0] for _, p in cells))
    end = max(p[-1][0] for _, p in cells)
    return round(start / step) * step, round(end / step) * step


def summary(c: CellReport) -> str:
    f = c.figure
    return (f"all back {fmt(f('storm_back_s'))} s after the fault ({fmt(f('storm_back_after_up_s'))} s after the server "
            f"answered), wave {fmt(f('storm_burst_s'))} s, peak {fmt(f('storm_peak_handshakes_per_s'))} handshakes/s, "
            f"{fmt(f('storm_400'))} × 400, {fmt(f('storm_connect_errors'))} connect errors")


def text(r: RunReport, step: float = 0.25) -> list[str]:
    """The curves as sparklines for the terminal, one line per cell, on one time axis (at most 80 characters)."""
    cells = storm_cells(r)
    if not cells:
        return []
    step = step_for(cells, step, 80)
    start, end = _span(cells, step)
    width = max(len(c.cell.id) for c, _ in cells)
    out = [f"reconnection curve: clients connected, one character per {step:g} s from {start:+g} s to {end:+g} s "
           "(0 = the fault)"]
    for c, points in cells:
        top = c.figure("storm_clients") or max(n for _, n in points)
        line = sparkline([v for _, v in resample(points, start, end, step)], top)
        out.append(f"  {c.cell.id:<{width}} |{line}|")
        out.append(f"  {'':<{width}}  {summary(c)}")
    return out


def markdown(r: RunReport, step: float = 0.5) -> list[str]:
    cells = storm_cells(r)
    if not cells:
        return []
    step = step_for(cells, step, 40)
    start, end = _span(cells, step)
    out = ["## Reconnection curve", "",
           "Clients connected (the storm driver's samples of `client.connected`), seconds since the fault.", "",
           "| cell | " + " | ".join(h for _, h in SUMMARY) + " |", "|---|" + "---|" * len(SUMMARY)]
    for c, _ in cells:
        out.append(f"| `{c.cell.id}` | " + " | ".join(fmt(c.figure(m)) for m, _ in SUMMARY) + " |")
    series = [(c, resample(points, start, end, step)) for c, points in cells]
    times = [t for t, _ in series[0][1]]
    out += ["", "| s | " + " | ".join(f"`{c.cell.id}`" for c, _ in series) + " |", "|---|" + "---|" * len(series)]
    for k, t in enumerate(times):
        out.append(f"| {t:+.1f} | " + " | ".join(fmt(s[k][1]) for _, s in series) + " |")
    for c, s in series:
        top = c.figure("storm_clients") or max((v or 0) for _, v in s)
        out += ["", "```mermaid", "xychart-beta", f'    title "{c.cell.id}: clients connected"',
                "    x-axis [" + ", ".join(f'"{t:+.1f}"' for t in times) + "]",
                f'    y-axis "connected" 0 --> {top}',
                "    line [" + ", ".join(str(v or 0) for _, v in s) + "]", "```"]
    return out + [""]


def html(r: RunReport) -> str:
    from . import svg

    cells = storm_cells(r)
    if not cells:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for _, h in SUMMARY)
    rows = "".join(f"<tr><td><code>{escape(c.cell.id)}</code></td>"
                   + "".join(f"<td>{escape(plain(c.figure(m)))}</td>" for m, _ in SUMMARY) + "</tr>" for c, _ in cells)
    return ('<section id="curve"><h2>Reconnection curve</h2><p class="muted">Clients connected (the storm driver\'s '
            "samples of <code>client.connected</code>), seconds since the fault.</p>"
            + svg.curve_chart([(c.cell.id, points) for c, points in cells],
                              top=max(c.figure("storm_clients") or 0 for c, _ in cells))
            + f"<table><tr><th>cell</th>{head}</tr>{rows}</table></section>")


def cell_html(c: CellReport) -> str:
    """One storm cell's curve and figures, where other cells show their request chart."""
    from . import svg

    return (svg.curve_chart([(c.cell.id, curve(c.events))], top=c.figure("storm_clients") or 0)
            + f"<p>{escape(summary(c))}</p>")
