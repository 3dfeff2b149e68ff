"""Settings for the benchmark server only: the production settings plus the plain-Django baseline app.

The baseline (bench/plainshop) must run under the same gunicorn, middleware and
authentication as the real API, but must not ship with it; so it is installed
here and nowhere else.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.plainshop"]
ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False  # the benchmark's gunicorn serves plain HTTP on 127.0.0.1
