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
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol, final

import attrs
import trio

from ._child_spec import BRUTAL_KILL, INFINITY, ChildSpec, Ignore
from ._ki import protected, start_unprotected
from ._util import safe_repr

#: How long a child whose kill deadline has already passed when its stop begins (a
#: BRUTAL_KILL, or a supervisor above it out of budget) may take to unwind before it is
#: reported as resisting its stop (a bare shielded scope is the only way to).
BRUTAL_KILL_REPORT_AFTER = 1.0

# The running children of this Trio run, by their Trio task, for cleanup_scope. A dict
# entry per child is cheaper than setting a context variable in each child's task (two
# more objects for the garbage collector to track, per child).
_children_by_task: trio.lowlevel.RunVar[dict[trio.lowlevel.Task, ChildTask]] = trio.lowlevel.RunVar(
    "trio_otp_children_by_task"
)


@attrs.frozen
class ExitSignal:
    """What :func:`trio_otp.exit` sends a child: the reason it ends with, and whether
    it is a kill (no cleanup)."""

    reason: BaseException | None
    killed: bool = False

    def describe(self) -> str:
        return "KILL" if self.killed else safe_repr(self.reason)


def _clear_start_frame(error: BaseException) -> None:
    """Drop the locals of the frame of trio_otp's own start function (``serve`` and its
    kin) in ``error``'s traceback: that function has returned (by raising ``error``), and
    its locals (the process, which keeps ``error`` as its exit reason) would otherwise
    make a reference cycle through the traceback. Only trio_otp's frame: a user's frames
    keep their locals for post-mortem debugging."""
    traceback = error.__traceback__
    start = traceback.tb_next if traceback is not None else None
    if start is not None:
        start.tb_frame.clear()


