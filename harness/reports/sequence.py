"""The decisive seconds of a cell as a sequence of messages between client, proxy and server,
and that sequence as a Mermaid `sequenceDiagram` (renders on any Git host)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.protocol import describe_packet
from .model import CellReport
from .rca import decisive_events
from .wording import request_name

MESSAGE_LIMIT = 36


@dataclass(frozen=True)
class Message:
    t: float            # seconds since the cell's zero (the fault, or the first Socket.IO request)
    frm: str            # participant key: client, proxy, server
    to: str             # the same participant for a note
    style: str          # request, reply, lost (a failure), note
    text: str


def participants(c: CellReport) -> list[tuple[str, str]]:
    client = "Browser" if c.client == "browser" else "Python client"
    has_proxy = any(e.src == "proxy" for e in c.events)
    return [("client", client)] + ([("proxy", "Proxy")] if has_proxy else []) + [("server", "Server")]


def _short_sid(sid: object) -> str:
    s = str(sid or "")
    return s[:6] + "…" if len(s) > 8 else s


def _response_text(d: dict) -> str:
    status = d.get("status")
    body = d.get("body")
    if status == 200 and str(body).lower() == "ok":
        return "200 OK"
    if status == 200 and body is not None:
        packets = describe_packet(str(body)) if not str(body).startswith("0{") else "open"
        return f"200 {packets}"
    text = f"{status} {d.get('status_text', '')}".strip()
    if body:
        text += f" {str(body)[:60]}"
    return text


def messages(c: CellReport) -> list[Message]:
    if c.t_zero is None:
        return []
    has_proxy = any(p == "proxy" for p, _ in participants(c))
    edge = "proxy" if has_proxy else "server"
    out: list[Message] = []
    for e in decisive_events(c, limit=200):
        t, d = e.t - c.t_zero, e.data
        if e.kind == "http.request":
            sid = f" sid={_short_sid(d.get('sid'))}" if d.get("sid") else ""
            out.append(Message(t, "client", "server", "request", f"{request_name(d)}{sid}"))
        elif e.kind == "http.response":
            out.append(Message(t, "server", "client", "reply", _response_text(d)))
        elif e.kind == "http.failed":
            out.append(Message(t, edge, "client", "lost", f"{request_name(d)} failed: {d.get('error')}"))
        elif e.kind == "ws.open":
            out.append(Message(t, "client", "server", "request", f"WebSocket open sid={_short_sid(d.get('sid'))}"))
        elif e.kind == "ws.close":
            out.append(Message(t, edge, "client", "lost", "WebSocket closed"))
        elif e.kind == "proxy.reset":
            out.append(Message(t, "proxy", "proxy", "note", f"RST to the client ({d.get('toxic', 'reset')})"))
        elif e.kind == "fault":
            out.append(Message(t, "server", "server", "note", f"fault {d.get('name')} begins"))
        elif e.kind == "proc.exit" and e.src == "server":
            out.append(Message(t, "server", "server", "note", f"process exits (code {d.get('returncode')})"))
        elif e.kind == "proc.start" and e.src == "server":
            out.append(Message(t, "server", "server", "note", "a new process starts"))
        elif e.kind == "server.up":
            out.append(Message(t, "server", "server", "note", "answers handshakes again"))
        elif e.kind == "log":
            out.append(Message(t, "server", "server", "note", f"log: {str(d.get('line'))[:70]}"))
        elif e.kind == "sio.disconnect":
            out.append(Message(t, "client", "client", "note", f"disconnect: {d.get('reason')}"))
        elif e.kind == "sio.connect":
            out.append(Message(t, "client", "client", "note", f"connect, Engine.IO sid {_short_sid(d.get('eio_sid'))}"))
        elif e.kind == "sio.connect_error":
            out.append(Message(t, "client", "client", "note", f"connect_error: {str(d.get('message'))[:50]}"))
        elif e.kind == "sio.reconnect_attempt":
            out.append(Message(t, "client", "client", "note", f"reconnect attempt {d.get('attempt')}"))
        elif e.kind in ("client.frozen", "client.thawed"):
            out.append(Message(t, "client", "client", "note",
                               "scripts paused" if e.kind == "client.frozen" else "scripts resumed"))
        elif e.kind == "singleton.reset":
            out.append(Message(t, "client", "client", "note", f"getAppSocket() reset: {d.get('reason')}"))
    deduped = [m for i, m in enumerate(out) if i == 0 or (m.style, m.frm, m.text) != (out[i - 1].style, out[i - 1].frm, out[i - 1].text)]
    return deduped[:MESSAGE_LIMIT]


_UNSAFE = re.compile(r"[;#{}<>\"`]")


def _safe(text: str) -> str:
    # `;` ends a statement and `#` starts an entity in Mermaid; quotes and braces confuse some renderers.
    return _UNSAFE.sub(lambda m: {'"': "'", "<": "‹", ">": "›"}.get(m.group(0), " "), text).strip()


def mermaid(c: CellReport) -> str:
    parts = participants(c)
    lines = ["sequenceDiagram"] + [f"    participant {key} as {label}" for key, label in parts]
    arrows = {"request": "->>", "reply": "-->>", "lost": "--x"}
    for m in messages(c):
        stamp = f"{m.t:+.3f}s"
        if m.style == "note":
            lines.append(f"    Note over {m.frm}: {stamp} {_safe(m.text)}")
        else:
            lines.append(f"    {m.frm}{arrows[m.style]}{m.to}: {stamp} {_safe(m.text)}")
    if len(lines) == len(parts) + 1:
        lines.append(f"    Note over {parts[0][0]}: no events in the decisive window")
    return "\n".join(lines)
