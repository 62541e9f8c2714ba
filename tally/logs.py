"""How a ``tally`` process logs: text for a terminal, or JSON lines for a log pipeline
(``TALLY_LOG_FORMAT=json``), each line with the id of the request or job pass it belongs to
(``ledger.operations``). docs/operations.md lists the fields."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from ledger.operations import OperationFilter

NOISY = ("alembic", "apscheduler", "httpx", "web3", "urllib3")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``,
    ``message``, ``request_id`` when the line belongs to a request or a job pass, ``error`` with
    the traceback of a logged exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{text} [{request_id}]" if request_id else text


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Replace the root logger's handlers with one on stderr in ``fmt`` (``text`` or ``json``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(OperationFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
