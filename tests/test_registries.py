"""The registries (faults, client kinds) and a fault's lifecycle: begin and end recorded, whatever the act does."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.faults import FAULTS, Fault, FaultError, build_fault
from harness.faults.embedded_toxiproxy import TOXICS
from harness.faults.network import TOXIC_ATTRIBUTES
from harness.core.timeline import Timeline


@dataclass
class Breaks(Fault):
    type = "test-breaks"
    description = "its act fails midway"
    after: str = "x"

    def act(self, topology, timeline) -> None:
        timeline.record("harness", "server.down", {"name": "s"})
        raise RuntimeError("the restart did not come back")


def test_a_fault_that_fails_midway_still_records_its_end():
    timeline = Timeline()
    with pytest.raises(RuntimeError):
        Breaks().inject(None, timeline)
    phases = [(e.kind, e.data.get("phase")) for e in timeline.events]
    assert phases == [("fault", "begin"), ("server.down", None), ("fault", "end")]
    assert timeline.events[0].data == {"name": "test-breaks", "phase": "begin", "after": "x"}


def test_every_fault_module_registered_itself():
    assert {"restart", "kill-restart", "stall", "proxy-reset", "restart-behind-proxy", "proxy-down",
            "proxy-toxic"} <= set(FAULTS)


def test_toxic_attributes_are_the_proxys_own():
    assert TOXIC_ATTRIBUTES["latency"] == tuple(TOXICS["latency"].defaults)
    with pytest.raises(FaultError, match="not one of the latency toxic's"):
        build_fault({"type": "proxy-toxic", "toxic": "latency", "rate": 5})
    with pytest.raises(FaultError, match="reset must be one of before-listen, after-listen"):
        build_fault({"type": "restart-behind-proxy", "reset": "later"})


def test_a_scenario_names_the_client_kinds_their_adapters_registered(tmp_path):
    from harness.lab.cell_clients import CLIENT_KINDS
    from harness.lab.scenario import ScenarioError, client_kinds, load

    assert list(client_kinds()) == list(CLIENT_KINDS) == ["browser", "python", "storm"]
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntitle: t\nclients:\n  herd: {kind: crowd}\nmatrix: {mode: [gevent], client: [herd]}\n"
                    "steps: [{wait: 1}]\n")
    with pytest.raises(ScenarioError, match=r"clients\.herd\.kind.*storm \(N python-socketio clients at once\)"):
        load(path)


def test_every_mode_module_registered_itself_and_the_traps_come_last():
    import pkgutil

    import harness.modes as modes_pkg
    from harness.modes import MODES

    modules = {m.name for m in pkgutil.iter_modules(modes_pkg.__path__)} - {"base"}
    registered_from = {type(mode).__module__.rsplit(".", 1)[1] for mode in MODES.values()}
    assert registered_from == modules                         # no mode module left unimported
    traps = [mode.trap for mode in MODES.values()]
    assert traps == sorted(traps) and MODES["gthread-nosw"].trap and not MODES["gevent"].trap


def test_the_doctors_package_lists_come_from_the_modes():
    from harness.entrypoints.doctor import IMPORT_NAMES, package_needs
    from harness.modes import MODES

    declared = {dist for mode in MODES.values() for dist in mode.packages}
    assert declared <= set(IMPORT_NAMES), declared - set(IMPORT_NAMES)
    needs = package_needs()
    # the two modes the hand-kept lists had missed
    assert {"multiworker", "gevent-gws-installed"} <= set(needs["gunicorn"][1].modes)
    assert needs["gevent-websocket"][1].modes == ("gevent-websocket", "gevent-gws-installed")
    assert needs["python-socketio"][1].everything


def test_client_emit_drives_whatever_client_the_cell_has():
    """One fault for every client kind: each adapter's emit_burst gets the count and size."""
    class Client:
        def __init__(self):
            self.calls = []

        def emit_burst(self, event, count, size):
            self.calls.append((event, count, size))

    class Topology:
        clients = [Client(), Client()]

    fault = build_fault({"type": "client-emit", "event": "tally", "count": 50, "bytes": 8})
    fault.inject(Topology, Timeline())
    assert [c.calls for c in Topology.clients] == [[("tally", 50, 8)], [("tally", 50, 8)]]
    assert build_fault({"type": "client-emit"}).count == 1          # the historic single message
    with pytest.raises(FaultError, match="count >= 1"):
        build_fault({"type": "client-emit", "count": 0})
    assert FAULTS["offline-emit"].needs_proxy and not FAULTS["client-emit"].needs_proxy
