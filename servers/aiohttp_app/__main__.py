"""python -m servers.aiohttp_app --host 127.0.0.1 --port N"""
from __future__ import annotations

from aiohttp import web

from servers.listen_args import listen_args
from servers.reference_app.settings import AIOHTTP_ASYNC_MODES, load_or_exit

from .app import create_app, log

# How long a stop (SIGTERM, SIGINT) waits for open requests before cancelling them (aiohttp's
# default: 60 s). An Engine.IO long-poll or WebSocket never ends by itself: a restart would wait
# the whole bound, with the listening socket already closed. aiohttp waits the bound twice: for the
# handler to finish, then for it to end once cancelled (an Engine.IO handler outlives the cancel).
SHUTDOWN_TIMEOUT_S = 0.5


def main(argv: list[str] | None = None) -> None:
    args = listen_args("python -m servers.aiohttp_app", "python-socketio AsyncServer on aiohttp", argv)

    settings = load_or_exit(AIOHTTP_ASYNC_MODES)
    app, _sio = create_app(settings)
    log.info("listening on http://%s:%s", args.host, args.port)
    web.run_app(app, host=args.host, port=args.port, print=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)


if __name__ == "__main__":
    main()
