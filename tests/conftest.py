"""Shared test fixtures. Under CI=true a missing component fails instead of skipping."""
from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally with a reason; fail under CI=true (CI never passes by skipping)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required component missing under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium_path():
    from harness.clients.browser import find_chromium

    path = find_chromium()
    require(path is not None, "no Chromium found (make setup installs Debian's chromium)")
    return path


def pids_alive(pids):
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # a zombie is dead for our purposes
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        alive.append(pid)
    return alive


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


def pytest_terminal_summary(terminalreporter):
    """How many generated cases the fuzz tests tried (tests/test_fuzz.py), when they ran."""
    import sys

    fuzz = sys.modules.get("tests.test_fuzz")
    if fuzz is not None and fuzz.CASES:
        terminalreporter.write_line("fuzz cases tried: " + ", ".join(f"{k} {n}" for k, n in fuzz.CASES.items())
                                    + f"; {sum(fuzz.CASES.values())} in all")
