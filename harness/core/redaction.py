"""Redaction: what never reaches a file the lab writes (timeline, logs, HAR, trace, reports).

One place for every writer: the timeline redacts each event it records, the supervisor
each log line, the browser driver its HAR and trace, the reports and `diagnose` what they
render. Redacted are:

- the headers `Cookie`, `Set-Cookie`, `Authorization`, `Proxy-Authorization` (whole value),
  and a HAR's `cookies` lists (emptied);
- any header, query parameter, form field or `name=value` pair whose name is in the list:
  the defaults below plus `SIOLAB_REDACT` (comma-separated, case-insensitive), e.g.
  `SIOLAB_REDACT=user,x-tenant`; the Flask session cookie is named `session`;
- values that are secrets by their shape: `Bearer …`, signed tokens (a Flask session
  cookie or itsdangerous token `eyJ….….…`, a JWT).

The Engine.IO query fields the checks read (`sid`, `EIO`, `transport`, `t`) are never
redacted, even when listed: without them no check can judge anything.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import quote

ENV = "SIOLAB_REDACT"
REDACTED = "[redacted by siolab]"      # a whole header or field value
REDACTED_INLINE = "[redacted]"         # inside a URL or a line of text: no spaces, so it still parses
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
DEFAULT_NAMES = frozenset({
    *SECRET_HEADERS, "x-api-key", "x-auth-token", "x-csrf-token", "x-xsrf-token",
    "session", "token", "access_token", "refresh_token", "id_token", "auth", "password", "passwd",
    "secret", "secret_key", "client_secret", "api_key", "apikey",
})
NEVER = frozenset({"sid", "eio", "transport", "t"})

# Signed values, whatever they are called: itsdangerous / Flask session cookies
# (`eyJ…` payload, timestamp, signature; a leading dot when compressed) and JWTs.
_SIGNED = re.compile(r"\.?eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{10,}")
_BEARER = re.compile(r"\b(Bearer)\s+(?!\[redacted)[A-Za-z0-9._~+/=-]{12,}")


def names_from_env(env: dict[str, str] | None = None) -> frozenset[str]:
    raw = (os.environ if env is None else env).get(ENV, "")
    return frozenset(n.strip().lower() for n in raw.split(",") if n.strip())


@dataclass(frozen=True)
class Redactor:
    names: frozenset[str]

    def __post_init__(self) -> None:
        alternation = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
        # name=value in a URL, a form body, a cookie string or a log line (also URL-encoded: %3D).
        object.__setattr__(self, "_pair", re.compile(
            rf"(?i)(?:(?<=%3F)|(?<=%26)|(?<![\w.%-]))({alternation})(\s*(?:=|%3D)\s*)(?!\[redacted)"
            rf"((?:(?!%26)[^&;\s\"'<>,)\]}}])+)"))
        # "name": "value" in JSON text, and `Name: value` header lines (to the end of the line).
        object.__setattr__(self, "_json", re.compile(
            rf"(?i)(\"(?:{alternation})\"\s*:\s*\")(?!\[redacted)((?:[^\"\\]|\\.)*)(\")"))
        object.__setattr__(self, "_header_line", re.compile(
            rf"(?im)^(\s*(?:{alternation})\s*:[ \t]*)(?!\[redacted)(\S.*)$"))

    def is_secret_name(self, name: Any) -> bool:
        key = str(name).strip().lower()
        return key in self.names and key not in NEVER

    # -- text -----------------------------------------------------------------------
    def text(self, s: str) -> str:
        if not s or not isinstance(s, str):
            return s
        s = _SIGNED.sub(REDACTED_INLINE, s)
        s = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED_INLINE}", s)
        s = self._pair.sub(self._pair_sub, s)
        if '"' in s:
            s = self._json.sub(lambda m: m.group(1) + REDACTED + m.group(3) if self.is_secret_name(
                m.group(1).split('"')[1]) else m.group(0), s)
        if ":" in s:
            s = self._header_line.sub(lambda m: m.group(1) + REDACTED if self.is_secret_name(
                m.group(1).split(":")[0]) else m.group(0), s)
        return s

    def _pair_sub(self, m: re.Match) -> str:
        if not self.is_secret_name(m.group(1)):
            return m.group(0)
        return m.group(1) + m.group(2) + quote(REDACTED_INLINE, safe="") if "%3D" in m.group(2).upper() \
            else m.group(1) + m.group(2) + REDACTED_INLINE

    # -- structures -----------------------------------------------------------------
    def data(self, obj: Any) -> Any:
        """A redacted copy of JSON-like data: secret keys lose their values, strings are scanned,
        `{"name": N, "value": V}` pairs (HAR headers, query strings, form fields) with a secret N
        lose V, and `cookies` lists are emptied."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, list):
            return [self.data(x) for x in obj]
        if isinstance(obj, tuple):
            return tuple(self.data(x) for x in obj)
        if not isinstance(obj, dict):
            return obj
        out: dict[Any, Any] = {}
        pair_name = obj.get("name") if "value" in obj else None
        for key, value in obj.items():
            if key == "cookies" and isinstance(value, list):
                out[key] = []
            elif key == "value" and pair_name is not None and self.is_secret_name(pair_name) and value:
                out[key] = REDACTED
            elif isinstance(key, str) and self.is_secret_name(key) and value not in (None, "", [], {}) \
                    and not isinstance(value, bool):
                out[key] = REDACTED
            else:
                out[key] = self.data(value)
        return out

    def lines(self, lines: Iterable[str]) -> Iterable[str]:
        return (self.text(line) for line in lines)


@lru_cache(maxsize=8)
def _redactor(extra: frozenset[str]) -> Redactor:
    return Redactor(DEFAULT_NAMES | extra)


def current() -> Redactor:
    """The redactor for the defaults plus `SIOLAB_REDACT` as it is now."""
    return _redactor(names_from_env())


def redact_text(s: str) -> str:
    return current().text(s)


def redact_data(obj: Any) -> Any:
    return current().data(obj)
