"""Everything that talks to a chain: the TallyAnchor binding, the exactly-once anchorer and the
loop that runs it (``anchoring.loop.run_until_final``), the scheduled jobs, leader election,
deployment, the dev chain, and the independent ``verify`` and ``audit``. Depends on ``ledger``
only.

The Ethereum libraries are imported here first, and the interpreter's recursion limit put back
after them: py_ecc (imported by eth-keyfile, hence by eth-account and web3) raises it to
100,000 on import, which disables Python's guard against deep recursion, so a deeply nested
JSON document would overflow the C stack and kill the process instead of raising
``RecursionError``. Every module of this package, and every other that needs eth-account
(``tally.keys``), imports this package, so no process keeps the raised limit.
"""

import sys

import eth_account  # noqa: F401 (imported first, for the limit below)

RECURSION_LIMIT = 1000
"""CPython's default: what the interpreter's guard is set to once the libraries are loaded."""

sys.setrecursionlimit(min(sys.getrecursionlimit(), RECURSION_LIMIT))
