"""Tally's command line and wiring: the one place that turns settings into parts
(``tally.wiring`` for the core and the chain, ``tally.web`` for the app), and the ``tally``
commands (``tally.cli``), which turn every error into one line and an exit code."""
