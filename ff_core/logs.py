"""Logs: one JSON object per line (``FF_LOG_FORMAT=json``) or one readable line (``text``).

Plain stdlib logging with our own formatter: every library's records (uvicorn, botocore,
ff) come out in one shape, and orjson, a dependency already, serialises them; a JSON
logging library would add a package for these few lines. A record's ``extra`` fields
become keys of its object; the request id of the request being served (``REQUEST_ID``,
set by ff_api's access log) is added to every record logged while serving it.

Defence in depth: whatever the code logs, raw API keys, invitation tokens and signed
tokens (stream tokens, session cookies) are cut down to a short prefix before a line is
written.
"""

from __future__ import annotations

import logging
import logging.config
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REQUEST_ID: ContextVar[str | None] = ContextVar("ff_request_id", default=None)

# ffs_/ffc_/ffa_ keys and ffi_ invitations (ff_core.keys: 43 random characters; 20 or more
# count, so that a flag named ffs_x is not cut), and JWS/JWT (three base64url parts,
# the first starting with '{"' encoded): everything after a short, recognisable prefix goes.
_SECRETS = re.compile(
    r"\b(ff[scai]_[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{16,}|\b(eyJ[A-Za-z0-9_-]{4})[A-Za-z0-9_-]*"
    r"\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
)
# The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Not ours to show: uvicorn adds an ANSI-coloured copy of its messages for its console.
_SKIPPED = _STANDARD | {"color_message"}


def redact(text: str) -> str:
    """``text`` with every raw key or signed token cut to its prefix and ``[redacted]``."""
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FF_", extra="ignore", frozen=True)

    # json: for a log pipeline (the container image sets it); text: for a terminal.
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in vars(record).items() if k not in _SKIPPED}
    if "request_id" not in fields and (request_id := REQUEST_ID.get()) is not None:
        fields["request_id"] = request_id
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        line = orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        return redact(line)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return redact(f"{line} {extras}" if extras else line)


def dict_config(settings: LogSettings) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (also uvicorn's ``log_config``): one stderr handler
    on the root logger; uvicorn's loggers propagate to it, and its access log is off
    because ff_api's access log (with request ids, redacted queries) replaces it."""
    formatter = {"json": JsonFormatter, "text": TextFormatter}[settings.log_format]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ff": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "ff",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            # botocore at DEBUG prints request bodies: never below WARNING.
            "botocore": {"level": "WARNING"},
            "aiobotocore": {"level": "WARNING"},
        },
    }


def configure(settings: LogSettings) -> None:
    logging.config.dictConfig(dict_config(settings))
