"""How figures and events are written in words, the same in every output."""
from __future__ import annotations

from typing import Any

from ..core.protocol import describe_packet, is_engineio
from ..core.timeline import Event


def fmt(value: Any, limit: int = 80) -> str:
    """A figure in a table cell: — for none, yes/no, two decimals, one line, at most `limit` chars."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 3] + "…"


def against_record(v) -> str:
    """What a claim's verdict is against the one its scenario file records ('' when they agree)."""
    if v.changed:
        return f"CHANGED: the scenario file records {v.claim.recorded}"
    if getattr(v, "your_app", False):
        return f"on your app; the reference app's recorded verdict: {v.claim.recorded}" if v.claim.recorded else ""
    if v.claim.recorded is None:
        return "not recorded in the scenario file yet"
    if not v.complete and v.verdict != v.claim.recorded:
        if getattr(v, "premise_failed", None):
            cells = ", ".join(sorted(v.premise_failed))
            return f"its premise did not hold in {cells}; the scenario file records {v.claim.recorded}"
        return f"partial run; the scenario file records {v.claim.recorded}"
    return ""


def plain(value: Any, limit: int = 80) -> str:
    """Like `fmt`, without Markdown escaping (HTML, XML, diagrams)."""
    return fmt(value, limit).replace("\\|", "|")


def is_socketio(d: dict[str, Any]) -> bool:
    """A Socket.IO request (the default path or any with `EIO=`), not the client library."""
    return is_engineio(d)


def rel_time(e: Event, t_zero: float | None) -> str:
    return f"{e.t - t_zero:+.3f} s" if t_zero is not None else f"{e.t:.3f} s"


def request_name(d: dict[str, Any]) -> str:
    """`POST close`, `GET poll`, `GET handshake`, or method and path for other requests."""
    path = str(d.get("path") or _path(d.get("url")))
    method = d.get("method") or "?"
    if not is_socketio(d):
        return f"{method} {path}"
    if not d.get("sid"):
        return f"{method} handshake"
    if method == "POST":
        return f"POST {describe_packet(d.get('body'))}" if d.get("body") is not None else "POST"
    return f"{method} poll"


def describe(e: Event) -> str:
    """One event in a line, without its time and source."""
    d = e.data
    if e.kind == "http.request":
        body = f" body `{d.get('body')!r}` ({describe_packet(d.get('body'))})" if d.get("body") else ""
        return (f"{d.get('method')} {d.get('path')} sid={d.get('sid') or '(none: handshake)'} "
                f"transport={d.get('transport')}{body}")
    if e.kind == "http.response":
        return (f"{d.get('method')} {d.get('path') or _path(d.get('url'))} sid={d.get('sid')} → {d.get('status')} "
                f"{d.get('status_text', '')} body `{fmt(d.get('body'))}`")
    if e.kind == "http.failed":
        return f"{d.get('method')} {d.get('path') or _path(d.get('url'))} sid={d.get('sid')} → {d.get('error')}"
    if e.kind.startswith("sio."):
        return e.kind + " " + ", ".join(f"{k}={v}" for k, v in d.items())
    if e.kind == "log":
        return f"log {d.get('name', '')}: {fmt(d.get('line'), 160)}"
    return e.kind + " " + ", ".join(f"{k}={fmt(v)}" for k, v in d.items() if k not in ("argv",))


def event_line(e: Event, t_zero: float | None) -> str:
    """`+0.012 s` browser: … — the form events are quoted in the Markdown report."""
    return f"`{rel_time(e, t_zero)}` {e.src}: {describe(e)}"


def _path(url: Any) -> str:
    text = str(url or "")
    if "://" in text:
        text = "/" + text.split("://", 1)[1].split("/", 1)[-1]
    return text.split("?", 1)[0]
