"""The login for the aiohttp app: a signed cookie holding the user name.

aiohttp has no Flask session; a signed cookie behaves like Flask's cookie session where
it matters to the lab: the login survives a server restart, and a Socket.IO connect sees
the cookie that came with its Engine.IO handshake request.
"""
from __future__ import annotations

from http.cookies import SimpleCookie

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE_NAME = "siolab_session"


class CookieSession:
    def __init__(self, secret_key: str):
        self._signer = URLSafeSerializer(secret_key, salt="siolab-aiohttp-session")

    def _user_from_value(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            data = self._signer.loads(value)
        except BadSignature:
            return None
        user = data.get("user") if isinstance(data, dict) else None
        return user if isinstance(user, str) and user else None

    def user(self, request: web.Request) -> str | None:
        return self._user_from_value(request.cookies.get(COOKIE_NAME))

    def user_from_environ(self, environ: dict) -> str | None:
        """From the Engine.IO handshake request that python-socketio hands to `connect`."""
        cookies = SimpleCookie()
        try:
            cookies.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # noqa: BLE001 -- a malformed header means: not logged in
            return None
        morsel = cookies.get(COOKIE_NAME)
        return self._user_from_value(morsel.value if morsel else None)

    def log_in(self, response: web.StreamResponse, user: str) -> None:
        response.set_cookie(COOKIE_NAME, self._signer.dumps({"user": user}),
                            httponly=True, samesite="Lax", path="/")

    def log_out(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE_NAME, path="/")
