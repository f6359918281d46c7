"""Is the harness the bottleneck of a storm? Clients connected per second by the storm driver
against Socket.IO connects per second the server accepted, side by side.

    .venv/bin/python bench/storm.py [--clients 1000] [--modes node,aiohttp,gevent] [--via direct,proxy]

For each server mode and path (straight to the server, or through the lab's proxy), one
storm driver connects every client at once (phase `connect`), then the server is killed
and started again on the same port and every client reconnects (phase `reconnect`). From
the recording:

- harness/s   clients connected per second (storm.connect events), from the first handshake
- server/s    connects per second the server logged (`connect sid=` lines), from the same moment
- ratio       harness/s ÷ server/s: ~1.0 means the harness kept pace with what the server accepted
- peak h/s, peak s/s   the most connects in any one second, harness side and server side
- cpu         the harness process's CPU seconds ÷ wall seconds during the phase; well under
              1.0 (one core: the driver is one asyncio loop) means the harness was waiting on the
              server, not the other way round
- wall        seconds from the first handshake to every client connected

Everything runs on this machine's two cores, shared with whatever else runs: compare the
columns of one run, not runs across days.
"""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.checks.storm import SERVER_CONNECT, peak_window  # noqa: E402
from harness.clients.storm import StormDriver  # noqa: E402
from harness.modes.base import ServerSettings  # noqa: E402
from harness.core.supervisor import Supervisor  # noqa: E402
from harness.core.timeline import Timeline  # noqa: E402
from harness.lab.topology import bring_up  # noqa: E402


def rate(times: list[float], start: float | None) -> float | None:
    """Connects per second from the phase's first handshake to the last connect."""
    if not times or start is None or times[-1] <= start:
        return None
    return len(times) / (times[-1] - start)


def phase_figures(timeline: Timeline, since: float, until: float, cpu: float) -> dict[str, float | None]:
    events = [e for e in timeline.events if since <= e.t <= until]
    client = [e.t for e in events if e.kind == "storm.connect"]
    server = [e.t for e in events if e.kind == "log" and e.src == "server" and SERVER_CONNECT in str(e.data.get("line"))]
    hand = [e.t for e in events if e.kind == "storm.handshake"]
    # Both sides from the same start, the harness's first handshake of the phase.
    h, s = rate(client, hand[0] if hand else None), rate(server, hand[0] if hand else None)
    wall = (client[-1] - hand[0]) if client and hand else None
    return {"harness/s": h, "server/s": s, "ratio": (h / s) if h and s else None,
            "peak h/s": peak_window(client)[0], "peak s/s": peak_window(server)[0],
            "connects": len(client), "server connects": len(server),
            "cpu": cpu / (until - since) if until > since else None, "wall": wall}


def wait_all(storm: StormDriver, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if storm.connected() >= n:
            return True
        time.sleep(0.02)
    return False


def one(mode: str, via: str, n: int, timeout: float) -> dict[str, dict]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp, Timeline(Path(tmp) / "timeline.jsonl") as timeline, \
            Supervisor(Path(tmp), timeline) as sup:
        topology = bring_up(sup, timeline, mode, ServerSettings(ping_interval=25, ping_timeout=20),
                            with_proxy=via == "proxy")
        storm = StormDriver(timeline, topology.base_url, clients=n, sample_s=0.1)
        try:
            t0, c0 = timeline.now(), time.process_time()
            ok = storm.start(timeout=timeout)
            t1, c1 = timeline.now(), time.process_time()
            time.sleep(1.0)   # the server's last log lines reach the timeline
            out["connect"] = phase_figures(timeline, t0, t1 + 0.5, c1 - c0) | {"all": ok}
            t2, c2 = timeline.now(), time.process_time()
            topology.server.stop(signal.SIGKILL)
            topology.server.start()
            ok = wait_all(storm, n, timeout)
            t3, c3 = timeline.now(), time.process_time()
            time.sleep(1.0)
            out["reconnect"] = phase_figures(timeline, t2, t3 + 0.5, c3 - c2) | {"all": ok}
        finally:
            storm.close()
    return out


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.2f}" if v < 10 else f"{v:.0f}"
    return str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--modes", default="node,aiohttp,gevent")
    ap.add_argument("--via", default="direct,proxy", help="direct, proxy or both")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every client, per phase")
    args = ap.parse_args()

    cols = ("harness/s", "server/s", "ratio", "peak h/s", "peak s/s", "connects", "server connects", "cpu", "wall", "all")
    rows = []
    for mode in [m for m in args.modes.split(",") if m]:
        for via in [v for v in args.via.split(",") if v]:
            print(f"{mode} {via}: {args.clients} clients …", file=sys.stderr, flush=True)
            for phase, figures in one(mode, via, args.clients, args.timeout).items():
                rows.append((f"{mode} {via} {phase}", figures))
    width = max(len(label) for label, _ in rows)
    print(f"\n{args.clients} python-socketio AsyncClients on one asyncio loop\n")
    print(f"{'':<{width}}  " + "  ".join(f"{c:>15}" for c in cols))
    for label, figures in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{fmt(figures.get(c)):>15}" for c in cols))


if __name__ == "__main__":
    main()
