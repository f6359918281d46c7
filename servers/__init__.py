"""The apps under test: the reference Flask-SocketIO app and the aiohttp app.

See servers/README.md. The deployment modes that start them live in harness/modes/.
"""
