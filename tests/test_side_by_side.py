"""Cells side by side share nothing a fault could touch: a reloader restart in one reloads no other."""
from __future__ import annotations

from harness.modes import get_mode
from harness.modes.base import ServerSettings
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline
from harness.lab.topology import Server


def test_a_reloader_restart_reloads_only_its_own_server(tmp_path):
    with Timeline(tmp_path / "timeline.jsonl") as timeline, Supervisor(tmp_path, timeline) as supervisor:
        mode = get_mode("reloader")
        one, other = (Server(supervisor, timeline, mode, ServerSettings(), instance=i) for i in (0, 1))
        one.start()
        other.start()
        assert one.reload_marker != other.reload_marker
        before = other._boot()
        old = one.boot
        one.restart()                       # returns once `one` answers with a new process
        assert one.boot != old
        # The other server's child was never replaced: same boot id, and no restart in its log.
        assert other._boot() == before
        lines = [e.data["line"] for e in timeline.events
                 if e.kind == "log" and e.data.get("name") == other.name and "Detected change" in e.data.get("line", "")]
        assert lines == []
