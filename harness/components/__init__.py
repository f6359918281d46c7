"""External components a cell may need besides the app: nginx, Redis, Node.

Each is a Debian binary found on PATH (or in /usr/sbin, where Debian puts nginx). A cell
that needs a missing one is skipped locally with a printed reason, and fails under
CI=true: CI never passes by skipping.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

# Where Debian puts binaries a user's PATH may lack (nginx lives in /usr/sbin).
EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


@dataclass(frozen=True)
class Component:
    name: str
    binaries: tuple[str, ...]
    fix: str            # the Debian command that installs it

    def binary(self) -> str | None:
        for name in self.binaries:
            found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(EXTRA_BIN_DIRS))
            if found:
                return found
        return None


COMPONENTS = {c.name: c for c in (
    Component("nginx", ("nginx",), "apt-get install -y nginx"),
    Component("redis-server", ("redis-server",), "apt-get install -y redis-server"),
    Component("node", ("node", "nodejs"), "apt-get install -y nodejs npm"),
)}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(names: list[str] | tuple[str, ...]) -> list[Component]:
    """The components among `names` that this machine lacks."""
    return [COMPONENTS[n] for n in names if COMPONENTS[n].binary() is None]


def describe_missing(components: list[Component]) -> str:
    return "; ".join(f"{c.name} not found (fix: {c.fix})" for c in components)


class MissingComponent(RuntimeError):
    """A cell needs a binary this machine lacks (raised under CI=true, where skipping is not allowed)."""
