"""The reconnect storm: N clients, one restart, judged from the storm driver's recording.

Connected clients come from the driver's samples (`storm.sample`, the clients whose
`connected` is true), never from counting connect/disconnect events: python-socketio can
fire `connect` without a `disconnect` in between. Handshakes, error responses and connect
errors are counted from their own events; what the server accepted, from its log lines.
Times are seconds since the fault began.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..core.timeline import Event
from . import Finding, metric
from .cell_view import CellView

WINDOW_S = 1.0          # "per second" figures: the most events in any one-second window
SERVER_CONNECT = " connect sid="   # the apps' log line for an accepted Socket.IO connect


@dataclass(frozen=True)
class Storm:
    """One cell's storm, read back from its timeline."""

    clients: int
    samples: list[Event]          # storm.sample, in time order
    t_fault: float | None
    t_up: float | None            # the server answering again after the fault

    def connected(self, e: Event) -> int:
        return int(e.data.get("connected", 0))

    @property
    def after(self) -> list[Event]:
        return [e for e in self.samples if self.t_fault is not None and e.t >= self.t_fault]

    def before(self) -> Event | None:
        prior = [e for e in self.samples if self.t_fault is None or e.t < self.t_fault]
        return prior[-1] if prior else None

    def dip(self) -> Event | None:
        """The first sample with the fewest clients connected after the fault."""
        after = self.after
        return min(after, key=self.connected) if after else None

    def back(self) -> Event | None:
        """The first sample, after the dip, with every client connected again."""
        low = self.dip()
        if low is None or self.connected(low) >= self.clients:
            return None
        return next((e for e in self.after if e.t > low.t and self.connected(e) >= self.clients), None)

    def reached(self, share: float) -> Event | None:
        """The first sample after the dip with `share` of the lost clients back."""
        low = self.dip()
        if low is None:
            return None
        lost = self.clients - self.connected(low)
        target = self.connected(low) + share * lost
        return next((e for e in self.after if e.t > low.t and self.connected(e) >= target), None)


def storm_of(v: CellView) -> Storm | None:
    starts = v.of("storm.start")
    if not starts:
        return None
    ups = [e for e in v.of("server.up", src="harness", after=v.t_fault)] if v.t_fault is not None else []
    return Storm(int(starts[0].data.get("clients", 0)), v.of("storm.sample"), v.t_fault, ups[0].t if ups else None)


def curve(events: list[Event]) -> list[tuple[float, int]]:
    """(seconds since the fault, clients connected) for every sample; since the first sample without a fault."""
    v = CellView(events)
    s = storm_of(v)
    if s is None or not s.samples:
        return []
    zero = s.t_fault if s.t_fault is not None else s.samples[0].t
    return [(round(e.t - zero, 3), s.connected(e)) for e in s.samples]


def peak_window(times: list[float], width: float = WINDOW_S) -> tuple[int, float | None]:
    """The most `times` inside any window of `width` seconds, and where that window starts."""
    best, start, j = 0, None, 0
    times = sorted(times)
    for i, t in enumerate(times):
        while times[j] < t - width:
            j += 1
        if i - j + 1 > best:
            best, start = i - j + 1, times[j]
    return best, start


def _after_fault(v: CellView, kind: str) -> list[Event]:
    return v.of(kind, src="pyclient", after=v.t_fault) if v.t_fault is not None else []


def _stormy(v: CellView) -> bool:
    """A storm cell with a fault: counts are figures there (0 included), None elsewhere."""
    return v.t_fault is not None and bool(v.of("storm.start"))


@metric("storm_clients", "storm: the number of clients the storm driver ran")
def storm_clients(v: CellView) -> Finding:
    starts = v.of("storm.start")
    return Finding(int(starts[0].data["clients"]) if starts else None, starts[:1])


@metric("storm_connected_before", "storm: clients connected at the last sample before the fault")
def storm_connected_before(v: CellView) -> Finding:
    s = storm_of(v)
    e = s.before() if s else None
    return Finding(s.connected(e) if e else None, [e] if e else [])


