"""Production settings: what manage.py, wsgi, asgi and the Celery app use unless told otherwise.

A deployment that forgets to choose a module gets these: no start without
DJANGO_SECRET_KEY, and HTTPS enforced unless the environment says otherwise
(cookiecutter-django's variable names). `python manage.py check --deploy` passes.
"""

from .base import *  # noqa: F403
from .base import DEBUG, env, secret_key

SECRET_KEY = secret_key()

# SECURITY (HTTPS): on by default with debug off; an operator serving plain HTTP on a
# private network turns the redirect and the Secure-only cookies off explicitly.
# ------------------------------------------------------------------------------
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers talk plain HTTP to the container: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
# Sent on HTTPS answers only. Start low; raise it (e.g. 31536000) once HTTPS is known to work everywhere.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = env.bool("DJANGO_SECURE_CONTENT_TYPE_NOSNIFF", default=True)
# Origins allowed to POST forms with a session (the admin, the browsable API) from another
# origin, e.g. https://shop.example when the proxy's host differs: scheme and host, comma-separated.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
