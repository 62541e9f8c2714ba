"""Tally's pure core: contributions, consent, points, epochs and their formats.

It knows nothing of HTTP or chains (import-linter keeps it so). The services a caller uses:
``ledger.intake.Intake`` (a submission in, an ``Accepted`` or a ``TallyError`` out),
``ledger.epochs.seal_epoch``, ``ledger.lifecycle`` (the epoch's states and moves) and
``ledger.proofs`` (proof bundles); the formats outsiders rely on are ``ledger.formats``,
``ledger.conversation``, ``ledger.eip712`` and ``ledger.merkle``. Every error derives from
``ledger.errors.TallyError``. docs/architecture.md shows how the parts fit.
"""
