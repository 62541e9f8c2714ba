"""This process's memory, from Linux's /proc/self/status, for the benchmarks' peak-RSS figures.

``getrusage``'s ``ru_maxrss`` is not used: in a child process it counts what the parent held when
it forked, and it cannot be reset, so a phase after a larger one would read as growing by nothing.
"""

from __future__ import annotations

from pathlib import Path

STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in {STATUS}")


def rss_mb() -> float:
    """The resident set now (VmRSS), in MB."""
    return _status_mb("VmRSS")


def peak_mb() -> float:
    """The resident set's high-water mark (VmHWM) since the process started or ``reset_peak``."""
    return _status_mb("VmHWM")


def reset_peak() -> float:
    """Start the high-water mark again from the resident set now (``/proc/self/clear_refs``, Linux
    4.0 and later); that resident set, in MB, to measure growth from."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss_mb()
