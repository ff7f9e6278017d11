"""Task supervision: one-off tasks under a supervisor (Elixir's Task.Supervisor).

A :class:`TaskSupervisor` is a :class:`DynamicSupervisor` whose children are temporary
tasks: never restarted, logged if they crash, stopped with the tree. Three ways to use
one:

* :meth:`TaskSupervisorRef.start_child`: fire and forget;
* :meth:`TaskSupervisorRef.spawn`: start now, ``await handle.result()`` later;
* :meth:`TaskSupervisorRef.map`: apply a function to a stream of inputs with at most
  ``max_concurrency`` tasks at a time, yielding results in input order (or as they come).

Where the tasks run matters: in the supervisor's nursery, not the caller's, so a caller
that goes away does not take running tasks with it (use :meth:`TaskHandle.cancel`), and
shutting the tree down stops them all.
"""

from __future__ import annotations

import collections
import inspect
import math
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
)
from typing import Any, Generic, TypeVar, cast, final

import attrs
import outcome
import trio
from typing_extensions import TypeVarTuple, Unpack

from ._backend import require_trio
from ._checks import check_instance, check_timeout, check_whole_number
from ._child import child_of_task
from ._child_spec import INFINITY, ChildSpec, ChildType, Restart, ShutdownPolicy
from ._dynamic_supervisor import DynamicChild, DynamicSupervisor, DynamicSupervisorRef, run_dynamic
from ._exceptions import ChildNotFound, SupervisorNotRunning, TaskFailed, TaskTimeout
from ._ki import call_unprotected, protected, self_protecting
from ._supervisor import ChildCounts, ChildInfo, child_label
from ._util import NoPublicConstructor, describe, name_validator, safe_repr

T = TypeVar("T")
InputT = TypeVar("InputT")
ArgsT = TypeVarTuple("ArgsT")


