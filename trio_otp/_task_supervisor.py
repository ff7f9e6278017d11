"""Task supervision: one-off tasks under a supervisor (Elixir's Task.Supervisor).

A :class:`TaskSupervisor` is a :class:`DynamicSupervisor` whose children are temporary
tasks: never restarted, logged if they crash, stopped with the tree. Three ways to use
one:

* :meth:`TaskSupervisorRef.start_child`: fire and forget;
* :meth:`TaskSupervisorRef.spawn`: start now, ``await handle.result()`` later;
* :meth:`TaskSupervisorRef.map`: apply a function to a stream of inputs with at most
  ``max_concurrency`` tasks at a time, yielding results in input order (or as they come);
  :meth:`TaskSupervisorRef.map_nolink` yields a failed item's :class:`TaskExit` instead of
  raising it.

Where the tasks run matters: in the supervisor's nursery, not the caller's, so a caller
that goes away does not take running tasks with it (use :meth:`TaskHandle.cancel`), and
shutting the tree down stops them all.

A handle settles exactly once (``_settle``): with the value, or with the
:class:`TaskFailed` of the run that ended it. A transient task that crashes is not
settled, because its supervisor will run it again with the same handle; if no run
follows (the supervisor gave up or stopped, or the task was terminated between runs),
whoever ends that wait settles it with the last failure, so no ``result()`` waits for a
run that will never come.

A ``map`` item's ``timeout`` is kept by the item's own task, around the user's function
(``_within``), rather than by the loop that consumes results: each item is stopped at
its own deadline, measured from its start, whether or not anyone is waiting for it yet.
"""

from __future__ import annotations

import collections
import inspect
import itertools
import math
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
)
from typing import Any, Generic, Literal, TypeVar, cast, final, overload

import attrs
import outcome
import trio
from typing_extensions import TypeVarTuple, Unpack

from ._backend import require_trio
from ._call_timer import call_timer
from ._checks import check_instance, check_timeout, check_whole_number
from ._child import ChildTask, ExitSignal, child_of_task
from ._child_spec import INFINITY, ChildSpec, ChildType, Restart, ShutdownMode, ShutdownPolicy
from ._dynamic_supervisor import DynamicChild, DynamicSupervisor, DynamicSupervisorRef, run_dynamic
from ._exceptions import ChildNotFound, Shutdown, SupervisorNotRunning, TaskFailed, TaskTimeout
from ._ki import call_unprotected, protected, self_protecting
from ._supervisor import ChildCounts, ChildInfo, child_label
from ._task_outcome import TaskExit, TaskOk
from ._util import NoPublicConstructor, describe, name_validator, safe_repr

T = TypeVar("T")
InputT = TypeVar("InputT")
ArgsT = TypeVarTuple("ArgsT")

# The order tasks ended in, across the run: await_many raises the failure that came first.
_endings = itertools.count()


