# syntax=docker/dockerfile:1
# Production image: gunicorn serving saas.wsgi (saas/gunicorn_conf.py reads its settings from the
# environment). Celery's worker and beat run this image too; migrations are a step of their own
# (docker-compose.yml's `migrate` service), never part of starting a server.
# tests/deploy/ parses this file and runs its collectstatic, CMD and HEALTHCHECK for real.

# Both stages use one base: the wheels are built for the Python that installs them.
ARG PYTHON_IMAGE=python:3.11-slim

# --- Wheels of the runtime requirements: rebuilt only when requirements.txt changes ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt \
    && cp requirements.txt /wheels/

# --- Runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The wheels are mounted for this step only, so they never become a layer of the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels -r /wheels/requirements.txt

# The code belongs to root and is read-only for the app user, which writes the export files
# under EXPORT_ROOT (a volume shared by web and worker in compose) and temporary files in /tmp.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/saas/exports

WORKDIR /app
COPY . .
# Static files are collected into the image for WhiteNoise to serve, compressed. Settings need a
# SECRET_KEY and a DATABASE_URL to load; these exist for this step only (the database is never
# contacted) and are not part of the image's environment.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://collectstatic.invalid/none \
    python manage.py collectstatic --noinput --verbosity 0

ENV DJANGO_SETTINGS_MODULE=saas.settings \
    DEBUG=false \
    WHITENOISE_USE_FINDERS=false \
    EXPORT_ROOT=/var/lib/saas/exports \
    PORT=8000

# Numeric, so that orchestrators can verify it is not root (runAsNonRoot).
USER 10001:10001
EXPOSE 8000
# /healthz answers on any host, before tenant routing: 200 when PostgreSQL answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "--config", "saas/gunicorn_conf.py", "saas.wsgi:application"]
