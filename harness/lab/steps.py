"""Steps: what every cell of a scenario does, in order. One class per step kind, registered by
name (@step), that both validates its arguments (when the scenario loads) and runs them (in the
cell). Adding a step touches this file only.

A step drives and records; the waits ask the timeline (`harness/checks/milestones.py`), never
the clock, except `sleep`, which a scenario keeps only where it studies time itself.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..core.supervisor import INTERRUPTED
from ..core.timeline import Timeline

# What each client-specific step may do; a step for the other kind of client is skipped.
BROWSER_ACTIONS = {"goto": str, "click": str, "eval": str}
PYTHON_ACTIONS = {"emit": dict, "disconnect": bool}
PROBE_FIELDS = {"method": str, "path": str, "body_bytes": int, "body": str, "repeat": int,
                "concurrency": int, "timeout": (int, float),
                # session-aware requests left pending, with a check after each (harness/clients/probe.py)
                "session": bool, "wait": bool, "check_path": str, "check_timeout": (int, float)}


class StepError(ValueError):
    """Bad arguments: `field` is the sub-field at fault ('' for the step's own value)."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass
class CellContext:
    """What a step acts on in one cell. `t_fault` is set by the `fault` step."""

    cell: Any
    timeline: Timeline
    topology: Any
    client: Any                 # the cell's client adapter (harness/lab/cell_clients.py)
    fault: Any                  # the cell's fault, or None
    settings: Any
    stack: Any
    t_fault: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


STEPS: dict[str, type["Step"]] = {}


def step(cls: type["Step"]) -> type["Step"]:
    STEPS[cls.name] = cls
    return cls


class Step:
    name: ClassVar[str]
    phase: ClassVar[str] = "observing"      # what run.json's phases count its time as

    @classmethod
    def validate(cls, args: Any) -> None:
        """Raise StepError when the arguments are wrong."""

    @classmethod
    def run(cls, ctx: CellContext, args: Any) -> None:
        raise NotImplementedError


def pause(seconds: float) -> None:
    """A wait that an interrupt ends at once."""
    if INTERRUPTED.wait(seconds):
        raise KeyboardInterrupt("run aborted")


def _check_fields(args: Any, fields: dict[str, Any], what: str) -> None:
    if not isinstance(args, dict):
        raise StepError("", f"a mapping of {what} fields: {', '.join(fields)}")
    for k, v in args.items():
        if k not in fields:
            raise StepError(k, f"unknown; {what} has {', '.join(fields)}")
        if not isinstance(v, fields[k]) or (isinstance(v, bool) and fields[k] is not bool):
            raise StepError(k, "wrong type")


@step
class Open(Step):
    """The client starts: the browser logs in and loads the page; the Python client connects."""
    name, phase = "open", "client start"

    @classmethod
    def run(cls, ctx, args):
        ctx.client.open()


@step
class Sleep(Step):
    """A fixed wait, only where a scenario studies time itself (an idle window); say why in the file."""
    name = "sleep"

    @classmethod
    def validate(cls, args):
        if isinstance(args, bool) or not isinstance(args, (int, float)) or args < 0:
            raise StepError("", "seconds, a number >= 0")

    @classmethod
    def run(cls, ctx, args):
        pause(float(args))


@step
class WaitFor(Step):
    """Until an event (`event:`) or a milestone (`until:`) is recorded; `timeout` only bounds it."""
    name, phase = "wait_for", "waiting for clients"

    @classmethod
    def validate(cls, args):
        from ..checks.milestones import MILESTONES

        if not isinstance(args, dict) or ("event" in args) == ("until" in args):
            raise StepError("", f"needs `event` (e.g. sio.connect) or `until` (a milestone: {', '.join(MILESTONES)}), "
                                "not both")
        allowed = ("until", "timeout") if "until" in args else ("event", "after", "timeout", "new_sid", "src")
        for k in args:
            if k not in allowed:
                raise StepError(k, f"unknown; wait_for takes {', '.join(allowed)}")
        if "until" in args and (not isinstance(args["until"], str) or args["until"] not in MILESTONES):
            raise StepError("until", f"unknown milestone {args['until']!r}; milestones: {', '.join(MILESTONES)}")
        timeout = args.get("timeout", 1)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise StepError("timeout", "seconds, a number > 0 (a bound: the step ends at the event)")
        if args.get("after", "start") not in ("start", "fault"):
            raise StepError("after", "start or fault")

    @classmethod
    def run(cls, ctx, args):
        if not wait_for(ctx.timeline, ctx.client.src, args, ctx.t_fault, ctx.cell):
            ctx.timeline.record("harness", "step.timeout", {"step": cls.name, "args": args})


def wait_for(timeline: Timeline, src: str, args: dict[str, Any], t_fault: float | None, cell=None) -> bool:
    """Until the event (or the milestone, `until:`) is recorded, or `timeout` runs out (False)."""
    from ..checks.milestones import Progress, reached

    deadline = time.monotonic() + float(args.get("timeout", 10))
    if "until" in args:
        progress = Progress(transport=cell.params.get("transport", "default") if cell else "default", t_fault=t_fault)
        while time.monotonic() < deadline:
            if reached(args["until"], timeline.events, progress):
                return True
            pause(0.025)
        return False
    kind = args["event"]
    src = args.get("src", src)
    after = t_fault if args.get("after") == "fault" and t_fault is not None else 0.0
    old_sids = set()
    if args.get("new_sid"):
        old_sids = {e.data.get("eio_sid") for e in timeline.events if e.kind == "sio.connect" and e.t < after}
    return timeline.wait_until(lambda e: e.t >= after and e.kind == kind and e.src == src
                               and e.data.get("eio_sid") not in old_sids,
                               max(0.0, deadline - time.monotonic()), poll_s=0.02, sleep=pause) is not None


@step
class InjectFault(Step):
    """The cell's fault (its `fault` axis), whole: returns when it is over."""
    name, phase = "fault", "fault"

    @classmethod
    def validate(cls, args):
        if args not in (None, {}):
            raise StepError("", "takes no arguments: the cell's `fault` axis names the fault ({})")

    @classmethod
    def run(cls, ctx, args):
        ctx.t_fault = ctx.timeline.now()
        ctx.fault.inject(ctx.topology, ctx.timeline)


class _ClientAction(Step):
    actions: ClassVar[dict[str, type]] = {}

    @classmethod
    def validate(cls, args):
        if not isinstance(args, dict) or len(args) != 1 or next(iter(args)) not in cls.actions:
            raise StepError("", f"one of {', '.join(cls.actions)}")
        (action, value), = args.items()
        if not isinstance(value, cls.actions[action]):
            raise StepError(action, f"must be {cls.actions[action].__name__}")
        if action == "emit" and not isinstance(value.get("event"), str):
            raise StepError("emit", "needs `event` (and `bytes` for a payload of that size, or `data`)")


@step
class BrowserAction(_ClientAction):
    """goto / click / eval in the page; Python cells skip it."""
    name, actions = "browser", BROWSER_ACTIONS

    @classmethod
    def run(cls, ctx, args):
        ctx.client.browser_step(*next(iter(args.items())))


@step
class PythonAction(_ClientAction):
    """emit / disconnect on the Python client; browser cells skip it."""
    name, actions = "python", PYTHON_ACTIONS

    @classmethod
    def run(cls, ctx, args):
        ctx.client.python_step(*next(iter(args.items())))


@step
class Probe(Step):
    """Raw Engine.IO HTTP requests (src `probe`), for exact protocol signatures."""
    name = "probe"

    @classmethod
    def validate(cls, args):
        _check_fields(args, PROBE_FIELDS, "a probe")
        if "path" not in args:
            raise StepError("", "needs at least `path`")

    @classmethod
    def run(cls, ctx, args):
        from ..clients import probe

        probe.send(ctx.timeline, ctx.topology.base_url, **args)


@step
class Witnesses(Step):
    """One python-socketio client per app instance, straight to its port (not through nginx):
    do the cell's broadcasts reach every instance? src `witness`, labelled with the instance."""
    name = "witnesses"

    @classmethod
    def validate(cls, args):
        if not isinstance(args, dict) or set(args) - {"transport"} \
                or args.get("transport", "websocket") not in ("websocket", "polling"):
            raise StepError("", "{} or {transport: websocket|polling}")

    @classmethod
    def run(cls, ctx, args):
        from ..clients.pyclient import PythonClient
        from .topology import HOST

        for i, server in enumerate(ctx.topology.servers):
            witness = PythonClient(ctx.timeline, f"http://{HOST}:{server.port}",
                                   transports=[args.get("transport", "websocket")], src="witness",
                                   label={"witness": i, "port": server.port},
                                   reconnection_delay=ctx.settings.reconnection_delay_ms / 1000)
            ctx.stack.callback(witness.close)
            witness.connect()
