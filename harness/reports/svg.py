"""Inline SVG drawings for the HTML report: a timeline chart of one cell (requests by status,
socket events, the fault and the server's down time) and the sequence of its decisive seconds.
Hover text comes from <title> elements: no script needed."""
from __future__ import annotations

from html import escape

from ..checks.cell_view import CellView
from .model import CellReport
from .sequence import Message, messages, participants
from .wording import describe, request_name

STATUS_COLOURS = {"2xx": "#2e7d32", "3xx": "#1565c0", "400": "#c62828", "4xx/5xx": "#ef6c00",
                  "network error": "#6a1b9a", "no answer": "#9e9e9e"}
EVENT_MARKS = {  # kind -> (colour, label)
    "sio.connect": ("#2e7d32", "connect"), "sio.disconnect": ("#c62828", "disconnect"),
    "sio.connect_error": ("#ef6c00", "connect_error"), "sio.reconnect_attempt": ("#757575", "reconnect attempt"),
    "sio.upgrade": ("#1565c0", "upgrade"), "singleton.reset": ("#6a1b9a", "singleton reset"),
    "singleton.create": ("#00838f", "singleton create"),
}
WIDTH, LEFT, RIGHT, LANE, ROW = 960, 120, 16, 22, 9


def status_class(outcome) -> str:
    if outcome is None:
        return "no answer"
    if outcome.kind == "http.failed":
        return "network error"
    status = outcome.data.get("status") or 0
    if status == 400:
        return "400"
    if 200 <= status < 300:
        return "2xx"
    if 300 <= status < 400:
        return "3xx"
    return "4xx/5xx"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def timeline_chart(c: CellReport) -> str:
    view = CellView(c.events)
    src = view.client_src
    client_events = [e for e in view.events if e.src == src] if src else []
    if not client_events:
        return '<p class="muted">no client events recorded</p>'
    zero = c.t_zero if c.t_zero is not None else client_events[0].t
    t0 = min(client_events[0].t, zero - 0.5)
    t1 = max(view.events[-1].t, zero + 0.5)
    span = max(t1 - t0, 1e-3)
    x = lambda t: LEFT + (t - t0) / span * (WIDTH - LEFT - RIGHT)  # noqa: E731

    requests = [e for e in client_events if e.kind == "http.request"]
    rows_end: list[float] = []
    bars = []
    for req in requests:
        out = view.outcome(req)
        end = out.t if out is not None else t1
        x0, x1 = x(req.t), max(x(end), x(req.t) + 3)
        row = next((i for i, last in enumerate(rows_end) if last + 1 < x0), len(rows_end))
        if row == len(rows_end):
            rows_end.append(x1)
        rows_end[row] = x1
        cls = status_class(out)
        tip = f"{req.t - zero:+.3f} s {request_name(req.data)}: {describe(out) if out is not None else 'no answer recorded'}"
        bars.append((row, x0, x1, cls, tip))

    lanes = ["server"] + (["proxy"] if any(e.src == "proxy" for e in view.events) else []) + ["requests", "socket"]
    req_rows = max(1, len(rows_end))
    heights = {"server": LANE, "proxy": LANE, "requests": req_rows * (ROW + 3) + 6, "socket": LANE}
    tops, y = {}, 24
    for lane in lanes:
        tops[lane] = y
        y += heights[lane] + 6
    height = y + 26
    svg = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'xmlns="http://www.w3.org/2000/svg" aria-label="timeline of {escape(c.cell.id)}">']
    for lane in lanes:
        svg.append(f'<text x="6" y="{tops[lane] + 14}" class="lane">{lane}</text>'
                   f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{tops[lane] + heights[lane]}" '
                   f'y2="{tops[lane] + heights[lane]}" class="grid"/>')
    # the server's down time, process exits and starts
    for start, end in view.down_windows:
        svg.append(f'<rect x="{x(start):.1f}" y="{tops["server"]}" width="{max(x(end) - x(start), 2):.1f}" '
                   f'height="{LANE}" class="down">{_title(f"server not answering {start - zero:+.3f} s … {end - zero:+.3f} s")}</rect>')
    for e in view.events:
        if e.src == "server" and e.kind in ("proc.exit", "proc.start") or e.kind == "server.up" and e.src == "harness":
            colour = {"proc.exit": "#c62828", "proc.start": "#1565c0", "server.up": "#2e7d32"}[e.kind]
            svg.append(f'<rect x="{x(e.t) - 2:.1f}" y="{tops["server"] + 3}" width="4" height="{LANE - 6}" fill="{colour}">'
                       f'{_title(f"{e.t - zero:+.3f} s {describe(e)}")}</rect>')
        elif e.kind == "proxy.reset" and "proxy" in tops:
            svg.append(f'<path d="M{x(e.t):.1f},{tops["proxy"] + 4} l5,14 h-10 z" fill="#c62828">'
                       f'{_title(f"{e.t - zero:+.3f} s RST to " + str(e.data.get("client")))}</path>')
    for row, x0, x1, cls, tip in bars:
        top = tops["requests"] + 4 + row * (ROW + 3)
        svg.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{ROW}" rx="2" '
                   f'fill="{STATUS_COLOURS[cls]}">{_title(tip)}</rect>')
    for e in client_events:
        if e.kind in EVENT_MARKS:
            colour, label = EVENT_MARKS[e.kind]
            svg.append(f'<circle cx="{x(e.t):.1f}" cy="{tops["socket"] + LANE / 2}" r="5" fill="{colour}">'
                       f'{_title(f"{e.t - zero:+.3f} s {label}: {describe(e)}")}</circle>')
        elif e.kind in ("ws.open", "ws.close"):
            colour = "#1565c0" if e.kind == "ws.open" else "#c62828"
            svg.append(f'<rect x="{x(e.t) - 3:.1f}" y="{tops["socket"] + 2}" width="6" height="6" fill="{colour}">'
                       f'{_title(f"{e.t - zero:+.3f} s {describe(e)}")}</rect>')
    # axis, one tick per second (or per 5 s on long cells)
    step = 1 if span <= 20 else 5
    tick = int(t0 - zero) - 1
    while zero + tick <= t1:
        if zero + tick >= t0:
            xt = x(zero + tick)
            svg.append(f'<line x1="{xt:.1f}" x2="{xt:.1f}" y1="20" y2="{height - 22}" class="tick"/>'
                       f'<text x="{xt:.1f}" y="{height - 8}" class="axis">{tick:+d} s</text>')
        tick += step
    if c.t_fault is not None:
        xf = x(c.t_fault)
        svg.append(f'<line x1="{xf:.1f}" x2="{xf:.1f}" y1="14" y2="{height - 22}" class="fault"/>'
                   f'<text x="{xf + 4:.1f}" y="14" class="fault-label">fault</text>')
    svg.append("</svg>")
    return "".join(svg)


