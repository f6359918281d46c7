"""The command line every lab server takes: where to listen. The harness always passes both."""
from __future__ import annotations

import argparse


def listen_args(prog: str, description: str, argv: list[str] | None = None, *,
                reload_marker: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if reload_marker:
        parser.add_argument("--reload-marker", help="a file whose newer mtime makes the reloader replace its child")
    return parser.parse_args(argv)
