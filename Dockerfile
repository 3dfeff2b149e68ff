# One image for every process: web (gunicorn), worker and beat (celery), migrate, projector.
# Two stages: the builder installs the production lock (hash-checked) into a virtualenv; the
# runtime copies that virtualenv and the code, and runs as an unprivileged user. No compiler,
# no pip cache and no development tools (tests, linters) reach the runtime image.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/base.txt /tmp/base.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/base.txt

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN useradd --create-home --uid 10001 app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code stays root-owned: the app user can read and run it, not change it.
COPY . .
# Static files (admin, Swagger UI from the sidecar) are collected into the image and served by
# WhiteNoise, so docs and admin work under gunicorn with DEBUG off. collectstatic needs some
# secret to load the settings; this one lives only for this RUN and signs nothing.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && chmod +x compose/*/start
USER app

EXPOSE 8000
# The web server's liveness; compose gives the worker and beat their own checks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["/app/compose/web/start"]
