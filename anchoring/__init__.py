"""Everything that talks to a chain: the TallyAnchor binding, the exactly-once anchorer and the
loop that runs it (``anchoring.loop.run_until_final``), the scheduled jobs, leader election,
deployment, the dev chain, and the independent ``verify`` and ``audit``. Depends on ``ledger``
only."""
