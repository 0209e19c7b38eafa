"""Benchmarks of the Pusa engine (not part of the runtime package): `python -m benchmarks.bench --help`."""
