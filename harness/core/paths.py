"""Where the lab's own files are: worked out once, here, from this file's place in the checkout."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = REPO_ROOT / "scenarios"            # the catalogue
SERVERS_DIR = REPO_ROOT / "servers"               # the apps under study, nginx templates
NODE_MODULES = REPO_ROOT / "node_modules"         # socket.io-client, the socket.io server
RUNS_DIR = REPO_ROOT / "reports" / "runs"         # where runs, serves and diagnoses write by default
