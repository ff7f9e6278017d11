"""Shared fixtures.

Every async test takes ``autojump_clock`` (pytest-trio's ``MockClock(autojump_threshold=0)``),
so virtual time jumps ahead whenever all tasks are blocked: timing never depends on how
fast or loaded the machine is. ``test_exports.py`` checks that no async test forgets it.
"""

from __future__ import annotations

import signal

import pytest

from .harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()


def pytest_configure(config: pytest.Config) -> None:
    """Tests that press Ctrl-C (``signal.raise_signal(SIGINT)``) need Python's own SIGINT
    handler, which Trio replaces with its KeyboardInterrupt delivery. A shell starts
    background jobs with SIGINT ignored, and Python then installs no handler, so such a
    test would wait for ever for an interrupt that never comes."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
