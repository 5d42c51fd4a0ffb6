"""Accord's benchmarks (PostgreSQL): run ``.venv/bin/python -m benchmarks.run``."""
