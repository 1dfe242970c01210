"""Benchmarks and their data generators (see bench/README.md); not part of the application."""
