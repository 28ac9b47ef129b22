"""Attune's benchmarks: `make bench` (or `attune bench`) runs them all and prints one JSON
document, also written to benchmarks/results.json. See docs/benchmarks.md."""
