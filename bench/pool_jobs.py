"""Jobs for the worker-pool rows of bench/suite.py, in a module of their own so that a
worker process can import them by name (suite.py runs as ``__main__``)."""

from __future__ import annotations


def tiny() -> None:
    """A job that does nothing: what is left is the cost of getting it there and back."""


def spin(n: int) -> int:
    """Pure-Python CPU work that holds the GIL throughout, as most CPU-bound Python does."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
