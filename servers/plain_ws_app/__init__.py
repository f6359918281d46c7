"""A plain WebSocket backend (no Socket.IO): HTTP login → server-side session, WS with ?session=."""
