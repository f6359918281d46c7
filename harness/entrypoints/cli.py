"""`siolab`: run scenarios, rebuild reports, serve a mode by hand, list the catalogue, clean the runs folder.

Exit codes: 0 every expectation holds, 1 one failed (or a cell could not run, or with --repeat a verdict or
outcome was not the same in every repetition), 2 bad input, 130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from .. import reports as report_mod
from ..core import runs_folder
from ..core.paths import RUNS_DIR
from ..lab.config import CONFIG_ENV, CONFIG_NAME, KNOBS, ConfigError, knob_help, parse_int
from ..lab.config import resolve as resolve_knobs
from ..lab.scenario import ScenarioError, catalogue
from ..lab.scenario import load as load_scenario
from ..reports.wording import against_record

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    pass


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def cmd_run(args) -> int:
    from ..lab.plan import PlanError, check_filters
    from ..lab.plan import plan as plan_cells
    from ..lab.runner import new_run_dir
    from ..lab.targets import TargetError
    from ..lab.targets import resolve as resolve_target

    knobs = resolve_knobs({k.name: getattr(args, k.name) for k in KNOBS}, config=args.config)
    for k in KNOBS:
        setattr(args, k.name, ",".join(knobs[k.name]) if k.kind is list and knobs[k.name] else knobs[k.name])
    if args.jobs is None:
        args.jobs = "auto" if args.all else 1
    if isinstance(args.jobs, int) and args.jobs < 1:
        raise BadInput(f"--jobs {args.jobs}: at least 1 (or auto)")
    if args.repeat < 1:
        raise BadInput(f"--repeat {args.repeat}: at least 1")
    if args.all == bool(args.scenario):
        raise BadInput("name one scenario, or --all for the whole catalogue")
    warn_runs_size(args.runs_warn_size)
    try:
        target = resolve_target(app=args.app, cmd=args.cmd, app_path=args.app_path, page=args.page, hook=args.hook)
    except TargetError as exc:
        raise BadInput(str(exc)) from None
    scenarios = [load_scenario(p) for p in catalogue()] if args.all else [load_scenario(args.scenario)]
    if args.clients is not None:
        _override_storm_clients(scenarios, args.clients, strict=not args.all)
    filters = {"mode": _csv(args.mode), "client": _csv(args.client), "fault": _csv(args.fault),
               "transport": _csv(args.transport), "singleton": _csv(args.singleton)}
    base = (Path(args.out) if args.out else new_run_dir("all")) if args.all else None
    try:
        if not args.all:
            check_filters(scenarios[0], filters)
        plan, notes = plan_cells(scenarios, filters, target,
                                 run_dir_for=lambda s: base / s.name if base else
                                 Path(args.out) if args.out else new_run_dir(s.name))
    except PlanError as exc:
        raise BadInput(str(exc)) from None
    for note in notes:
        print(f"siolab: {note}", file=sys.stderr)
    if not plan:
        print("siolab: nothing to run: every cell needs a missing component", file=sys.stderr)
        return EXIT_OK
    total = sum(len(p.cells) for p in plan)
    jobs, why = _jobs(args.jobs, plan, total)
    print(f"siolab: {', '.join(p.scenario.name for p in plan)}: {total} cells"
          f"{f' × {args.repeat} repetitions' if args.repeat > 1 else ''}, {jobs} at a time{why}",
          file=sys.stderr, flush=True)
    target = None if target.is_reference and not target.page else target
    with ExitStack() as marks:              # `siolab clean` leaves these folders alone until the reports are written
        for folder in dict.fromkeys([*([base] if base else []), *(p.run_dir for p in plan)]):
            marks.enter_context(runs_folder.writing(folder))
        return _run_and_report(args, plan, base, jobs, target)


def warn_runs_size(limit_raw: str) -> None:
    """One line when the runs folder holds more than `runs_warn_size` (0: never)."""
    try:
        limit = runs_folder.parse_size(limit_raw, "--runs-warn-size")
    except runs_folder.RunsFolderError as exc:
        raise BadInput(str(exc)) from None
    if limit <= 0 or not RUNS_DIR.is_dir():
        return
    size = runs_folder.total_size(RUNS_DIR)
    if size > limit:
        print(f"siolab: warning: {RUNS_DIR} holds {runs_folder.human(size)}, over {runs_folder.human(limit)}: "
              f"`siolab clean --keep N` or `--older-than 7d` frees it (runs_warn_size, SIOLAB_RUNS_WARN_SIZE; 0 never warns)",
              file=sys.stderr, flush=True)


def _run_and_report(args, plan: list, base: Path | None, jobs: int, target) -> int:
    from ..lab.runner import run_plan

    if args.repeat > 1:
        return _run_repeated(plan, base if args.all else plan[0].run_dir, args.repeat, jobs, target, several=args.all)
    mark = time.monotonic()
    run_plan(plan, jobs=jobs, target=target)
    wall = time.monotonic() - mark
    mark = time.monotonic()
    results = [report_mod.build(p.run_dir) for p in plan]
    print(f"cells: {wall:.1f} s wall; reports: {time.monotonic() - mark:.1f} s", file=sys.stderr)
    for result in results:
        print_summary(result)
    if args.all:
        report_mod.write_index(base, results)
        print_claims(results)
        print(f"\nrun folder: {base}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def _jobs(asked: int | str, plan: list, total: int) -> tuple[int, str]:
    """--jobs N as given, or auto: picked from this machine (harness/lab/capacity.py), with the reason."""
    if asked != "auto":
        return int(asked), ""
    from ..lab.capacity import pick_jobs, this_machine

    browser = any(p.scenario.client_profile(c)["kind"] == "browser" for p in plan for c in p.cells)
    choice = pick_jobs(this_machine(), cells=total, browser=browser)
    return choice.jobs, f" (jobs auto: {choice.why})"


def _run_repeated(plan: list, run_dir: Path, repeat: int, jobs: int, target, *, several: bool) -> int:
    """--repeat N: rep-1/ … rep-N/, each with its reports, then the stability over them (exit 1 when unstable)."""
    from ..lab.repeat import rep_dir, run_repeated
    from ..reports import stability

    runs = []

    def done(k: int, rep: list) -> None:
        reports = [report_mod.build(p.run_dir) for p in rep]
        if several:
            report_mod.write_index(rep_dir(run_dir, k), reports)
        for r in reports:
            print(f"rep {k}/{repeat} {r.scenario.name}: {'PASS' if r.ok else 'FAIL'} "
                  f"({sum(c.ok for c in r.cells)}/{len(r.cells)} cells met every expectation)  "
                  f"report: {r.run_dir / 'report.md'}", file=sys.stderr, flush=True)
        runs.append(reports)

    mark = time.monotonic()
    run_repeated(plan, run_dir, repeat, jobs=jobs, target=target, done=done)
    print(f"{repeat} repetitions: {time.monotonic() - mark:.1f} s wall", file=sys.stderr)
    result = stability.from_reports(run_dir, runs)
    stability.write(result)
    print()
    print(stability.render_text(result))
    print(f"\nrun folder: {run_dir}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _override_storm_clients(scenarios: list, n: int, *, strict: bool) -> None:
    """`--clients N`: every storm client profile runs N clients (the driver records N; the checks read it)."""
    if n < 1:
        raise BadInput(f"--clients {n}: at least 1")
    for s in scenarios:
        storms = [spec for spec in s.clients.values() if spec.get("kind") == "storm"]
        if strict and not storms:
            raise BadInput(f"--clients: {s.name} has no storm client (a client profile of kind storm)")
        for spec in storms:
            spec["clients"] = n


def print_claims(results: list) -> None:
    """The catalogue's hypothesis board: every claim and its verdict."""
    print("\nclaims")
    for r in results:
        for v in r.claims:
            note = against_record(v)
            print(f"  {r.scenario.name:<28} {v.claim.id:<32} {v.verdict}{f'  ({note})' if note else ''}")


