"""One server's life as a cell sees it, as one process to time from outside.

    PYTHONPATH=CHECKOUT .venv/bin/python bench/server_life.py MODE TRANSPORT start|restart

`start`: the server starts (until its handshake answers) and the supervisor closes it (no client:
a python-socketio client's disconnect over polling can wait ~10 s for its own long-poll).
`restart`: it starts, a python-socketio client connects over TRANSPORT, the `restart` fault's
`Server.restart()` runs with the client holding its long-poll or WebSocket, and the supervisor
closes it. PYTHONPATH picks the checkout whose harness and servers run, so two checkouts can
be timed in turn (`/usr/bin/time -f %e`, hyperfine) and compared run by run.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import socketio

from harness.modes import ServerSettings, get_mode
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline
from harness.lab.topology import Server


def main() -> None:
    mode, transport, action = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp, Timeline(Path(tmp) / "t.jsonl") as timeline, \
            Supervisor(Path(tmp), timeline) as supervisor:
        server = Server(supervisor, timeline, get_mode(mode), ServerSettings(ping_interval=5, ping_timeout=5))
        server.start()
        if action == "restart":
            client = socketio.Client(reconnection=False)
            client.connect(f"http://127.0.0.1:{server.port}", transports=[transport], wait_timeout=5)
            server.restart()
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 - its session died with the old process
                pass


if __name__ == "__main__":
    main()
