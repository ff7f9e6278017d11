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

A subtree's budget
------------------
A child's kill deadline is its own, or its supervisor's if that comes first: each child
knows the child whose task tree its supervisor runs in (its *parent*), and a stop that
begins takes the earlier of the two. So a supervisor stopped with ``shutdown=1.0`` or
:data:`BRUTAL_KILL` stops its whole subtree within that, as OTP's kill of a supervisor
takes its linked children with it; descendants already stopping get the earlier deadline
when their ancestor's stop begins.

KeyboardInterrupt
-----------------
The bookkeeping here (readiness, the end of a task, stops and cleanup scopes) is
KI-protected (see ``_ki.py``); the child's start function runs unprotected, as plain
Trio would run it, unless it is trio_otp's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import trio

from ._child_spec import BRUTAL_KILL, INFINITY, ChildSpec
from ._ki import call_unprotected, is_self_protecting, protected

# The running children of this Trio run, by their Trio task, for cleanup_scope. A dict
# entry per child is cheaper than setting a context variable in each child's task (two
# more objects for the garbage collector to track, per child).
_children_by_task: trio.lowlevel.RunVar[dict[trio.lowlevel.Task, ChildTask]] = trio.lowlevel.RunVar(
    "trio_otp_children_by_task"
)


class ExitReporter(Protocol):
    """Who hears about a child that ended on its own: its supervisor."""

    def report_exit(self, child: Any, task: ChildTask) -> None: ...


