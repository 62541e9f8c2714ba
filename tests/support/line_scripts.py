"""A node script the test speaks to line by line: it reports a state as one JSON line
(``{"event": ..., ...}``), the test moves the server on (seals, anchors) and says a word back.
The page tests drive Chromium this way where a step needs the server to change mid-way."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent.parent


class LineScript:
    """The running script: ``expect`` its next report, ``say`` a line to it."""

    def __init__(self, process: subprocess.Popen[str], stderr: IO[str]) -> None:
        self.process = process
        self.stderr = stderr

    def expect(self, event: str) -> dict[str, Any]:
        """The next report, which must be ``event``; a script that failed first reports ``error``
        with its ``message`` (and what it had seen), shown as the assertion's message."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise AssertionError(f"the script ended before {event!r}: {self.stderr.read()[-3000:]}")
        report: dict[str, Any] = json.loads(line)
        if report["event"] == "error" and event != "error":
            raise AssertionError(f"the script failed before {event!r}: {report.get('message')}\n"
                                 f"page errors: {report.get('pageErrors')}\n"
                                 f"{json.dumps(report.get('output'))[-3000:]}")
        assert report["event"] == event, json.dumps(report, indent=1)[:6000]
        return report

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()


@contextmanager
def line_script(command: list[str], *, timeout: float) -> Iterator[LineScript]:
    """Run ``command`` (node and its script) from the repository root until the block ends; killed
    after ``timeout`` seconds, so that a hung browser cannot hang the suite."""
    with tempfile.TemporaryFile(mode="w+") as stderr, subprocess.Popen(
            command, cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr) as process:
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            yield LineScript(process, stderr)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
