"""The harness side of the proxy: Toxiproxy's HTTP API, driven through `toxiproxy-python`.

The same calls work against a real `toxiproxy-server` (2.x) and the embedded one
(`harness/faults/embedded_toxiproxy.py`). `choose_backend` and `server_argv` say which one
to start and how; starting it is the supervisor's job.

toxiproxy-python 0.1.1 is old and has a few gaps, each worked around here where it is used:
- its host and port are class attributes of `APIConsumer` shared by every client in the
  process, so each call sets them for this client under a lock;
- `Toxiproxy.version()` returns raw bytes (2.x answers `{"version": "..."}`);
- it raises only on 400/404/409, so a 500 (e.g. the listen port is taken) surfaces as a
  KeyError while it builds a Proxy from the error body;
- `Proxy.add_toxic` returns nothing, and it has no call to update a toxic or a proxy's
  upstream (done with `requests`); its `populate` is client-side and compares the listen
  address literally, so `127.0.0.1:0` never matches: the server's `/populate` is used;
- its requests have no timeout; the servers it talks to answer or time out by themselves
  (Toxiproxy after 25 s).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

import requests
import toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

__all__ = ["ToxiproxyAPI", "Proxy", "ToxiproxyError", "ProxyExists", "NotFound", "InvalidToxic",
           "choose_backend", "server_argv", "DEFAULT_PORT"]

DEFAULT_PORT = 8474
REQUEST_TIMEOUT_S = 30.0  # for the calls made with requests here

_consumer_lock = threading.RLock()


class ToxiproxyError(Exception):
    """The API answered with an error toxiproxy-python does not map (500 and the like)."""


def choose_backend(env: Mapping[str, str] = os.environ) -> str:
    """`url` when TOXIPROXY_URL is set, `toxiproxy-server` when it is on PATH, else `embedded`."""
    if env.get("TOXIPROXY_URL"):
        return "url"
    if shutil.which("toxiproxy-server", path=env.get("PATH")):
        return "toxiproxy-server"
    return "embedded"


def server_argv(backend: str, host: str, port: int) -> list[str]:
    """The command that starts a Toxiproxy API server of that backend on host:port."""
    if backend == "toxiproxy-server":
        return ["toxiproxy-server", "-host", host, "-port", str(port)]
    if backend == "embedded":
        return [sys.executable, "-m", "harness.faults.embedded_toxiproxy", "--host", host, "--port", str(port)]
    raise ValueError(f"backend {backend!r} has no server to start (expected toxiproxy-server or embedded)")


class ToxiproxyAPI:
    """One Toxiproxy API server, e.g. `ToxiproxyAPI("http://127.0.0.1:8474")`."""

    def __init__(self, url: str = f"http://127.0.0.1:{DEFAULT_PORT}"):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or DEFAULT_PORT
        self.url = f"http://{self.host}:{self.port}"
        self._server = toxiproxy.Toxiproxy()

    def __repr__(self) -> str:
        return f"ToxiproxyAPI({self.url!r})"

    @contextmanager
    def bound(self) -> Iterator[None]:
        """toxiproxy-python's host and port are process-wide: point them here for one call."""
        with _consumer_lock:
            APIConsumer.host, APIConsumer.port = self.host, self.port
            yield

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """For what toxiproxy-python lacks; raises its exceptions for 400/404/409 and ours for 5xx."""
        response = requests.request(method, self.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)
        if response.status_code == 409:
            raise ProxyExists(response.content)
        if response.status_code == 404:
            raise NotFound(response.content)
        if response.status_code == 400:
            raise InvalidToxic(response.content)
        if response.status_code >= 400:
            raise ToxiproxyError(f"{method} {path}: {response.status_code} {response.text.strip()}")
        return response

    def running(self) -> bool:
        with self.bound():
            return self._server.running()

    def version(self) -> str:
        with self.bound():
            raw = self._server.version()
        if raw is None:
            raise ToxiproxyError(f"no Toxiproxy API at {self.url}")
        text = raw.decode().strip()
        try:  # 2.x: {"version": "2.x.y"}; older servers: the bare version
            return str(json.loads(text)["version"])
        except (ValueError, KeyError, TypeError):
            return text

    def wait_ready(self, timeout: float = 10.0) -> str:
        """Poll until the API answers; returns its version."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.version()
            except (ToxiproxyError, requests.ConnectionError):
                if time.monotonic() > deadline:
                    raise ToxiproxyError(f"the Toxiproxy API at {self.url} did not answer in {timeout}s")
                time.sleep(0.05)

    def create_proxy(self, name: str, listen: str, upstream: str, enabled: bool = True) -> "Proxy":
        with self.bound():
            try:
                created = self._server.create(upstream=upstream, name=name, listen=listen, enabled=enabled)
            except KeyError:  # toxiproxy-python built a Proxy from an error body: ask for the error
                raise ToxiproxyError(self._error_of_create(name, listen, upstream, enabled)) from None
        return Proxy(self, created)

    def _error_of_create(self, name: str, listen: str, upstream: str, enabled: bool) -> str:
        response = requests.post(self.url + "/proxies", timeout=REQUEST_TIMEOUT_S,
                                 json={"name": name, "listen": listen, "upstream": upstream, "enabled": enabled})
        return f"create proxy {name}: {response.status_code} {response.text.strip()}"

    def proxies(self) -> dict[str, "Proxy"]:
        with self.bound():
            return {name: Proxy(self, found) for name, found in self._server.proxies().items()}

    def get_proxy(self, name: str) -> "Proxy | None":
        with self.bound():
            found = self._server.get_proxy(name)
        return Proxy(self, found) if found is not None else None

    def populate(self, proxies: list[dict[str, Any]]) -> list["Proxy"]:
        """Create or replace proxies (name, listen, upstream, enabled) with the server's /populate."""
        answer = self.request("POST", "/populate", json=proxies).json()
        return [Proxy(self, toxiproxy.Proxy(**fields)) for fields in answer["proxies"]]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self.bound():
            self._server.reset()

    def destroy_all(self) -> None:
        with self.bound():
            self._server.destroy_all()


