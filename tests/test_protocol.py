"""One protocol vocabulary: which requests are Engine.IO requests, and what a payload holds."""
from __future__ import annotations

import pytest

from harness.core.protocol import describe_packet, is_engineio, is_engineio_url, is_handshake, split_payload


@pytest.mark.parametrize("url, expected", [
    ("http://h/socket.io/?EIO=4&transport=polling", True),
    ("http://h/socket.io/?EIO=4&transport=polling&sid=abc", True),
    ("ws://h/socket.io/?EIO=4&transport=websocket", True),
    ("http://h/custom/?EIO=4&transport=polling", True),          # io(url, {path: "/custom"})
    ("http://h/socket.io", True),
    ("http://h/socket.io.min.js", False),                        # the client library
    ("http://h/socket.io/socket.io.js", False),                  # the Node server serving the library
    ("http://h/vendor/socket.io.min.js", False),
    ("http://h/api/backup", False),
])
def test_engineio_requests_on_any_path(url, expected):
    assert is_engineio_url(url) is expected
    assert is_engineio({"url": url}) is expected


def test_recorded_fields_decide_too():
    assert is_engineio({"path": "/custom/", "eio": "4"})
    assert is_engineio({"path": "/socket.io/"})
    assert is_handshake({"url": "http://h/socket.io/?EIO=4&transport=polling"})
    assert not is_handshake({"url": "http://h/socket.io/?EIO=4&transport=polling&sid=x", "sid": "x"})
    assert not is_handshake({"url": "http://h/socket.io.min.js"})


def test_payloads_of_both_protocol_versions():
    assert split_payload('40\x1e42["a"]') == ["40", '42["a"]']          # EIO 4: record separator
    assert split_payload('2:40' + '9:42["ab"]') == ["40", '42["ab"]']    # EIO 3: length-prefixed
    assert split_payload("1") == ["1"]
    assert describe_packet("1") == "close"
    assert describe_packet('4hi\x1e4ho') == "message+message"
    assert describe_packet(None) == "empty"
