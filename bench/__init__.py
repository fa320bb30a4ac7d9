"""Jobdeck benchmark: run `python bench/run.py` (see docs/benchmarks.md)."""
