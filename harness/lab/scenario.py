"""Scenario files: load, validate up front, and expand the matrix into cells.

A scenario is data (see scenarios/README.md). Every error names the file, the line and
the field, so a typo never surfaces as a traceback halfway through a run.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..components.front import NO_FRONT, FrontError, FrontSpec
from ..core.paths import SCENARIO_DIR
from .steps import STEPS, StepError
from ..core.conditions import ConditionError, parse_condition
from ..faults import FaultError, build_fault
from ..modes import MODES
from ..modes.base import ServerSettings, SettingError


AXES: dict[str, tuple[str, ...] | None] = {
    "mode": None,                       # checked against harness.modes.MODES
    "client": None,                     # browser, python, or a profile from the scenario's `clients`
    "singleton": ("naive", "fixed", "backoff"),
    "transport": ("polling", "websocket", "default"),
    "fault": None,                      # checked against the scenario's own `faults`
    "front": None,                      # `none` or one of the scenario's own `fronts` (nginx)
    "settings": None,                   # `default` or one of the scenario's own `setting_variants`
}
DEFAULT_SETTINGS = "default"            # the `settings` axis's value for the scenario's settings as they are
AXIS_DEFAULTS = {"front": NO_FRONT, "settings": DEFAULT_SETTINGS}   # what a cell without the axis has


def _profile(default: Any, types: type | tuple[type, ...], only: str | tuple[str, ...] | None = None,
             choices: tuple = (), means: str = ""):
    return field(default=default, metadata={"types": types, "only": (only,) if isinstance(only, str) else only,
                                            "choices": choices, "means": means})


@dataclass(frozen=True)
class ClientProfile:
    """A client as a scenario's `clients:` may declare it: each field once, with its type, its
    default, the client kinds it is for (None: any) and, where it has them, its values and their meaning."""

    kind: str = _profile("browser", str)
    path: str = _profile("/", str)                      # the page (browser) or where the app is mounted
    login: bool = _profile(True, bool)
    namespace: str = _profile("/", str)
    headers: str = _profile("dict", str, choices=("dict", "callable", "none"),
                            means="how a python client sends its login cookie")
    transports: list | None = _profile(None, list)
    max_emit_bytes: int | None = _profile(None, int)
    # kind storm: how many clients, their jitter, and whether they dial through the proxy
    clients: int = _profile(200, int, "storm")
    randomization_factor: float = _profile(0.5, (int, float), "storm")
    proxy: bool = _profile(True, bool, "storm")
    # socket.io-client 4.x, or 2.x (Engine.IO 3) from the npm alias
    build: str = _profile("v4", str, "browser", choices=("v4", "v2"), means="the socket.io-client build the page loads")
    page_host: str | None = _profile(None, str, "browser")
    socket_host: str | None = _profile(None, str, "browser")
    sio_path: str | None = _profile(None, str)
    # when the client joins the room `news` (event `join`; the page's ?join=, the Python client's join_room):
    # never, on its first connect only, on every connect
    join: str = _profile("none", str, ("browser", "python"), choices=("none", "once", "every"),
                         means="when the client joins the room `news`")
    # the page's own code around its socket (duplicate-handlers): where it registers its handlers, and how
    # many times it mounts (2: a framework's double mount, a second socket besides the singleton)
    handlers: str = _profile("once", str, "browser", choices=("once", "in-connect"),
                             means="where the page registers its handlers")
    mounts: int = _profile(1, int, "browser", choices=(1, 2),
                           means="1 or 2: 2 mounts the page twice, a second socket besides the singleton")


PROFILE_FIELDS = {f.name: f.metadata["types"] for f in fields(ClientProfile)}
PROFILE_DEFAULTS = {f.name: f.default for f in fields(ClientProfile) if f.name != "kind"}
BUILTIN_CLIENTS = {"browser": {"kind": "browser"}, "python": {"kind": "python"}}
VERDICTS = ("supported", "refuted", "no evidence")
TOP_KEYS = {"name", "title", "incident", "source", "severity", "claims", "settings",
            "faults", "clients", "matrix", "steps", "expect", "notes", "fronts", "setting_variants",
            "root_cause", "fix", "prevention"}    # the scenario's own words, shown first in the report's sections


class ScenarioError(ValueError):
    """Bad scenario input: message already says file, line and field."""


@dataclass(frozen=True)
class Cell:
    """One combination of the matrix: server mode × client × variant × fault."""

    params: dict[str, str]

    @property
    def id(self) -> str:
        order = ["mode", "front", "client", "singleton", "transport", "fault", "settings"]
        return "-".join(self.params[k] for k in order if k in self.params)

    def matches(self, where: dict[str, Any]) -> bool:
        for key, want in where.items():
            have = self.params.get(key, AXIS_DEFAULTS.get(key))
            if isinstance(want, list):
                if have not in want:
                    return False
            elif have != want:
                return False
        return True


@dataclass
class Expectation:
    where: dict[str, Any]
    that: dict[str, Any]          # metric -> condition (raw, as written)
    line: int
    why: str = ""
    # The premise: what must have been true in a cell for it to be judged at all (the session
    # alive at the fault, the transport really in use); a cell where it failed is not judged.
    given: dict[str, Any] = field(default_factory=dict)


@dataclass
class Claim:
    id: str
    text: str
    where: dict[str, Any]
    supported_if: dict[str, Any]
    refuted_if: dict[str, Any]
    line: int
    recorded: str | None = None     # the verdict the lab found and the file records; None: not yet recorded
    given: dict[str, Any] = field(default_factory=dict)   # the premise; a cell where it failed is no evidence


@dataclass
class Scenario:
    path: Path
    name: str
    title: str
    incident: str
    raw: dict[str, Any]
    settings: dict[str, Any]
    faults: dict[str, dict[str, Any]]
    clients: dict[str, dict[str, Any]]
    cells: list[Cell]
    steps: list[dict[str, Any]]
    expectations: list[Expectation]
    claims: list[Claim]
    severity: str = ""
    source: str = ""
    fronts: dict[str, FrontSpec] = field(default_factory=dict)
    setting_variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: str = ""      # the file as it was loaded: what a run folder keeps, whatever the file is now

    def settings_for(self, cell: Cell | None = None) -> dict[str, Any]:
        """The server settings of a cell: the scenario's, with its `settings` variant's changes on top."""
        name = cell.params.get("settings", DEFAULT_SETTINGS) if cell is not None else DEFAULT_SETTINGS
        return {**self.settings, **self.setting_variants.get(name, {})}

    def front(self, cell: Cell) -> FrontSpec | None:
        """The cell's nginx front, or None when the clients talk to the app directly."""
        name = cell.params.get("front", NO_FRONT)
        return None if name == NO_FRONT else self.fronts[name]

    def components(self, cell: Cell) -> tuple[str, ...]:
        """Binaries the cell needs besides Python (harness/components): its mode's and its front's."""
        front = self.front(cell)
        return tuple(MODES[cell.params["mode"]].requires) + (front.components if front else ())

    def client_profile(self, cell: Cell) -> dict[str, Any]:
        """The cell's client as a profile: kind (browser/python), path, login, namespace, headers."""
        return {**PROFILE_DEFAULTS, **self.clients[cell.params["client"]]}

    def select(self, **filters: list[str] | None) -> list[Cell]:
        """Cells whose params are among the given values (None = any)."""
        out = []
        for cell in self.cells:
            if all(not vals or cell.params.get(k) in vals for k, vals in filters.items()):
                out.append(cell)
        return out


