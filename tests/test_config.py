"""siolab.toml and the knobs' precedence: flag, then siolab.toml, then environment, then default."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.lab.config import KNOBS, ConfigError, read_config, resolve

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "siolab.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_flag_beats_toml_beats_env(tmp_path: Path):
    write(tmp_path, 'app = "from_toml:app"\npage = "/toml"\njobs = 3\n')
    env = {"SIOLAB_APP": "from_env:app", "SIOLAB_PAGE": "/env", "SIOLAB_HOOK": "env_hooks:login", "SIOLAB_JOBS": "5"}
    values = resolve({"app": "from_flag:app"}, env=env, cwd=tmp_path)
    assert values["app"] == "from_flag:app"          # flag
    assert values["page"] == "/toml"                 # toml over env
    assert values["jobs"] == 3
    assert values["hook"] == "env_hooks:login"       # env when neither flag nor toml
    assert values["config"] == str(tmp_path / "siolab.toml")


def test_defaults_without_file_or_env(tmp_path: Path):
    values = resolve({}, env={}, cwd=tmp_path)
    assert values["config"] is None
    assert values["jobs"] is None          # harness/entrypoints/cli.py: auto with --all, else 1
    assert values["repeat"] == 1
    assert values["app"] is None and values["app_path"] is None


def test_jobs_takes_auto_from_flag_toml_or_env(tmp_path: Path):
    assert resolve({}, env={"SIOLAB_JOBS": "auto"}, cwd=tmp_path)["jobs"] == "auto"
    write(tmp_path, 'jobs = "auto"\nrepeat = 3\n')
    values = resolve({}, env={"SIOLAB_JOBS": "2", "SIOLAB_REPEAT": "5"}, cwd=tmp_path)
    assert values["jobs"] == "auto" and values["repeat"] == 3
    assert resolve({"jobs": 4}, env={}, cwd=tmp_path)["jobs"] == 4
    with pytest.raises(ConfigError, match="SIOLAB_JOBS='most': must be a whole number or 'auto'"):
        resolve({}, env={"SIOLAB_JOBS": "most"}, cwd=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="SIOLAB_REPEAT='auto': must be a whole number$"):
        resolve({}, env={"SIOLAB_REPEAT": "auto"}, cwd=tmp_path / "nowhere")


def test_cli_jobs_and_repeat_bad_values_exit_2(tmp_path: Path):
    for flags, words in ((["--jobs", "many"], "--jobs many: must be a whole number or 'auto'"),
                         (["--jobs", "0"], "--jobs 0: at least 1"),
                         (["--repeat", "0"], "--repeat 0: at least 1")):
        out = subprocess.run([sys.executable, "-m", "harness", "run", "placeholder-settings", *flags],
                             cwd=tmp_path, capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
        assert out.returncode == 2, out.stderr
        assert words in out.stderr and "Traceback" not in out.stderr


def test_paths_in_toml_are_relative_to_its_folder(tmp_path: Path):
    sub = tmp_path / "proj"
    sub.mkdir()
    path = write(sub, 'page = "pages/index.html"\nhook = "login.py:setup"\nmode = ["gevent", "reloader"]\n')
    values = resolve({}, config=str(path), env={}, cwd=tmp_path)
    assert values["page"] == str(sub / "pages" / "index.html")
    assert values["hook"] == str(sub / "login.py:setup")
    assert values["app_path"] == str(sub.resolve())        # the file's folder by default
    assert values["mode"] == ["gevent", "reloader"]


def test_url_path_page_and_module_hook_stay_as_written(tmp_path: Path):
    values = read_config(write(tmp_path, 'page = "/dashboard"\nhook = "hooks:login"\n'))
    assert values == {"page": "/dashboard", "hook": "hooks:login"}


@pytest.mark.parametrize("text, line, field, words", [
    ('app = "a:b"\npgae = "/"\n', 2, "pgae", "unknown field"),
    ('app = "a:b"\n\njobs = "four"\n', 3, "jobs", "whole number"),
    ('mode = [1, 2]\n', 1, "mode", "list of strings"),
    ('app = "a:b"\npage = \n', 2, "(toml)", "not valid TOML"),
])
def test_bad_toml_names_file_line_field(tmp_path: Path, text: str, line: int, field: str, words: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        read_config(path)
    assert str(err.value).startswith(f"{path}:{line}: {field}:")
    assert words in str(err.value)


def test_cli_exit_2_on_bad_toml(tmp_path: Path):
    write(tmp_path, 'app = "a:b"\njobs = "four"\n')
    out = subprocess.run([sys.executable, "-m", "harness", "run", "middlebox-reset"], cwd=tmp_path,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert out.returncode == 2, out.stderr
    assert f"{tmp_path / 'siolab.toml'}:2: jobs: must be a whole number" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_exit_2_on_a_bad_app(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "harness", "run", "middlebox-reset", "--app", "nosuch.module:app"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert "--app nosuch.module:app: " in out.stderr and "cannot import 'nosuch.module'" in out.stderr


def test_run_help_documents_every_knob():
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--help"], capture_output=True, text=True,
                         env={"COLUMNS": "400", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert out.returncode == 0
    for knob in KNOBS:
        assert knob.flag in out.stdout
        assert f"[toml: {knob.name}; env: {knob.env}]" in out.stdout


def test_config_named_by_flag_or_environment(tmp_path: Path):
    other = tmp_path / "ci" / "lab.toml"
    other.parent.mkdir()
    other.write_text('app = "from_named:app"\n')
    write(tmp_path, 'app = "from_cwd:app"\n')
    assert resolve({}, config=str(other), env={}, cwd=tmp_path)["app"] == "from_named:app"
    assert resolve({}, env={"SIOLAB_CONFIG": str(other)}, cwd=tmp_path)["app"] == "from_named:app"
    assert resolve({}, env={}, cwd=tmp_path)["app"] == "from_cwd:app"
    with pytest.raises(ConfigError, match="no such configuration file"):
        resolve({}, config=str(tmp_path / "nope.toml"), env={}, cwd=tmp_path)