class ChildTask(trio.TaskStatus[Any]):
    """One run of a child's start function, from start to end.

    A restart creates a new ``ChildTask``; the old one is never reused, so an exit
    reported by a task that the supervisor has already replaced is recognised as stale
    (OTP ignores an ``'EXIT'`` from a pid that is no longer a child).

    It is also the ``task_status`` the child's start function receives. With 100,000
    children every object per child counts, so the waits for readiness and for the end
    share one :class:`trio.Event` made only when somebody waits, and the sets of cleanup
    scopes and of descendants are made on first use.
    """

    __slots__ = (
        "_cleanup_scopes",
        "_descendants",
        "_wakeup",
        "error",
        "finished",
        "is_started",
        "kill_deadline",
        "on_ready",
        "parent",
        "ref",
        "scope",
        "spec",
        "stopping",
        "trio_task",
    )

    def __init__(self, spec: ChildSpec, parent: ChildTask | None = None) -> None:
        self.spec = spec
        self.scope = trio.CancelScope(shield=True)
        self.is_started = False  # started() was called
        self.finished = False  # the task has ended
        self.stopping = False
        self.ref: object = None
        self.error: BaseException | None = None
        self.kill_deadline = math.inf
        # The child whose task tree runs this child's supervisor; its deadline bounds ours.
        self.parent = parent
        self._descendants: set[ChildTask] | None = None  # running children whose parent we are
        self._cleanup_scopes: set[trio.CancelScope] | None = None
        self._wakeup: trio.Event | None = None  # set at started() and at the end
        # Called once, in the child's task, when the start is over (started() or the end).
        self.on_ready: Callable[[ChildTask], None] | None = None
        self.trio_task: trio.lowlevel.Task | None = None

    @property
    def ready(self) -> bool:
        """Whether the start is over: started() was called, or the task ended first."""
        return self.is_started or self.finished

    @protected
    def _wake(self) -> None:
        on_ready = self.on_ready
        if on_ready is not None:
            self.on_ready = None
            on_ready(self)
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def _wakeup_event(self) -> trio.Event:
        if self._wakeup is None:
            self._wakeup = trio.Event()
        return self._wakeup

    async def wait_ready(self) -> None:
        """Wait until :attr:`ready`. Not a checkpoint if it already is."""
        while not self.ready:
            await self._wakeup_event().wait()

    async def wait_finished(self) -> None:
        """Wait until the task has ended. Not a checkpoint if it has."""
        while not self.finished:
            await self._wakeup_event().wait()

    @protected
    async def run(self, supervisor: ExitReporter, child: object) -> None:
        """The body of the child's task; calls ``supervisor.report_exit(child, self)`` if
        it ends on its own (not stopped by the supervisor)."""
        self._begin()
        error: BaseException | None = None
        try:
            with self.scope:
                start = self.spec.start
                if is_self_protecting(start):
                    await start(*self.spec.args, task_status=self)
                else:
                    await call_unprotected(start, *self.spec.args, task_status=self)
                if not self.is_started and not self.stopping:
                    error = RuntimeError("the start function returned without calling task_status.started()")
        except Exception as exc:
            error = exc
        except BaseException as exc:  # KeyboardInterrupt and the like: recorded, then on up
            error = exc
            raise
        finally:
            self._end(error)
        if self.is_started and not self.stopping:
            supervisor.report_exit(child, self)

    @protected
    def _begin(self) -> None:
        trio_task = self.trio_task = trio.lowlevel.current_task()
        try:
            running = _children_by_task.get()
        except LookupError:
            running = {}
            _children_by_task.set(running)
        running[trio_task] = self
        parent = self.parent
        if parent is not None:
            if parent._descendants is None:
                parent._descendants = set()
            parent._descendants.add(self)

    @protected
    def _end(self, error: BaseException | None) -> None:
        assert self.trio_task is not None
        _children_by_task.get().pop(self.trio_task, None)
        parent = self.parent
        if parent is not None and parent._descendants is not None:
            parent._descendants.discard(self)
        self.error = error
        self.finished = True
        self._wake()

    @protected
    def started(self, value: Any = None) -> None:
        """The child's ``task_status.started()``: it is ready, and ``value`` is its reference."""
        if self.is_started:
            msg = "task_status.started() was called twice for the same child"
            raise RuntimeError(msg)
        self.is_started = True
        self.ref = value
        self._wake()

    @protected
    def begin_stop(self, reason: str) -> None:
        """Cancel the child and set its kill deadline: from its shutdown policy, or its
        parent's kill deadline if that is earlier."""
        if self.stopping:
            return
        self.stopping = True
        policy = self.spec.shutdown
        if policy is BRUTAL_KILL:
            deadline = -math.inf
        elif policy is INFINITY:
            deadline = math.inf
        else:
            deadline = trio.current_time() + policy
        if self.parent is not None:
            deadline = min(deadline, self.parent.kill_deadline)
        self._tighten(deadline)
        self.scope.cancel(reason)

    def _tighten(self, deadline: float) -> None:
        """Move the kill deadline earlier, for this child and any descendant that is already
        stopping (the others take it from us when their stop begins)."""
        if deadline >= self.kill_deadline:
            return
        self.kill_deadline = deadline
        for scope in self._cleanup_scopes or ():
            scope.deadline = min(scope.deadline, deadline)
        for descendant in list(self._descendants or ()):
            if descendant.stopping:
                descendant._tighten(deadline)

    async def stop(self, reason: str, on_late: Callable[[], None] | None = None) -> None:
        """Stop the child and wait until its task has ended. Callers run this shielded.

        If its kill deadline passes first (its cleanup is cut short then, OTP's
        ``killed``), ``on_late`` is called at that moment, and the wait goes on: a child
        that shields itself from its supervisor is out of its reach.
        """
        self.begin_stop(reason)
        if self.finished:
            return
        if -math.inf < self.kill_deadline < math.inf:
            # The cleanup scopes share this deadline, so when it passes the child may
            # finish in the same instant; it still ran out of budget.
            with trio.move_on_at(self.kill_deadline) as budget:
                await self.wait_finished()
            if budget.cancelled_caught and on_late is not None:
                on_late()
        await self.wait_finished()

    @protected
    def add_cleanup_scope(self, scope: trio.CancelScope) -> None:
        if self._cleanup_scopes is None:
            self._cleanup_scopes = set()
        self._cleanup_scopes.add(scope)

    @protected
    def discard_cleanup_scope(self, scope: trio.CancelScope) -> None:
        if self._cleanup_scopes is not None:
            self._cleanup_scopes.discard(scope)

    def __repr__(self) -> str:
        return f"<trio_otp task status for child {self.spec.id!r}>"


def _current_child() -> ChildTask | None:
    """The supervised child whose task tree the current task belongs to: its own task,
    or one started in a nursery inside it (the nearest, for nested supervisors)."""
    try:
        running = _children_by_task.get()
    except LookupError:
        return None
    task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
    while task is not None:
        child = running.get(task)
        if child is not None:
            return child
        nursery = task.parent_nursery
        task = nursery.parent_task if nursery is not None else None
    return None


@contextmanager
@protected
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
    task = _current_child()
    if task is None:
        with trio.CancelScope(shield=True) as scope:
            yield scope
        return
    scope = trio.CancelScope(shield=True, deadline=task.kill_deadline)
    task.add_cleanup_scope(scope)
    try:
        with scope:
            yield scope
    finally:
        task.discard_cleanup_scope(scope)