class _Located:
    """Maps key paths ("matrix.0.mode") to line numbers, from PyYAML's node tree."""

    def __init__(self, path: Path, node: yaml.Node | None):
        self.path = path
        self.lines: dict[str, int] = {}
        if node is not None:
            self._walk(node, "")

    def _walk(self, node: yaml.Node, prefix: str) -> None:
        self.lines[prefix] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = f"{prefix}.{key.value}" if prefix else str(key.value)
                self.lines[sub] = key.start_mark.line + 1
                self._walk(value, sub)
                self.lines[sub] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, f"{prefix}.{i}" if prefix else str(i))

    def error(self, field_path: str, reason: str) -> ScenarioError:
        probe = field_path
        while probe and probe not in self.lines:
            probe = probe.rpartition(".")[0]
        line = self.lines.get(probe, 1)
        shown = field_path if field_path.isprintable() else repr(field_path)[1:-1]   # one line, whatever the key
        return ScenarioError(f"{self.path}:{line}: {shown or '(top)'}: {reason}")



def client_kinds() -> dict[str, str]:
    """A client profile's kinds, as their adapters registered themselves (lab/cell_clients.py)."""
    from .cell_clients import CLIENT_KINDS   # imported late: the adapters import this module's types
    return {name: cls.description for name, cls in CLIENT_KINDS.items()}

