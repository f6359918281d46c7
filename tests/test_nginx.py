"""nginx and Redis as the lab runs them: configuration rendered from servers/nginx/, real
processes started and stopped by the supervisor, nothing left behind, and a front's
instances really answering through nginx."""
from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import requests

from harness.components import COMPONENTS, missing
from harness.components.front import FrontError, FrontSpec
from harness.components.nginx import Nginx, NginxConfig, NginxConfigError
from harness.components.redis_server import RedisServer, ping
from harness.modes.base import ServerSettings
from harness.lab.scenario import ScenarioError, load
from harness.core.supervisor import Supervisor, port_is_listening
from harness.core.timeline import Timeline
from harness.lab.topology import bring_up, handshake_ok

from .conftest import pids_alive, require


def _cfg(**kw) -> str:
    """The rendered configuration without its comments: only what nginx reads."""
    text = NginxConfig(**{"upstreams": [7001, 7002], "listen_port": 7000, **kw}).render()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_round_robin_is_the_default_and_lists_every_upstream():
    text = _cfg()
    assert "ip_hash" not in text
    assert "server 127.0.0.1:7001;" in text and "server 127.0.0.1:7002;" in text
    assert "listen 127.0.0.1:7000;" in text
    assert "{{ " not in text     # every field filled


def test_ip_hash_variant():
    assert "\n        ip_hash;" in _cfg(balance="ip_hash")


def test_websocket_headers_passed_or_dropped():
    passed, dropped = _cfg(websocket="pass"), _cfg(websocket="drop")
    assert "proxy_set_header Upgrade $http_upgrade;" in passed
    assert 'proxy_set_header Connection "upgrade";' in passed
    assert "proxy_set_header Upgrade" not in dropped and "proxy_set_header Connection" not in dropped


def test_read_timeout_and_every_temp_path_inside_the_prefix():
    text = _cfg(read_timeout_s=3)
    assert "proxy_read_timeout 3s;" in text
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f"{name}_temp_path tmp/{name};" in text
    assert "pid " not in text and "daemon" not in text     # given on the command line


@pytest.mark.parametrize("kw, word", [({"balance": "sticky"}, "balance"), ({"websocket": "maybe"}, "websocket"),
                                      ({"read_timeout_s": 0}, "read_timeout_s")])
def test_bad_variants_are_refused(kw, word):
    with pytest.raises(NginxConfigError, match=word):
        NginxConfig(upstreams=[1], **kw)


def test_front_spec_validation_names_the_field():
    assert FrontSpec.from_dict({"instances": 2, "balance": "ip_hash", "message_queue": "redis"}).components \
        == ("nginx", "redis-server")
    with pytest.raises(FrontError) as err:
        FrontSpec.from_dict({"instances": "2"})
    assert err.value.field == "instances"
    with pytest.raises(FrontError) as err:
        FrontSpec.from_dict({"sticky": True})
    assert err.value.field == "sticky"


def test_scenario_front_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent("""\
        name: x
        fronts:
          rr:
            instances: 2
            balance: roundrobin
        matrix:
          - {mode: gevent, client: python, front: [none, rr]}
        steps:
          - open: {}
        """))
    with pytest.raises(ScenarioError, match=r"x.yaml:5: fronts.rr.balance: balance: 'roundrobin'"):
        load(path)
    path.write_text(path.read_text().replace("roundrobin", "round-robin").replace("[none, rr]", "[rr, sticky]"))
    with pytest.raises(ScenarioError, match=r"x.yaml:7: matrix.0.front: unknown value 'sticky'"):
        load(path)


def test_cells_know_their_components(tmp_path):
    path = tmp_path / "y.yaml"
    path.write_text(textwrap.dedent("""\
        name: y
        fronts:
          sticky: {instances: 2, balance: ip_hash, message_queue: redis}
        matrix:
          - {mode: [gevent, node], client: python, front: [none, sticky]}
        steps:
          - open: {}
        """))
    s = load(path)
    got = {c.id: s.components(c) for c in s.cells}
    assert got == {"gevent-none-python": (), "gevent-sticky-python": ("nginx", "redis-server"),
                   "node-none-python": ("node",), "node-sticky-python": ("node", "nginx", "redis-server")}


