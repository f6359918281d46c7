"""What Linux's /proc says about a process group: whether it is idle, with nothing left unread.

A fault that freezes a server (SIGSTOP) must freeze it in a known state. Frozen a moment after a
client sent a request, the server may not have read it yet, and what the client sees after the
stall then depends on that moment (a long-poll the server held times out at resume; one it had
not read yet starts afresh). "Quiescent" names the state the lab waits for instead of a delay:
every byte the clients sent to the port has been read, and every thread of the group is asleep
(blocked waiting for the next event), so the request is in the server's hands."""
from __future__ import annotations

import ipaddress
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


def _tcp_rows():
    """The fields of every row of /proc/net/tcp and tcp6 (local address, state, queues, inode …)."""
    for name in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            yield line.split()


def unread_bytes(port: int) -> int:
    """Bytes that arrived on established TCP connections to local `port` and nobody has read yet
    (accepted or still in the listen queue)."""
    total = 0
    for f in _tcp_rows():
        local, state, queues = f[1], f[3], f[4]
        if state == TCP_ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
            total += int(queues.split(":")[1], 16)
    return total


TCP_LISTEN = "0A"


def _address(hex_addr: str) -> str:
    """/proc/net/tcp's address: IPv4 as one little-endian word, IPv6 as four."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and ::ffff:127.x.x.x; a wildcard (0.0.0.0, ::) is every interface, not loopback."""
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            fds = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue                                      # gone meanwhile, or not ours to read
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def listening(pgid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the live processes of group `pgid` listen on."""
    inodes = _socket_inodes(group_pids(pgid))
    found = []
    for f in _tcp_rows():
        if f[3] == TCP_LISTEN and f[9] in inodes:
            addr, port = f[1].rsplit(":", 1)
            found.append((_address(addr), int(port, 16)))
    return sorted(set(found))


def start_ticks(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot): with the pid, names one process even
    after the pid is reused; None when there is no such process."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


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


def stuck_limit(idle_timeout: float) -> float:
    """The most a start may take while it keeps computing: a safety net for a process that spins
    without ever answering, far beyond any boot seen here (gunicorn with two gevent workers at load 12 took over 15 s)."""
    return max(60.0, 6 * idle_timeout)


class Activity:
    """Whether a starting process group is still getting somewhere: it used CPU, or said something,
    lately. A boot starved of CPU on a busy machine is slow, not stuck; a process that neither
    computes nor writes while it does not answer is stuck. Waits end on that, not on a guess of
    how long a boot takes."""

    def __init__(self, pgid: int):
        self.pgid = pgid
        self._ticks = group_cpu_ticks(pgid)
        self._since = self._started = time.monotonic()

    def touch(self) -> None:
        """Something else showed progress (an output line)."""
        self._since = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the group last used CPU or was touched."""
        ticks = group_cpu_ticks(self.pgid)
        if ticks != self._ticks:
            self._ticks, self._since = ticks, time.monotonic()
        return time.monotonic() - self._since

    def stuck(self, idle_timeout: float) -> bool:
        """Idle for `idle_timeout`, or busy past `stuck_limit(idle_timeout)` since watched."""
        return self.idle_for() >= idle_timeout or time.monotonic() - self._started >= stuck_limit(idle_timeout)


if os.uname().sysname != "Linux":               # pragma: no cover - the lab runs on Linux only
    raise ImportError("harness.core.procfs reads Linux's /proc")
