"""Mode `eventlet`: `socketio.run(app)` on eventlet's WSGI server (gunicorn >= 26 has no
eventlet worker, so this is how eventlet is still deployed).

    SIOLAB_ASYNC_MODE=eventlet python -m servers.reference_app.run_eventlet --host 127.0.0.1 --port 5000

`eventlet.monkey_patch()` comes first, before anything else is imported, as Flask-SocketIO's
deployment notes ask for eventlet. No debug mode and no reloader (that is mode `reloader`).
"""
import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402  -- after monkey_patch on purpose

from servers.listen_args import listen_args  # noqa: E402

from .app import create_app  # noqa: E402
from .settings import EXIT_BAD_SETTING, load_or_exit  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    args = listen_args("python -m servers.reference_app.run_eventlet", "Flask-SocketIO socketio.run on eventlet", argv)

    settings = load_or_exit()
    if settings.async_mode != "eventlet":
        # socketio.run would quietly start Werkzeug or gevent's server instead.
        print(f"siolab: bad setting SIOLAB_ASYNC_MODE: {settings.async_mode!r} under run_eventlet; "
              "this entry point serves eventlet only", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_SETTING)
    app, socketio = create_app(settings)
    socketio.run(app, host=args.host, port=args.port, log_output=True)


if __name__ == "__main__":
    main()
