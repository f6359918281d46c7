"""python -m servers.plain_ws_app --host 127.0.0.1 --port N"""
from __future__ import annotations

from aiohttp import web

from servers.listen_args import listen_args

from .app import create_app, log


def main(argv: list[str] | None = None) -> None:
    args = listen_args("python -m servers.plain_ws_app", "plain WebSocket backend with in-memory sessions", argv)
    app = create_app()
    log.info("listening on http://%s:%s", args.host, args.port)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
