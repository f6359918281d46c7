"""The Flask-SocketIO app of the incident.

Importing the package has no side effects: the app is built by `app.create_app()`,
served by gunicorn from `wsgi:app` and by the Werkzeug reloader from `run_dev`.
The aiohttp app reuses `settings`, `pages`, `backup`, `info`, the templates and the
static JS from here.
"""
