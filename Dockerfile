# One image for every process: web (gunicorn), worker and beat (celery), migrate, projector.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files (admin, Swagger UI from the sidecar) are collected into the image and
# served by WhiteNoise, so docs and admin work under gunicorn with DEBUG off.
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && chmod +x compose/*/start \
    && useradd --create-home --uid 10001 app
USER app

EXPOSE 8000
CMD ["/app/compose/web/start"]
