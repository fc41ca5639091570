"""Gunicorn for the throughput benchmark: the production settings (saas/gunicorn_conf.py) with
sync workers on loopback, no worker recycling and no access log (the same cost for every view
measured; a restart mid-run would be timed as the app's)."""

import os

from saas import gunicorn_conf as production

bind = [f"127.0.0.1:{os.environ['BENCH_PORT']}"]
workers = int(os.environ.get("BENCH_WORKERS", "2"))
worker_class = "sync"
threads = 1
timeout = production.timeout
graceful_timeout = production.graceful_timeout
worker_tmp_dir = getattr(production, "worker_tmp_dir", None)
max_requests = 0
accesslog = None
errorlog = "-"
loglevel = "warning"