@final
class TaskHandle(Generic[T], metaclass=NoPublicConstructor):
    """A task started with :meth:`TaskSupervisorRef.spawn` or
    :meth:`~TaskSupervisorRef.start_child`; it names the task across the restarts of a
    transient one."""

    __slots__ = (
        "_book",
        "_child",
        "_done",
        "_ended",
        "_last_failure",
        "_listeners",
        "_outcome",
        "_supervisor",
        "name",
    )

    def __init__(self, supervisor: DynamicSupervisorRef, name: str) -> None:
        self._supervisor = supervisor
        self.name: str = name
        self._done = trio.Event()
        self._outcome: outcome.Outcome[T] | None = None
        self._ended = 0  # when it ended, in _endings' order (once _outcome is set)
        self._child: DynamicChild[TaskHandle[Any]] | None = None
        self._listeners: list[Callable[[TaskHandle[Any]], None]] | None = None
        # A transient task's: the failure of its last run, and the set of unsettled
        # transient handles of its supervisor, which settles them if it ends first.
        self._last_failure: TaskFailed | None = None
        self._book: set[TaskHandle[Any]] | None = None

    def __repr__(self) -> str:
        return f"<TaskHandle {self.name} ({'done' if self.done else 'running'})>"

    @property
    def done(self) -> bool:
        """Whether the task has ended for good (a transient task that will be run again
        has not)."""
        return self._done.is_set()

    async def result(self, *, timeout: float | None = 5.0) -> T:  # noqa: ASYNC109 - Task.await's
        """Wait for the task and return its value (Elixir's ``Task.await``, 5 s default).
        A checkpoint.

        Raises:
          TaskFailed: the task raised (chained from its exception) or was cancelled.
          TaskTimeout: it had not finished within ``timeout``; it keeps running.
          TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0.
        """
        with trio.move_on_after(check_timeout(timeout, "result's timeout")):
            await self._done.wait()
        if self._outcome is None:
            msg = f"task {self.name} did not finish within {timeout:g} s"
            raise TaskTimeout(msg)
        return self._outcome.unwrap()

    async def cancel(self) -> None:
        """Stop the task (within its shutdown budget) if it is still running; ``result``
        then raises :class:`TaskFailed`. A checkpoint. If the supervisor is shutting down,
        it returns at once: the supervisor is stopping the task with all the others."""
        try:
            await self._terminate()
        except ChildNotFound:
            pass  # it finished meanwhile
        except SupervisorNotRunning:
            pass  # the supervisor is stopping it, with every other task

    async def shutdown(self, timeout: float | ShutdownMode = 5.0) -> TaskOk[T] | TaskExit | None:  # noqa: ASYNC109 - Task.shutdown's
        """Stop the task within ``timeout`` and say how it ended (Elixir's ``Task.shutdown``).

        Returns :class:`TaskOk` with its value if it returned before it could be stopped
        (a result that arrived meanwhile is not lost), :class:`TaskExit` if it had failed
        or been stopped by someone else already, or ``None`` if this call stopped it.
        ``timeout`` is this stop's budget in place of the supervisor's ``shutdown``: a
        number of seconds > 0 (5 by default, as Elixir's), :data:`BRUTAL_KILL` (its
        cleanup gets no time) or :data:`INFINITY`. A checkpoint; it returns once the task
        has ended.

        Raises:
          TypeError, ValueError: ``timeout`` is none of those.
        """
        policy = _check_shutdown_timeout(timeout)
        stopped_here = False
        if not self.done:
            stopped_here = True
            child = self._child
            task = None if child is None else child._child.task
            if task is not None and not task.stopping:
                # This stop's budget: the running task's own copy of the spec is what its
                # stop reads; the supervisor's record (and so a restart) keeps its own.
                task.spec = attrs.evolve(task.spec, shutdown=policy)
            await self.cancel()
            await self._done.wait()  # at once, unless the supervisor's own shutdown stops it
        assert self._outcome is not None
        if isinstance(self._outcome, outcome.Value):
            return TaskOk(self._outcome.value)
        assert isinstance(self._outcome, outcome.Error)
        error = self._outcome.error
        assert isinstance(error, TaskFailed)
        if stopped_here and error.cancelled:
            return None
        return TaskExit(error)

    async def _terminate(self) -> None:
        if self._child is not None and not self.done:
            await self._supervisor.terminate_child(self._child)
            if not self.done:  # a transient task between a crash and its restart
                self._settle(outcome.Error(self._last_failure or _cancelled(self)))

    @protected
    def _settle(self, result: outcome.Outcome[T]) -> None:
        if self._outcome is None:
            self._outcome = result
            self._ended = next(_endings)
            self._done.set()
            # Its spec's arguments hold this handle: a done handle lets go of its child,
            # so that the two are no reference cycle (nothing reads it once done).
            self._child = None
            if self._book is not None:
                self._book.discard(self)
            for listener in self._listeners or ():
                listener(self)

    @protected
    def _listen(self, listener: Callable[[TaskHandle[Any]], None]) -> None:
        """Call ``listener(self)`` when the task ends for good (at once if it has)."""
        if self.done:
            listener(self)
        elif self._listeners is None:
            self._listeners = [listener]
        else:
            self._listeners.append(listener)

    @protected
    def _unlisten(self, listener: Callable[[TaskHandle[Any]], None]) -> None:
        if self._listeners is not None and listener in self._listeners:
            self._listeners.remove(listener)


def _cancelled(handle: TaskHandle[Any]) -> TaskFailed:
    return TaskFailed(f"task {handle.name} was cancelled", cancelled=True)


