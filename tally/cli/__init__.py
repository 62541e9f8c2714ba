"""The `tally` command: every job of a Tally deployment starts here.

Errors end the command with a one-line message on stderr and a non-zero exit code; secrets are
never echoed. Commands live by what they touch: ``ledger_commands`` (schema, keys, submit, seal,
status), ``chain_commands`` (serve, worker, anchor, deploy, demo), ``verify_commands`` (verify,
audit); ``base`` holds what they share.
"""

from __future__ import annotations

import os

from tally.cli import chain_commands, ledger_commands, verify_commands  # noqa: F401 (registers commands)
from tally.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    import logging

    level = os.environ.get("TALLY_LOG_LEVEL", "info").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "apscheduler", "httpx", "web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
