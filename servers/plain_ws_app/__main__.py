"""python -m servers.plain_ws_app --host 127.0.0.1 --port N"""
from __future__ import annotations

import argparse

from aiohttp import web

from .app import create_app, log


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m servers.plain_ws_app",
                                     description="plain WebSocket backend with in-memory sessions")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = create_app()
    log.info("listening on http://%s:%s", args.host, args.port)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