def _check_shutdown_timeout(value: object) -> ShutdownPolicy:
    if isinstance(value, ShutdownMode):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = (
            "TaskHandle.shutdown's timeout must be a budget in seconds (a number > 0), "
            f"trio_otp.BRUTAL_KILL or trio_otp.INFINITY; got {describe(value)}"
        )
        raise TypeError(msg)
    if not value > 0:  # also rejects NaN
        msg = (
            f"TaskHandle.shutdown's timeout must be a budget in seconds greater than 0, got {value!r}; "
            "use trio_otp.BRUTAL_KILL to stop the task with no grace period"
        )
        raise ValueError(msg)
    return INFINITY if value == math.inf else float(value)


def _check_handles(handles: object, argument: str) -> list[TaskHandle[Any]]:
    check_instance(handles, Iterable, argument, "an iterable of TaskHandle")
    listed = list(cast("Iterable[object]", handles))
    for handle in listed:
        if not isinstance(handle, TaskHandle):
            msg = f"{argument} must be an iterable of TaskHandle, got an item {describe(handle)}"
            raise TypeError(msg)
    return cast("list[TaskHandle[Any]]", listed)


async def _wait_for_all(handles: list[TaskHandle[Any]], deadline: float, *, stop_at_failure: bool) -> None:
    """Wait until every handle is done, the deadline passes, or (with ``stop_at_failure``)
    one of them has failed. A checkpoint; O(len(handles)) bookkeeping, not a task each."""
    pending = {handle for handle in handles if not handle.done}
    if stop_at_failure and any(isinstance(handle._outcome, outcome.Error) for handle in handles):
        await trio.lowlevel.checkpoint()
        return
    if not pending:
        await trio.lowlevel.checkpoint()
        return
    wakeup = trio.Event()

    def finished(handle: TaskHandle[Any]) -> None:
        pending.discard(handle)
        if not pending or (stop_at_failure and isinstance(handle._outcome, outcome.Error)):
            wakeup.set()

    for handle in list(pending):
        handle._listen(finished)
    try:
        with trio.move_on_at(deadline):
            await wakeup.wait()
    finally:
        for handle in handles:
            handle._unlisten(finished)


async def await_many(handles: Iterable[TaskHandle[T]], timeout: float | None = 5.0) -> list[T]:  # noqa: ASYNC109 - Task.await_many's
    """Wait for every task and return their values in the order of ``handles`` (Elixir's
    ``Task.await_many``, 5 s default). A checkpoint.

    Raises:
      TaskFailed: as soon as one of them fails: the first to fail, in the order they
        failed (also when several had failed before the call), as Elixir's exits on the
        first ``:DOWN`` in its mailbox; the others keep running.
      TaskTimeout: not all had finished within ``timeout``; they keep running.
      TypeError, ValueError: ``handles`` is not an iterable of :class:`TaskHandle`, or
        ``timeout`` is not None or a number of seconds >= 0 (checked before any wait).
    """
    listed = _check_handles(handles, "await_many's handles")
    seconds = check_timeout(timeout, "await_many's timeout")
    await _wait_for_all(listed, trio.current_time() + seconds, stop_at_failure=True)
    failed = [handle for handle in listed if isinstance(handle._outcome, outcome.Error)]
    if failed:
        first = min(failed, key=lambda handle: handle._ended)._outcome
        assert first is not None
        first.unwrap()  # raises its TaskFailed
    late = [handle.name for handle in listed if not handle.done]
    if late:
        msg = f"{len(late)} of {len(listed)} tasks did not finish within {timeout:g} s: {', '.join(late)}"
        raise TaskTimeout(msg)
    return [cast("outcome.Value[T]", handle._outcome).value for handle in listed]


async def yield_many(
    handles: Iterable[TaskHandle[T]],
    timeout: float | None = 5.0,  # noqa: ASYNC109 - Task.yield_many's
) -> list[TaskOk[T] | TaskExit | None]:
    """Wait up to ``timeout`` for the tasks, then say how each has ended so far (Elixir's
    ``Task.yield_many``, 5 s default): in the order of ``handles``, :class:`TaskOk` with
    its value, :class:`TaskExit` with its failure, or ``None`` for one still running,
    which keeps running. Returns as soon as all have ended. A checkpoint.

    Raises:
      TypeError, ValueError: as :func:`await_many`.
    """
    listed = _check_handles(handles, "yield_many's handles")
    seconds = check_timeout(timeout, "yield_many's timeout")
    await _wait_for_all(listed, trio.current_time() + seconds, stop_at_failure=False)
    return [_as_value(handle) for handle in listed]


