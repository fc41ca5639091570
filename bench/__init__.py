"""Benchmarks that print tables (run with `make bench`)."""
