"""The WSGI entry for your app under the gunicorn modes: `gunicorn … servers.user_app_wsgi:app`.

SIOLAB_USER_APP names the object (`package.module:app`); built at import, i.e. in the worker
after gunicorn's gevent worker has monkey-patched. A wrong object or async_mode exits the
worker with code 3 ("worker failed to boot"), with a line saying why (servers/user_app_runner.py).
"""
import os

from .user_app_runner import fail, wsgi_app

if not os.environ.get("SIOLAB_USER_APP"):
    fail("SIOLAB_USER_APP is not set: which app to serve (package.module:app)")
app = wsgi_app(os.environ["SIOLAB_USER_APP"])