def legend() -> str:
    items = [f'<span><i style="background:{colour}"></i>{escape(label)}</span>' for label, colour in STATUS_COLOURS.items()]
    items += [f'<span><i class="dot" style="background:{colour}"></i>{escape(label)}</span>'
              for colour, label in EVENT_MARKS.values()]
    items.append('<span><i style="background:#ffcdd2"></i>server down</span>')
    return '<div class="legend">requests: ' + "".join(items) + "</div>"


def sequence_svg(c: CellReport, uid: str) -> str:
    parts = participants(c)
    msgs = messages(c)
    if not msgs:
        return '<p class="muted">no events in the decisive window</p>'
    width, left, row = 900, 90, 26
    gap = (width - left - 220) / max(1, len(parts) - 1)
    xs = {key: left + 100 + i * gap for i, (key, _) in enumerate(parts)}
    height = 50 + row * len(msgs) + 20
    out = [f'<svg class="sequence" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'xmlns="http://www.w3.org/2000/svg" aria-label="sequence of the decisive seconds">',
           f'<defs><marker id="arrow-{uid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#37474f"/></marker>'
           f'<marker id="cross-{uid}" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="9" markerHeight="9">'
           f'<path d="M1,1 L9,9 M9,1 L1,9" stroke="#c62828" stroke-width="2"/></marker></defs>']
    for key, label in parts:
        out.append(f'<text x="{xs[key]:.0f}" y="18" class="participant">{escape(label)}</text>'
                   f'<line x1="{xs[key]:.0f}" x2="{xs[key]:.0f}" y1="26" y2="{height - 8}" class="lifeline"/>')
    for i, m in enumerate(msgs):
        y = 48 + i * row
        out.append(f'<text x="4" y="{y + 4}" class="axis">{m.t:+.3f} s</text>')
        out.append(_message_svg(m, xs, y, uid, width))
    out.append("</svg>")
    return "".join(out)


