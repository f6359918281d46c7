"""The command line every lab server takes: where to listen. The harness always passes both."""
from __future__ import annotations

import argparse


def listen_args(prog: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser.parse_args(argv)