def _leftovers(pids: list[int], ports: list[int]) -> tuple[list[int], list[int]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alive, listening = pids_alive(pids), [p for p in ports if port_is_listening(p)]
        if not alive and not listening:
            break
        time.sleep(0.1)
    return alive, listening


def _nginx_children(master: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_real_nginx_and_redis_start_and_leave_nothing(tmp_path):
    require(not missing(["nginx", "redis-server"]), "nginx or redis-server missing (make system-deps)")
    with Timeline(tmp_path / "timeline.jsonl") as tl:
        with Supervisor(tmp_path, tl) as sup:
            redis = RedisServer(sup, tl, tmp_path / "redis").start()
            nginx = Nginx(sup, tl, tmp_path / "nginx", NginxConfig(upstreams=[redis.port])).start()
            assert ping(redis.port)
            assert requests.get(f"http://127.0.0.1:{nginx.port}/x", timeout=3).status_code == 502  # Redis is no HTTP app
            pids = [redis.proc.pid, nginx.proc.pid, *_nginx_children(nginx.proc.pid)]
            assert len(pids) == 3, "nginx master and its worker, and Redis"
            ports = [redis.port, nginx.port]
        assert _leftovers(pids, ports) == ([], [])
        events = tl.events
    access = [e for e in events if e.kind == "nginx.access" and e.data["uri"] == "/x"]
    assert access and access[0].src == "proxy" and access[0].data["upstream"] == f"127.0.0.1:{redis.port}"
    assert (tmp_path / "logs" / "nginx.log").read_text().count('"kind":"nginx.access"') >= 2
    assert (tmp_path / "nginx" / "nginx.conf").is_file() and not (tmp_path / "nginx" / "nginx.pid").exists()
    assert list((tmp_path / "redis").iterdir()) == []          # --save '' --appendonly no: nothing on disk


def test_two_instances_behind_nginx_round_robin_both_answer(tmp_path):
    require(not missing(["nginx"]), "nginx missing (make system-deps)")
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        topo = bring_up(sup, tl, "gevent", ServerSettings(), with_proxy=False,
                        front=FrontSpec(instances=2, balance="round-robin"))
        assert len(topo.servers) == 2 and topo.port == topo.front.nginx.port
        assert handshake_ok(topo.port)
        boots = {requests.get(f"{topo.base_url}/__siolab/info", timeout=3).json()["boot"] for _ in range(6)}
        assert boots == {s.boot for s in topo.servers} and len(boots) == 2
        # nginx logs a request after answering it: wait for the six lines, not for a while.
        info = _wait_access(tl, "/__siolab/info", 6)
        assert {e.data["upstream"] for e in info} == {f"127.0.0.1:{s.port}" for s in topo.servers}


def _wait_access(tl: Timeline, uri: str, n: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        seen = [e for e in tl.events if e.kind == "nginx.access" and e.data["uri"] == uri]
        if len(seen) >= n or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


def test_an_open_websocket_is_logged_when_nginx_stops(tmp_path):
    """nginx logs an upgraded WebSocket only when it closes; the lab stops nginx gracefully, so a
    WebSocket still open at the end of a cell is on the timeline with its 101 (a fast stop lost it,
    and proxy-drops-upgrade judged a passing upgrade 'no 101')."""
    require(not missing(["nginx"]), "nginx missing (make system-deps)")
    import websocket
    with Timeline(tmp_path / "timeline.jsonl") as tl:
        with Supervisor(tmp_path, tl) as sup:
            topo = bring_up(sup, tl, "gthread", ServerSettings(), with_proxy=False,
                            front=FrontSpec(instances=1, websocket="pass"))
            ws = websocket.create_connection(f"ws://127.0.0.1:{topo.port}/socket.io/?EIO=4&transport=websocket",
                                             timeout=5)
            assert ws.recv().startswith("0{")          # the open packet: upgraded and answered
        ws.close()
        upgraded = [e.data["status"] for e in tl.events
                    if e.kind == "nginx.access" and "transport=websocket" in e.data["uri"]]
    assert upgraded == [101]


def test_redis_message_queue_reaches_the_app(tmp_path):
    require(not missing(["nginx", "redis-server"]), "nginx or redis-server missing (make system-deps)")
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        topo = bring_up(sup, tl, "gevent", ServerSettings(), with_proxy=False,
                        front=FrontSpec(instances=2, balance="ip_hash", message_queue="redis"))
        boots = {requests.get(f"{topo.base_url}/__siolab/info", timeout=3).json()["boot"] for _ in range(6)}
        assert len(boots) == 1                      # ip_hash: one client address, one instance
    logs = [json.loads(line)["data"].get("line", "") for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
    assert sum(f"mq=redis://127.0.0.1:{topo.front.redis.port}/0" in line for line in logs) == 2


def test_multiworker_answers_invalid_session_from_the_other_worker(tmp_path):
    """gunicorn -w 2 without sticky sessions: a request with a sid on a new connection lands on
    either worker; the one that did not make the session answers 400 "Invalid session <sid>"."""
    with Timeline(tmp_path / "timeline.jsonl") as tl, Supervisor(tmp_path, tl) as sup:
        topo = bring_up(sup, tl, "multiworker", ServerSettings(), with_proxy=False)
        seen: dict[int, str] = {}
        for _ in range(40):                      # each new connection picks a worker; stop once both answered
            r = requests.get(f"{topo.base_url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=3)
            sid = json.loads(r.text[1:])["sid"]
            post = requests.post(f"{topo.base_url}/socket.io/", data="40", timeout=3,
                                 params={"EIO": "4", "transport": "polling", "sid": sid})
            seen.setdefault(post.status_code, post.text)
            if len(seen) == 2:
                break
    assert seen[200] == "OK"
    assert seen[400].startswith('"Invalid session ')


def _ev(t, src, kind, **data):
    from harness.core.timeline import Event
    return Event(t, src, kind, data)


def test_load_balancing_figures_from_a_timeline():
    from harness.checks import measure

    events = [
        _ev(0.1, "browser", "http.request", id=1, path="/socket.io/", transport="polling", sid=None),
        _ev(0.2, "browser", "http.response", id=1, status=200, body='0{"sid":"S1"}'),
        _ev(0.3, "browser", "http.request", id=2, path="/socket.io/", transport="polling", sid="S1"),
        _ev(0.4, "browser", "http.response", id=2, status=400, body='"Invalid session S1"'),
        _ev(0.3, "browser", "http.request", id=3, path="/socket.io/", transport="polling", sid="S1"),
        _ev(0.4, "browser", "http.response", id=3, status=200, body="2"),
        _ev(0.2, "proxy", "nginx.access", uri="/socket.io/?EIO=4", upstream="127.0.0.1:1", status=200),
        _ev(0.4, "proxy", "nginx.access", uri="/socket.io/?sid=S1", upstream="127.0.0.1:2", status=400),
        _ev(0.5, "proxy", "nginx.access", uri="/__siolab/nginx", upstream="127.0.0.1:3", status=200),
        _ev(0.6, "witness", "sio.connect", witness=0), _ev(0.6, "witness", "sio.connect", witness=1),
        _ev(0.9, "witness", "sio.event", event="broadcast", witness=1),
    ]
    f = measure(events)
    assert f["polling_requests"].value == 2 and f["polling_400"].value == 1
    assert f["polling_400_share"].value == 50.0
    assert f["polling_400_body"].value == '"Invalid session <sid>"'
    assert f["instances_answering"].value == 2           # the readiness probe's path is not Socket.IO
    assert f["witnesses_connected"].value == 2 and f["broadcast_witnesses"].value == 1
    assert f["broadcast_to_client"].value is None         # the client emitted no broadcast


def test_idle_timeout_figures_from_a_timeline():
    from harness.checks import measure

    events = [
        _ev(1.0, "pyclient", "sio.disconnect", reason="transport close"),
        _ev(3.0, "pyclient", "sio.disconnect", reason="transport error"),
        _ev(5.5, "pyclient", "sio.disconnect", reason="transport close"),
        _ev(9.0, "pyclient", "sio.disconnect", reason="io client disconnect"),   # the lab closing the client
        _ev(1.0, "proxy", "log", line="... upstream timed out (110: Connection timed out) while reading upstream"),
        _ev(1.0, "proxy", "nginx.access", uri="/socket.io/", upstream="127.0.0.1:1", status=504),
        _ev(1.0, "pyclient", "http.response", id=1, status=504),
    ]
    f = measure(events)
    assert f["disconnect_reasons"].value == "transport close, transport error"
    assert f["drop_interval"].value == 2.25
    assert f["proxy_timeouts"].value == 1 and f["http_504"].value == 1


@pytest.fixture
def nginx_absent(monkeypatch):
    """nginx made absent for harness.components (a binary name found nowhere)."""
    from harness import components

    monkeypatch.setitem(components.COMPONENTS, "nginx",
                        components.Component("nginx", ("siolab-no-such-nginx",), "apt-get install -y nginx"))


def _front_scenario(tmp_path):
    path = tmp_path / "z.yaml"
    path.write_text(textwrap.dedent("""\
        name: z
        fronts:
          rr: {instances: 2}
        matrix:
          - {mode: gevent, client: python, front: [none, rr]}
        steps:
          - open: {}
        """))
    return load(path)


def test_missing_nginx_skips_its_cells_locally_with_the_reason(tmp_path, monkeypatch, nginx_absent):
    from harness.lab.runner import skipped_cells

    monkeypatch.delenv("CI", raising=False)
    s = _front_scenario(tmp_path)
    assert skipped_cells(s, s.cells) == {"gevent-rr-python": "nginx not found (fix: apt-get install -y nginx)"}


def test_missing_nginx_fails_its_cells_under_ci(tmp_path, monkeypatch, nginx_absent):
    from harness.lab.runner import run_cell, skipped_cells

    monkeypatch.setenv("CI", "true")
    s = _front_scenario(tmp_path)
    assert skipped_cells(s, s.cells) == {}            # nothing skipped: the cell runs, and fails
    result = run_cell(s, s.cells[1], tmp_path / "run")
    assert result.error == "MissingComponent: nginx not found (fix: apt-get install -y nginx)"


def test_cli_prints_the_skip_and_runs_the_rest(tmp_path, monkeypatch, nginx_absent, capsys):
    from harness.entrypoints import cli

    monkeypatch.delenv("CI", raising=False)
    _front_scenario(tmp_path)
    code = cli.main(["run", str(tmp_path / "z.yaml"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert "siolab: skipping z gevent-rr-python: nginx not found (fix: apt-get install -y nginx)" in err
    assert code == 0
    ran = [c["id"] for c in json.loads((tmp_path / "run" / "run.json").read_text())["cells"]]
    assert ran == ["gevent-none-python"]              # the cell without a front still runs
