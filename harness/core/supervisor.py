"""The supervisor: every process the lab starts, and the guarantee that it dies with the run.

Each child runs in its own process group (so a Werkzeug reloader's child or gunicorn's
workers go with it), gets PR_SET_PDEATHSIG so that even a SIGKILLed harness takes it
down (a grandchild that outlives its parent, the Werkzeug reloader's child, asks for the
same itself: servers/reloader_child.py), and has its output streamed line by line into a
log file in the run folder and into the timeline. `Supervisor` is a context manager: leaving it, on any path, kills
every group it started.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .procfs import Activity, stuck_limit
from .redaction import redact_text
from .timeline import Timeline

_PR_SET_PDEATHSIG = 1
POLL_AFTER_OUTPUT_S = 0.005   # readiness: first probe after a log line, doubling ...
POLL_IDLE_S = 0.05            # ... up to this while the process is silent

# Set by the first SIGINT/SIGTERM/SIGHUP of a run and never cleared: the KeyboardInterrupt it
# raises may land where a cell swallows it (a browser context closing), the flag cannot be.
# Every wait of the lab checks it, and no new cell starts once it is set.
INTERRUPTED = threading.Event()


class StartupError(RuntimeError):
    """A process never became ready; the message carries the reason and its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS picks (the 5100 range here is partly taken by other processes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def signal_when_parent_dies(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (PR_SET_PDEATHSIG); meant to
    run in a child between fork and exec (`preexec_fn`)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except OSError:
        pass


def _die_with_parent() -> None:
    # Runs in the child between fork and exec.
    os.setsid()
    signal_when_parent_dies(signal.SIGKILL)


@dataclass
class Managed:
    """One started process (the leader of its own process group)."""

    name: str
    argv: list[str]
    popen: subprocess.Popen
    log_path: Path
    src: str
    started_at: float
    quit_signal: int = signal.SIGTERM      # what `close` sends first
    _tail: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)
    # Notified on every output line and when the output ends: readiness probes wake on it.
    _output: threading.Condition = field(default_factory=threading.Condition)
    _lines: int = 0
    # Set once `proc.exit` is on the timeline: whoever saw the process end waits for it, so a
    # judge never reads a timeline where the exit is missing (a start failure looked like none).
    _exit_recorded: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self._tail[-lines:])

    def wait_output(self, seen: int, timeout: float) -> int:
        """Wait up to `timeout` for an output line after the first `seen` (or for the output to end);
        the number of lines so far."""
        with self._output:
            self._output.wait_for(lambda: self._lines > seen or not any(r.is_alive() for r in self._readers),
                                  timeout)
            return self._lines

    def drain(self, timeout: float = 4.0) -> None:
        """Wait until a process that exited has its last lines and its `proc.exit` on the timeline."""
        self._exit_recorded.wait(timeout)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Supervisor:
    """Starts, watches and always stops the run's processes."""

    def __init__(self, run_dir: Path, timeline: Timeline):
        self.run_dir = Path(run_dir)
        self.timeline = timeline
        self.log_dir = self.run_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._procs: list[Managed] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    # -- starting -------------------------------------------------------------------
    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None, src: str = "server", json_events: bool = False,
              port: int | None = None, quit_signal: int = signal.SIGTERM) -> Managed:
        """Start `argv` in its own process group; stdout/stderr go to logs/NAME.log and the timeline.

        With `json_events`, stdout lines that are JSON objects {"wall", "kind", "data"} become
        timeline events of source `src` (the proxy reports its accepts and resets that way).
        """
        with self._lock:
            n = self._counts.get(name, 0)
            self._counts[name] = n + 1
        log_path = self.log_dir / (f"{name}.log" if n == 0 else f"{name}.{n}.log")
        popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent, close_fds=True,
        )
        proc = Managed(name, list(argv), popen, log_path, src, self.timeline.now(), quit_signal)
        with self._lock:
            self._procs.append(proc)
        self.timeline.record("server" if src == "server" else src, "proc.start",
                             {"name": name, "pid": popen.pid, "argv": argv, "port": port})
        log = open(log_path, "a", encoding="utf-8", errors="replace")
        readers = [
            threading.Thread(target=self._pump, args=(proc, popen.stdout, "stdout", log, json_events), daemon=True),
            threading.Thread(target=self._pump, args=(proc, popen.stderr, "stderr", log, False), daemon=True),
        ]
        proc._readers = readers
        for r in readers:
            r.start()
        threading.Thread(target=self._reap, args=(proc, readers, log), daemon=True).start()
        return proc

    def _pump(self, proc: Managed, stream, stream_name: str, log, json_events: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = redact_text(raw.decode("utf-8", errors="replace").rstrip("\n"))  # a logged URL may hold a token
            log.write(f"{stream_name}: {line}\n" if not json_events else line + "\n")
            log.flush()
            proc._tail.append(line)
            del proc._tail[:-200]
            if json_events and line.startswith("{"):
                try:
                    obj = json.loads(line)
                    t = self.timeline.t_from_wall(obj["wall"]) if "wall" in obj else None
                    self.timeline.record(proc.src, obj["kind"], obj.get("data") or {}, t=t)
                    continue
                except (ValueError, KeyError, TypeError):
                    pass
            self.timeline.record(proc.src, "log", {"name": proc.name, "stream": stream_name, "line": line})
            with proc._output:
                proc._lines += 1
                proc._output.notify_all()
        stream.close()
        with proc._output:
            proc._output.notify_all()

    def _reap(self, proc: Managed, readers: list[threading.Thread], log) -> None:
        code = proc.popen.wait()
        for r in readers:
            r.join(timeout=2)
        log.close()
        self.timeline.record(proc.src, "proc.exit", {"name": proc.name, "pid": proc.pid, "returncode": code})
        proc._exit_recorded.set()

    # -- readiness ------------------------------------------------------------------
    def wait_ready(self, proc: Managed, probe: Callable[[], bool], *, timeout: float = 20.0,
                   what: str = "an Engine.IO handshake") -> float:
        """Probe until `probe` returns True; a clear StartupError with the log tail otherwise.

        `timeout` is how long the process may make no progress (use no CPU, write no line) without
        answering: a boot starved of CPU on a busy machine waits as long as it computes, up to
        `stuck_limit(timeout)` in all (a process spinning without ever answering).
        Probes run when the process writes a line (a server logs as it boots: the moment to look)
        and then at 5, 10, 20, 40 ms, and every 50 ms while it stays silent."""
        t0 = time.monotonic()
        activity = Activity(proc.pid)
        seen = proc._lines
        delay = POLL_AFTER_OUTPUT_S
        while not activity.stuck(timeout):
            if INTERRUPTED.is_set():
                raise KeyboardInterrupt("run interrupted")
            if not proc.alive():
                proc.drain()
                raise StartupError(
                    f"{proc.name} exited with code {proc.popen.returncode} before answering {what}.\n"
                    f"--- last lines of {proc.log_path} ---\n{proc.tail()}")
            try:
                if probe():
                    return time.monotonic() - t0
            except Exception:  # noqa: BLE001 - any failure just means "not yet"
                pass
            lines = proc.wait_output(seen, min(delay, max(0.0, timeout - activity.idle_for())))
            if lines > seen:
                activity.touch()
            delay = POLL_AFTER_OUTPUT_S if lines > seen else min(2 * delay, POLL_IDLE_S)
            seen = lines
            if not any(r.is_alive() for r in proc._readers):
                # The output has ended (closed, or the process exited): no line will wake us.
                try:
                    proc.popen.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    pass
        waited = time.monotonic() - t0
        why = (f"busy for {waited:.0f} s without answering" if waited >= stuck_limit(timeout)
               else f"idle (no CPU, no output) for {timeout:.0f} s, {waited:.0f} s after it started")
        raise StartupError(
            f"{proc.name} did not answer {what}: {why} (pid {proc.pid} still running).\n"
            f"--- last lines of {proc.log_path} ---\n{proc.tail()}")

    # -- stopping -------------------------------------------------------------------
    def stop(self, proc: Managed, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
        """Signal the whole group, escalate to SIGKILL, and wait for the leader."""
        proc.signal_group(sig)
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.signal_group(signal.SIGKILL)
            return proc.popen.wait(timeout=5)
        finally:
            # A group member that ignored SIGTERM (a gunicorn worker) must not outlive its leader.
            proc.signal_group(signal.SIGKILL)
            proc.drain()

    def close(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            proc.signal_group(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            proc.signal_group(proc.quit_signal)
        deadline = time.monotonic() + 3
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            proc.signal_group(signal.SIGKILL)
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TerminationAsInterrupt:
    """Turn SIGINT, SIGTERM and SIGHUP into KeyboardInterrupt, so `with` blocks tear down as on
    Ctrl-C, and set INTERRUPTED, which outlives an exception that something swallowed."""

    def __enter__(self):
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self._old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        INTERRUPTED.set()
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
