# The part of APScheduler 3's API that Tally uses (anchoring/jobs.py); the package ships no types.
from collections.abc import Callable
from datetime import datetime
from typing import Any

class BackgroundScheduler:
    def __init__(self, *, job_defaults: dict[str, Any] | None = ..., **options: Any) -> None: ...
    def add_job(
        self,
        func: Callable[..., object],
        trigger: str | None = ...,
        *,
        id: str | None = ...,
        next_run_time: datetime | None = ...,
        seconds: float = ...,
        **trigger_args: Any,
    ) -> Any: ...
    def start(self, paused: bool = ...) -> None: ...
    def shutdown(self, wait: bool = ...) -> None: ...