def print_summary(r: report_mod.RunReport) -> None:
    print()
    from ..reports.curve import text as curve_text

    for line in curve_text(r):
        print(line)
    width = max(len(c.cell.id) for c in r.cells)
    for c in r.cells:
        if c.error and not getattr(c, "judged", False):
            status = "ERROR  " + c.error.splitlines()[0][:100]
        else:
            failed = [x for x in c.checks if not x.ok]
            unmet = list(dict.fromkeys(x.premise_failed for x in c.checks if x.premise_failed))
            status = "ok" if not failed else "FAIL   " + "; ".join(
                f"{x.metric} {x.condition} (got {report_mod.fmt(x.value)})" for x in failed)
            if unmet:
                status += "   (not judged where its premise did not hold: " + "; ".join(unmet) + ")"
        print(f"  {c.cell.id:<{width}}  {status}")
    for v in r.claims:
        note = against_record(v)
        print(f"  claim {v.claim.id}: {v.verdict}{f'  ({note})' if note else ''}")
    print(f"\n{'PASS' if r.ok else 'FAIL'}  report: {r.run_dir / 'report.md'}")


def cmd_report(args) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "run.json").exists():
        from ..reports import stability

        if stability.rep_dirs(run_dir):    # a --repeat run: every repetition, then the stability over them
            result = stability.build(run_dir)
            print(stability.render_text(result))
            return EXIT_OK if result.ok else EXIT_FAILED
        raise BadInput(f"{run_dir}: not a run folder (no run.json)")
    result = report_mod.build(run_dir)
    print_summary(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_list(args) -> int:
    for path in catalogue():
        s = load_scenario(path)
        print(f"{s.name:<32} {len(s.cells):>3} cells  {s.title}")
    return EXIT_OK


def cmd_serve(args) -> int:
    from ..modes import get_mode
    from ..modes.base import ServerSettings, SettingError
    from ..core.supervisor import StartupError, Supervisor, TerminationAsInterrupt, port_is_listening
    from ..core.timeline import Timeline
    from ..lab.topology import Server

    try:
        mode = get_mode(args.mode)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    try:
        settings = ServerSettings(ping_interval=args.ping_interval, ping_timeout=args.ping_timeout,
                                  extra_env={"SIOLAB_MESSAGE_QUEUE": args.message_queue} if args.message_queue else {})
    except SettingError as exc:
        flag = "--" + exc.name.replace("_", "-")
        raise BadInput(f"{flag} {getattr(args, exc.name, '')}: {exc.reason.split(' (python-engineio')[0]}") from None
    exposed = _serve_host(args.host, args.allow_remote)
    if args.port is not None and port_is_listening(args.port):
        # The readiness probe would get its answer from whoever listens there.
        raise BadInput(f"--port {args.port}: something already listens on 127.0.0.1:{args.port}")
    run_dir = Path(args.out) if args.out else RUNS_DIR / f"serve-{args.mode}-{time.strftime('%Y%m%d-%H%M%S')}"
    with TerminationAsInterrupt(), runs_folder.writing(run_dir), Timeline(run_dir / "timeline.jsonl") as timeline, \
            Supervisor(run_dir, timeline) as sup:
        server = Server(sup, timeline, mode, settings, port=args.port, host=args.host)
        try:
            try:
                server.start()
            except StartupError as exc:
                print(f"siolab: {mode.name} did not start: {exc}", file=sys.stderr)
                return EXIT_FAILED
            if exposed:
                print(_exposure(mode, server.port), file=sys.stderr, flush=True)
            print(f"{mode.name} ({mode.description}) on http://127.0.0.1:{server.port}/ "
                  f"ping {args.ping_interval}s/{args.ping_timeout}s · logs in {run_dir}/logs · Ctrl-C stops it", flush=True)
            while server.proc and server.proc.alive():
                time.sleep(0.5)
            print(f"server exited with code {server.proc.popen.returncode}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
            return EXIT_OK


def cmd_clean(args) -> int:
    """Remove old run folders from the runs folder: past the --keep N newest and/or older than --older-than."""
    keep = None
    if args.keep is not None:
        try:
            keep = int(args.keep)
        except ValueError:
            raise BadInput(f"--keep {args.keep!r}: a whole number of run folders to keep (0 or more)") from None
    try:
        older = runs_folder.parse_age(args.older_than) if args.older_than is not None else None
        selection = runs_folder.select(runs_folder.run_folders(RUNS_DIR), keep=keep, older_than=older)
    except runs_folder.RunsFolderError as exc:
        raise BadInput(str(exc)) from None
    verb = "would remove" if args.dry_run else "removed"
    freed, failed = 0, 0
    for folder in selection.remove:
        if not args.dry_run:
            try:
                runs_folder.remove(folder, RUNS_DIR)
            except (OSError, runs_folder.RunsFolderError) as exc:
                failed += 1
                print(f"siolab: kept {folder.path.name}: {exc}", file=sys.stderr)
                continue
        freed += folder.size
        print(f"{verb}  {folder.path.name}  {runs_folder.human(folder.size)}  "
              f"(last written {time.strftime('%Y-%m-%d %H:%M', time.localtime(folder.written))})")
    for folder, why in selection.kept_in_use:
        print(f"kept  {folder.path.name}: {why}")
    n = len(selection.remove) - failed
    print(f"siolab clean: {verb} {n} run folder{'s' * (n != 1)}, {runs_folder.human(freed)}"
          f"{'' if args.dry_run else ' freed'} ({RUNS_DIR})")
    return EXIT_FAILED if failed else EXIT_OK


EVERY_INTERFACE = "0.0.0.0"


def _serve_host(host: str, allow_remote: bool) -> bool:
    """False for loopback, True for every interface with --allow-remote; anything else is bad input."""
    if host == "127.0.0.1":
        return False
    if host != EVERY_INTERFACE:
        # Readiness is asked on 127.0.0.1, which a server bound to one other address does not answer.
        raise BadInput(f"--host {host}: 127.0.0.1 (the default) or {EVERY_INTERFACE} (every interface, with --allow-remote)")
    if not allow_remote:
        raise BadInput(f"--host {host}: listens on every interface, reachable from other machines; "
                       "add --allow-remote to mean it")
    return True


def _exposure(mode, port: int) -> str:
    return (f"siolab: --allow-remote: {mode.name} listens on {EVERY_INTERFACE}:{port}, every interface: anyone who "
            f"reaches this machine gets every route of the app it serves (the reference app: its demo login, chat, "
            f"admin page, backup API and /__siolab/info) and its Socket.IO endpoint, with no real authentication")


def cmd_validate(args) -> int:
    """Check scenario files and siolab.toml without running anything: one line per file, 2 if one is bad."""
    from ..lab.config import read_config

    bad = 0
    for name in args.files:
        try:
            if name.endswith(".toml"):
                knobs = read_config(Path(name))
                print(f"{name}: ok ({len(knobs)} knob{'s' * (len(knobs) != 1)})")
            else:
                scenario = load_scenario(name)
                print(f"{scenario.path}: ok ({len(scenario.cells)} cells, {len(scenario.claims)} claims)")
        except (ScenarioError, ConfigError) as exc:
            bad += 1
            print(f"siolab: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_doctor(args) -> int:
    from .doctor import run as run_doctor

    return run_doctor(as_json=args.json)


def cmd_diagnose(args) -> int:
    """Import captures (HAR, console copy, server logs), judge them, write the diagnosis; 0 with a result."""
    from ..diagnose import CaptureError, diagnose
    from ..reports import diagnosis as diagnosis_report

    try:
        result = diagnose(args.files)
    except CaptureError as exc:
        raise BadInput(str(exc)) from None
    out = Path(args.out) if args.out else RUNS_DIR / \
        f"{time.strftime('%Y%m%d-%H%M%S')}-diagnose"
    try:
        paths = diagnosis_report.write(result, out)
    except OSError as exc:
        raise BadInput(f"{out}: cannot write the diagnosis ({exc.strerror or exc})") from None
    try:
        print(diagnosis_report.render_text(result))
        print(f"report: {paths['md']}", flush=True)
    except BrokenPipeError:  # `siolab diagnose … | head`
        sys.stdout = open(os.devnull, "w")
    return EXIT_OK


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port}: a TCP port is 1-65535")
    return port


def _int_knob(knob):
    def parse(raw: str):
        try:
            return parse_int(knob, raw, f"{knob.flag} {raw}")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = knob.name
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="siolab", description="Socket.IO incident lab: replay an RCA against real servers, faults and clients.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario's matrix and write the report")
    r.add_argument("scenario", nargs="?", help="catalogue name (see `siolab list`) or a path to a scenario file")
    r.add_argument("--all", action="store_true", help="run the whole catalogue")
    r.add_argument("--config", metavar="PATH", help=f"the knobs' file (default: ./{CONFIG_NAME} when there is one) "
                                                    f"[env: {CONFIG_ENV}]")
    for knob in KNOBS:
        r.add_argument(knob.flag, dest=knob.name, type=_int_knob(knob) if knob.kind is int else str, default=None,
                       help=knob_help(knob))
    r.epilog = ("Each knob's value comes from its flag, else siolab.toml, else its environment variable. "
                "README.md, 'Use it on your app'.")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="rebuild the report of a saved run folder")
    rep.add_argument("run_dir")
    rep.set_defaults(func=cmd_report)

    ls = sub.add_parser("list", help="the scenario catalogue")
    ls.set_defaults(func=cmd_list)

    s = sub.add_parser("serve", help="start one deployment mode and keep it up until Ctrl-C")
    s.add_argument("mode")
    s.add_argument("--port", type=_port, default=None, help="port on 127.0.0.1 (default: one the OS picks)")
    s.add_argument("--ping-interval", type=int, default=25, help="whole seconds (default 25)")
    s.add_argument("--ping-timeout", type=int, default=20, help="whole seconds (default 20)")
    s.add_argument("--message-queue", help="redis://host:port/db: Flask-SocketIO's message queue, shared by instances")
    s.add_argument("--out", help="folder for logs and timeline")
    s.add_argument("--host", default="127.0.0.1",
                   help=f"address to bind: 127.0.0.1 (default) or {EVERY_INTERFACE}, which needs --allow-remote")
    s.add_argument("--allow-remote", action="store_true",
                   help="let --host expose the server beyond this machine (says what it exposes)")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("clean", help="remove old run folders from reports/runs/ (never one being written)")
    c.add_argument("--keep", metavar="N", help="keep the N most recently written run folders")
    c.add_argument("--older-than", metavar="AGE", help="remove run folders last written more than AGE ago: 7d, 12h, 30m, 2w")
    c.add_argument("--dry-run", action="store_true", help="list what would go and the bytes freed; remove nothing")
    c.set_defaults(func=cmd_clean)

    v = sub.add_parser("validate", help="check scenario files and siolab.toml without running anything; exit 2 if one is bad")
    v.add_argument("files", nargs="+", metavar="FILE", help="scenario files (or catalogue names) and siolab.toml files")
    v.set_defaults(func=cmd_validate)

    d = sub.add_parser("doctor", help="check that this machine has everything a run needs; exit 1 if not")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=cmd_doctor)

    g = sub.add_parser("diagnose", help="name the likely cause in a real capture (HAR, console copy, server logs)")
    g.add_argument("files", nargs="+", metavar="FILE", help="HAR (Chrome, Firefox), browser console copy, server log")
    g.add_argument("--out", help="folder for the diagnosis (default: reports/runs/<time>-diagnose)")
    g.set_defaults(func=cmd_diagnose)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from ..core.supervisor import TerminationAsInterrupt

            with TerminationAsInterrupt():
                return args.func(args)
        return args.func(args)
    except (ScenarioError, BadInput, ConfigError) as exc:
        print(f"siolab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("siolab: interrupted; every process of the run was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
