"""The embedded Toxiproxy: its API and toxics on real sockets, through harness/faults/toxiproxy_api.py."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from harness.faults import toxiproxy_api
from harness.faults.toxiproxy_api import InvalidToxic, NotFound, ProxyExists, ToxiproxyAPI

REPO = Path(__file__).resolve().parents[1]


class ProxyProcess:
    """The embedded proxy as a subprocess on an OS-chosen port, its stdout events collected."""

    def __init__(self, log_path: Path):
        argv = toxiproxy_api.server_argv("embedded", "127.0.0.1", 0)
        self.stderr = open(log_path, "w")
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()
        ready = self.wait_event("proxy.api", timeout=10)
        self.api = ToxiproxyAPI(f"http://{ready['data']['listen']}")

    def _collect(self) -> None:
        for line in self.proc.stdout:
            with self.changed:
                self.events.append(json.loads(line))
                self.changed.notify_all()

    def find(self, kind: str, **data: Any) -> list[dict[str, Any]]:
        with self.changed:
            return [e for e in self.events if e["kind"] == kind and all(e["data"].get(k) == v for k, v in data.items())]

    def wait_event(self, kind: str, timeout: float = 3.0, **data: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (found := self.find(kind, **data)):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {kind} {data} event; got {[e['kind'] for e in self.events]}")
                self.changed.wait(left)
        return found[0]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.collector.join(5)
        self.proc.stdout.close()
        self.stderr.close()
        return self.proc.returncode


class TcpServer:
    """An upstream on 127.0.0.1:0 serving each connection with `handle` in a thread."""

    def __init__(self, handle: Callable[[socket.socket], None]):
        self.handle = handle
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        for conn in self.conns:
            conn.close()


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def greet_and_close(conn: socket.socket) -> None:
    conn.sendall(b"hello\n")


@pytest.fixture(scope="module")
def proxy_process(tmp_path_factory):
    process = ProxyProcess(tmp_path_factory.mktemp("toxiproxy") / "stderr.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(proxy_process):
    yield proxy_process.api
    proxy_process.api.destroy_all()


@pytest.fixture
def events(proxy_process):
    return proxy_process


@pytest.fixture
def echo_server():
    server = TcpServer(echo)
    yield server
    server.close()


@pytest.fixture
def greeter():
    server = TcpServer(greet_and_close)
    yield server
    server.close()


@pytest.fixture
def echo_proxy(api, echo_server, request):
    return api.create_proxy(request.node.name[:40], "127.0.0.1:0", echo_server.address)


def connect(proxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=timeout)


def roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def read_to_eof(sock: socket.socket) -> bytes:
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


# --- API shapes ----------------------------------------------------------------------------

def test_version_and_proxy_json_shapes(api, echo_server):
    assert api.version() == requests.get(api.url + "/version").json()["version"]
    proxy = api.create_proxy("shapes", "127.0.0.1:0", echo_server.address)
    assert proxy.listen_port > 0 and proxy.enabled
    shown = requests.get(f"{api.url}/proxies/shapes").json()
    assert shown == {"name": "shapes", "listen": proxy.listen, "upstream": echo_server.address,
                     "enabled": True, "toxics": []}
    assert requests.get(api.url + "/proxies").json() == {"shapes": shown}
    toxic = proxy.add_toxic("latency", latency=100)
    assert toxic == {"name": "latency_downstream", "type": "latency", "stream": "downstream",
                     "toxicity": 1.0, "attributes": {"latency": 100, "jitter": 0}}
    upstream_toxic = proxy.add_toxic("timeout", stream="upstream", name="stall", toxicity=0.5)
    assert upstream_toxic["attributes"] == {"timeout": 0} and upstream_toxic["toxicity"] == 0.5
    # Toxiproxy lists upstream toxics first
    assert [t["name"] for t in requests.get(f"{api.url}/proxies/shapes/toxics").json()] == ["stall", "latency_downstream"]
    assert set(proxy.toxics()) == {"stall", "latency_downstream"}
    assert proxy.update_toxic("latency_downstream", latency=5)["attributes"]["latency"] == 5
    proxy.remove_toxic("stall")
    assert list(proxy.toxics()) == ["latency_downstream"]


def test_update_and_delete(api, echo_server, greeter):
    proxy = api.create_proxy("updates", "127.0.0.1:0", echo_server.address)
    port = proxy.listen_port
    proxy.set_upstream(greeter.address)
    assert proxy.upstream == greeter.address and proxy.listen_port == port
    with connect(proxy) as sock:
        assert read_to_eof(sock) == b"hello\n"
    proxy.disable()
    assert api.get_proxy("updates").enabled is False
    proxy.enable()
    assert api.get_proxy("updates").enabled is True
    proxy.destroy()
    assert api.get_proxy("updates") is None
    response = requests.get(f"{api.url}/proxies/updates")
    assert (response.status_code, response.json()) == (404, {"error": "proxy not found", "status": 404})


def test_errors_as_toxiproxy_returns_them(api, echo_proxy):
    name = echo_proxy.name
    with pytest.raises(ProxyExists):
        api.create_proxy(name, "127.0.0.1:0", "127.0.0.1:1")
    response = requests.post(api.url + "/proxies", json={"name": name, "upstream": "127.0.0.1:1"})
    assert (response.status_code, response.json()) == (409, {"error": "proxy already exists", "status": 409})
    response = requests.post(api.url + "/proxies", json={"name": "no-upstream"})
    assert response.status_code == 400 and response.json()["error"] == "missing required field: upstream"
    echo_proxy.add_toxic("latency")
    response = requests.post(f"{api.url}/proxies/{name}/toxics", json={"type": "latency"})
    assert (response.status_code, response.json()) == (409, {"error": "toxic already exists", "status": 409})
    with pytest.raises(InvalidToxic):
        echo_proxy.add_toxic("no_such_toxic")
    response = requests.post(f"{api.url}/proxies/{name}/toxics", json={"type": "latency", "stream": "sideways"})
    assert response.status_code == 400 and "stream was invalid" in response.json()["error"]
    with pytest.raises(NotFound):
        echo_proxy.remove_toxic("nothing_here")
    response = requests.get(f"{api.url}/proxies/{name}/toxics/nothing_here")
    assert (response.status_code, response.json()) == (404, {"error": "toxic not found", "status": 404})
    assert requests.get(api.url + "/no/such/path").status_code == 404
    taken = socket.create_server(("127.0.0.1", 0))
    with taken, pytest.raises(toxiproxy_api.ToxiproxyError, match="500"):
        api.create_proxy("port-taken", f"127.0.0.1:{taken.getsockname()[1]}", "127.0.0.1:1")


def test_populate_creates_and_keeps(api, echo_server, greeter):
    wanted = [{"name": "pop_a", "listen": "127.0.0.1:0", "upstream": echo_server.address},
              {"name": "pop_b", "listen": "127.0.0.1:0", "upstream": greeter.address, "enabled": False}]
    response = requests.post(api.url + "/populate", json=wanted)
    assert response.status_code == 201
    created = {p["name"]: p for p in response.json()["proxies"]}
    assert created["pop_a"]["enabled"] is True and created["pop_b"]["enabled"] is False
    again = api.populate([{"name": "pop_a", "listen": created["pop_a"]["listen"], "upstream": echo_server.address}])
    assert [p.listen for p in again] == [created["pop_a"]["listen"]]  # same fields: left alone
    response = requests.post(api.url + "/populate", json=[{"name": "pop_c"}])
    assert response.status_code == 400 and response.json() == {
        "error": "missing required field: upstream at proxy 1", "status": 400, "proxies": None}


def test_reset_enables_all_and_removes_all_toxics(api, echo_proxy):
    echo_proxy.add_toxic("latency", latency=10)
    echo_proxy.add_toxic("timeout", stream="upstream")
    echo_proxy.disable()
    api.reset()
    found = api.get_proxy(echo_proxy.name)
    assert found.enabled and found.toxics() == {}
    with connect(found) as sock:
        assert roundtrip(sock, b"after reset") == b"after reset"


# --- data and toxics -------------------------------------------------------------------------

def test_data_flows_through_and_client_close_is_reported(echo_proxy, events):
    payload = os.urandom(200_000)
    with connect(echo_proxy) as sock:
        assert roundtrip(sock, payload) == payload
        client = "127.0.0.1:%d" % sock.getsockname()[1]
    accept = events.wait_event("proxy.accept", proxy=echo_proxy.name, client=client)
    assert accept["data"]["upstream"] == echo_proxy.upstream and abs(accept["wall"] - time.time()) < 30
    events.wait_event("proxy.close", proxy=echo_proxy.name, client=client, by="client")


def test_reset_peer_resets_an_open_connection(echo_proxy, events):
    with connect(echo_proxy) as sock:
        assert roundtrip(sock, b"before") == b"before"
        echo_proxy.add_toxic("reset_peer", timeout=0)
        sock.sendall(b"trigger")  # Toxiproxy's reset_peer fires on the next data through it
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
    events.wait_event("proxy.reset", proxy=echo_proxy.name, toxic="reset_peer_downstream")


def test_reset_peer_resets_new_connections_after_its_timeout(echo_proxy):
    echo_proxy.add_toxic("reset_peer", stream="upstream", timeout=200)
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"dropped")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
        assert time.monotonic() - start >= 0.18


def test_reset_peer_removed_before_any_data_leaves_the_connection_alone(echo_proxy):
    with connect(echo_proxy) as sock:
        echo_proxy.add_toxic("reset_peer", timeout=0)
        echo_proxy.remove_toxic("reset_peer_downstream")
        assert roundtrip(sock, b"still here") == b"still here"


def test_timeout_holds_data_and_closes_on_removal(echo_proxy):
    with connect(echo_proxy, timeout=0.3) as sock:
        echo_proxy.add_toxic("timeout", timeout=0)
        sock.sendall(b"held")
        with pytest.raises(socket.timeout):
            sock.recv(100)
        echo_proxy.remove_toxic("timeout_downstream")  # Toxiproxy closes what it starved
        sock.settimeout(2)
        assert sock.recv(100) == b""


def test_timeout_closes_after_its_timeout(echo_proxy, events):
    echo_proxy.add_toxic("timeout", timeout=150)
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(b"dropped")
        assert read_to_eof(sock) == b""
        assert time.monotonic() - start >= 0.13
    events.wait_event("proxy.close", proxy=echo_proxy.name, by="toxic", toxic="timeout_downstream")


def test_latency_delays_by_at_least_its_amount(echo_proxy):
    with connect(echo_proxy) as sock:
        echo_proxy.add_toxic("latency", latency=150)
        start = time.monotonic()
        assert roundtrip(sock, b"slow") == b"slow"
        assert time.monotonic() - start >= 0.14
        echo_proxy.update_toxic("latency_downstream", latency=0)
        echo_proxy.add_toxic("latency", stream="upstream", latency=100)
        start = time.monotonic()
        assert roundtrip(sock, b"slow again") == b"slow again"
        assert time.monotonic() - start >= 0.09


def test_bandwidth_slicer_and_limit_data(echo_proxy):
    echo_proxy.add_toxic("bandwidth", rate=20)  # 20 KB/s
    payload = os.urandom(4000)
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        assert roundtrip(sock, payload) == payload
        assert time.monotonic() - start >= 0.15
    echo_proxy.remove_toxic("bandwidth_downstream")
    echo_proxy.add_toxic("slicer", average_size=7, size_variation=3, delay=100)
    payload = bytes(range(256)) * 4
    with connect(echo_proxy) as sock:
        assert roundtrip(sock, payload) == payload
    echo_proxy.remove_toxic("slicer_downstream")
    echo_proxy.add_toxic("limit_data", bytes=5)
    with connect(echo_proxy) as sock:
        sock.sendall(b"0123456789")
        assert read_to_eof(sock) == b"01234"


def test_upstream_close_and_slow_close(api, greeter, events):
    proxy = api.create_proxy("greeter", "127.0.0.1:0", greeter.address)
    with connect(proxy) as sock:
        assert read_to_eof(sock) == b"hello\n"
        client = "127.0.0.1:%d" % sock.getsockname()[1]
    events.wait_event("proxy.close", proxy="greeter", client=client, by="upstream")
    proxy.add_toxic("slow_close", delay=200)
    with connect(proxy) as sock:
        start = time.monotonic()
        assert read_to_eof(sock) == b"hello\n"
        assert time.monotonic() - start >= 0.18


def test_disabled_proxy_closes_and_refuses(echo_proxy, events):
    with connect(echo_proxy) as sock:
        assert roundtrip(sock, b"up") == b"up"
        echo_proxy.disable()
        assert sock.recv(100) == b""
    events.wait_event("proxy.close", proxy=echo_proxy.name, by="proxy")
    with pytest.raises(ConnectionRefusedError):
        connect(echo_proxy)
    with echo_proxy.down():
        with pytest.raises(ConnectionRefusedError):
            connect(echo_proxy)
    with connect(echo_proxy) as sock:  # enabled again, on the same port
        assert roundtrip(sock, b"back") == b"back"


def test_upstream_refused_is_reported(api, events):
    closed = socket.create_server(("127.0.0.1", 0))
    dead_address = "127.0.0.1:%d" % closed.getsockname()[1]
    closed.close()
    proxy = api.create_proxy("dead_upstream", "127.0.0.1:0", dead_address)
    with connect(proxy) as sock:
        assert sock.recv(100) == b""
    refused = events.wait_event("proxy.refused", proxy="dead_upstream")
    assert dead_address in refused["data"]["reason"]
    assert events.find("proxy.update", name="dead_upstream", change="create")


def test_sigterm_exits_cleanly_and_closes_connections(tmp_path, echo_server):
    process = ProxyProcess(tmp_path / "stderr.log")
    try:
        proxy = process.api.create_proxy("term", "127.0.0.1:0", echo_server.address)
        with connect(proxy) as sock:
            assert roundtrip(sock, b"x") == b"x"
            process.proc.send_signal(signal.SIGTERM)
            assert process.proc.wait(5) == 0
            assert sock.recv(100) == b""
    finally:
        process.stop()


# --- backend choice --------------------------------------------------------------------------

def test_choose_backend_and_server_argv(tmp_path):
    assert toxiproxy_api.choose_backend({"TOXIPROXY_URL": "http://toxiproxy:8474", "PATH": ""}) == "url"
    assert toxiproxy_api.choose_backend({"PATH": str(tmp_path)}) == "embedded"
    binary = tmp_path / "toxiproxy-server"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    assert toxiproxy_api.choose_backend({"PATH": str(tmp_path)}) == "toxiproxy-server"
    assert toxiproxy_api.server_argv("toxiproxy-server", "127.0.0.1", 8474) == [
        "toxiproxy-server", "-host", "127.0.0.1", "-port", "8474"]
    argv = toxiproxy_api.server_argv("embedded", "127.0.0.1", 8474)
    assert argv[1:] == ["-m", "harness.faults.embedded_toxiproxy", "--host", "127.0.0.1", "--port", "8474"]
    with pytest.raises(ValueError):
        toxiproxy_api.server_argv("url", "127.0.0.1", 8474)


# --- toxics as Toxiproxy's toxics/*.go behave ------------------------------------------------

class Arrivals:
    """An upstream that records when each piece of data reaches it (and echoes it)."""

    def __init__(self):
        self.times: list[float] = []
        self.server = TcpServer(self._handle)

    def _handle(self, conn: socket.socket) -> None:
        while data := conn.recv(65536):
            self.times.append(time.monotonic())
            conn.sendall(data)


@pytest.fixture
def arrivals():
    upstream = Arrivals()
    yield upstream
    upstream.server.close()


def test_latency_is_per_stream_and_chained_latencies_add_up(api, arrivals, request):
    proxy = api.create_proxy(request.node.name[:40], "127.0.0.1:0", arrivals.server.address)
    proxy.add_toxic("latency", latency=300)  # downstream: the answers only
    with connect(proxy) as sock:
        start = time.monotonic()
        assert roundtrip(sock, b"ping") == b"ping"
        end = time.monotonic()
        assert end - start >= 0.3
        # the request went up undelayed: its way up was shorter than the answer's way down
        assert arrivals.times[0] - start < end - arrivals.times[0]
        proxy.update_toxic("latency_downstream", latency=100)
        proxy.add_toxic("latency", name="second", latency=100)
        start = time.monotonic()
        assert roundtrip(sock, b"twice") == b"twice"
        assert time.monotonic() - start >= 0.19  # 100 + 100: Toxiproxy restamps each chunk


def test_latency_jitter_stays_within_its_bounds(echo_proxy):
    echo_proxy.add_toxic("latency", latency=100, jitter=60)
    with connect(echo_proxy) as sock:
        for _ in range(5):
            start = time.monotonic()
            assert roundtrip(sock, b"j") == b"j"
            assert time.monotonic() - start >= 0.039  # never below latency - jitter


def test_bandwidth_limits_only_its_stream(api, arrivals, request):
    proxy = api.create_proxy(request.node.name[:40], "127.0.0.1:0", arrivals.server.address)
    proxy.add_toxic("bandwidth", stream="upstream", rate=10)  # 10 KB/s, client -> server
    payload = os.urandom(5000)
    with connect(proxy) as sock:
        start = time.monotonic()
        assert roundtrip(sock, payload) == payload
        # 5000 bytes at 10,000 B/s: 0.5 s, in 1000-byte pieces every 100 ms
        assert arrivals.times[-1] - start >= 0.45
        assert len(arrivals.times) >= 3
    proxy.remove_toxic("bandwidth_upstream")
    proxy.add_toxic("bandwidth", rate=10)  # downstream now; the upstream is at full speed
    arrivals.times.clear()
    with connect(proxy) as sock:
        start = time.monotonic()
        assert roundtrip(sock, payload) == payload
        end = time.monotonic()
        # the upstream is at full speed: the payload was up before half the (limited) way down
        assert end - start >= 0.45 and arrivals.times[0] - start < (end - start) / 2


def test_slice_sizes_cover_the_chunk_around_the_average():
    from harness.faults.embedded_toxiproxy import slice_sizes
    for size in (1, 7, 100, 4096):
        sizes = slice_sizes(size, 10, 4)
        assert sum(sizes) == size and all(0 < s <= 14 for s in sizes)
        assert size <= 14 or len(sizes) >= size // 14
    assert slice_sizes(64, 8, 0) == [8] * 8  # no variation: exact halves


def test_slicer_delivers_pieces_delay_apart(echo_proxy):
    echo_proxy.add_toxic("slicer", average_size=10, size_variation=4, delay=20_000)  # 20 ms
    payload = bytes(range(200))
    with connect(echo_proxy) as sock:
        start = time.monotonic()
        sock.sendall(payload)
        got, reads = b"", 0
        while len(got) < len(payload):
            got += sock.recv(65536)
            reads += 1
        assert got == payload
        # at least 200/14 = 15 pieces, 20 ms apart; the reader sees them separately
        assert time.monotonic() - start >= 14 * 0.02 * 0.9
        assert reads >= 5


def test_timeout_is_rearmed_by_data_and_closes_once_idle(echo_proxy, events):
    echo_proxy.add_toxic("timeout", timeout=400)
    with connect(echo_proxy, timeout=0.05) as sock:
        for _ in range(10):  # 1 s of data every 100 ms: dropped, and each re-arms the timer
            sock.sendall(b"x")
            last = time.monotonic()
            with pytest.raises(socket.timeout):
                sock.recv(100)  # nothing comes back, and no EOF either
            time.sleep(0.05)
        sock.settimeout(3)
        assert sock.recv(100) == b""
        assert time.monotonic() - last >= 0.35
    events.wait_event("proxy.close", proxy=echo_proxy.name, by="toxic", toxic="timeout_downstream")


def test_timeout_zero_starves_without_closing(echo_proxy):
    echo_proxy.add_toxic("timeout", stream="upstream", timeout=0)
    with connect(echo_proxy, timeout=1.0) as sock:
        sock.sendall(b"lost")
        with pytest.raises(socket.timeout):
            sock.recv(100)  # a second of silence: neither data nor a close


def test_shared_server_gets_one_proxy_per_cell_and_loses_it_after(proxy_process, echo_server, tmp_path, monkeypatch):
    """TOXIPROXY_URL (docker-compose): cells side by side on one server, nothing left behind."""
    from harness.core.supervisor import Supervisor
    from harness.core.timeline import Timeline
    from harness.lab.topology import ProxyFront

    api = proxy_process.api
    monkeypatch.setenv("TOXIPROXY_URL", api.url)
    upstream = int(echo_server.address.rpartition(":")[2])
    with Timeline(tmp_path / "timeline.jsonl") as timeline, Supervisor(tmp_path, timeline) as supervisor:
        first, second = (ProxyFront(supervisor, timeline, upstream) for _ in range(2))
        assert first.backend == "url" and first.proc is None  # nothing started: the server is shared
        assert first.proxy.name != second.proxy.name
        for front in (first, second):
            with socket.create_connection(("127.0.0.1", front.listen_port), timeout=2) as sock:
                assert roundtrip(sock, b"through") == b"through"
        first.close()
        second.close()
    assert not {first.proxy.name, second.proxy.name} & set(api.proxies())
