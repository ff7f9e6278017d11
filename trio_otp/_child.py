"""A running child: the task that runs a child's start function, and how it is stopped.

Why every child is shielded
---------------------------
Each child runs in its own task in the supervisor's nursery, inside its own
:class:`trio.CancelScope`, and that scope is *shielded*. Cancellation from outside the
supervisor (a ``move_on_after`` around it, a crashing sibling of the supervisor, Ctrl-C
reaching the main task) therefore never reaches the children directly: it reaches the
supervisor's control loop, which stops the children one at a time in reverse start
order, each within its own shutdown budget, exactly as OTP's ``terminate/2`` does. Were
the children unshielded, Trio would cancel them all at once and both the order and the
budgets would be lost. The price: with :data:`INFINITY` shutdowns, cancelling a
supervisor waits as long as its children take to clean up; that is what INFINITY means.

What stopping a child means
---------------------------
Stopping is cancelling the child's scope, with a reason that names the supervisor. Code
in the child that is not shielded unwinds at its next checkpoint, like an OTP process
that does not trap exits. Cleanup that needs to ``await`` runs in :func:`cleanup_scope`:
a shielded scope whose deadline is the child's *kill deadline*, so it is cut short when
the shutdown budget runs out (at once for :data:`BRUTAL_KILL`, never for
:data:`INFINITY`). That deadline is the hard kill. A bare ``CancelScope(shield=True)`` in
user code is out of the supervisor's reach, like an OTP process that cannot be killed:
the supervisor waits for it, and logs that the budget was exceeded.

What escapes a child
--------------------
``Exception`` (and groups of them) are exits, handed to the supervisor. Other
``BaseException``\\ s, ``KeyboardInterrupt`` and ``SystemExit`` above all, are not caught:
they propagate through the supervisor's nursery, which cancels the control loop, which
shuts the whole tree down in order and lets them continue upwards. They never cause a
restart.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import trio

from ._child_spec import BRUTAL_KILL, INFINITY, ChildSpec

_current_child: contextvars.ContextVar[ChildTask | None] = contextvars.ContextVar(
    "trio_otp_current_child", default=None
)


class ChildTask:
    """One run of a child's start function, from start to end.

    A restart creates a new ``ChildTask``; the old one is never reused, so an exit
    reported by a task that the supervisor has already replaced is recognised as stale
    (OTP ignores an ``'EXIT'`` from a pid that is no longer a child).
    """

    __slots__ = (
        "cleanup_scopes",
        "done",
        "error",
        "kill_deadline",
        "ready",
        "ref",
        "scope",
        "spec",
        "started",
        "stopping",
        "trio_task",
    )

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.scope = trio.CancelScope(shield=True)
        self.ready = trio.Event()  # set by started(), or when the task ends first
        self.done = trio.Event()
        self.started = False
        self.stopping = False
        self.ref: object = None
        self.error: BaseException | None = None
        self.kill_deadline = math.inf
        self.cleanup_scopes: set[trio.CancelScope] = set()
        self.trio_task: trio.lowlevel.Task | None = None

    async def run(self, report_exit: Callable[[ChildTask], None]) -> None:
        """The body of the child's task; calls ``report_exit`` if it ends on its own."""
        _current_child.set(self)
        self.trio_task = trio.lowlevel.current_task()
        error: BaseException | None = None
        try:
            with self.scope:
                await self.spec.start(*self.spec.args, task_status=_ChildStatus(self))
                if not self.started and not self.stopping:
                    error = RuntimeError("the start function returned without calling task_status.started()")
        except Exception as exc:
            error = exc
        except BaseException as exc:  # KeyboardInterrupt and the like: recorded, then on up
            error = exc
            raise
        finally:
            self.error = error
            self.done.set()
            self.ready.set()
        if self.started and not self.stopping:
            report_exit(self)

    def begin_stop(self, reason: str) -> None:
        """Cancel the child and set its kill deadline from its shutdown policy."""
        if self.stopping:
            return
        self.stopping = True
        policy = self.spec.shutdown
        if policy is BRUTAL_KILL:
            self.kill_deadline = -math.inf
        elif policy is INFINITY:
            self.kill_deadline = math.inf
        else:
            self.kill_deadline = trio.current_time() + policy
        for scope in self.cleanup_scopes:
            scope.deadline = min(scope.deadline, self.kill_deadline)
        self.scope.cancel(reason)

    async def stop(self, reason: str) -> bool:
        """Stop the child and wait until its task has ended.

        Returns ``False`` if the child outlived its shutdown budget (its cleanup was cut
        short, OTP's ``killed``), ``True`` otherwise. Callers run this shielded.
        """
        self.begin_stop(reason)
        if self.done.is_set():
            return True
        within_budget = True
        if isinstance(self.spec.shutdown, float):
            # The cleanup scopes share this deadline, so when it passes the child may
            # finish in the same instant; it still ran out of budget.
            with trio.move_on_at(self.kill_deadline) as budget:
                await self.done.wait()
            within_budget = not budget.cancelled_caught
        await self.done.wait()
        return within_budget


class _ChildStatus(trio.TaskStatus[Any]):
    """The ``task_status`` a supervisor passes to a child's start function."""

    __slots__ = ("_task",)

    def __init__(self, task: ChildTask) -> None:
        self._task = task

    def started(self, value: Any = None) -> None:
        task = self._task
        if task.started:
            msg = "task_status.started() was called twice for the same child"
            raise RuntimeError(msg)
        task.started = True
        task.ref = value
        task.ready.set()

    def __repr__(self) -> str:
        return f"<trio_otp task status for child {self._task.spec.id!r}>"


def _runs_inside(child: ChildTask) -> bool:
    """Whether the current task is the child's task or one it started in a nursery of its
    own. Tasks inherit their spawner's context, so a server that a child started in some
    other nursery also sees that child in the context variable, long after it ended."""
    if child.done.is_set():
        return False
    task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
    while task is not None:
        if task is child.trio_task:
            return True
        nursery = task.parent_nursery
        task = nursery.parent_task if nursery is not None else None
    return False


@contextmanager
def cleanup_scope() -> Iterator[trio.CancelScope]:
    """A shielded cancel scope for a supervised child's cleanup, bounded by its shutdown budget.

    When a supervisor stops a child it cancels the child; cleanup that must ``await``
    (flushing a buffer, saying goodbye to a peer) runs inside this scope, which shields it
    from that cancellation until the child's shutdown budget runs out::

        try:
            await serve_forever()
        finally:
            with trio_otp.cleanup_scope():
                await connection.aclose()

    The scope is cancelled when the budget is spent: at once for :data:`BRUTAL_KILL`,
    ``shutdown`` seconds after the stop began for a budget, never for :data:`INFINITY`.
    Entered before any stop (to protect a critical section), it gets that deadline
    when the stop begins. Outside a supervised child it is a plain shielded scope.

    Entering and leaving it are not checkpoints.
    """
    task = _current_child.get()
    if task is None or not _runs_inside(task):
        with trio.CancelScope(shield=True) as scope:
            yield scope
        return
    scope = trio.CancelScope(shield=True, deadline=task.kill_deadline)
    task.cleanup_scopes.add(scope)
    try:
        with scope:
            yield scope
    finally:
        task.cleanup_scopes.discard(scope)