def resolve(name_or_path: str) -> Path:
    """A scenario by catalogue name (`stale-sid-after-restart`) or by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = SCENARIO_DIR / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(x.stem for x in SCENARIO_DIR.glob("*.yaml")))
    raise ScenarioError(f"{name_or_path}: no such scenario; the catalogue has: {known}")


def catalogue() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def load(name_or_path: str | Path) -> Scenario:
    path = resolve(str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]   # one line (a ReaderError has two)
        if isinstance(exc, yaml.reader.ReaderError):
            reason += f" (character {exc.position})"
        raise ScenarioError(f"{where}: not valid YAML: {reason}") from None
    loc = _Located(path, node)
    if not isinstance(raw, dict):
        raise loc.error("", "a scenario is a mapping with name, matrix, steps, expect")
    scenario = _validate(path, raw, loc)
    scenario.text = text
    return scenario


def _require(raw: dict, key: str, kind: type, loc: _Located, prefix: str = ""):
    full = f"{prefix}.{key}" if prefix else key
    if key not in raw:
        raise loc.error(prefix, f"missing required field {key!r}")
    if not isinstance(raw[key], kind):
        raise loc.error(full, f"must be {_kind(kind())}, got {_kind(raw[key])} {raw[key]!r:.40}")
    return raw[key]


def _kind(value: Any) -> str:
    """What a YAML value is, in the file's words."""
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "a number", float: "a number",
            type(None): "nothing"}.get(type(value), type(value).__name__)


def _section(raw: dict[str, Any], key: str, kind: type, loc: _Located, what: str) -> Any:
    """A top-level section of the given type; absent or empty (`key:` alone) is the empty one."""
    value = raw.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise loc.error(key, f"must be {_kind(kind())} ({what}), got {_kind(value)} {value!r:.40}")
    return value


def _check_conditions(conds: Any, field_path: str, loc: _Located) -> dict[str, Any]:
    from ..checks import METRICS

    if not isinstance(conds, dict) or not conds:
        raise loc.error(field_path, "must map metric names to conditions, e.g. {stale_sid_400: '>= 1'}")
    for metric, cond in conds.items():
        if metric not in METRICS:
            raise loc.error(f"{field_path}.{metric}", f"unknown metric; known: {', '.join(sorted(METRICS))}")
        try:
            parse_condition(cond)
        except ConditionError as exc:
            raise loc.error(f"{field_path}.{metric}", str(exc)) from None
    return conds


def _check_where(where: Any, field_path: str, loc: _Located) -> dict[str, Any]:
    if where is None:
        return {}
    if not isinstance(where, dict):
        raise loc.error(field_path, "must be a mapping of matrix axes to a value or a list of values")
    for key in where:
        if key not in AXES:
            raise loc.error(f"{field_path}.{key}", f"not a matrix axis; axes: {', '.join(AXES)}")
    return where


