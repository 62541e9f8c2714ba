"""Compiled contracts (JSON), committed so that running Tally needs no Node: see anchoring.artifact."""