def child_of_task(trio_task: trio.lowlevel.Task | None) -> ChildTask | None:
    """The running supervised child whose own task (the one running its start
    function) is ``trio_task``."""
    if trio_task is None:
        return None
    try:
        return _children_by_task.get().get(trio_task)
    except LookupError:
        return None


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
    scopes and of stopping children are made on first use.
    """

    __slots__ = (
        "_cleanup_scopes",
        "_report_scope",
        "_stopping_children",
        "_wakeup",
        "error",
        "exit_signal",
        "finished",
        "is_started",
        "kill_deadline",
        "on_ready",
        "parent",
        "record",
        "ref",
        "scope",
        "server",
        "spec",
        "stop_began",
        "stopping",
        "supervisor",
        "trio_task",
    )

    def __init__(self, spec: ChildSpec, parent: ChildTask | None = None) -> None:
        self.spec: ChildSpec = spec
        self.scope: trio.CancelScope = trio.CancelScope(shield=True)
        self.is_started: bool = False  # started() was called
        self.finished: bool = False  # the task has ended
        self.stopping: bool = False
        self.ref: object = None
        self.error: BaseException | None = None
        self.kill_deadline: float = math.inf
        self.stop_began: float = math.inf
        # The child whose task tree runs this child's supervisor; its deadline bounds ours.
        self.parent: ChildTask | None = parent
        # Our children (in the sense of ``parent``) that are stopping: a deadline of ours
        # that moves earlier must reach them; the others read it when their stop begins.
        self._stopping_children: set[ChildTask] | None = None
        self._cleanup_scopes: set[trio.CancelScope] | None = None
        self._report_scope: trio.CancelScope | None = None  # the wait in stop(), until the report
        self._wakeup: trio.Event | None = None  # set at started() and at the end
        # Called once, in the child's task, when the start is over (started() or the end).
        self.on_ready: Callable[[ChildTask], None] | None = None
        self.trio_task: trio.lowlevel.Task | None = None
        # Who runs it: the supervisor's state and its record of the child (for the
        # restart count and the supervisor path that get_status and processes() show).
        self.supervisor: Any = None
        self.record: Any = None
        # The ServerRef of the server whose own task this is (set by serve as it starts,
        # before init): what current_server() and multi_call's groups find by task.
        self.server: object = None
        # Set by trio_otp.exit: the child ends with that reason, as if by itself.
        self.exit_signal: ExitSignal | None = None

    @property
    def ready(self) -> bool:
        """Whether the start is over: started() was called, or the task ended first."""
        return self.is_started or self.finished

    @property
    def ignored(self) -> bool:
        """Whether the start function returned :class:`Ignore` without calling started()."""
        return self.ref is Ignore and not self.is_started and self.error is None

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
        scope = self.scope
        spec = self.spec
        try:
            # The scope is entered and left by hand, as ``with`` would: a ``with`` block
            # suspended at an await keeps the bound ``__exit__`` alive, one more object
            # per child for the cyclic garbage collector to walk, 100,000 times over.
            scope.__enter__()
            try:
                if spec._self_protecting:
                    returned = await spec.start(*spec.args, task_status=self)
                else:
                    returned = await start_unprotected(spec.start, spec.args, self)
            except BaseException as exc:
                if not scope.__exit__(type(exc), exc, exc.__traceback__):
                    raise
            else:
                scope.__exit__(None, None, None)
                if not self.is_started and not self.stopping:
                    if returned is Ignore:  # OTP's ignore: no error, and ``ref`` marks it
                        self.ref = Ignore
                    elif self.ref is not Ignore:  # not ignore()d either
                        error = RuntimeError(
                            "the start function returned without calling task_status.started()"
                        )
        except Exception as exc:
            error = exc
            if spec._self_protecting:
                _clear_start_frame(exc)
        except BaseException as exc:  # KeyboardInterrupt and the like: recorded, then on up
            error = exc
            raise
        finally:
            self._end(error)
        error = None
        if self.is_started and (not self.stopping or self.exit_signal is not None):
            supervisor.report_exit(child, self)
        # This frame is in the traceback of the error the child (and its supervisor's
        # record) keeps: without these names the two are no reference cycle, and a crash
        # leaves nothing for the cyclic garbage collector to find.
        del self, supervisor, child

    @protected
    def _begin(self) -> None:
        trio_task = self.trio_task = trio.lowlevel.current_task()
        running: dict[trio.lowlevel.Task, ChildTask]
        try:
            running = _children_by_task.get()
        except LookupError:
            running = {}
            _children_by_task.set(running)
        running[trio_task] = self

    @protected
    def _end(self, error: BaseException | None) -> None:
        assert self.trio_task is not None
        _children_by_task.get().pop(self.trio_task, None)
        parent = self.parent
        if parent is not None and parent._stopping_children is not None:
            parent._stopping_children.discard(self)
        signal = self.exit_signal
        if signal is not None and error is None:
            # It ended because the exit cancelled it: it ends for the reason it was sent.
            # An error of its own (a crash already under way, an interrupt) is kept.
            error = signal.reason
            if error is None and not self.is_started:
                error = RuntimeError(f"it was exited ({signal.describe()}) before it was started")
        self.error = error
        self.finished = True
        # Only a running child is looked up with them (get_status, processes(), a stop's
        # deadline); once ended they would lead from the task back to the error its
        # supervisor records (through its record, or the supervisor above).
        self.supervisor = self.record = self.parent = None
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
    def ignore(self) -> None:
        """A server's ``serve`` whose ``init`` returned :class:`Ignore` says so here, so
        that a start function wrapping it needs not return what it returned."""
        if not self.is_started:
            self.ref = Ignore

    @protected
    def begin_stop(self, reason: str, now: float | None = None) -> None:
        """Cancel the child and set its kill deadline: from its shutdown policy, or its
        parent's kill deadline if that is earlier. ``now`` lets many stops that begin
        together share one instant (and so one deadline)."""
        if self.stopping:
            return
        self.stopping = True
        self.stop_began = now = trio.current_time() if now is None else now
        policy = self.spec.shutdown
        if policy is BRUTAL_KILL:
            deadline = -math.inf
        elif policy is INFINITY:
            deadline = math.inf
        else:
            deadline = now + policy
        parent = self.parent
        if parent is not None:
            deadline = min(deadline, parent.kill_deadline)
            if not self.finished:
                if parent._stopping_children is None:
                    parent._stopping_children = set()
                parent._stopping_children.add(self)
        self._tighten(deadline)
        self.scope.cancel(reason)

    @protected
    def exit(self, signal: ExitSignal) -> None:
        """End the child as if it had exited by itself for ``signal.reason``: stopped
        within its shutdown policy, or, for a kill, with its cleanup cancelled at once.
        Its supervisor hears of the exit when its task has ended. Nothing (but a kill's
        shorter deadline) if it is already stopping."""
        if self.finished:
            return
        if self.stopping:
            if signal.killed:
                if self.exit_signal is not None and not self.exit_signal.killed:
                    self.exit_signal = signal  # it now ends killed, whatever it was sent first
                self._tighten(-math.inf)
            return
        self.exit_signal = signal
        self.begin_stop(f"trio_otp.exit({signal.describe()})")
        if signal.killed:
            self._tighten(-math.inf)

    def _tighten(self, deadline: float) -> None:
        """Move the kill deadline earlier, for this child and its descendants that are
        already stopping (the others take it from us when their stop begins)."""
        if deadline >= self.kill_deadline:
            return
        self.kill_deadline = deadline
        for scope in self._cleanup_scopes or ():
            scope.deadline = min(scope.deadline, deadline)
        if self._report_scope is not None:
            self._report_scope.deadline = self.report_deadline
        for child in list(self._stopping_children or ()):
            child._tighten(deadline)

    @property
    def report_deadline(self) -> float:
        """When a child still running is reported as late: its kill deadline, or, when
        that had passed before the stop began (BRUTAL_KILL, a supervisor above out of
        budget), a moment after the stop began, since unwinding takes a few scheduling
        rounds; never for INFINITY."""
        if self.kill_deadline <= self.stop_began:
            return self.stop_began + BRUTAL_KILL_REPORT_AFTER
        return self.kill_deadline

    async def stop(self, reason: str, on_late: Callable[[], None] | None = None) -> None:
        """Stop the child and wait until its task has ended. Callers run this shielded.

        If its :attr:`report_deadline` passes first (its cleanup was cut short at the
        kill deadline, OTP's ``killed``), ``on_late`` is called at that moment, and the
        wait goes on: a child that shields itself from its supervisor is out of its reach.
        """
        self.begin_stop(reason)
        if self.finished:
            return
        # The cleanup scopes share the kill deadline, so when it passes the child may
        # finish in the same instant; it still ran out of budget. _tighten moves this
        # scope too, when a supervisor above runs out first (even for INFINITY).
        with trio.move_on_at(self.report_deadline) as budget:
            self._report_scope = budget
            try:
                await self.wait_finished()
            finally:
                self._report_scope = None
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


def cleanup_scope() -> AbstractContextManager[trio.CancelScope]:
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

    ``with cleanup_scope() as scope`` gives the :class:`trio.CancelScope`. Entering and
    leaving it are not checkpoints.
    """
    return _CleanupScope()


@final
class _CleanupScope:
    """What :func:`~trio_otp.cleanup_scope` returns: entering and leaving it are KI-protected, as
    entering and leaving a :class:`trio.CancelScope` are (a generator-based context
    manager would not be: an interrupt between the generator's entering the scope and
    ``__enter__`` returning would leave the scope entered for ever)."""

    __slots__ = ("_child", "_scope")

    @protected
    def __enter__(self) -> trio.CancelScope:
        if hasattr(self, "_scope"):
            msg = "a cleanup_scope() can be entered only once; call cleanup_scope() for each block"
            raise RuntimeError(msg)
        child = self._child = _current_child()
        if child is None:
            scope = trio.CancelScope(shield=True)
        else:
            scope = trio.CancelScope(shield=True, deadline=child.kill_deadline)
            child.add_cleanup_scope(scope)
        self._scope = scope
        return scope.__enter__()

    @protected
    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        try:
            return self._scope.__exit__(error_type, error, traceback)
        finally:
            if self._child is not None:
                self._child.discard_cleanup_scope(self._scope)
