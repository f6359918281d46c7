"""The asyncio stack: python-socketio `AsyncServer` on aiohttp (`python -m servers.aiohttp_app`)."""
