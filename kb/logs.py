"""Logging for every entry point: gunicorn (`logconfig_dict`), `kb serve` and the CLI.

One configuration: INFO and above kept, each line with its time, level and logger;
`KB_LOG_FORMAT=json` writes one JSON object per line instead (for Loki, Elasticsearch,
journald's JSON export). The web sets a request id for every request (the client's
`X-Request-ID`, else a fresh one) and every line logged while serving it carries it.
Configured only at the entry points; modules just call `logging.getLogger(__name__)`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.config
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

LOG_FORMAT_ENV = "KB_LOG_FORMAT"
LOG_LEVEL_ENV = "KB_LOG_LEVEL"
LOG_FORMATS = ("text", "json")
REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy or client may send as a request id: printable, short, no spaces (it goes into every line).
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# gunicorn's access line: the request id is the X-Request-ID the app answers with.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kb_request_id", default="-")


def new_request_id(sent: str | None) -> str:
    """The id of a request: the one the client or proxy sent when it is well-formed, else a fresh one."""
    if sent and REQUEST_ID_PATTERN.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def set_request_id(value: str) -> contextvars.Token[str]:
    """Tag every line this thread logs from now on with `value` (until the next request sets its own).

    Not reset at the end of the request: gunicorn writes the access line after the app returned,
    in the same thread, and that line must carry the id too.
    """
    return _request_id.set(value)


def request_id() -> str:
    """The id of the request being served ("-" outside a request)."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (so formats may name it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", _request_id.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """`text` or `json`, from KB_LOG_FORMAT (an unknown value falls back to text, and says so once)."""
    value = (environ if environ is not None else os.environ).get(LOG_FORMAT_ENV, "text").strip().lower() or "text"
    return value if value in LOG_FORMATS else "text"


def dict_config(level: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The logging.config dict: gunicorn's `logconfig_dict`, and what `configure` applies."""
    env = environ if environ is not None else os.environ
    chosen = (level or env.get(LOG_LEVEL_ENV) or "INFO").upper()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format(env) == "json"
        else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"})
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "kb",
               "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"kb": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": chosen, "handlers": ["stderr"]},
        # gunicorn's own loggers go through the same handler (and so the same format).
        "loggers": {
            "gunicorn.error": {"level": chosen, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }


def configure(level: str | None = None) -> None:
    """Configure logging for a CLI command or `kb serve` (KB_LOG_LEVEL overrides `level`)."""
    logging.config.dictConfig(dict_config(os.environ.get(LOG_LEVEL_ENV) or level))
    # werkzeug's development server logs every request at INFO through its own handler unless one exists.
    logging.getLogger("werkzeug").handlers.clear()


def configure_command(level: str = "INFO") -> None:
    """Configure logging for a `kb` command unless the host process already did (pytest, an embedding app)."""
    if not logging.getLogger().handlers:
        configure(level)


def formatter(environ: Mapping[str, str] | None = None) -> logging.Formatter:
    """The formatter KB_LOG_FORMAT asks for (text or JSON)."""
    if log_format(environ) == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S%z")


def adopt(handlers: list[logging.Handler], level: str | None = None) -> None:
    """Give a server's own handlers (gunicorn's error and access logs, wherever its settings send them)
    kb's format and request ids, and send the app's loggers through the first of them."""
    chosen = formatter()
    for handler in handlers:
        handler.setFormatter(chosen)
        handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.setLevel((os.environ.get(LOG_LEVEL_ENV) or level or "INFO").upper())
    if handlers and handlers[0] not in root.handlers:
        root.addHandler(handlers[0])
