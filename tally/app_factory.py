"""What each server worker process calls to build its app (``tally serve --workers N``).

The settings travel to the worker pickled inside the factory, never through the environment, and
each worker opens its own engine, since connections do not survive into another process. This
module imports nothing heavy on purpose: uvicorn's supervisor starts pinging a worker as soon as
it has unpickled the factory, and importing the app's libraries there would miss the ping.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tally.settings import Settings


@dataclass(frozen=True)
class AppFactory:
    settings_pickle: bytes

    @classmethod
    def of(cls, settings: Settings) -> AppFactory:
        return cls(pickle.dumps(settings))

    def __call__(self) -> FastAPI:
        from tally.logs import configure_logging
        from tally.web import build_app
        from tally.wiring import open_ledger

        settings: Settings = pickle.loads(self.settings_pickle)
        configure_logging(settings.log_level, settings.log_format)  # a spawned worker starts with none
        return build_app(settings, open_ledger(settings))
