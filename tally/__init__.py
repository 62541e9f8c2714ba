"""Tally's command line and wiring: the one place that builds settings, stores and apps."""
