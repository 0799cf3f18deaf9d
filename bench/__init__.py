"""Benchmarks and their data generators: `python -m bench.run` (see bench/README.md)."""
