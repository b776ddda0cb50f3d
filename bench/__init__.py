"""StackDock benchmarks (``make bench``): figures with targets and ratios, never test failures.

``bench/run.py`` finds or starts PostgreSQL and Redis (the way ``make test``
does) and runs every benchmark; each one prints its figures and writes
``bench/results/<name>.json``. See docs/PERFORMANCE.md.
"""
