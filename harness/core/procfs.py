"""What Linux's /proc says about a process group: whether it is idle, with nothing left unread.

A fault that freezes a server (SIGSTOP) must freeze it in a known state. Frozen a moment after a
client sent a request, the server may not have read it yet, and what the client sees after the
stall then depends on that moment (a long-poll the server held times out at resume; one it had
not read yet starts afresh). "Quiescent" names the state the lab waits for instead of a delay:
every byte the clients sent to the port has been read, and every thread of the group is asleep
(blocked waiting for the next event), so the request is in the server's hands."""
from __future__ import annotations

import os
import time
from pathlib import Path

PROC = Path("/proc")
TCP_ESTABLISHED = "01"


def group_pids(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    pids = []
    for d in PROC.iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()     # the command name may hold spaces and ')'
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(d.name))
    return pids


def all_asleep(pids: list[int]) -> bool:
    """Every thread of every process is blocked in the kernel (state S), none running or runnable."""
    for pid in pids:
        try:
            tasks = list((PROC / str(pid) / "task").iterdir())
        except OSError:
            continue                                      # gone meanwhile
        for task in tasks:
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2] not in "SZ":
                return False
    return True


def unread_bytes(port: int) -> int:
    """Bytes that arrived on established TCP connections to local `port` and nobody has read yet
    (accepted or still in the listen queue)."""
    total = 0
    for name in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local, state, queues = f[1], f[3], f[4]
            if state == TCP_ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
                total += int(queues.split(":")[1], 16)
    return total


def wait_quiescent(pgid: int, port: int, bound_s: float) -> bool:
    """Until the group has read everything sent to `port` and all its threads sleep, seen twice in a
    row (a thread between two syscalls looks asleep for an instant); False if `bound_s` passed first."""
    deadline = time.monotonic() + bound_s
    calm = 0
    while time.monotonic() < deadline:
        if unread_bytes(port) == 0 and all_asleep(group_pids(pgid)):
            calm += 1
            if calm == 2:
                return True
        else:
            calm = 0
        time.sleep(0.002)
    return False


def group_cpu_ticks(pgid: int) -> int:
    """CPU time (user + system, in clock ticks) the live processes of group `pgid` have used."""
    total = 0
    for pid in group_pids(pgid):
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


class Progress:
    """Whether a starting process group is still getting somewhere: it used CPU, or said something,
    lately. A boot starved of CPU on a busy machine is slow, not stuck; a process that neither
    computes nor writes while it does not answer is stuck. Waits end on that, not on a guess of
    how long a boot takes."""

    def __init__(self, pgid: int):
        self.pgid = pgid
        self._ticks = group_cpu_ticks(pgid)
        self._since = time.monotonic()

    def touch(self) -> None:
        """Something else showed progress (an output line)."""
        self._since = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the group last used CPU or was touched."""
        ticks = group_cpu_ticks(self.pgid)
        if ticks != self._ticks:
            self._ticks, self._since = ticks, time.monotonic()
        return time.monotonic() - self._since


if os.uname().sysname != "Linux":               # pragma: no cover - the lab runs on Linux only
    raise ImportError("harness.core.procfs reads Linux's /proc")