@metric("storm_dropped", "storm: clients that lost their connection after the fault (clients minus the dip)")
def storm_dropped(v: CellView) -> Finding:
    s = storm_of(v)
    e = s.dip() if s else None
    return Finding(s.clients - s.connected(e) if e else None, [e] if e else [])


@metric("storm_all_dropped", "storm: every client lost its connection after the fault (the samples reached 0)")
def storm_all_dropped(v: CellView) -> Finding:
    s = storm_of(v)
    e = s.dip() if s else None
    return Finding(s.connected(e) == 0 if e else None, [e] if e else [])


@metric("storm_all_back", "storm: every client connected again after the fault")
def storm_all_back(v: CellView) -> Finding:
    s = storm_of(v)
    if s is None:
        return Finding(None)
    e = s.back()
    return Finding(e is not None, [e] if e else [])


@metric("storm_back_s", "storm: seconds from the fault to every client connected again")
def storm_back_s(v: CellView) -> Finding:
    s = storm_of(v)
    e = s.back() if s else None
    return Finding(round(e.t - s.t_fault, 3) if e else None, [v.fault_begin, e] if e else [])


@metric("storm_back_after_up_s", "storm: seconds from the server answering again to every client connected")
def storm_back_after_up_s(v: CellView) -> Finding:
    s = storm_of(v)
    e = s.back() if s else None
    if e is None or s.t_up is None:
        return Finding(None)
    # The harness's own probe may see the server a few ms after the first clients did: 0 then.
    up = [u for u in v.of("server.up", src="harness", after=s.t_fault)][:1]
    return Finding(round(max(0.0, e.t - s.t_up), 3), up + [e])


@metric("storm_burst_s", "storm: seconds from 10 % to 90 % of the lost clients connected again (the width of the wave)")
def storm_burst_s(v: CellView) -> Finding:
    s = storm_of(v)
    if s is None:
        return Finding(None)
    e10, e90 = s.reached(0.1), s.reached(0.9)
    if e10 is None or e90 is None:
        return Finding(None)
    return Finding(round(e90.t - e10.t, 3), [e10, e90])


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


@metric("storm_retry_spread_s", "storm: seconds between 10 % and 90 % of the clients' first retries (each client's "
        "first handshake after it dropped): how far apart the retries leave the clients")
def storm_retry_spread_s(v: CellView) -> Finding:
    if not _stormy(v):
        return Finding(None)
    dropped: dict[int, float] = {}
    for e in _after_fault(v, "storm.disconnect"):
        dropped.setdefault(e.data.get("i"), e.t)
    first: dict[int, Event] = {}
    for e in _after_fault(v, "storm.handshake"):
        i = e.data.get("i")
        if i in dropped and e.t >= dropped[i] and i not in first:
            first[i] = e
    if len(first) < 2:
        return Finding(None)
    retries = sorted(first.values(), key=lambda e: e.t)
    lo, hi = _quantile([e.t for e in retries], 0.1), _quantile([e.t for e in retries], 0.9)
    pick = [next(e for e in retries if e.t == lo), next(e for e in retries if e.t == hi)]
    return Finding(round(hi - lo, 3), pick)


@metric("storm_sample_gap_s", "storm: the longest time between two samples after the fault (0.05 s when the "
        "harness's loop keeps up; more means the harness itself was stalled, and the times around it are late)")
def storm_sample_gap_s(v: CellView) -> Finding:
    s = storm_of(v)
    after = s.after if s else []
    if len(after) < 2:
        return Finding(None)
    a, b = max(zip(after, after[1:]), key=lambda pair: pair[1].t - pair[0].t)
    return Finding(round(b.t - a.t, 3), [a, b])


@metric("storm_held_handshakes", "storm: handshakes sent before the harness saw the server answer again that did not "
        "fail but ended in a connect: the port accepted them while nothing could answer yet (a listen backlog)")