def _message_svg(m: Message, xs: dict[str, float], y: float, uid: str, width: float) -> str:
    text = escape(m.text if len(m.text) <= 64 else m.text[:63] + "…")
    tip = _title(f"{m.t:+.3f} s {m.text}")
    if m.style == "note":
        w = min(8 + 6.2 * len(m.text[:64]), 380)
        x0 = min(max(xs[m.frm] - w / 2, 70), width - 4 - w)
        return (f'<g><rect x="{x0:.0f}" y="{y - 11}" width="{w:.0f}" height="18" rx="3" class="note"/>'
                f'<text x="{x0 + 4:.0f}" y="{y + 2}" class="note-text">{text}</text>{tip}</g>')
    x1, x2 = xs[m.frm], xs[m.to]
    cls = {"request": "msg", "reply": "msg reply", "lost": "msg lost"}[m.style]
    marker = f"url(#cross-{uid})" if m.style == "lost" else f"url(#arrow-{uid})"
    mid = (x1 + x2) / 2
    return (f'<g><line x1="{x1:.0f}" x2="{x2:.0f}" y1="{y + 4}" y2="{y + 4}" class="{cls}" marker-end="{marker}"/>'
            f'<text x="{mid:.0f}" y="{y}" class="msg-text">{text}</text>{tip}</g>')


CURVE_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#37474f")


def curve_chart(series: list[tuple[str, list[tuple[float, int]]]], top: int) -> str:
    """Step lines of connected clients over time (0 = the fault), one per cell, with a legend."""
    series = [(name, pts) for name, pts in series if pts]
    if not series:
        return '<p class="muted">no storm samples recorded</p>'
    top = max(top, max(n for _, pts in series for _, n in pts), 1)
    t0 = max(-1.0, min(pts[0][0] for _, pts in series))
    t1 = max(pts[-1][0] for _, pts in series)
    span = max(t1 - t0, 1e-3)
    left, right, top_y, plot_h = 56, 16, 16, 220
    height = top_y + plot_h + 34 + 18 * ((len(series) + 2) // 3)
    x = lambda t: left + (t - t0) / span * (WIDTH - left - right)  # noqa: E731
    y = lambda n: top_y + plot_h - n / top * plot_h  # noqa: E731
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           'xmlns="http://www.w3.org/2000/svg" aria-label="reconnection curve: clients connected over time">']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        n = round(top * frac)
        out.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(n):.1f}" y2="{y(n):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y(n) + 4:.1f}" class="axis" text-anchor="end">{n}</text>')
    step = 1 if span <= 20 else 5
    tick = int(t0) - 1
    while tick <= t1:
        if tick >= t0:
            out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top_y}" y2="{top_y + plot_h}" class="tick"/>'
                       f'<text x="{x(tick):.1f}" y="{top_y + plot_h + 14}" class="axis">{tick:+d} s</text>')
        tick += step
    if t0 <= 0 <= t1:
        out.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top_y - 6}" y2="{top_y + plot_h}" class="fault"/>'
                   f'<text x="{x(0) + 4:.1f}" y="{top_y + 4}" class="fault-label">fault</text>')
    for k, (name, pts) in enumerate(series):
        colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
        path, prev = [], None
        for t, n in pts:
            if t < t0:
                continue
            if prev is None:
                path.append(f"M{x(t):.1f},{y(n):.1f}")
            else:
                path.append(f"H{x(t):.1f}V{y(n):.1f}")
            prev = n
        out.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.8">'
                   f'{_title(f"{name}: clients connected")}</path>')
        lx = left + (k % 3) * 300
        ly = top_y + plot_h + 32 + 18 * (k // 3)
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="14" height="4" fill="{colour}"/>'
                   f'<text x="{lx + 20}" y="{ly - 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
