"""Benchmarks: `make bench` (python -m benchmarks) prints ratios against plain NumPy, same run."""
