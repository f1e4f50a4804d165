"""gunicorn settings for kb: `gunicorn -c deploy/gunicorn.conf.py 'web.app:create_app()'`.

Every worker process opens the live Whoosh index and keeps one searcher with its caches
(field lengths, posting arrays, per-word scores, facet matrices), so memory, not CPU, decides
how many workers a machine holds. Threads share their worker's searcher, so add threads before
workers. Measured (docs/publishing.md, "Sizing"): one worker serving the 10,000-article
synthetic index (72 MB on disk) peaks at about 500 MB after 600 varied searches; budget about
100 MB plus 40 MB per 1,000 articles per worker, and measure your own.

Environment (all optional):
    WEB_CONCURRENCY   workers (default: what memory allows, at most 2 per CPU)
    KB_THREADS        threads per worker (default 4)
    KB_WORKER_MB      memory one worker needs (default 500: 10,000 articles; measure with your index)
    KB_BIND           address (default 127.0.0.1:8080: the reverse proxy connects there)
    KB_PROXY_IPS      addresses of the reverse proxy whose X-Forwarded-* headers count (default 127.0.0.1,::1);
                      kb reads the same variable to trust KB_USER_HEADER only from them
    KB_LOG_FORMAT     text (default) or json: one JSON object per line, app and gunicorn alike
    KB_LOG_LEVEL      INFO (default), WARNING, DEBUG...
    PROMETHEUS_MULTIPROC_DIR  where workers keep their metrics for /metrics (default: a fresh temporary folder)
"""

from __future__ import annotations

import os
import tempfile


def _memory_mb() -> int:
    """Available memory (MemAvailable), or 2 GB where /proc is missing."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 2048


def _workers() -> int:
    if os.environ.get("WEB_CONCURRENCY"):
        return int(os.environ["WEB_CONCURRENCY"])
    per_worker = int(os.environ.get("KB_WORKER_MB", "500"))
    by_memory = (_memory_mb() // 2) // per_worker  # half the memory: leave room for `kb sync` builds and the OS
    return max(2, min(by_memory, 2 * (os.cpu_count() or 1)))


bind = os.environ.get("KB_BIND", "127.0.0.1:8080")
workers = _workers()
worker_class = "gthread"
threads = int(os.environ.get("KB_THREADS", "4"))
# Workers import kb once in the master and fork: the code is shared copy-on-write. Nothing opens the
# index or the database before the fork (create_app is lazy), so every worker gets its own.
preload_app = True
timeout = 30  # a search stops itself at 0.8 s; 30 s only catches a stuck worker
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a long-lived searcher's caches of old builds never pile up.
max_requests = 5000
max_requests_jitter = 500
# The reverse proxy's addresses (the same KB_PROXY_IPS kb reads to trust KB_USER_HEADER): only their
# X-Forwarded-For/-Proto count. Bind to the private address nginx reaches (KB_BIND), never to a public one.
forwarded_allow_ips = os.environ.get("KB_PROXY_IPS", "127.0.0.1,::1")
# 0: no request-line limit in gunicorn (gunicorn 23+ still stops at 1 MB); kb answers URLs over
# web.security.MAX_URL_BYTES (256 KiB) itself with a JSON 414, where gunicorn's 414 (default 4094
# bytes) is a bare page that cut off long pasted queries.
limit_request_line = 0
accesslog = "-"
errorlog = "-"

# Logs: the app's INFO lines kept, with time, level, logger and request id (kb/logs.py); KB_LOG_FORMAT=json.
# gunicorn's handlers stay where --error-logfile/--access-logfile send them; they only take kb's format.
from gunicorn.glogging import Logger as _GunicornLogger  # noqa: E402

from kb.logs import ACCESS_LOG_FORMAT, adopt  # noqa: E402 - after the settings it does not need


class KbLogger(_GunicornLogger):
    """gunicorn's logger with kb's line format (KB_LOG_FORMAT) and request ids; the app logs to its error log."""

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        adopt([*self.error_log.handlers, *self.access_log.handlers])


logger_class = KbLogger
access_log_format = ACCESS_LOG_FORMAT

# Metrics: every worker counts into files here and /metrics sums them (prometheus-client multiprocess
# mode). The folder must be empty when the server starts, or counts of a previous run would be added.
# gunicorn puts raw_env into the environment before it loads the app, so prometheus-client sees it.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="kb-metrics-")
os.makedirs(_metrics_dir, exist_ok=True)
for _name in os.listdir(_metrics_dir):
    if _name.endswith(".db"):
        os.remove(os.path.join(_metrics_dir, _name))
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir}"]


def child_exit(server: object, worker: object) -> None:
    from search.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)  # type: ignore[attr-defined]