def _as_value(handle: TaskHandle[T]) -> TaskOk[T] | TaskExit | None:
    ended = handle._outcome
    if ended is None:
        return None
    if isinstance(ended, outcome.Value):
        return TaskOk(ended.value)
    assert isinstance(ended, outcome.Error)
    assert isinstance(ended.error, TaskFailed)
    return TaskExit(ended.error)


@self_protecting
@protected  # the task's own function runs unprotected, through call_unprotected
async def _run_task(
    handle: TaskHandle[Any],
    function: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    *,
    task_status: trio.TaskStatus[TaskHandle[Any]],
) -> None:
    task_status.started(handle)
    try:
        value = await call_unprotected(function, args)  # user code stays interruptible
    except Exception as error:
        failed = TaskFailed(f"task {handle.name} raised {safe_repr(error)}", cancelled=False)
        failed.__cause__ = error
        if handle._book is not None:
            handle._last_failure = failed  # its supervisor runs it again, or settles it
        else:
            handle._settle(outcome.Error(failed))
        raise  # the supervisor logs the crash (and restarts a transient task)
    except BaseException:
        handle._settle(outcome.Error(_ended_early(handle)))
        raise
    handle._settle(outcome.Value(value))


def _ended_early(handle: TaskHandle[Any]) -> TaskFailed:
    """Why a task that did not finish failed: cancelled, or sent an exit from outside."""
    child = child_of_task(trio.lowlevel.current_task())
    signal = None if child is None else child.exit_signal
    if signal is None:
        return _cancelled(handle)
    failed = TaskFailed(f"task {handle.name} was exited ({signal.describe()})", cancelled=False)
    failed.__cause__ = signal.reason
    return failed


def _require_callable(function: object) -> None:
    if inspect.iscoroutine(function):
        function.close()
        msg = "a task is an async function, not a coroutine object: write spawn(work, x), not spawn(work(x))"
        raise TypeError(msg)
    if not callable(function):
        msg = f"a task is an async function, got {describe(function)}"
        raise TypeError(msg)


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


