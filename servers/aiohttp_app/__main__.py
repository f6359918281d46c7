"""python -m servers.aiohttp_app --host 127.0.0.1 --port N"""
from __future__ import annotations

from aiohttp import web

from servers.listen_args import listen_args
from servers.reference_app.settings import AIOHTTP_ASYNC_MODES, load_or_exit

from .app import create_app, log


def main(argv: list[str] | None = None) -> None:
    args = listen_args("python -m servers.aiohttp_app", "python-socketio AsyncServer on aiohttp", argv)

    settings = load_or_exit(AIOHTTP_ASYNC_MODES)
    app, _sio = create_app(settings)
    log.info("listening on http://%s:%s", args.host, args.port)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