def _validate(path: Path, raw: dict[str, Any], loc: _Located) -> Scenario:
    for key in raw:
        if key not in TOP_KEYS:
            raise loc.error(str(key), f"unknown field; a scenario has: {', '.join(sorted(TOP_KEYS))}")
    name = _require(raw, "name", str, loc)
    for key in ("title", "incident", "severity", "source"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise loc.error(key, f"must be text, got {_kind(raw[key])} {raw[key]!r:.40}")
    for key in ("root_cause", "fix", "prevention", "notes"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise loc.error(key, "text, or a list of paragraphs (each a string)")
    if name != path.stem and path.parent == SCENARIO_DIR:
        raise loc.error("name", f"must match the file name {path.stem!r}")

    settings, setting_variants = _settings(raw, loc)
    faults = _faults(raw, loc)
    fronts = _fronts(raw, loc)
    clients = _clients(raw, loc)
    cells = _cells(raw, loc, clients, fronts, faults, setting_variants)
    steps = _steps(raw, loc, cells)
    expectations = _expectations(raw, loc, cells)
    claims = _claims(raw, loc)

    return Scenario(path=path, name=name, title=str(raw.get("title", name)),
                    incident=str(raw.get("incident", "")).strip(), raw=raw, settings=settings,
                    faults=faults, clients=clients, cells=cells, steps=steps, expectations=expectations, claims=claims,
                    severity=str(raw.get("severity", "")), source=str(raw.get("source", "")), fronts=fronts,
                    setting_variants=setting_variants)


def _check_settings(settings: dict[str, Any], prefix: str, merged: dict[str, Any], loc: _Located) -> None:
    """The settings as ServerSettings declares them (`merged`: what the cell will run with)."""
    try:
        ServerSettings.from_scenario(merged)
    except SettingError as exc:
        raise loc.error(f"{prefix if exc.name in settings else 'settings'}.{exc.name}", exc.reason) from None


def _settings(raw: dict[str, Any], loc: _Located) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """`settings:` as ServerSettings declares them, and the `setting_variants:` that change them."""
    settings = _section(raw, "settings", dict, loc, "server setting names to values")
    _check_settings(settings, "settings", settings, loc)
    setting_variants: dict[str, dict[str, Any]] = {}
    raw_variants = _section(raw, "setting_variants", dict, loc,
                            "variant names to the settings they change; the matrix axis `settings` picks one")
    for vname, changes in raw_variants.items():
        vpath = f"setting_variants.{vname}"
        if vname == DEFAULT_SETTINGS:
            raise loc.error(vpath, f"{DEFAULT_SETTINGS!r} is reserved: the scenario's settings as they are")
        if not isinstance(changes, dict) or not changes:
            raise loc.error(vpath, "a mapping of the settings this variant changes")
        _check_settings(changes, vpath, {**settings, **changes}, loc)
        setting_variants[str(vname)] = changes
    return settings, setting_variants


def _faults(raw: dict[str, Any], loc: _Located) -> dict[str, Any]:
    """`faults:`, each built once to check its type and attributes."""
    faults = _section(raw, "faults", dict, loc, "fault names to {type: ..., attributes}")
    for fname, spec in faults.items():
        if not isinstance(spec, dict):
            raise loc.error(f"faults.{fname}", "must be a mapping with a `type`")
        try:
            build_fault(spec)
        except FaultError as exc:
            raise loc.error(f"faults.{fname}", str(exc)) from None
    return faults


def _fronts(raw: dict[str, Any], loc: _Located) -> dict[str, FrontSpec]:
    """`fronts:` (nginx, Redis) by name."""
    fronts: dict[str, FrontSpec] = {}
    raw_fronts = _section(raw, "fronts", dict, loc,
                          "front names to {instances, balance, websocket, read_timeout_s, message_queue}")
    for fname, spec in raw_fronts.items():
        if fname == NO_FRONT:
            raise loc.error(f"fronts.{fname}", f"{NO_FRONT!r} is reserved: no front at all")
        try:
            fronts[str(fname)] = FrontSpec.from_dict(spec)
        except FrontError as exc:
            raise loc.error(f"fronts.{fname}" + (f".{exc.field}" if exc.field else ""), str(exc)) from None
    return fronts


def _clients(raw: dict[str, Any], loc: _Located) -> dict[str, dict[str, Any]]:
    """The built-in clients and the scenario's own profiles (`clients:`)."""
    clients = dict(BUILTIN_CLIENTS)
    for cname, spec in _section(raw, "clients", dict, loc, "profile names to {kind: ..., fields}").items():
        cpath = f"clients.{cname}"
        if not isinstance(spec, dict):
            raise loc.error(cpath, "a client profile is a mapping with at least `kind`")
        for key, value in spec.items():
            if key not in PROFILE_FIELDS:
                raise loc.error(f"{cpath}.{key}", f"unknown; a client profile has {', '.join(PROFILE_FIELDS)}")
            if not isinstance(value, PROFILE_FIELDS[key]):
                raise loc.error(f"{cpath}.{key}", f"must be {getattr(PROFILE_FIELDS[key], '__name__', 'a number')}, got {value!r}")
        kinds = client_kinds()
        if spec.get("kind") not in kinds:
            raise loc.error(f"{cpath}.kind", "one of " + "; ".join(f"{k} ({d})" for k, d in kinds.items()))
        for key, low in (("clients", 1), ("randomization_factor", 0)):
            if spec.get(key, low) < low or isinstance(spec.get(key), bool):
                raise loc.error(f"{cpath}.{key}", f"a number >= {low}")
        for f in fields(ClientProfile):
            choices, value = f.metadata["choices"], spec.get(f.name, f.default)
            if choices and (value not in choices or isinstance(value, bool) != isinstance(f.default, bool)):
                raise loc.error(f"{cpath}.{f.name}", f"one of {', '.join(map(str, choices))} ({f.metadata['means']})")
        for f in fields(ClientProfile):
            only = f.metadata["only"]
            if f.name in spec and only and spec.get("kind") not in only:
                raise loc.error(f"{cpath}.{f.name}", f"only for {' and '.join(only)} clients")
        for key in ("page_host", "socket_host"):
            if key in spec and not re.fullmatch(r"[A-Za-z0-9.-]+", spec[key]):
                raise loc.error(f"{cpath}.{key}", f"a host name such as localhost or 127.0.0.1, got {spec[key]!r}")
        if "sio_path" in spec and not re.fullmatch(r"/[A-Za-z0-9._/-]*", spec["sio_path"]):
            raise loc.error(f"{cpath}.sio_path", f"a path such as /socket.io, got {spec['sio_path']!r}")
        clients[str(cname)] = spec
    return clients


def _cells(raw: dict[str, Any], loc: _Located, clients: dict, fronts: dict, faults: dict,
           setting_variants: dict) -> list[Cell]:
    """The matrix expanded into cells, every value checked against its axis."""
    groups = _require(raw, "matrix", list, loc)
    if not groups:
        raise loc.error("matrix", "no group: a matrix lists at least one group of axes (mode, client, …)")
    cells: list[Cell] = []
    for gi, group in enumerate(groups):
        gpath = f"matrix.{gi}"
        if not isinstance(group, dict):
            raise loc.error(gpath, "each matrix group maps axes to lists of values")
        for axis in ("mode", "client"):
            if axis not in group:
                raise loc.error(gpath, f"missing axis {axis!r}")
        axes: dict[str, list[str]] = {}
        for axis, values in group.items():
            if axis not in AXES:
                raise loc.error(f"{gpath}.{axis}", f"not a matrix axis; axes: {', '.join(AXES)}")
            values = values if isinstance(values, list) else [values]
            if not values:
                raise loc.error(f"{gpath}.{axis}", "no value: an axis lists at least one")
            allowed = AXES[axis] or {"mode": tuple(MODES), "client": tuple(clients), "front": (NO_FRONT, *fronts),
                                     "settings": (DEFAULT_SETTINGS, *setting_variants)}.get(axis, tuple(faults))
            for v in values:
                if v not in allowed:
                    raise loc.error(f"{gpath}.{axis}", f"unknown value {v!r}; allowed: {', '.join(allowed)}")
            axes[axis] = [str(v) for v in values]
        if "singleton" in axes and any(clients[c]["kind"] != "browser" for c in axes["client"]):
            raise loc.error(f"{gpath}.singleton", "only browser cells have a singleton variant")
        for combo in itertools.product(*axes.values()):
            cell = Cell(dict(zip(axes.keys(), combo)))
            if cell.id not in {c.id for c in cells}:
                cells.append(cell)
    return cells


def _steps(raw: dict[str, Any], loc: _Located, cells: list[Cell]) -> list[dict[str, Any]]:
    """`steps:`, each validated by its own step kind."""
    steps = _require(raw, "steps", list, loc)
    for si, step in enumerate(steps):
        spath = f"steps.{si}"
        if not isinstance(step, dict) or len(step) != 1:
            raise loc.error(spath, f"each step is one of {', '.join(STEPS)} with its arguments")
        (kind, args), = step.items()
        if kind not in STEPS:
            raise loc.error(spath, f"unknown step {kind!r}; steps: {', '.join(STEPS)}")
        try:
            STEPS[kind].validate(args)
        except StepError as exc:
            raise loc.error(f"{spath}.{kind}" + (f".{exc.field}" if exc.field else ""), exc.reason) from None
        if kind == "fault":
            faultless = [c.id for c in cells if "fault" not in c.params]
            if faultless:
                raise loc.error(f"{spath}.fault", f"cells without a `fault` axis would skip it: {', '.join(faultless[:3])}"
                                                  + (" …" if len(faultless) > 3 else "") + "; give their matrix group a fault")
    return steps


def _expectations(raw: dict[str, Any], loc: _Located, cells: list[Cell]) -> list[Expectation]:
    """`expect:`, each matching at least one cell."""
    expectations = []
    for ei, exp in enumerate(_section(raw, "expect", list, loc, "each item {where, given, that, why}")):
        epath = f"expect.{ei}"
        if not isinstance(exp, dict) or "that" not in exp:
            raise loc.error(epath, "an expectation has `where` (optional) and `that`")
        for k in exp:
            if k not in ("where", "given", "that", "why"):
                raise loc.error(f"{epath}.{k}", "unknown; an expectation has where, given, that, why")
        where = _check_where(exp.get("where"), f"{epath}.where", loc)
        given = _check_conditions(exp["given"], f"{epath}.given", loc) if "given" in exp else {}
        that = _check_conditions(exp["that"], f"{epath}.that", loc)
        if not any(c.matches(where) for c in cells):
            raise loc.error(f"{epath}.where", "matches no cell of the matrix")
        expectations.append(Expectation(where, that, loc.lines.get(epath, 1), str(exp.get("why", "")), given))
    return expectations


def _claims(raw: dict[str, Any], loc: _Located) -> list[Claim]:
    """`claims:` with their premises and recorded verdicts."""
    claims = []
    for ci, claim in enumerate(_section(raw, "claims", list, loc,
                                        "each item {id, text, where, given, supported_if, refuted_if, verdict}")):
        cpath = f"claims.{ci}"
        if not isinstance(claim, dict):
            raise loc.error(cpath, "a claim has id, text, where, supported_if, refuted_if, verdict")
        cid = _require(claim, "id", str, loc, cpath)
        text = _require(claim, "text", str, loc, cpath)
        for k in claim:
            if k not in ("id", "text", "where", "given", "supported_if", "refuted_if", "verdict"):
                raise loc.error(f"{cpath}.{k}", "unknown; a claim has id, text, where, given, supported_if, refuted_if, verdict")
        where = _check_where(claim.get("where"), f"{cpath}.where", loc)
        given = _check_conditions(claim["given"], f"{cpath}.given", loc) if "given" in claim else {}
        sup = _check_conditions(claim.get("supported_if"), f"{cpath}.supported_if", loc)
        ref = _check_conditions(claim.get("refuted_if"), f"{cpath}.refuted_if", loc)
        recorded = claim.get("verdict")
        if recorded is not None and recorded not in VERDICTS:
            raise loc.error(f"{cpath}.verdict", f"unknown verdict {recorded!r}; one of: {', '.join(VERDICTS)}")
        claims.append(Claim(cid, text, where, sup, ref, loc.lines.get(cpath, 1), recorded, given))
    return claims
