"""The incident's local set-up: `socketio.run(app, debug=True, use_reloader=True)` on Werkzeug.

    python -m servers.reference_app.run_dev --host 127.0.0.1 --port 5000

The Werkzeug reloader keeps a parent process that holds the listening socket and runs the
app in a child; a changed source file makes the child exit and a new child start: every
session is gone. The lab touches the server's own `--reload-marker` file (one per server, so
cells side by side never reload each other); servers/reference_app/reload_marker.py, which the
app imports, is the one to touch by hand.
"""
from __future__ import annotations

import werkzeug.serving

from servers.listen_args import listen_args
from servers.reloader_child import die_with_reloader_parent

from .app import create_app
from .settings import REPO_ROOT, load_or_exit


def reloader_excludes() -> list[str]:
    """The code everywhere in the repo except servers/: the stat reloader scans every .py under
    sys.path[0] (the repo root), so editing the harness or a test would restart the app under
    study in the middle of a run. Code files only: a run's reload marker lives in its run
    folder (reports/runs/…), and the reloader applies these patterns to its extra files too (a
    pattern for the whole folder left the lab's restart touching a file nobody watched)."""
    patterns = []
    for entry in REPO_ROOT.iterdir():
        if entry.name == "servers":
            continue
        # fnmatch's * crosses "/": one pattern per suffix covers the whole tree.
        patterns += [str(entry)] if entry.is_file() else [f"{entry}/*{suffix}" for suffix in CODE_SUFFIXES]
    return patterns


CODE_SUFFIXES = (".py", ".pyc", ".so")     # what the stat reloader watches besides its extra files


def main(argv: list[str] | None = None) -> None:
    die_with_reloader_parent()
    args = listen_args("python -m servers.reference_app.run_dev", "Flask-SocketIO dev server with the Werkzeug reloader",
                       argv, reload_marker=True)

    # Validated here, in the reloader's parent: a child exiting with code 3 would make
    # the reloader restart it forever.
    settings = load_or_exit()
    app, socketio = create_app(settings)
    # "stat" named explicitly: installing watchdog must not change what the lab measures.
    # Log lines are evidence in the timeline: no ANSI colour codes in them.
    werkzeug.serving._log_add_style = False
    socketio.run(app, host=args.host, port=args.port, debug=True, use_reloader=True,
                 allow_unsafe_werkzeug=True,
                 reloader_options={"reloader_type": "stat", "exclude_patterns": reloader_excludes(),
                                   "extra_files": [args.reload_marker] if args.reload_marker else None})


if __name__ == "__main__":
    main()
