"""Shared fixtures.

Every async test takes ``autojump_clock`` (pytest-trio's ``MockClock(autojump_threshold=0)``),
so virtual time jumps ahead whenever all tasks are blocked: timing never depends on how
fast or loaded the machine is. ``test_exports.py`` checks that no async test forgets it.
"""

from __future__ import annotations

import pytest

from .harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()
