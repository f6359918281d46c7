"""The readiness probe sends one Engine.IO handshake per connection and waits for its answer
across calls: a server that binds before it serves gets one handshake, not one per call
(each answered handshake would use a number of the sid sequence that diagnose reads)."""
from __future__ import annotations

import select
import socket

import pytest

from harness.lab.topology import HandshakeProbe

OPEN = (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n\r\n'
        b'0{"sid":"abcdAAAA","ping":1}  ')


@pytest.fixture
def listener():
    """A socket that listens but does not accept yet: connections wait in its backlog, as they do
    while the Werkzeug reloader's child boots."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s
    s.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    return data


def _after_answer(probe: HandshakeProbe) -> bool:
    """The probe's verdict once the answer has reached its socket (an event, not a delay)."""
    assert select.select([probe.sock], [], [], 30)[0], "the answer never reached the probe"
    return probe()


def test_a_queued_handshake_is_sent_once_and_awaited(listener):
    probe = HandshakeProbe(listener.getsockname()[1])
    for _ in range(20):                       # the server boots: nothing answers, nothing is re-sent
        assert probe() is False
    conn, _ = listener.accept()
    request = _read_request(conn)
    assert request.startswith(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1")
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):      # no second connection queued behind the first
        listener.accept()
    conn.sendall(OPEN)
    conn.close()
    assert _after_answer(probe) is True
    assert probe.sock is None


def test_an_answer_without_a_session_is_asked_again(listener):
    probe = HandshakeProbe(listener.getsockname()[1])
    assert probe() is False
    conn, _ = listener.accept()
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    conn.close()
    assert _after_answer(probe) is False and probe.sock is None      # that answer is final: the connection is let go
    assert probe() is False                             # a new handshake on a new connection
    conn, _ = listener.accept()
    _read_request(conn)
    conn.sendall(OPEN)
    conn.close()
    assert _after_answer(probe) is True


def test_a_refused_connection_is_not_yet(listener):
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ConnectionRefusedError):         # the supervisor reads any error as "not yet"
        HandshakeProbe(port)()
