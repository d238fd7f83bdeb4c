#!/usr/bin/env python3
"""Summarise timings: reads one duration in seconds per line on stdin and
prints "MEDIAN MIN" (seconds)."""
import statistics
import sys

xs = [float(line) for line in sys.stdin if line.strip()]
if not xs:
    sys.exit("stats.py: no samples")
print(f"{statistics.median(xs):.6f} {min(xs):.6f}")