class Proxy:
    """One proxy on a Toxiproxy server."""

    def __init__(self, api: ToxiproxyAPI, proxy: toxiproxy.Proxy):
        self.api = api
        self._proxy = proxy

    def __repr__(self) -> str:
        return f"Proxy({self.name!r}, listen={self.listen!r}, upstream={self.upstream!r}, enabled={self.enabled})"

    name = property(lambda self: self._proxy.name)
    listen = property(lambda self: self._proxy.listen)
    upstream = property(lambda self: self._proxy.upstream)
    enabled = property(lambda self: self._proxy.enabled)

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    def _refresh(self, fields: dict[str, Any]) -> None:
        self._proxy = toxiproxy.Proxy(**fields)

    def add_toxic(self, type: str, stream: str = "downstream", toxicity: float = 1.0,
                  name: str | None = None, **attributes: Any) -> dict[str, Any]:
        """Add a toxic (e.g. `add_toxic("latency", latency=500)`); returns it as the server has it."""
        name = name or f"{type}_{stream}"
        with self.api.bound():
            self._proxy.add_toxic(type=type, stream=stream, toxicity=toxicity, name=name, attributes=attributes)
        return self.toxic(name)

    def update_toxic(self, name: str, toxicity: float | None = None, **attributes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self.api.request("POST", f"/proxies/{self.name}/toxics/{name}", json=body).json()

    def remove_toxic(self, name: str) -> None:
        with self.api.bound():
            self._proxy.destroy_toxic(name)

    def toxic(self, name: str) -> dict[str, Any]:
        return self.api.request("GET", f"/proxies/{self.name}/toxics/{name}").json()

    def toxics(self) -> dict[str, dict[str, Any]]:
        with self.api.bound():
            found = self._proxy.toxics()
        return {name: {"name": t.name, "type": t.type, "stream": t.stream, "toxicity": t.toxicity,
                       "attributes": t.attributes} for name, t in found.items()}

    def disable(self) -> None:
        """Stop listening and close every open connection."""
        with self.api.bound():
            self._proxy.disable()

    def enable(self) -> None:
        with self.api.bound():
            self._proxy.enable()

    @contextmanager
    def down(self) -> Iterator["Proxy"]:
        """Disabled inside the block, enabled again on the way out whatever happens."""
        with self.api.bound():
            self._proxy.disable()
        try:
            yield self
        finally:
            self.enable()

    def set_upstream(self, address: str) -> None:
        """Point the proxy at another upstream; as in Toxiproxy, this drops its open connections."""
        self._refresh(self.api.request("POST", f"/proxies/{self.name}", json={"upstream": address}).json())

    def refresh(self) -> "Proxy":
        self._refresh(self.api.request("GET", f"/proxies/{self.name}").json())
        return self

    def destroy(self) -> None:
        with self.api.bound():
            self._proxy.destroy()
