"""The probe's session-aware requests, against a real server (mode aiohttp): body "40" is a
Socket.IO CONNECT, which the server answers with 200 "OK" on a live session."""
from __future__ import annotations

import time

from harness.clients import probe
from harness.modes import ServerSettings, get_mode
from harness.core.supervisor import Supervisor
from harness.core.timeline import Timeline
from harness.lab.topology import Server


def test_session_post_uses_its_own_handshake_sid_and_checks_after_each(tmp_path):
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        server = Server(sup, tl, get_mode("aiohttp"), ServerSettings())
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        mark = time.monotonic()
        probe.send(tl, base, path="/socket.io/", method="POST", body="40", session=True, repeat=2,
                   wait=False, timeout=5, check_path="/health-missing", check_timeout=1)
        assert time.monotonic() - mark < 4   # wait: false returns without waiting for the POSTs
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(
                1 for e in tl.events if e.kind == "http.response" and e.data.get("method") == "POST") < 2:
            time.sleep(0.05)
        events = tl.events
    handshakes = [e for e in events if e.kind == "http.response" and e.data.get("method") == "GET"
                  and str(e.data.get("body", "")).startswith("0{")]
    posts = [e for e in events if e.kind == "http.request" and e.data.get("method") == "POST"]
    assert len(handshakes) == 2 and len(posts) == 2
    sids = {h.data["body"].split('"sid":"')[1].split('"')[0] for h in handshakes}
    assert {p.data["sid"] for p in posts} == sids
    answered = [e for e in events if e.kind == "http.response" and e.data.get("method") == "POST"]
    assert [a.data["status"] for a in answered] == [200, 200]
    checks = [e for e in events if e.kind == "probe.check"]
    assert [c.data["after_requests"] for c in checks] == [1, 2]
    assert all(c.data["status"] == 404 for c in checks)
