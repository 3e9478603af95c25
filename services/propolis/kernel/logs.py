"""Structured JSON logs: one object per line on stderr, with any ``extra=`` fields kept."""

from __future__ import annotations

import logging
import sys
import time

import msgspec

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Values that are not JSON-able (exceptions, paths...) are logged by their repr.
_encoder = msgspec.json.Encoder(enc_hook=repr)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(doc).decode("utf-8", "replace")


def setup_logging(service: str, level: str = "info") -> None:
    """Route the root logger to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_propolis", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler._propolis = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