@attrs.frozen
class TaskSupervisor:
    """A supervisor for one-off tasks (Elixir's Task.Supervisor).

    Args:
      max_children: how many tasks may run at once (default unlimited); one more
        :class:`MaxChildrenReached`.
      shutdown: each task's shutdown policy (default 5 s).
      name: the name it runs under, as :class:`Supervisor`'s (``whereis(name,
        TaskSupervisorRef)`` finds the current run of it).
      max_restarts, max_seconds: the restart intensity (default 3 in 5 s, as Elixir's),
        which only transient tasks (``start_child(..., restart=Restart.TRANSIENT)``)
        can use up: temporary tasks are never restarted.
    """

    max_children: float = attrs.field(default=math.inf, kw_only=True)
    shutdown: ShutdownPolicy = attrs.field(default=5.0, kw_only=True)
    name: Hashable | None = attrs.field(
        default=None, kw_only=True, validator=name_validator("TaskSupervisor")
    )
    max_restarts: int = attrs.field(default=3, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)

    def __attrs_post_init__(self) -> None:
        # Checked now, by the classes that will use them, not at the first task.
        DynamicSupervisor(
            max_children=self.max_children, max_restarts=self.max_restarts, max_seconds=self.max_seconds
        )
        ChildSpec("check", _run_task, shutdown=self.shutdown)

    @self_protecting
    @protected
    async def run(
        self, *, task_status: trio.TaskStatus[TaskSupervisorRef] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled or stopped, reporting a :class:`TaskSupervisorRef`.
        Temporary tasks (the default) never count as restarts; transient ones that crash
        more often than ``max_restarts`` in ``max_seconds`` make it escalate, as any
        supervisor does.

        Raises:
          NameTaken: another process runs under its ``name``.
          RestartIntensityExceeded: transient tasks crashed too often.
          trio.Cancelled, KeyboardInterrupt: as :meth:`Supervisor.run`.
          BaseException: the reason given to :meth:`TaskSupervisorRef.stop`.
        """
        require_trio("TaskSupervisor.run")
        await _run(self, None, task_status)

    def child_spec(
        self,
        id: str,  # noqa: A002 - the child spec's own name for it
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: ShutdownPolicy = INFINITY,
        significant: bool = False,
    ) -> ChildSpec[TaskSupervisorRef]:
        """A :class:`ChildSpec` that runs this TaskSupervisor under another supervisor;
        the options as :class:`ChildSpec`'s. The child's reference is its
        :class:`TaskSupervisorRef`. If it has no ``name``, reports call it by the child id."""
        return ChildSpec(
            id,
            _run_as_child,
            args=(self, child_label(self.name, id)),
            restart=restart,
            type=ChildType.SUPERVISOR,
            shutdown=shutdown,
            significant=significant,
        )


@self_protecting
@protected
async def _run(definition: TaskSupervisor, label: str | None, task_status: trio.TaskStatus[Any]) -> None:
    inner = DynamicSupervisor(
        max_children=definition.max_children,
        name=definition.name,
        max_restarts=definition.max_restarts,
        max_seconds=definition.max_seconds,
    )
    book: set[TaskHandle[Any]] = set()  # transient tasks not settled yet

    def wrap(ref: DynamicSupervisorRef) -> TaskSupervisorRef:
        ref._state.kind = "task_supervisor"  # for trio_otp.processes()
        return TaskSupervisorRef._create(ref, definition.shutdown, book)

    try:
        await run_dynamic(inner, label, task_status, wrap=wrap)
    finally:
        # Every task has ended: a transient one whose last run crashed will not run again.
        for handle in list(book):
            handle._settle(outcome.Error(handle._last_failure or _cancelled(handle)))


@self_protecting
@protected
async def _run_as_child(
    definition: TaskSupervisor, label: str, *, task_status: trio.TaskStatus[TaskSupervisorRef]
) -> None:
    await _run(definition, label, task_status)


OnTimeout = Literal["raise", "kill_task"]


class _ItemTimedOut(Shutdown):
    """The exit reason of a map item stopped at its deadline: a shutdown, so the
    supervisor drops the temporary task without a crash report."""


@final
class _ItemDeadline:
    """A map item's timeout, on the run's deadline heap (no cancel scope per item). At
    the deadline it stops the item as its supervisor stops a task (``trio_otp.exit``),
    so the item's cleanup gets the shutdown budget; a bare cancel would leave a
    ``cleanup_scope`` in it shielded for ever."""

    __slots__ = ("child", "done")

    def __init__(self, child: ChildTask) -> None:
        self.child = child
        self.done = False

    @protected
    def _time_out(self) -> None:
        self.finish()
        self.child.exit(ExitSignal(_ItemTimedOut("map's timeout")))

    @protected
    def finish(self) -> None:
        if not self.done:
            self.done = True
            call_timer().finished()


async def _within(function: Callable[[Any], Awaitable[Any]], item: object, deadline: float) -> Any:
    """``await function(item)``, stopped at ``deadline``: a map item's timeout, kept by
    the item's own task (runs unprotected, as the user's function it calls)."""
    child = child_of_task(trio.lowlevel.current_task())
    assert child is not None, "a map item runs as a supervised task"
    watch = _ItemDeadline(child)
    call_timer().add(watch, deadline)
    try:
        return await function(item)
    finally:
        watch.finish()


def _timed_out(ended: outcome.Outcome[Any]) -> bool:
    return isinstance(ended, outcome.Error) and isinstance(ended.error.__cause__, _ItemTimedOut)


@final
class TaskSupervisorRef(metaclass=NoPublicConstructor):
    """A handle on a running :class:`TaskSupervisor`."""

    __slots__ = ("_book", "_shutdown", "_supervisor")

    def __init__(
        self, supervisor: DynamicSupervisorRef, shutdown: ShutdownPolicy, book: set[TaskHandle[Any]]
    ) -> None:
        self._supervisor = supervisor
        self._shutdown = shutdown
        self._book = book

    def __repr__(self) -> str:
        return repr(self._supervisor).replace("DynamicSupervisorRef", "TaskSupervisorRef", 1)

    @property
    def name(self) -> Hashable | None:
        """The name it runs under, if any."""
        return self._supervisor.name

    @property
    def alive(self) -> bool:
        """Whether it still accepts tasks (it is not stopping, nor has it ended)."""
        return self._supervisor.alive

    async def stop(
        self,
        reason: Exception | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as OTP's Supervisor.stop/3
    ) -> None:
        """Stop it, and with it every task, and wait until it has ended, as
        :meth:`SupervisorRef.stop`. A checkpoint."""
        await self._supervisor.stop(reason, timeout=timeout)

    async def which_children(self) -> list[ChildInfo]:
        """Every running task, newest first; each ``ref`` is the task's :class:`TaskHandle`."""
        return await self._supervisor.which_children()

    async def count_children(self) -> ChildCounts:
        """How many tasks are running, counted."""
        return await self._supervisor.count_children()

    async def children(self) -> list[TaskHandle[Any]]:
        """The handles of the tasks it runs, newest first (Elixir's
        ``Task.Supervisor.children/1``). A request answered in mailbox order, a
        checkpoint; O(number of tasks).

        Raises:
          SupervisorNotRunning: it has ended or is shutting down.
        """
        return [cast("TaskHandle[Any]", info.ref) for info in await self._supervisor.which_children()]

    async def terminate_child(self, handle: TaskHandle[Any]) -> None:
        """Stop the task of ``handle`` within its shutdown budget and forget it, not to be
        restarted (Elixir's ``Task.Supervisor.terminate_child/2``). Its ``result`` then
        raises :class:`TaskFailed` (``cancelled``). A checkpoint.

        Raises:
          ChildNotFound: it is not a task of this supervisor, or has ended already
            (Elixir's ``{:error, :not_found}``).
          SupervisorNotRunning: the supervisor has ended or is shutting down.
          TypeError: ``handle`` is not a :class:`TaskHandle` (checked before the request).
        """
        given: object = handle
        if not isinstance(given, TaskHandle):  # pyright: ignore[reportUnnecessaryIsInstance]
            msg = f"TaskSupervisorRef.terminate_child takes a TaskHandle, got {describe(given)}"
            raise TypeError(msg)
        if handle._supervisor is not self._supervisor:
            msg = f"{handle!r} is not a task of {self!r}"
            raise ChildNotFound(msg)
        if handle.done:
            msg = f"{handle!r} has ended already"
            raise ChildNotFound(msg)
        await handle._terminate()

    async def spawn(
        self, function: Callable[[Unpack[ArgsT]], Awaitable[T]], *args: Unpack[ArgsT]
    ) -> TaskHandle[T]:
        """Start ``await function(*args)`` under the supervisor as a temporary task;
        returns its handle once it runs. A checkpoint. Raises :class:`MaxChildrenReached`
        past ``max_children``.

        Typed as :meth:`trio.Nursery.start_soon` is: ``args`` must fit ``function``'s
        parameters, and the handle's :meth:`~TaskHandle.result` has its return type."""
        _require_callable(function)
        return await self._spawn(function, args, _name(function), Restart.TEMPORARY)

    async def _spawn(
        self,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        name: str,
        restart: Restart,
    ) -> TaskHandle[Any]:
        handle = cast("TaskHandle[Any]", TaskHandle._create(self._supervisor, name))
        spec: ChildSpec[TaskHandle[Any]] = ChildSpec(
            handle.name,
            _run_task,
            args=(handle, function, args),
            restart=restart,
            shutdown=self._shutdown,
        )
        if restart is Restart.TRANSIENT:
            handle._book = self._book
            self._book.add(handle)
        try:
            child = await self._supervisor.start_child(spec)
        except BaseException:
            self._book.discard(handle)
            raise
        if not handle.done:  # it may have ended already (see _settle)
            handle._child = child
        return handle

    async def start_child(
        self,
        function: Callable[[Unpack[ArgsT]], Awaitable[object]],
        *args: Unpack[ArgsT],
        restart: Restart = Restart.TEMPORARY,
    ) -> TaskHandle[object]:
        """Start ``await function(*args)`` and return its handle at once, not to be awaited
        (Elixir's ``Task.Supervisor.start_child``): a crash is logged, not raised. A
        checkpoint.

        ``restart=Restart.TRANSIENT`` runs the function again, with the same arguments,
        each time it raises, within the supervisor's ``max_restarts`` in ``max_seconds``;
        past them the supervisor escalates (:class:`RestartIntensityExceeded`). Returning
        normally or being stopped ends it for good. The handle follows it across runs:
        its :meth:`~TaskHandle.result` is that of the last run.

        Raises:
          MaxChildrenReached: past ``max_children``.
          TypeError, ValueError: ``function`` is not an async function, or ``restart`` is
            not ``TEMPORARY`` or ``TRANSIENT``.
        """
        _require_callable(function)
        given: object = restart  # as the caller passed it, not as it is typed
        if given is not Restart.TEMPORARY and given is not Restart.TRANSIENT:
            rule = "start_child's restart must be Restart.TEMPORARY or Restart.TRANSIENT"
            if isinstance(given, Restart):  # pyright: ignore[reportUnnecessaryIsInstance]
                msg = f"{rule}, got {given}: a permanent task would run again after it returned, for ever"
                raise ValueError(msg)
            msg = f"{rule}, got {describe(given)}"
            raise TypeError(msg)
        return await self._spawn(function, args, _name(function), restart)

    @overload
    def map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        *,
        max_concurrency: int = ...,
        ordered: bool = ...,
        timeout: float | None = ...,
        on_timeout: Literal["raise"] = ...,
    ) -> AsyncGenerator[T, None]: ...
    @overload
    def map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        *,
        max_concurrency: int = ...,
        ordered: bool = ...,
        timeout: float | None = ...,
        on_timeout: OnTimeout,
    ) -> AsyncGenerator[T | TaskExit, None]: ...
    def map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        *,
        max_concurrency: int = 8,
        ordered: bool = True,
        timeout: float | None = None,
        on_timeout: OnTimeout = "raise",
    ) -> AsyncGenerator[Any, None]:
        """Yield ``await function(item)`` for each input, running at most
        ``max_concurrency`` at a time (Elixir's ``Task.Supervisor.async_stream``).

        With ``ordered`` (the default) results come in input order; otherwise as they
        finish. ``max_concurrency`` counts the tasks still running: with ``ordered``, a
        result that finished ahead of an earlier item is kept until that item's is
        yielded, and frees its slot at once, so a slow item does not hold back the
        starts of the next ones (as Elixir's ``async_stream``; those kept results are
        not bounded). Inputs are read only while the stream is being iterated, as slots
        free. If a task fails,
        the iteration raises its :class:`TaskFailed`; leaving the loop early or failing
        cancels the tasks still running, so iterate inside
        ``async with contextlib.aclosing(ref.map(...)) as results:`` to be sure that
        happens at once.

        ``timeout`` bounds each item, from the moment its task starts (default ``None``,
        no bound; Elixir's default is 5 s). An item still running at its deadline is
        stopped; then with ``on_timeout="raise"`` (Elixir's ``:exit``) the iteration
        raises :class:`TaskTimeout` and cancels the rest, and with
        ``on_timeout="kill_task"`` it yields a :class:`TaskExit` whose ``reason`` is a
        :class:`TaskTimeout` in that item's place and goes on.

        Raises:
          TypeError, ValueError: a bad argument, at the call (before the first result).
        """
        return self._checked_map(
            function, inputs, max_concurrency, ordered, timeout, on_timeout, nolink=False
        )

    def map_nolink(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        *,
        max_concurrency: int = 8,
        ordered: bool = True,
        timeout: float | None = None,
        on_timeout: OnTimeout = "raise",
    ) -> AsyncGenerator[T | TaskExit, None]:
        """:meth:`map`, but a failed item yields its :class:`TaskExit` (whose ``reason`` is
        the :class:`TaskFailed`) in its place instead of raising, and the others go on
        (Elixir's ``Task.Supervisor.async_stream_nolink``). The options as :meth:`map`'s.

        Raises:
          TaskTimeout: an item ran past ``timeout`` with ``on_timeout="raise"``.
          TypeError, ValueError: a bad argument, at the call (before the first result).
        """
        return self._checked_map(function, inputs, max_concurrency, ordered, timeout, on_timeout, nolink=True)

    def _checked_map(  # noqa: PLR0917 - private: map and map_nolink pass their options in order
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        max_concurrency: int,
        ordered: bool,
        timeout: float | None,
        on_timeout: OnTimeout,
        *,
        nolink: bool,
    ) -> AsyncGenerator[Any, None]:
        _require_callable(function)
        check_instance(inputs, (Iterable, AsyncIterable), "map's inputs", "an iterable or an async iterable")
        check_whole_number(max_concurrency, "max_concurrency", minimum=1)
        check_instance(ordered, bool, "map's ordered", "True or False")
        seconds = check_timeout(timeout, "map's timeout")
        if on_timeout not in ("raise", "kill_task"):
            msg = f"map's on_timeout must be 'raise' or 'kill_task', got {describe(on_timeout)}"
            raise ValueError(msg)
        kill = on_timeout == "kill_task"
        return self._map(
            function, inputs, max_concurrency, ordered=ordered, seconds=seconds, kill=kill, nolink=nolink
        )

    async def _map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        max_concurrency: int,
        *,
        ordered: bool,
        seconds: float,
        kill: bool,
        nolink: bool,
    ) -> AsyncGenerator[Any, None]:
        source = _aiter(inputs)
        # The items started and not yet yielded, in input order; with ``ordered``, those
        # that finished ahead of the head wait here for it, holding no slot of
        # max_concurrency (as Elixir's async_stream: a task's end frees its slot at once).
        running: collections.deque[TaskHandle[Any]] = collections.deque()
        finished_send, finished_receive = trio.open_memory_channel[TaskHandle[Any]](math.inf)
        unfinished = 0  # how many of ``running`` have not ended: the slots in use
        progress: trio.Event | None = None  # set when one ends, while the head is awaited

        def item_ended(handle: TaskHandle[Any]) -> None:
            nonlocal unfinished
            unfinished -= 1
            if ordered:
                if progress is not None:
                    progress.set()
            else:
                finished_send.send_nowait(handle)

        exhausted = False
        name = _name(function)
        try:
            while True:
                while not exhausted and unfinished < max_concurrency:
                    try:
                        item = await source.__anext__()
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    if seconds == math.inf:
                        handle = await self._spawn(function, (item,), name, Restart.TEMPORARY)
                    else:
                        within = (function, item, trio.current_time() + seconds)
                        handle = await self._spawn(_within, within, name, Restart.TEMPORARY)
                    running.append(handle)
                    unfinished += 1
                    handle._listen(item_ended)
                if not running:
                    return
                if ordered:
                    if not running[0].done:
                        # Any item's end frees a slot: start the next inputs, then look again.
                        progress = trio.Event()
                        await progress.wait()  # the head is still running (so stopped) if cancelled
                        progress = None
                        continue
                    handle = running.popleft()
                else:
                    handle = await finished_receive.receive()
                    running.remove(handle)
                ended = handle._outcome
                assert ended is not None
                if _timed_out(ended):
                    msg = f"task {handle.name} did not finish within map's timeout of {seconds:g} s"
                    late = TaskTimeout(msg)
                    if not kill:
                        raise late
                    yield TaskExit(late)
                elif isinstance(ended, outcome.Error):
                    if not nolink:
                        ended.unwrap()
                    assert isinstance(ended.error, TaskFailed)
                    yield TaskExit(ended.error)
                else:
                    yield ended.unwrap()
        finally:
            with trio.CancelScope(shield=True):
                await self._stop_together(running)
                await source.aclose()

    async def _stop_together(self, handles: Iterable[TaskHandle[Any]]) -> None:
        """Stop the tasks of a map left early at once, in one request (their budgets
        overlap, as async_stream kills its tasks at a halt). A checkpoint."""
        children = [
            handle._child._child for handle in handles if handle._child is not None and not handle.done
        ]
        if not children:
            await trio.lowlevel.checkpoint()
            return
        try:
            await self._supervisor._request(
                lambda state: state.terminate_together(children, "a map left early")
            )
        except SupervisorNotRunning:
            pass  # it is stopping them, with every other task


async def _aiter(inputs: Iterable[InputT] | AsyncIterable[InputT]) -> AsyncGenerator[InputT, None]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for item in inputs:
            yield item