def storm_held_handshakes(v: CellView) -> Finding:
    s = storm_of(v)
    if not _stormy(v) or s is None or s.t_up is None:
        return Finding(None)
    by_client: dict[int, list[Event]] = {}
    for e in v.of("storm.handshake", after=s.t_fault) + v.of("storm.http_failed", after=s.t_fault) \
            + v.of("storm.connect", after=s.t_fault):
        by_client.setdefault(e.data.get("i"), []).append(e)
    held = []
    for es in by_client.values():
        es.sort(key=lambda e: e.t)
        for k, e in enumerate(es):
            if e.kind == "storm.handshake" and e.t < s.t_up:
                outcome = next((x for x in es[k + 1:] if x.kind != "storm.handshake"), None)
                if outcome is not None and outcome.kind == "storm.connect":
                    held.append(e)
    held.sort(key=lambda e: e.t)
    return Finding(len(held), held[:3])


@metric("storm_peak_reconnects_per_s", "storm: the most clients that became connected within one second (from the samples)")
def storm_peak_reconnects_per_s(v: CellView) -> Finding:
    s = storm_of(v)
    after = s.after if s else []
    best, pair = 0, []
    j = 0
    for i, e in enumerate(after):
        while after[j].t < e.t - WINDOW_S:
            j += 1
        # the sample before the window holds its value until the window's first sample
        window = after[max(j - 1, 0):i + 1]
        low = min(window, key=s.connected)
        rise = s.connected(e) - s.connected(low)
        if rise > best:
            best, pair = rise, [low, e]
    return Finding(best if s else None, pair)


@metric("storm_handshakes", "storm: session attempts (Engine.IO requests without a sid) after the fault")
def storm_handshakes(v: CellView) -> Finding:
    es = _after_fault(v, "storm.handshake")
    return Finding(len(es) if _stormy(v) else None, es[:3])


@metric("storm_peak_handshakes_per_s", "storm: the most session attempts within one second after the fault")
def storm_peak_handshakes_per_s(v: CellView) -> Finding:
    es = _after_fault(v, "storm.handshake")
    best, start = peak_window([e.t for e in es])
    first = [e for e in es if start is not None and e.t >= start][:1]
    return Finding(best if _stormy(v) else None, first)


@metric("storm_400", "storm: responses 400 to the storm's clients after the fault")
def storm_400(v: CellView) -> Finding:
    es = [e for e in _after_fault(v, "storm.http_error") if e.data.get("status") == 400]
    return Finding(len(es) if _stormy(v) else None, es[:3])


@metric("storm_400_body", "storm: the body of the first 400 after the fault")
def storm_400_body(v: CellView) -> Finding:
    es = [e for e in _after_fault(v, "storm.http_error") if e.data.get("status") == 400]
    return Finding(es[0].data.get("body") if es else None, es[:1])


@metric("storm_http_errors", "storm: responses >= 400 of any status to the storm's clients after the fault")
def storm_http_errors(v: CellView) -> Finding:
    es = _after_fault(v, "storm.http_error")
    return Finding(len(es) if _stormy(v) else None, es[:3])


@metric("storm_failed_requests", "storm: requests of the storm's clients that got no response after the fault")
def storm_failed_requests(v: CellView) -> Finding:
    es = _after_fault(v, "storm.http_failed")
    return Finding(len(es) if _stormy(v) else None, es[:3])


@metric("storm_connect_errors", "storm: connect_error events of the storm's clients after the fault")
def storm_connect_errors(v: CellView) -> Finding:
    es = _after_fault(v, "storm.connect_error")
    return Finding(len(es) if _stormy(v) else None, es[:3])


def _server_connects(v: CellView) -> list[Event]:
    return [e for e in v.of("log", src="server", after=v.t_fault) if SERVER_CONNECT in str(e.data.get("line", ""))]


@metric("storm_server_connects", "storm: Socket.IO connects the server logged after the fault")
def storm_server_connects(v: CellView) -> Finding:
    if not _stormy(v):
        return Finding(None)
    es = _server_connects(v)
    return Finding(len(es), es[:3])


@metric("storm_extra_server_connects", "storm: connects the server accepted after the fault beyond one per dropped client")
def storm_extra_server_connects(v: CellView) -> Finding:
    s = storm_of(v)
    low = s.dip() if s else None
    if low is None:
        return Finding(None)
    es = _server_connects(v)
    return Finding(len(es) - (s.clients - s.connected(low)), es[-3:])
