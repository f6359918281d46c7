"""`siolab diagnose FILE…`: a real capture judged like a lab run.

Importers turn what an engineer has — a HAR from Chrome or Firefox, a copy of the browser
console, server logs (Flask-SocketIO / python-engineio / gunicorn / Node socket.io), a
saved siolab timeline — into timeline events (`har`, `console`, `server_log`); `assemble`
lines their clocks up. Then, as for a lab cell: the moment of failure is found in the
capture (it has no `fault` event), the checks measure the same figures, and the
fingerprints of known causes (`fingerprints/`) say which causes are likely, which are
ruled out and why, and which catalogue scenario replays it. Bad input is a
`CaptureError` naming the file and the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..checks import Finding, measure
from ..lab.scenario import ScenarioError
from ..lab.scenario import load as load_scenario
from ..core.timeline import Event
from . import assemble, console, formats, har, server_log
from .capture import CaptureError
from .fingerprints import LIKELY, POSSIBLE, RULED_OUT, Result, match_all
from .fingerprints.view import CaptureView, FailurePoint
from .imported import Imported

LOADERS = {"har": har.load, "console": console.load, "server log": server_log.load, "timeline": formats.load_timeline}
REPLAY_AXES = ("client", "mode", "transport", "fault")        # filters dropped from the last when no cell matches


@dataclass
class Diagnosis:
    files: list[Imported]
    events: list[Event]
    notes: list[str]
    failure: FailurePoint | None
    t_fault: float | None                      # the inferred fault's time on the timeline
    figures: dict[str, Finding]
    results: list[Result]
    replays: dict[str, str] = field(default_factory=dict)   # cause id -> `siolab run …`

    @property
    def likely(self) -> list[Result]:
        return [r for r in self.results if r.status in (LIKELY, POSSIBLE)]

    @property
    def ruled_out(self) -> list[Result]:
        return [r for r in self.results if r.status == RULED_OUT]

    @property
    def known_cause(self) -> bool:
        return bool(self.likely)


def import_file(path: Path | str) -> Imported:
    """One file through the importer its content calls for; any failure is a CaptureError."""
    path = Path(path)
    kind = formats.sniff(path)
    try:
        return LOADERS[kind](path)
    except CaptureError:
        raise
    except (MemoryError, RecursionError):
        raise CaptureError(path, "too large or too deeply nested to read") from None
    except Exception as exc:  # noqa: BLE001 - a capture must get a clear message, never a traceback
        raise CaptureError(path, f"could not be read as a {kind} ({type(exc).__name__}: {exc})") from None


def replay_command(result: Result) -> str | None:
    """`siolab run SCENARIO --…`: the first of the result's scenarios whose matrix has a cell for every
    filter, else the first one with only the filters its matrix has."""
    commands = []
    for name in result.scenarios:
        try:
            scenario = load_scenario(name)
        except ScenarioError:
            continue
        command, complete = _replay(scenario, result.replay)
        if complete:
            return command
        commands.append(command)
    return commands[0] if commands else None


def _replay(scenario, replay: dict[str, str]) -> tuple[str, bool]:
    filters: dict[str, str] = {}
    wanted = sum(1 for axis in REPLAY_AXES if replay.get(axis) is not None)
    for axis in REPLAY_AXES:
        value = replay.get(axis)
        if value is None:
            continue
        known = {c.params.get(axis) for c in scenario.cells}
        if axis == "client" and value not in known:
            kinds = {c.params["client"]: scenario.client_profile(c)["kind"] for c in scenario.cells}
            same_kind = sorted(name for name, kind in kinds.items() if kind == value)
            value = same_kind[0] if len(same_kind) == 1 else None
        if value in known:
            filters[axis] = value
    complete = len(filters) == wanted
    while filters and not scenario.select(**{k: [v] for k, v in filters.items()}):
        filters.pop(next(reversed(filters)))
        complete = False
    return " ".join(["siolab run", scenario.name] + [f"--{k} {v}" for k, v in filters.items()]), complete


def judge(events: list[Event], files: list[Imported] | None = None, notes: list[str] | None = None) -> Diagnosis:
    """Find the failure, measure the figures, match the fingerprints: pure over the events."""
    view = CaptureView(events)
    failure = view.failure
    t_fault = None
    measured = events
    if failure is not None:
        t_fault = round(failure.t - 0.001, 6)
        fault = Event(t_fault, "harness", "fault", {"name": "inferred", "phase": "begin", "inferred": True,
                                                    "from": failure.kind, "sid": failure.session.sid})
        measured = sorted(events + [fault], key=lambda e: e.t)
    results = match_all(view)
    diagnosis = Diagnosis(files or [], measured, notes or [], failure, t_fault, measure(measured), results)
    diagnosis.replays = {r.cause.id: cmd for r in diagnosis.likely if (cmd := replay_command(r))}
    return diagnosis


def diagnose(paths: list[Path | str]) -> Diagnosis:
    if not paths:
        raise CaptureError("(no file)", "give at least one HAR, console copy or server log")
    imports = [import_file(p) for p in paths]
    notes: list[str] = []
    events = assemble.timeline(imports, notes)
    for imp in imports:
        notes += [f"{imp.path.name}: {n}" for n in imp.notes]
    return judge(events, imports, notes)


__all__ = ["CaptureError", "Diagnosis", "diagnose", "import_file", "judge", "replay_command"]