@final
class TaskHandle(Generic[T], metaclass=NoPublicConstructor):
    """A task started with :meth:`TaskSupervisorRef.spawn`."""

    __slots__ = ("_child", "_done", "_on_done", "_outcome", "_supervisor", "name")

    def __init__(self, supervisor: DynamicSupervisorRef, name: str) -> None:
        self._supervisor = supervisor
        self.name: str = name
        self._done = trio.Event()
        self._outcome: outcome.Outcome[T] | None = None
        self._child: DynamicChild[TaskHandle[Any]] | None = None
        self._on_done: Callable[[TaskHandle[T]], None] | None = None

    def __repr__(self) -> str:
        return f"<TaskHandle {self.name} ({'done' if self.done else 'running'})>"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def result(self, *, timeout: float | None = 5.0) -> T:  # noqa: ASYNC109 - Task.await's
        """Wait for the task and return its value (Elixir's ``Task.await``, 5 s default).

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
        if self._child is not None and not self.done:
            try:
                await self._supervisor.terminate_child(self._child)
            except ChildNotFound:
                pass  # it finished meanwhile
            except SupervisorNotRunning:
                pass  # the supervisor is stopping it, with every other task

    @protected
    def _settle(self, result: outcome.Outcome[T]) -> None:
        if self._outcome is None:
            self._outcome = result
            self._done.set()
            if self._on_done is not None:
                self._on_done(self)


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
        handle._settle(outcome.Error(failed))
        raise  # the supervisor logs the crash of a temporary child
    except BaseException:
        handle._settle(outcome.Error(_ended_early(handle)))
        raise
    handle._settle(outcome.Value(value))


def _ended_early(handle: TaskHandle[Any]) -> TaskFailed:
    """Why a task that did not finish failed: cancelled, or sent an exit from outside."""
    child = child_of_task(trio.lowlevel.current_task())
    signal = None if child is None else child.exit_signal
    if signal is None:
        return TaskFailed(f"task {handle.name} was cancelled", cancelled=True)
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
    """

    max_children: float = attrs.field(default=math.inf, kw_only=True)
    shutdown: ShutdownPolicy = attrs.field(default=5.0, kw_only=True)
    name: Hashable | None = attrs.field(
        default=None, kw_only=True, validator=name_validator("TaskSupervisor")
    )

    def __attrs_post_init__(self) -> None:
        # Checked now, by the classes that will use them, not at the first task.
        DynamicSupervisor(max_children=self.max_children)
        ChildSpec("check", _run_task, shutdown=self.shutdown)

    @self_protecting
    @protected
    async def run(
        self, *, task_status: trio.TaskStatus[TaskSupervisorRef] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled or stopped, reporting a :class:`TaskSupervisorRef`. Tasks are temporary,
        so their crashes never count as restarts and it never escalates.

        Raises:
          NameTaken: another process runs under its ``name``.
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
    inner = DynamicSupervisor(max_children=definition.max_children, name=definition.name)

    def wrap(ref: DynamicSupervisorRef) -> TaskSupervisorRef:
        ref._state.kind = "task_supervisor"  # for trio_otp.processes()
        return TaskSupervisorRef._create(ref, definition.shutdown)

    await run_dynamic(inner, label, task_status, wrap=wrap)


@self_protecting
@protected
async def _run_as_child(
    definition: TaskSupervisor, label: str, *, task_status: trio.TaskStatus[TaskSupervisorRef]
) -> None:
    await _run(definition, label, task_status)


@final
class TaskSupervisorRef(metaclass=NoPublicConstructor):
    """A handle on a running :class:`TaskSupervisor`."""

    __slots__ = ("_shutdown", "_supervisor")

    def __init__(self, supervisor: DynamicSupervisorRef, shutdown: ShutdownPolicy) -> None:
        self._supervisor = supervisor
        self._shutdown = shutdown

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
        """How many tasks are running (Elixir's ``Task.Supervisor.children/1``, counted)."""
        return await self._supervisor.count_children()

    async def spawn(
        self, function: Callable[[Unpack[ArgsT]], Awaitable[T]], *args: Unpack[ArgsT]
    ) -> TaskHandle[T]:
        """Start ``await function(*args)`` under the supervisor; returns its handle once it
        runs. A checkpoint. Raises :class:`MaxChildrenReached` past ``max_children``.

        Typed as :meth:`trio.Nursery.start_soon` is: ``args`` must fit ``function``'s
        parameters, and the handle's :meth:`~TaskHandle.result` has its return type."""
        _require_callable(function)
        handle = cast("TaskHandle[T]", TaskHandle._create(self._supervisor, _name(function)))
        spec: ChildSpec[TaskHandle[Any]] = ChildSpec(
            handle.name,
            _run_task,
            args=(handle, function, args),
            restart=Restart.TEMPORARY,
            shutdown=self._shutdown,
        )
        handle._child = await self._supervisor.start_child(spec)
        return handle

    async def start_child(
        self, function: Callable[[Unpack[ArgsT]], Awaitable[object]], *args: Unpack[ArgsT]
    ) -> None:
        """Fire and forget: start ``await function(*args)``; a crash is logged, not raised."""
        await self.spawn(function, *args)

    def map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        *,
        max_concurrency: int = 8,
        ordered: bool = True,
    ) -> AsyncGenerator[T, None]:
        """Yield ``await function(item)`` for each input, running at most
        ``max_concurrency`` at a time (Elixir's ``Task.async_stream``).

        With ``ordered`` (the default) results come in input order; otherwise as they
        finish. Inputs are read only as fast as results are consumed. If a task fails,
        the iteration raises its :class:`TaskFailed`; leaving the loop early or failing
        cancels the tasks still running, so iterate inside
        ``async with contextlib.aclosing(ref.map(...)) as results:`` to be sure that
        happens at once.

        Raises:
          TypeError, ValueError: a bad argument, at the call (before the first result).
        """
        _require_callable(function)
        check_instance(inputs, (Iterable, AsyncIterable), "map's inputs", "an iterable or an async iterable")
        check_whole_number(max_concurrency, "max_concurrency", minimum=1)
        check_instance(ordered, bool, "map's ordered", "True or False")
        return self._map(function, inputs, max_concurrency, ordered)

    async def _map(
        self,
        function: Callable[[InputT], Awaitable[T]],
        inputs: Iterable[InputT] | AsyncIterable[InputT],
        max_concurrency: int,
        ordered: bool,
    ) -> AsyncGenerator[T, None]:
        source = _aiter(inputs)
        running: collections.deque[TaskHandle[T]] = collections.deque()
        finished_send, finished_receive = trio.open_memory_channel[TaskHandle[T]](math.inf)
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) < max_concurrency:
                    try:
                        item = await source.__anext__()
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    handle = await self.spawn(function, item)
                    if not ordered:
                        handle._on_done = finished_send.send_nowait
                        if handle.done:
                            finished_send.send_nowait(handle)
                    running.append(handle)
                if not running:
                    return
                if ordered:
                    handle = running.popleft()
                else:
                    handle = await finished_receive.receive()
                    running.remove(handle)
                yield await handle.result(timeout=None)
        finally:
            with trio.CancelScope(shield=True):
                for handle in running:
                    await handle.cancel()


async def _aiter(inputs: Iterable[InputT] | AsyncIterable[InputT]) -> AsyncIterator[InputT]:
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield item
    else:
        for item in inputs:
            yield item
