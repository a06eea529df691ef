"""Benchmarks of pypapo against the tools a user would pick instead (``python bench/run.py``)."""
