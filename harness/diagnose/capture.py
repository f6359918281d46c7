"""A capture file as text: opened once, streamed in chunks or lines, whatever its bytes.

Real captures are messy: UTF-8 with a BOM, UTF-16 from a Windows shell redirect, stray
Latin-1 bytes, gzip, a NUL-filled tail from a crashed writer. Everything here decodes
with replacement characters instead of failing, and every refusal is a `CaptureError`
that names the file and the reason.
"""
from __future__ import annotations

import codecs
import gzip
from pathlib import Path
from typing import Iterator

CHUNK = 1 << 20          # 1 MiB of bytes per read
SNIFF_BYTES = 64 * 1024


class CaptureError(Exception):
    """A file that cannot be imported; `str()` is `path: reason`."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def _open_binary(path: Path):
    try:
        if path.is_dir():
            raise CaptureError(path, "is a folder, not a capture file")
        fh = open(path, "rb")
    except FileNotFoundError:
        raise CaptureError(path, "no such file") from None
    except PermissionError:
        raise CaptureError(path, "permission denied") from None
    except OSError as exc:
        raise CaptureError(path, f"cannot open ({exc.strerror or exc})") from None
    head = fh.read(2)
    fh.seek(0)
    if head == b"\x1f\x8b":
        return gzip.open(fh)
    return fh


def _encoding(head: bytes) -> tuple[str, int]:
    """The encoding a file's first bytes announce, and how many BOM bytes to skip."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", 0
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        return "utf-16-le", 0          # UTF-16 without a BOM (ASCII text, every other byte NUL)
    return "utf-8", 0


def chunks(path: Path | str, size: int = CHUNK) -> Iterator[str]:
    """The file's text in decoded chunks (invalid bytes become U+FFFD)."""
    path = Path(path)
    fh = _open_binary(path)
    try:
        try:
            head = fh.read(4)
        except (OSError, EOFError) as exc:  # a broken gzip stream
            raise CaptureError(path, f"cannot read ({exc})") from None
        encoding, skip = _encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        first = decoder.decode(head[skip:])
        if first:
            yield first
        while True:
            try:
                block = fh.read(size)
            except (OSError, EOFError) as exc:
                # A gzip file cut short: what was read so far still counts.
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
                raise CaptureError(path, f"stops after a read error ({exc})") from None
            if not block:
                break
            text = decoder.decode(block)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
    finally:
        fh.close()


def lines(path: Path | str) -> Iterator[str]:
    """The file's lines without their line ends, streamed."""
    rest = ""
    for chunk in chunks(path):
        rest += chunk
        parts = rest.splitlines(keepends=True)
        rest = ""
        if parts and not parts[-1].endswith(("\n", "\r")):
            rest = parts.pop()
        for part in parts:
            yield part.rstrip("\r\n")
    if rest:
        yield rest


def head_text(path: Path | str, limit: int = SNIFF_BYTES) -> str:
    """The first `limit` characters (about), for sniffing the format."""
    out = []
    n = 0
    for chunk in chunks(path, size=limit):
        out.append(chunk)
        n += len(chunk)
        if n >= limit:
            break
    return "".join(out)[:limit]


def is_binary(text: str) -> bool:
    """Mostly NULs or control bytes: an image, an archive, a core dump — not a capture."""
    if not text:
        return False
    sample = text[:4096]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n\f\x1e") or ch == "\ufffd")
    return bad / len(sample) > 0.3
