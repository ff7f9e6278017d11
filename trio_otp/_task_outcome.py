"""What a supervised task ended with, as a value: Elixir's ``{:ok, value}`` and ``{:exit, reason}``.

Where one failure must not stop the others (:func:`yield_many`, :meth:`TaskHandle.shutdown`,
:meth:`TaskSupervisorRef.map_nolink`, a ``map`` whose items time out with
``on_timeout="kill_task"``), an ending is handed back rather than raised.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

from ._exceptions import TaskFailed, TaskTimeout

T = TypeVar("T")


@attrs.frozen
class TaskOk(Generic[T]):
    """A task returned ``value`` (Elixir's ``{:ok, value}``)."""

    value: T


@attrs.frozen
class TaskExit:
    """A task did not return (Elixir's ``{:exit, reason}``).

    ``reason`` is the :class:`TaskFailed` that :meth:`TaskHandle.result` would raise (its
    ``__cause__`` is the task's own exception; ``cancelled`` says whether it was stopped),
    or a :class:`TaskTimeout` for a ``map`` item stopped at its ``timeout``.
    """

    reason: TaskFailed | TaskTimeout
