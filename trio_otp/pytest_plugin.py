"""pytest fixtures for testing supervision trees with pytest-trio.

Opt in from your ``conftest.py`` (the top-level one, as pytest requires)::

    pytest_plugins = ["trio_otp.pytest_plugin"]

or on the command line with ``pytest -p trio_otp.pytest_plugin``. It is not registered
automatically: installing trio_otp never adds fixtures to a suite that did not ask for
them, so fixture names such as ``settle`` cannot clash with a project's own. The fixtures
need pytest-trio (``pip install trio_otp[testing]`` brings it, with hypothesis for
``trio_otp.testing.crash_schedules``); importing this module imports neither hypothesis
nor anything else a suite does not use.

The async fixtures run in the test's Trio run, so they work with ``trio_mode = true`` or
``@pytest.mark.trio``, and with pytest-trio's ``autojump_clock`` (``MockClock``):

``start_tree``
    An async function: ``await start_tree(tree)`` starts ``tree`` (a ``Supervisor``, or a
    list of ``ChildSpec``\\ s for a one-for-one supervisor with the default intensity) in a
    nursery of the test's run and returns its ``SupervisorRef`` once every child has
    started. At the end of the test every tree still running is stopped, in order, as a
    cancelled supervisor stops. A tree that gives up during the test (its ``run`` raises,
    e.g. ``RestartIntensityExceeded``) fails the test with that error; to test that a tree
    gives up, run it yourself inside ``pytest.raises``.
``settle``
    ``trio_otp.testing.settle``: ``await settle()`` waits until every task is blocked.
``exit_child``
    ``trio_otp.testing.exit_child``: ``await exit_child(ref, child_id, reason)``.
``captured_events``
    A ``trio_otp.testing.EventLog`` recording every ``trio_otp.events`` event of the
    test's run from the moment the fixture is set up to the end of the test (an async
    fixture, so it attaches inside the run and cannot leak into the next test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, final

import pytest
import trio

from . import testing
from ._child_spec import ChildSpec
from ._supervisor import Supervisor, SupervisorRef
from ._util import describe

__all__ = ["TreeStarter", "captured_events", "exit_child", "settle", "start_tree"]


@final
class TreeStarter:
    """What the ``start_tree`` fixture gives a test: ``await start_tree(tree)``."""

    __slots__ = ("_nursery", "_started")

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._started: list[SupervisorRef] = []

    async def __call__(self, tree: Supervisor | Sequence[ChildSpec[Any]]) -> SupervisorRef:
        """Start ``tree`` in the test's run and return its reference once it has started.
        A checkpoint.

        Raises:
          TypeError: ``tree`` is neither a Supervisor nor a sequence of ChildSpecs.
          Exception: what ``Supervisor.run`` raises before the tree has started (a
            ``ChildStartError``, a ``NameTaken``).
        """
        if not isinstance(tree, Supervisor):
            if not isinstance(tree, Sequence) or not all(  # pyright: ignore[reportUnnecessaryIsInstance]
                isinstance(spec, ChildSpec)  # pyright: ignore[reportUnnecessaryIsInstance]
                for spec in tree
            ):
                msg = f"start_tree takes a Supervisor or a list of ChildSpecs, got {describe(tree)}"
                raise TypeError(msg)
            tree = Supervisor(list(tree))
        ref: SupervisorRef = await self._nursery.start(tree.run)
        self._started.append(ref)
        return ref

    @property
    def started(self) -> list[SupervisorRef]:
        """The references of the trees started so far, in order."""
        return list(self._started)


@pytest.fixture
async def start_tree() -> AsyncIterator[TreeStarter]:
    """Start supervision trees in the test's run; they are stopped when the test ends."""
    async with trio.open_nursery() as nursery:
        yield TreeStarter(nursery)
        nursery.cancel_scope.cancel()


@pytest.fixture
def settle() -> Callable[[], Coroutine[Any, Any, None]]:
    """``trio_otp.testing.settle``."""
    return testing.settle


@pytest.fixture
def exit_child() -> Callable[..., Coroutine[Any, Any, None]]:
    """``trio_otp.testing.exit_child``."""
    return testing.exit_child


@pytest.fixture
async def captured_events() -> AsyncIterator[testing.EventLog]:
    """Every trio_otp event of the test's run, from set-up to the end of the test."""
    with testing.capture_events() as log:
        yield log
