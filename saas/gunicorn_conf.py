"""Gunicorn settings of the production image (the Dockerfile's CMD), read from the environment.

WSGI with threads, never ASGI: django-tenants keeps the schema on the thread's database
connection. Requests served at once per container = WEB_CONCURRENCY x GUNICORN_THREADS; each
thread keeps its own PostgreSQL connection for CONN_MAX_AGE seconds, so PostgreSQL's
max_connections must cover every container's workers x threads (plus Celery's). Logins and
sign-ups hash with Argon2 (~100 MiB each while they run), so memory bounds these numbers too.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# Every interface of the container; platforms that assign a port set PORT.
bind = [f"0.0.0.0:{_int('PORT', 8000)}"]

workers = _int("WEB_CONCURRENCY", 2)  # the name Heroku-style platforms set; about one per core
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A worker silent this long (a request stuck that long) is killed and replaced.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (docker stop sends it, then SIGKILL after 10 s) requests in flight get this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 8)
# Longer than a proxy's idle timeout would make the proxy reuse a connection being closed.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Replace each worker after about this many requests (0: never), bounding slow memory growth;
# the jitter keeps workers from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10

# Logs to stdout/stderr, where `docker compose logs` reads them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# Workers' heartbeat files in memory: on the container's overlay filesystem a slow disk can
# make the arbiter think a busy worker hangs.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
