"""No import of Tally leaves the interpreter's recursion guard disabled.

py_ecc (under eth-account and web3) raises ``sys.setrecursionlimit`` to 100,000 when imported;
with that limit a deeply nested JSON body overflows the C stack and kills the server process
(``anchoring`` puts the limit back). Each module that could be the first to load
them is imported alone, in a process of its own, since only the first import raises the limit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.support.server import ROOT

SANE_LIMIT = 10_000
"""Far above CPython's default (1,000), far below what overflows an 8 MB C stack."""

# Forks one child per module from a parent that has loaded only libraries known to leave the
# limit alone (so each child is quick), and reports the limit each import leaves behind.
_PROBE = r"""
import importlib, json, os, sys
import alembic, apscheduler, eth_keys, eth_utils, fastapi, httpx, prometheus_client, pydantic, sqlalchemy, typer
limits = {}
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        importlib.import_module(name)
        os.write(write, str(sys.getrecursionlimit()).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        limits[name] = int(pipe.read() or -1)
    os.waitpid(pid, 0)
print(json.dumps(limits))
"""


ETHEREUM_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:eth_account|eth_keyfile|eth_tester|web3|py_ecc|eth)\b", re.M)
"""An import of a library that raises the limit (py_ecc, py-evm's ``eth``) or pulls one in."""


def entry_modules() -> list[str]:
    """The package roots, and every module that imports an Ethereum library itself: only their
    imports can be the first to load one (a module importing them through another of ours is
    covered by that one's check). Found on disk: importing a package to walk it would load the
    libraries in the parent and hide what each import does alone."""
    names = ["ledger", "anchoring", "api", "tally"]
    for package in names[:]:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" not in parts and ETHEREUM_IMPORT.search(path.read_text()):
                names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return list(dict.fromkeys(names))


def test_no_import_of_tally_leaves_the_recursion_limit_raised() -> None:
    result = subprocess.run([sys.executable, "-c", _PROBE, *entry_modules()], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, check=True)
    limits: dict[str, int] = json.loads(result.stdout)
    assert {"anchoring.anchorer", "tally.keys", "tally.chain", "api", "ledger"} <= set(limits)
    raised = {name: limit for name, limit in limits.items() if not 0 < limit <= SANE_LIMIT}
    assert raised == {}, f"these imports leave the recursion limit raised (or failed): {raised}"
