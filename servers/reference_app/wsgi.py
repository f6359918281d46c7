"""The WSGI entry for gunicorn: `gunicorn ... servers.reference_app.wsgi:app`.

Built at import, i.e. in the worker after gunicorn's gevent worker has monkey-patched;
a bad setting exits the worker with code 3, which gunicorn's arbiter treats as
"worker failed to boot" and stops.
"""
from .app import create_app

app, socketio = create_app()
