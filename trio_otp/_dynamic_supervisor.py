"""DynamicSupervisor: children started at run time, one_for_one, stopped all at once.

It is the same control loop as :class:`Supervisor` (``_supervisor.py``) with three
differences, the ones Elixir's DynamicSupervisor and OTP's ``simple_one_for_one`` make:

* it starts with no children; :meth:`DynamicSupervisorRef.start_child` adds them, each
  with its own spec and arguments, and ids need not be unique: a child is named by the
  :class:`DynamicChild` handle ``start_child`` returns, which stays valid across restarts;
* the strategy is always one_for_one, with the same restart types, intensity and
  escalation;
* on shutdown every child is cancelled at the same moment and the supervisor waits for
  all of them, each within its own budget, so the whole group takes as long as its
  slowest child rather than the sum (OTP_SEMANTICS §9); the order is not defined.

Children live in a dict used as an ordered set, so adding, finding and removing one is
O(1) and 100,000 children cost 100,000 times one, not more.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar, cast, final

import attrs
import trio

from ._backend import require_trio
from ._checks import check_instance, check_stop_reason, check_timeout
from ._child import ChildTask
from ._child_spec import INFINITY, ChildSpec, ChildType, RefT_co, Restart, ShutdownPolicy
from ._exceptions import ChildIgnored, ChildNotFound, MaxChildrenReached, SupervisorNotRunning
from ._intensity import validate_max_restarts, validate_max_seconds
from ._ki import protected, self_protecting
from ._supervisor import (
    AutoShutdown,
    ChildCounts,
    ChildInfo,
    RestartStrategy,
    Supervisor,
    _Child,
    _Request,
    _require_spec,
    _StartFailed,
    _SupervisorState,
    checked_ref,
    child_label,
    run_supervisor,
    send_request,
    stop_supervisor,
)
from ._util import NoPublicConstructor, describe, name_validator

T = TypeVar("T")


@final
class DynamicChild(Generic[RefT_co], metaclass=NoPublicConstructor):
    """A child of a :class:`DynamicSupervisor`, as :meth:`DynamicSupervisorRef.start_child`
    returns it. It names the child across restarts (OTP's pid would change).

    ``DynamicChild[RefT]`` carries its spec's reference type: ``start_child`` of a
    ``ChildSpec[ServerRef[str, int]]`` gives a ``DynamicChild[ServerRef[str, int]]``,
    whose :attr:`ref` is a ``ServerRef[str, int] | None``.
    """

    __slots__ = ("_child",)

    def __init__(self, child: _Child) -> None:
        self._child = child

    @property
    def id(self) -> Hashable:
        return self._child.spec.id

    @property
    def ref(self) -> RefT_co | None:
        """The value the current run passed to ``task_status.started()``; ``None`` when
        the child is not running."""
        task = self._child.task
        return None if task is None else cast("RefT_co", task.ref)

    def ref_as(self, ref_type: type[T]) -> T:
        """:attr:`ref`, typed as ``ref_type`` and checked as :meth:`ChildInfo.ref_as`
        checks it: for handles from :meth:`DynamicSupervisorRef.start_children` of mixed
        specs, whose type says less.

        Raises:
          TypeError: the ref is not an instance of that class (``None`` when the child is
            not running); the message names the child, the class and the value.
        """
        return checked_ref(self.id, self.ref, ref_type)

    @property
    def running(self) -> bool:
        return self._child.task is not None

    def __repr__(self) -> str:
        return f"<DynamicChild {self.id!r} ({'running' if self.running else 'not running'})>"


def _check_max_children(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"max_children must be a whole number >= 0 or math.inf, got {describe(value)}"
        raise TypeError(msg)
    if not (value == math.inf or (value >= 0 and value == int(value))):
        msg = f"max_children must be a whole number >= 0 or math.inf, got {value!r}"
        raise ValueError(msg)


def _check_extra_arguments(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, tuple):
        msg = f"DynamicSupervisor extra_arguments must be a tuple, got {describe(value)}"
        raise TypeError(msg)


@attrs.frozen
class DynamicSupervisor:
    """A supervisor whose children are started at run time (Elixir's DynamicSupervisor).

    Args:
      max_restarts, max_seconds: the restart intensity, as for :class:`Supervisor`
        (defaults 3 in 5 s, as Elixir's DynamicSupervisor).
      max_children: how many children may run at once (default unlimited); one more
        ``start_child`` raises :class:`MaxChildrenReached`.
      name: the name it runs under, as :class:`Supervisor`'s: ``trio_otp.start_child(name,
        spec)`` reaches whichever run of it is current, across restarts by its parent.
      extra_arguments: a tuple of arguments put before each child's own ``args`` when
        it starts (Elixir's ``:extra_arguments``): what every child of this pool shares,
        such as a connection or a configuration, given once here rather than in every
        spec. Default ``()``. The child's spec, as :meth:`~DynamicSupervisorRef.which_children`
        shows it, carries the combined arguments.

    Raises:
      TypeError, ValueError: a bad value, naming the rule.
    """

    max_restarts: int = attrs.field(default=3, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)
    max_children: float = attrs.field(default=math.inf, kw_only=True, validator=_check_max_children)
    name: Hashable | None = attrs.field(
        default=None, kw_only=True, validator=name_validator("DynamicSupervisor")
    )
    extra_arguments: tuple[Any, ...] = attrs.field(default=(), kw_only=True, validator=_check_extra_arguments)

    def __attrs_post_init__(self) -> None:
        validate_max_restarts(self.max_restarts)
        object.__setattr__(self, "max_seconds", validate_max_seconds(self.max_seconds))

    @self_protecting
    @protected
    async def run(
        self, *, task_status: trio.TaskStatus[DynamicSupervisorRef] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled or until restarts exceed the intensity; reports a
        :class:`DynamicSupervisorRef` through ``task_status`` at once.

        Raises:
          NameTaken: another process runs under its ``name``.
          RestartIntensityExceeded: after stopping every child.
          trio.Cancelled: cancelled from outside, after every child stopped.
          KeyboardInterrupt: likewise, after Ctrl-C, as :meth:`Supervisor.run`.
          BaseException: the reason given to :meth:`DynamicSupervisorRef.stop`.
        """
        require_trio("DynamicSupervisor.run")
        await run_dynamic(self, None, task_status)

    def child_spec(
        self,
        id: Hashable,  # noqa: A002 - the child spec's own name for it
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: ShutdownPolicy = INFINITY,
        significant: bool = False,
    ) -> ChildSpec[DynamicSupervisorRef]:
        """A :class:`ChildSpec` that runs this DynamicSupervisor under another supervisor;
        the options as :class:`ChildSpec`'s. The child's reference is its
        :class:`DynamicSupervisorRef`. If it has no ``name``, reports call it by the
        child id."""
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
async def run_dynamic(
    definition: DynamicSupervisor,
    label: str | None,
    task_status: trio.TaskStatus[Any],
    wrap: Callable[[DynamicSupervisorRef], object] | None = None,
) -> None:
    """Run a DynamicSupervisor, reporting ``wrap(ref)`` rather than its ref if given (a
    TaskSupervisor is one, with a ref of its own)."""
    inner = Supervisor(
        [],
        strategy=RestartStrategy.ONE_FOR_ONE,
        max_restarts=definition.max_restarts,
        max_seconds=definition.max_seconds,
        auto_shutdown=AutoShutdown.NEVER,
        name=definition.name,
    )
    state = _DynamicState(inner, definition.max_children, label, wrap, definition.extra_arguments)
    await run_supervisor(state, task_status)


@self_protecting
@protected
async def _run_as_child(
    definition: DynamicSupervisor, label: str, *, task_status: trio.TaskStatus[DynamicSupervisorRef]
) -> None:
    await run_dynamic(definition, label, task_status)


def _check_dynamic_spec(spec: object) -> None:
    _require_spec(spec)
    assert isinstance(spec, ChildSpec)
    if spec.significant:
        msg = f"child {spec.id!r}: a DynamicSupervisor has no auto_shutdown, so no child can be significant"
        raise ValueError(msg)


@final
class DynamicSupervisorRef(metaclass=NoPublicConstructor):
    """A handle on a running :class:`DynamicSupervisor`.

    :meth:`terminate_child`, :meth:`which_children` and :meth:`count_children` are
    requests answered in mailbox order, as :class:`SupervisorRef`'s. The two start methods
    are not: the calling task starts the child under the supervisor itself and waits
    until it is ready, so a start never waits behind a slow one (see
    :meth:`start_child`). Every method is a checkpoint and raises
    :class:`SupervisorNotRunning` once the supervisor has ended or is shutting down.
    """

    __slots__ = ("_state",)

    def __init__(self, state: _DynamicState) -> None:
        self._state = state

    def __repr__(self) -> str:
        return f"<DynamicSupervisorRef {self._state.label} ({self._state.phase()})>"

    @property
    def name(self) -> Hashable | None:
        """The name it runs under, if any."""
        return self._state.definition.name

    @property
    def alive(self) -> bool:
        """Whether it still accepts requests (it is not stopping, nor has it ended)."""
        return not self._state.stopping

    async def stop(
        self,
        reason: Exception | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as OTP's Supervisor.stop/3
    ) -> None:
        """Stop it and wait until it has ended, as :meth:`SupervisorRef.stop` (its children
        stop all at once, each within its budget). A checkpoint.

        Raises:
          SupervisorNotRunning, SupervisorTimeout, TypeError, ValueError: as
            :meth:`SupervisorRef.stop`.
        """
        check_stop_reason(reason, "stop's reason")
        seconds = check_timeout(timeout, "stop's timeout")
        await stop_supervisor(self._state, reason, seconds)

    async def _request(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        return await send_request(self._state, operation)

    async def start_child(self, spec: ChildSpec[T]) -> DynamicChild[T]:
        """Start a child from ``spec`` (its ``args`` are this child's arguments, after the
        supervisor's ``extra_arguments``) and wait until it is ready.

        The start does not queue in the supervisor's mailbox: this task adds the child and
        starts it in the supervisor's nursery directly, so concurrent calls run their
        children's starts concurrently (Elixir's DynamicSupervisor runs them one
        at a time). Once started, the child is the supervisor's like any other: restarted
        by it, stopped by it. If this task is cancelled while the child starts (a
        ``move_on_after`` around the call, say), the child is stopped again, within its
        shutdown budget, before the ``Cancelled`` goes on, so no child runs unknown; a
        child that never becomes ready is therefore no reason to hang.

        Raises:
          MaxChildrenReached: ``max_children`` children are running.
          ChildStartError: the start failed; nothing is added.
          ChildIgnored: the start function returned :class:`Ignore` (a server's ``init``
            did); nothing is added (``kept`` is False). OTP returns ``{ok, undefined}``.
          SupervisorNotRunning: the supervisor has ended, or began shutting down before
            the child was ready.
          TypeError: ``spec`` is not a ChildSpec.
          ValueError: ``spec`` is significant (a DynamicSupervisor has no auto-shutdown).
        """
        _check_dynamic_spec(spec)
        return (await self._start([self._with_extra_arguments(spec)], batch=False))[0]

    async def start_children(self, specs: Iterable[ChildSpec[T]]) -> list[DynamicChild[T]]:
        """Start many children at once, concurrently; returns their handles in spec order.

        All or nothing: if any start fails, the ones that started are stopped again and
        :class:`ChildStartError` is raised for the first failure (in spec order). A child
        that ignores its start (:class:`Ignore`) counts as such a failure here, so the
        handles always match the specs: the batch is undone and :class:`ChildIgnored` is
        raised, if it comes first. Faster
        than one ``start_child`` per spec for large numbers, because the starts share
        Trio's scheduling rounds instead of taking two each.

        Raises:
          MaxChildrenReached: the batch would exceed ``max_children``; nothing is started.
          ChildStartError, ChildIgnored, SupervisorNotRunning, TypeError, ValueError: as
            :meth:`start_child`.
        """
        check_instance(specs, Iterable, "start_children", "given an iterable of ChildSpec")
        batch = list(specs)
        checked: set[int] = set()  # by identity: ``[spec] * 1000`` is checked once
        for spec in batch:
            if id(spec) not in checked:
                _check_dynamic_spec(spec)
                checked.add(id(spec))
        return await self._start([self._with_extra_arguments(spec) for spec in batch], batch=True)

    def _with_extra_arguments(self, spec: ChildSpec[T]) -> ChildSpec[T]:
        extra = self._state.extra_arguments
        return attrs.evolve(spec, args=(*extra, *spec.args)) if extra else spec

    @protected
    async def _start(self, specs: list[ChildSpec[T]], *, batch: bool) -> list[DynamicChild[T]]:
        await trio.lowlevel.checkpoint_if_cancelled()
        state = self._state
        try:
            children, tasks = state.begin_start(specs, batch=batch)
        except BaseException:
            # A start refused at once (MaxChildrenReached, SupervisorNotRunning) is still a
            # checkpoint, so a retry loop cannot starve the other tasks.
            await trio.lowlevel.cancel_shielded_checkpoint()
            raise
        try:
            for task in tasks:
                await task.wait_ready()
        except BaseException:
            # Cancelled (or interrupted) while they start: they were never handed out, so
            # they are stopped again before the exception goes on.
            await state.undo(children, tasks)
            raise
        await state.finish_start(children, tasks)
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            await state.undo(children, tasks)
            raise
        return [cast("DynamicChild[T]", DynamicChild._create(child)) for child in children]

    async def terminate_child(self, child: DynamicChild[object]) -> None:
        """Stop ``child`` with its shutdown policy and forget it; it is not restarted.

        Raises:
          ChildNotFound: it is not a child of this supervisor (any more).
          TypeError: ``child`` is not a :class:`DynamicChild` (checked before the request
            is sent).
        """
        handle: object = child  # as the caller passed it, not as it is typed
        if not isinstance(handle, DynamicChild):  # pyright: ignore[reportUnnecessaryIsInstance]
            msg = (
                "DynamicSupervisorRef.terminate_child takes the DynamicChild that start_child "
                f"returned, got {describe(handle)}"
            )
            raise TypeError(msg)
        await self._request(lambda state: state.terminate_dynamic(child._child))

    async def which_children(self) -> list[ChildInfo]:
        """Every child, newest first."""
        return await self._request(_SupervisorState.which_children)

    async def count_children(self) -> ChildCounts:
        """How many children, running children, supervisors and workers."""
        return await self._request(_SupervisorState.count_children)


class _DynamicState(_SupervisorState):
    kind = "dynamic_supervisor"

    def __init__(
        self,
        definition: Supervisor,
        max_children: float,
        label: str | None = None,
        wrap: Callable[[DynamicSupervisorRef], object] | None = None,
        extra_arguments: tuple[Any, ...] = (),
    ) -> None:
        super().__init__(definition, label)
        self.max_children = max_children
        self.wrap: Callable[[DynamicSupervisorRef], object] | None = wrap
        # Children whose start is being undone: no longer ours to restart, but running
        # until their stop ends, so they still count against max_children.
        self.undoing: int = 0
        self.extra_arguments = extra_arguments

    def make_ref(self) -> object:
        ref = DynamicSupervisorRef._create(self)
        return ref if self.wrap is None else self.wrap(ref)

    # Ids need not be unique here, so there is no by-id index.
    def add(self, child: _Child) -> None:
        self.children[child] = None

    def remove(self, child: _Child) -> None:
        del self.children[child]

    @protected
    def begin_start(self, specs: Sequence[ChildSpec], *, batch: bool) -> tuple[list[_Child], list[ChildTask]]:
        """Add children and spawn their tasks from the *calling* task, not the control loop.

        Safe without the mailbox because nothing here awaits between checking the
        supervisor's state and changing it, and a child is in ``children`` (so a shutdown
        stops it) from the moment its task is spawned. Two scheduling rounds per start
        instead of four. Restarts, stops and exits still go through the control loop.
        """
        if self.stopping:
            msg = f"supervisor {self.label} is not running"
            raise SupervisorNotRunning(msg)
        if len(self.children) + self.undoing + len(specs) > self.max_children:
            msg = f"supervisor {self.label} already runs max_children={self.max_children:g} children"
            if batch:
                msg = (
                    f"supervisor {self.label} has {len(self.children)} children; {len(specs)} more "
                    f"would exceed max_children={self.max_children:g}"
                )
            raise MaxChildrenReached(msg)
        children = [_Child(spec) for spec in specs]
        tasks: list[ChildTask] = []
        for child in children:
            self.add(child)
            tasks.append(self.spawn(child))
        return children, tasks

    async def finish_start(self, children: list[_Child], tasks: list[ChildTask]) -> None:
        """Once every task of a start is ready: report the starts, or undo them all and
        raise the first failure."""
        failure: BaseException | None = None
        for child, task in zip(children, tasks, strict=True):
            if self.shutting_down():
                # It is stopping (or has stopped) every child, this one included.
                msg = f"supervisor {self.label} began shutting down while the child was starting"
                failure = failure or SupervisorNotRunning(msg)
            elif task.is_started:
                if child.task is task:  # not already crashed and handed to the control loop
                    self.emit_started(child, task)
            elif task.ignored:  # OTP adds nothing; a batch is undone as for a failure
                self.remove(child)
                child.task = None
                self.log_ignored(child)
                failure = failure or ChildIgnored(self.label, child.spec.id, kept=False)
            else:
                self.remove(child)
                child.task = None
                assert task.error is not None  # only our own shutdown stops it without one
                self.log_start_error(child, task.error)
                failure = failure or self.start_error(_StartFailed(child, task.error))
        if failure is not None:
            await self.undo(children, tasks)
            raise failure

    async def undo(self, children: list[_Child], tasks: list[ChildTask]) -> None:
        """Stop again, from the calling task, the children a start made and never handed
        out; shielded, each within its budget, all at once. Not through the mailbox: the
        control loop may be busy (waiting for a restart to become ready, or stopping the
        very task that is undoing its start), and the caller must not wait behind it.

        A child whose task the supervisor has already replaced (it crashed after its start
        and was restarted) is the supervisor's now: it is asked to forget it, without a
        wait.
        """
        mine = self.take_back(children, tasks)
        with trio.CancelScope(shield=True):
            try:
                await self.stop_together(mine, f"trio_otp: supervisor {self.label} is undoing a start")
            finally:
                self.undoing -= len(mine)
            for task in tasks:
                await task.wait_finished()  # also those a shutdown of the supervisor took over

    @protected
    def take_back(self, children: list[_Child], tasks: list[ChildTask]) -> list[ChildTask]:
        """The tasks of ``children`` that are still this start's to stop; the children are
        no longer the supervisor's (but count against max_children until they end)."""
        mine: list[ChildTask] = []
        for child, task in zip(children, tasks, strict=True):
            if child.task is task:
                self.remove(child)
                child.task = None
                mine.append(task)
            elif child in self.children:
                self.post_request(functools.partial(_DynamicState.forget_one, child=child))
        self.undoing += len(mine)
        return mine

    @protected
    def post_request(self, operation: Callable[[Any], Awaitable[object]]) -> None:
        """Send a request without waiting for its answer; nothing if the supervisor is
        stopping (it stops every child anyway)."""
        if self.stopping:
            return
        request: _Request[object] = _Request(operation)
        try:
            self.send.send_nowait(request)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # it has ended, and with it every child

    async def forget_one(self, child: _Child) -> None:
        if child in self.children:
            await self.terminate_dynamic(child)

    def after_exit(self, child: _Child) -> None:
        # A child that is not restarted is forgotten, as in OTP's simple_one_for_one.
        if child.task is None and not child.restarting and child in self.children:
            self.remove(child)

    async def terminate_dynamic(self, child: _Child) -> None:
        if child not in self.children:
            msg = f"{DynamicChild._create(child)!r} is not a child of supervisor {self.label}"
            raise ChildNotFound(msg)
        await self.stop(child, "terminate_child")
        self.remove(child)

    async def terminate_together(self, children: list[_Child], why: str) -> None:
        """Stop those of ``children`` still here all at once and forget them (a map left
        early, as async_stream kills its tasks at a halt): one budget for the group,
        not one after another as separate ``terminate_child`` calls would take."""
        mine = [child for child in children if child in self.children]
        tasks = [child.task for child in mine if child.task is not None]
        for child in mine:
            child.task = None
            child.restarting = False
        with trio.CancelScope(shield=True):
            await self.stop_together(tasks, f"trio_otp: supervisor {self.label} is stopping {why}")
        for child in mine:
            self.remove(child)

    async def stop_all(self) -> None:
        # All at once: every child is cancelled now, each within its own budget, and we
        # wait for them all, so the group takes as long as its slowest member.
        tasks = [child.task for child in self.children if child.task is not None]
        for child in self.children:
            child.task = None
            child.restarting = False
        with trio.CancelScope(shield=True):
            await self.stop_together(tasks, f"trio_otp: supervisor {self.label} is shutting down")

    async def stop_together(self, tasks: list[ChildTask], reason: str) -> None:
        """Cancel every task now and wait until all have ended, reporting each that is still
        running at its kill deadline at that moment. Run shielded.

        One wait per distinct deadline (one for the whole group, when the children share a
        shutdown policy: the stops begin at the same instant), not a scope per child: with
        100,000 children the bookkeeping of a wait each would itself outlast the budgets.
        """
        now = trio.current_time()
        for task in tasks:
            task.begin_stop(reason, now)
        by_deadline = sorted(tasks, key=_report_deadline)
        for deadline, group in itertools.groupby(by_deadline, key=_report_deadline):
            if deadline == math.inf:
                break  # sorted: the rest wait for ever, as INFINITY means
            members = list(group)
            with trio.move_on_at(deadline):
                for task in members:
                    await task.wait_finished()
            for task in members:
                if not task.finished:
                    self.report_late(task)
        for task in tasks:
            await task.wait_finished()


def _report_deadline(task: ChildTask) -> float:
    return task.report_deadline
