"""`siolab clean` and the runs folder's size warning (issue 13 item 6): which folders go, which stay
(the newest, the young, anything being written, anything the lab did not name), exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core import runs_folder
from harness.core.runs_folder import MARKER, RunsFolderError, parse_age, parse_size, run_folders, select
from harness.entrypoints import cli

DAY = 86400
NOW = time.time()


def make_run(runs: Path, name: str, age_s: float, *, size: int = 1000, finished: bool = True) -> Path:
    """A run folder last written `age_s` ago (every file and folder in it dated so)."""
    folder = runs / name
    (folder / "cells" / "c1").mkdir(parents=True)
    (folder / "cells" / "c1" / "trace.zip").write_bytes(b"x" * size)
    if finished:
        (folder / "report.json").write_text("{}")
    return date(folder, age_s)


def date(folder: Path, age_s: float) -> Path:
    stamp = NOW - age_s
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            os.utime(os.path.join(root, n), (stamp, stamp))
    os.utime(folder, (stamp, stamp))
    return folder


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "reports" / "runs"
    d.mkdir(parents=True)
    monkeypatch.setattr(cli, "RUNS_DIR", d)
    return d


def names(folders) -> list[str]:
    return sorted(f.path.name for f in folders)


def test_keep_n_keeps_the_most_recently_written(runs):
    for k, age in enumerate([1, 2, 3, 4, 5]):
        make_run(runs, f"20261201-00000{k}-s{k}", age * DAY)
    chosen = select(run_folders(runs), keep=2, now=NOW)
    assert names(chosen.remove) == ["20261201-000002-s2", "20261201-000003-s3", "20261201-000004-s4"]
    assert select(run_folders(runs), keep=5, now=NOW).remove == []
    assert len(select(run_folders(runs), keep=0, now=NOW).remove) == 5


def test_older_than_and_both_together(runs):
    for k, age in enumerate([0.5, 2, 8, 30]):
        make_run(runs, f"20261201-00000{k}-s{k}", age * DAY)
    assert names(select(run_folders(runs), older_than=parse_age("7d"), now=NOW).remove) == \
        ["20261201-000002-s2", "20261201-000003-s3"]
    # Both given: a folder goes only when it is past the N newest and older than D.
    assert names(select(run_folders(runs), keep=3, older_than=parse_age("1d"), now=NOW).remove) == \
        ["20261201-000003-s3"]
    assert names(select(run_folders(runs), keep=1, older_than=parse_age("12h"), now=NOW).remove) == \
        ["20261201-000001-s1", "20261201-000002-s2", "20261201-000003-s3"]


def test_age_is_the_last_write_anywhere_inside(runs):
    folder = make_run(runs, "20261201-000000-old", 10 * DAY)
    os.utime(folder / "cells" / "c1" / "trace.zip", (NOW - 60, NOW - 60))   # rewritten a minute ago
    assert select(run_folders(runs), older_than=parse_age("1d"), now=NOW).remove == []


def test_a_folder_being_written_is_never_removed(runs):
    live = make_run(runs, "20261201-000000-live", 10 * DAY, finished=False)
    with runs_folder.writing(live):
        chosen = select(run_folders(runs), keep=0, now=NOW)
        assert chosen.remove == [] and "being written" in chosen.kept_in_use[0][1]
    assert not (live / MARKER).exists()
    # Its writer gone (a dead pid's marker left behind): an old unfinished folder may go.
    (live / MARKER).write_text('{"pid": 999999999, "start": 1}')
    date(live, 10 * DAY)
    assert names(select(run_folders(runs), keep=0, now=NOW).remove) == ["20261201-000000-live"]


def test_a_marker_in_a_repetition_protects_the_whole_run(runs):
    top = make_run(runs, "20261201-000000-repeated", 10 * DAY)
    with runs_folder.writing(top / "rep-2" / "x"):
        assert select(run_folders(runs), keep=0, now=NOW).remove == []


def test_an_unfinished_recent_folder_stays_without_a_marker(runs):
    make_run(runs, "20261201-000000-running", 60, finished=False)         # an older siolab, mid-run
    make_run(runs, "20261201-000001-finished", 60)
    make_run(runs, "20261201-000002-crashed", 2 * DAY, finished=False)   # killed long ago
    chosen = select(run_folders(runs), keep=0, now=NOW)
    assert names(chosen.remove) == ["20261201-000001-finished", "20261201-000002-crashed"]
    assert [f.path.name for f, _ in chosen.kept_in_use] == ["20261201-000000-running"]


def test_only_the_labs_own_folders_are_candidates(runs, tmp_path):
    make_run(runs, "20261201-000000-run", 10 * DAY)
    make_run(runs, "serve-gevent-20261201-000000", 10 * DAY)
    make_run(runs, "my-notes", 10 * DAY)                                 # not a name the lab writes
    outside = make_run(tmp_path, "20261201-000000-outside", 10 * DAY)
    (runs / "20261201-000009-link").symlink_to(outside)                   # a link out of the runs folder
    assert names(run_folders(runs)) == ["20261201-000000-run", "serve-gevent-20261201-000000"]


def test_clean_removes_and_reports_bytes(runs, capsys):
    make_run(runs, "20261201-000000-a", 10 * DAY, size=3000)
    make_run(runs, "20261201-000001-b", 9 * DAY, size=5000)
    keepme = make_run(runs, "20261201-000002-c", 1 * DAY, size=7000)
    assert cli.main(["clean", "--older-than", "2d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove  20261201-000000-a" in out and "would remove  20261201-000001-b" in out
    assert "siolab clean: would remove 2 run folders, 7.8 KB" in out
    assert len(list(runs.iterdir())) == 3                                # a dry run removes nothing
    assert cli.main(["clean", "--older-than", "2d"]) == 0
    out = capsys.readouterr().out
    assert "siolab clean: removed 2 run folders, 7.8 KB freed" in out                 # 8,000 bytes of traces, 2 reports
    assert [p.name for p in runs.iterdir()] == [keepme.name]


def test_clean_never_leaves_the_runs_folder(runs, tmp_path):
    outside = make_run(tmp_path, "20261201-000000-outside", 10 * DAY)
    (runs / "20261201-000009-link").symlink_to(outside)
    assert cli.main(["clean", "--keep", "0"]) == 0
    assert (outside / "report.json").exists() and (runs / "20261201-000009-link").is_symlink()


@pytest.mark.parametrize("argv, says", [
    (["clean"], "say what to remove: --keep N and/or --older-than AGE"),
    (["clean", "--keep", "three"], "--keep 'three': a whole number"),
    (["clean", "--keep", "-1"], "--keep -1: at least 0"),
    (["clean", "--older-than", "7"], "--older-than '7': an age such as 7d"),
    (["clean", "--older-than", "0d"], "--older-than '0d': an age"),
    (["clean", "--older-than", "soon"], "--older-than 'soon': an age"),
])
def test_clean_refuses_bad_values_with_exit_2(runs, argv, says, capsys):
    make_run(runs, "20261201-000000-a", 10 * DAY)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1
    assert (runs / "20261201-000000-a").exists()


def test_clean_in_a_real_process_exits_2_without_a_traceback():
    out = subprocess.run([sys.executable, "-m", "harness", "clean", "--older-than", "7x"],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--older-than '7x'" in out.stderr and "Traceback" not in out.stderr


def test_sizes_and_ages_parse():
    assert parse_size("2GB", "x") == 2 * 1024 ** 3 and parse_size("500m", "x") == 500 * 1024 ** 2
    assert parse_size("0", "x") == 0 and parse_size("1.5 GiB", "x") == int(1.5 * 1024 ** 3)
    assert parse_age("12h") == 12 * 3600 and parse_age("2w") == 14 * DAY
    for bad in ("lots", "-1GB", "2 PB"):
        with pytest.raises(RunsFolderError):
            parse_size(bad, "--runs-warn-size")


def test_run_warns_when_the_runs_folder_passes_its_size(runs, capsys, monkeypatch):
    make_run(runs, "20261201-000000-a", DAY, size=4000)
    cli.warn_runs_size("3KB")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "over 3.0 KB" in err and "siolab clean" in err
    cli.warn_runs_size("1MB")
    cli.warn_runs_size("0")
    assert capsys.readouterr().err == ""


def test_run_reads_the_size_from_its_knob_and_refuses_a_bad_one(runs, capsys, monkeypatch, tmp_path):
    make_run(runs, "20261201-000000-a", DAY, size=4000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIOLAB_RUNS_WARN_SIZE", "1KB")
    # The warning comes first, before the scenario is even looked up.
    assert cli.main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("siolab: warning:") and "over 1.0 KB" in err
    (tmp_path / "siolab.toml").write_text('runs_warn_size = "huge"\n')
    assert cli.main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "siolab: --runs-warn-size 'huge': a size such as 2GB, 500MB or 0 (never warn)"
