"""Benchmarks (not part of the test suite): ``./scripts/bench`` runs them all."""
