"""The one compiled part of Tally: quality-v2's features in C (ledger/scoring/_features.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C
compiler), ledger.scoring.v2 counts with its Python reference, the same features more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ledger.scoring._features", ["ledger/scoring/_features.c"], optional=True,
                             extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"])])
