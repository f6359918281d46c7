"""The runs folder's housekeeping: which run folders are in it, how big they are, which one is
still being written, and which ones `siolab clean` may remove.

Only the folders the lab itself names are candidates (`<YYYYmmdd-HHMMSS>-<name>` for runs and
diagnoses, `serve-<mode>-<time>` for `siolab serve`): anything else in the runs folder, and
everything outside it, is never touched; a symlink is never followed.

A folder being written is never removed. The lab's writers (the runner, `siolab serve`) hold a
marker file in it naming their pid and its start time, removed when they are done; a folder whose
marker names a live process is in use. A folder written by something that holds no marker (an
older siolab, a run killed before its reports) is in use while it has no final report and was
written in the last `RECENT_S` seconds."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .procfs import start_ticks

MARKER = ".siolab-writing"
# What a finished folder ends with: a run, a --repeat run, a run of several scenarios, a diagnosis.
FINAL_REPORTS = ("report.json", "stability.json", "index.md", "diagnosis.json")
RECENT_S = 15 * 60
LAB_NAMED = re.compile(r"^(\d{8}-\d{6}-.+|serve-.+-\d{8}-\d{6})$")
AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


class RunsFolderError(ValueError):
    """A bad --keep / --older-than / size value: the message names it."""


def parse_age(raw: str, where: str = "--older-than") -> float:
    """`7d`, `12h`, `30m`, `90s`, `2w` → seconds."""
    m = AGE.match(raw.strip())
    if not m or float(m.group(1)) <= 0:
        raise RunsFolderError(f"{where} {raw!r}: an age such as 7d, 12h, 30m, 90s or 2w (more than 0)")
    return float(m.group(1)) * AGE_UNITS[m.group(2)]


def parse_size(raw: str, where: str) -> int:
    """`2GB`, `500M`, `1.5g`, `0` (0: never warn) → bytes (binary units: 1 GB is 1024³ bytes)."""
    m = SIZE.match(str(raw).strip())
    if not m:
        raise RunsFolderError(f"{where} {raw!r}: a size such as 2GB, 500MB or 0 (never warn)")
    return int(float(m.group(1)) * SIZE_UNITS[m.group(2).lower()])


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


@dataclass
class RunFolder:
    path: Path
    size: int            # bytes, every file under it (symlinks counted as links)
    written: float       # the newest mtime under it (the folder's last write)
    finished: bool       # it holds a final report
    writer: int | None   # the pid of a live writer holding the marker

    def in_use(self, now: float) -> str | None:
        """Why it must stay, or None."""
        if self.writer is not None:
            return f"being written (pid {self.writer})"
        if not self.finished and now - self.written < RECENT_S:
            return f"no final report and written {now - self.written:.0f} s ago: maybe still running"
        return None


@contextmanager
def writing(run_dir: Path) -> Iterator[None]:
    """Mark `run_dir` as being written by this process for the `with` block (re-entrant: an inner
    block on a folder this process already marks leaves the marker to the outer one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    marker = run_dir / MARKER
    if _live_writer(marker) == os.getpid():
        yield
        return
    marker.write_text(json.dumps({"pid": os.getpid(), "start": start_ticks(os.getpid())}))
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _live_writer(marker: Path) -> int | None:
    try:
        held = json.loads(marker.read_text())
        pid, start = int(held["pid"]), held.get("start")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if start_ticks(pid) is not None and start_ticks(pid) == start else None


def survey(path: Path) -> RunFolder:
    """Size, last write, finished or not and a live writer, from one walk that follows no symlink."""
    size, written, writer = 0, path.lstat().st_mtime, None
    finished = any((path / name).is_file() for name in FINAL_REPORTS)
    for root, dirs, files in os.walk(path):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            size += st.st_size
            written = max(written, st.st_mtime)
            if name == MARKER and writer is None:
                writer = _live_writer(Path(root) / name)
        for d in dirs:
            try:
                written = max(written, os.lstat(os.path.join(root, d)).st_mtime)
            except OSError:
                continue
    return RunFolder(path, size, written, finished, writer)


def run_folders(runs_dir: Path) -> list[RunFolder]:
    """The lab's run folders directly in `runs_dir`, newest write first."""
    if not runs_dir.is_dir():
        return []
    found = [survey(p) for p in runs_dir.iterdir()
             if LAB_NAMED.match(p.name) and p.is_dir() and not p.is_symlink()]
    return sorted(found, key=lambda f: f.written, reverse=True)


def total_size(runs_dir: Path) -> int:
    """Bytes under `runs_dir`, every file (run folders or not), no symlink followed."""
    total = 0
    for root, _dirs, files in os.walk(runs_dir):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


@dataclass
class Selection:
    remove: list[RunFolder]
    kept_in_use: list[tuple[RunFolder, str]]    # would go, but it is being written


def select(folders: list[RunFolder], *, keep: int | None = None, older_than: float | None = None,
           now: float | None = None) -> Selection:
    """The folders to remove: past the `keep` newest (when given) and last written more than
    `older_than` seconds ago (when given); a folder in use always stays."""
    if keep is None and older_than is None:
        raise RunsFolderError("say what to remove: --keep N and/or --older-than AGE")
    if keep is not None and keep < 0:
        raise RunsFolderError(f"--keep {keep}: at least 0")
    now = time.time() if now is None else now
    ordered = sorted(folders, key=lambda f: f.written, reverse=True)
    remove, in_use = [], []
    for rank, folder in enumerate(ordered):
        if keep is not None and rank < keep:
            continue
        if older_than is not None and now - folder.written <= older_than:
            continue
        why = folder.in_use(now)
        if why:
            in_use.append((folder, why))
        else:
            remove.append(folder)
    return Selection(remove, in_use)


def remove(folder: RunFolder, runs_dir: Path) -> None:
    """Delete one selected folder, after checking once more that it sits directly in `runs_dir`."""
    path = folder.path
    if path.is_symlink() or path.resolve().parent != runs_dir.resolve():
        raise RunsFolderError(f"{path}: not a folder of {runs_dir}; left alone")
    if survey(path).writer is not None:         # a writer arrived since the survey (`siolab report` on it)
        raise RunsFolderError(f"{path}: being written now; left alone")
    shutil.rmtree(path)
