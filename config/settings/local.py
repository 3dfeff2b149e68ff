"""Settings for `make run` and a developer's machine: debug on, plain HTTP, a dev-only key.

Debug is on unless DJANGO_DEBUG=0 says otherwise; only with debug on may the key fall
back to an obviously-local one (sessions survive runserver's reloads), and seed_demo
may create its well-known logins.
"""

from .base import *  # noqa: F403
from .base import DATABASES, LOGGING, env, secret_key

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = secret_key(dev_key="django-insecure-local-development-only-never-deploy-this" if DEBUG else "")
LOGGING["handlers"]["console"]["formatter"] = "plain" if DEBUG else "json"

# runserver serves every request on a thread of its own, which ends with it: a connection
# kept for the next request of that thread would never be used or closed again.
for _database in DATABASES.values():
    _database["CONN_MAX_AGE"] = 0
