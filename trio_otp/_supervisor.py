"""Supervisors: a nursery of children restarted by strategy within a restart intensity.

How a supervisor maps onto Trio
-------------------------------
:meth:`Supervisor.run` opens one nursery. Its body is the *control loop*, the single
task that owns the supervisor's state, like the OTP supervisor process; each child is a
task of that nursery in a shielded cancel scope of its own (see ``_child.py`` for why).
Everything that changes the state arrives in one mailbox and is handled one message at a
time, in arrival order: a child's exit, a retry of a failed restart, and each runtime API
request from a :class:`SupervisorRef`. So, as in OTP, the supervisor is busy while it
stops or starts a child, and requests wait their turn.

Order
-----
Children start in spec order, each ready (``task_status.started()``) before the next.
They stop in reverse start order, one at a time, each within its own budget: on a group
restart, on escalation, on auto-shutdown and on cancellation from outside. A child added
with ``start_child`` goes last in start order, so it is stopped first.

Cancellation and KeyboardInterrupt
----------------------------------
The control loop is a task of its own in the supervisor's nursery, KI-protected, and
:meth:`Supervisor.run` itself only waits in the nursery's exit. Cancellation from outside
reaches only the control loop (the children are shielded). It stops the tree in order
(shielded, so the budgets are honoured) and lets the ``Cancelled`` continue: it means
"shut down", never "restart".

A ``KeyboardInterrupt`` can reach a tree two ways. Raised in a child's own code, it ends
that child's task and goes up through the nursery, which cancels the control loop. When
the supervisor runs in the main task (``trio.run(tree.run)``), Trio delivers it there,
at a checkpoint: that is in the nursery's exit, which records it and cancels the nursery.
Either way the loop, which never receives it, shuts the tree down in order, each child
within its budget, and a second (or tenth) Ctrl-C does not cut that short: it is recorded
the same way, or ends only the child whose code it lands in. Then ``run`` raises one
``KeyboardInterrupt``, not a group of them. Nothing of the tree is running once
:meth:`Supervisor.run` has returned or raised.

Exceptions that leave ``run``
-----------------------------
The supervisor's own outcomes, :class:`ChildStartError` and
:class:`RestartIntensityExceeded`, are raised after the nursery has closed, so they are
never wrapped in an exception group. ``Cancelled`` and other ``BaseException``\\ s leave
through the nursery and are grouped as Trio groups any nursery's exceptions, except that
a group of nothing but ``KeyboardInterrupt`` and ``Cancelled`` becomes its first
``KeyboardInterrupt``.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import enum
import functools
import logging
import math
import sys
import typing
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar, cast, final

import attrs
import trio

from ._backend import require_trio
from ._checks import check_instance, check_stop_reason, check_timeout
from ._child import BRUTAL_KILL_REPORT_AFTER, ChildTask, _current_child
from ._child_spec import INFINITY, ChildSpec, ChildType, Restart, ShutdownMode, ShutdownPolicy
from ._events import emit
from ._exceptions import (
    ChildAlreadyPresent,
    ChildAlreadyStarted,
    ChildIgnored,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    ChildStartError,
    NameTaken,
    RestartIntensityExceeded,
    Shutdown,
    SupervisorError,
    SupervisorNotRunning,
    SupervisorTimeout,
)
from ._exit import ExitKind, describe_exit, exit_kind
from ._intensity import RestartIntensity, validate_max_restarts, validate_max_seconds
from ._ki import first_interrupt, protected, self_protecting
from ._log_fields import error_fields, supervisor_fields
from ._names import NamedRef, name_label, register_name
from ._processes import forget_supervisor, list_supervisor
from ._util import NoPublicConstructor, describe, enum_validator, name_validator, safe_repr

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

logger = logging.getLogger("trio_otp.supervisor")

T = TypeVar("T")


class RestartStrategy(enum.Enum):
    """Which children restart when one of them has to (OTP's ``strategy`` flag)."""

    #: Only the child that exited.
    ONE_FOR_ONE = "one_for_one"
    #: Every child: the others stop in reverse start order, then all start in start order.
    ONE_FOR_ALL = "one_for_all"
    #: The child that exited and those started after it, stopped and started likewise.
    REST_FOR_ONE = "rest_for_one"


class AutoShutdown(enum.Enum):
    """Whether significant children ending on their own stop the supervisor (OTP 24+)."""

    #: Significant children are not allowed.
    NEVER = "never"
    #: The supervisor stops when any significant child ends on its own.
    ANY_SIGNIFICANT = "any_significant"
    #: The supervisor stops when all significant children have ended on their own.
    ALL_SIGNIFICANT = "all_significant"


class ChildState(enum.Enum):
    """What :meth:`SupervisorRef.which_children` says a child is doing."""

    RUNNING = "running"
    #: Its restart failed; the supervisor is retrying it (OTP's ``restarting``).
    RESTARTING = "restarting"
    #: Its spec is kept but it is not running (OTP's ``undefined`` pid).
    STOPPED = "stopped"


def checked_ref(child_id: Hashable, ref: object, ref_type: type[T]) -> T:
    """``ref`` typed as ``ref_type``, checked with isinstance against its class (type
    arguments, as in ``ServerRef[str, int]``, are taken on trust, as ``cast`` takes them)."""
    expected: object = typing.get_origin(ref_type) or ref_type
    if not isinstance(expected, type):
        msg = f"ref_as takes a class, such as trio_otp.ServerRef, got {describe(ref_type)}"
        raise TypeError(msg)
    if not isinstance(ref, expected):
        msg = (
            f"child {safe_repr(child_id)}: expected a ref of type {expected.__module__}."
            f"{expected.__qualname__}, got {describe(ref)}"
        )
        if ref is None:
            msg += "; a child that is not running has no ref"
        raise TypeError(msg)
    return cast("T", ref)


@attrs.frozen
class ChildInfo:
    """One entry of :meth:`SupervisorRef.which_children`.

    The children of one supervisor have refs of different types, so ``ref`` is typed
    ``object``; :meth:`ref_as` gives it the type you expect, checked.
    """

    id: Hashable
    state: ChildState
    #: The value the child passed to ``task_status.started()``; ``None`` unless running.
    ref: object
    type: ChildType
    #: How many times its supervisor has restarted it.
    restarts: int = 0
    # The run that was listed, for trio_otp.exit(info, ...); not part of the value.
    _task: ChildTask | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @classmethod
    def _of(cls, child: _Child, state: ChildState) -> ChildInfo:
        task = child.task
        info = cls(child.spec.id, state, None if task is None else task.ref, child.spec.type, child.restarts)
        object.__setattr__(info, "_task", task)
        return info

    def ref_as(self, ref_type: builtins.type[T]) -> T:  # the field ``type`` hides the builtin
        """``ref``, typed as ``ref_type``: ``info.ref_as(trio_otp.ServerRef[str, int])``.

        Checked with ``isinstance`` against the class; type arguments are not checked at
        run time (they cannot be), they are the caller's word, as with ``typing.cast``.

        Raises:
          TypeError: ``ref`` is not an instance of that class (``None`` for a child that
            is not running); the message names the child, the class and the value.
        """
        return checked_ref(self.id, self.ref, ref_type)


@attrs.frozen
class ChildCounts:
    """The result of :meth:`SupervisorRef.count_children` (OTP's ``count_children``)."""

    #: Child specs the supervisor holds, running or not.
    specs: int
    #: Children that are running.
    active: int
    #: Specs of type SUPERVISOR, running or not.
    supervisors: int
    #: Specs of type WORKER, running or not.
    workers: int


def _to_specs(children: Iterable[ChildSpec]) -> tuple[ChildSpec, ...]:
    check_instance(children, Iterable, "Supervisor children", "an iterable of ChildSpec")
    return tuple(children)


def _check_children(_instance: object, _attribute: object, children: tuple[object, ...]) -> None:
    seen: set[Hashable] = set()
    for spec in children:
        if not isinstance(spec, ChildSpec):
            msg = f"Supervisor children must be ChildSpec instances, got {describe(spec)}"
            raise TypeError(msg)
        if spec.id in seen:
            msg = f"duplicate child id {spec.id!r}: each child of a supervisor needs its own id"
            raise ValueError(msg)
        seen.add(spec.id)


def _budget(policy: ShutdownPolicy) -> str:
    return policy.name if isinstance(policy, ShutdownMode) else f"{policy:g} s"


def _restarts(count: int, limit: int) -> str:
    return f"{count} of {limit} {'restart' if limit == 1 else 'restarts'}"


def _require_spec(spec: object) -> None:
    if not isinstance(spec, ChildSpec):
        msg = f"start_child takes a ChildSpec, got {describe(spec)}"
        raise TypeError(msg)


def _check_significant(spec: ChildSpec, auto_shutdown: AutoShutdown) -> None:
    if spec.significant and auto_shutdown is AutoShutdown.NEVER:
        msg = (
            f"child {spec.id!r} is significant, but the supervisor's auto_shutdown is NEVER, "
            "so its ending could never matter; set auto_shutdown=AutoShutdown.ANY_SIGNIFICANT "
            "or ALL_SIGNIFICANT, or significant=False"
        )
        raise ValueError(msg)


@attrs.frozen
class Supervisor:
    """A supervisor's definition: its children and how it restarts them.

    A ``Supervisor`` is an immutable description, checked when it is built; each call of
    :meth:`run` runs a fresh supervisor from it, with an empty restart history, so the
    same definition can be restarted by a parent (see :meth:`child_spec`).

    Args:
      children: the child specs, in start order. Ids must be unique.
      strategy: :class:`RestartStrategy`, default ``ONE_FOR_ONE``.
      max_restarts: restarts allowed within ``max_seconds`` (default 1, as OTP's
        ``intensity``); the next restart request makes the supervisor give up.
      max_seconds: the width of the restart window in seconds (default 5, as OTP's
        ``period``). Any finite number > 0; the window is exact, not whole seconds.
      auto_shutdown: :class:`AutoShutdown`, default ``NEVER``.
      name: the name it runs under (any hashable value, or a :class:`Via`), in the same
        namespace as servers' names: callers reach it with :func:`whereis` and the
        functions that take a supervisor or its name (:func:`start_child`,
        :func:`which_children`, ...), and a restart by its parent takes the name again.
        Also how reports name it. Without a name, reports use its child id under a
        parent.

    Raises:
      TypeError, ValueError: a bad value or combination, naming the rule: duplicate
        child ids, ``max_restarts < 0``, ``max_seconds <= 0``, an unhashable name, or a
        significant child under ``auto_shutdown=NEVER``.
    """

    children: tuple[ChildSpec, ...] = attrs.field(converter=_to_specs, validator=_check_children)
    strategy: RestartStrategy = attrs.field(
        default=RestartStrategy.ONE_FOR_ONE,
        kw_only=True,
        validator=enum_validator("Supervisor", RestartStrategy),
    )
    max_restarts: int = attrs.field(default=1, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)
    auto_shutdown: AutoShutdown = attrs.field(
        default=AutoShutdown.NEVER, kw_only=True, validator=enum_validator("Supervisor", AutoShutdown)
    )
    name: Hashable | None = attrs.field(default=None, kw_only=True, validator=name_validator("Supervisor"))

    def __attrs_post_init__(self) -> None:
        validate_max_restarts(self.max_restarts)
        object.__setattr__(self, "max_seconds", validate_max_seconds(self.max_seconds))
        for spec in self.children:
            _check_significant(spec, self.auto_shutdown)

    @self_protecting
    @protected
    async def run(self, *, task_status: trio.TaskStatus[SupervisorRef] = trio.TASK_STATUS_IGNORED) -> None:
        """Run a supervisor from this definition until it stops.

        Starts the children in order, each ready before the next, then reports a
        :class:`SupervisorRef` through ``task_status`` (so ``await nursery.start(sup.run)``
        returns it), then supervises until the supervisor stops.

        Returns normally when an ``auto_shutdown`` rule stopped it, or
        :meth:`SupervisorRef.stop` with no reason.

        Raises:
          NameTaken: another process runs under its ``name``; no child was started.
          ChildStartError: a child failed to start; the children already started were
            stopped in reverse order first, and no later child was started.
          RestartIntensityExceeded: restarts exceeded the intensity; every remaining
            child was stopped in reverse order first.
          trio.Cancelled: cancelled from outside, after every child stopped in reverse
            order within its own shutdown budget.
          KeyboardInterrupt: likewise, after Ctrl-C (see :ref:`ctrl-c`).
          BaseException: the reason given to :meth:`SupervisorRef.stop`.
        """
        require_trio("Supervisor.run")
        await run_supervisor(_SupervisorState(self), task_status)

    def child_spec(
        self,
        id: Hashable,  # noqa: A002 - the child spec's own name for it
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: ShutdownPolicy = INFINITY,
        significant: bool = False,
    ) -> ChildSpec[SupervisorRef]:
        """A :class:`ChildSpec` that runs this supervisor as a child of another.

        The child's reference is the nested supervisor's :class:`SupervisorRef`. If this
        definition has no ``name``, reports call it by the child id.
        """
        return ChildSpec(
            id,
            _run_as_child,
            args=(self, child_label(self.name, id)),
            restart=restart,
            type=ChildType.SUPERVISOR,
            shutdown=shutdown,
            significant=significant,
        )


def child_label(name: Hashable | None, child_id: Hashable) -> str:
    """How reports call a supervisor that runs as a child: by its name, or its child id."""
    return name_label(name if name is not None else child_id)


@self_protecting
@protected
async def _run_as_child(
    definition: Supervisor, label: str, *, task_status: trio.TaskStatus[SupervisorRef]
) -> None:
    await run_supervisor(_SupervisorState(definition, label), task_status)


@final
class SupervisorRef(metaclass=NoPublicConstructor):
    """A handle on a running supervisor: the runtime API (OTP's ``supervisor:*`` calls).

    Only :meth:`Supervisor.run` creates one. Every method is a checkpoint: the request
    waits in the supervisor's mailbox behind earlier messages (child exits, other
    requests) and is answered in order. A request that was sent is carried out even if
    the caller is cancelled while waiting for the answer.

    Every method raises :class:`SupervisorNotRunning` if the supervisor has ended, or
    ends before answering; none of them hangs on a supervisor that is gone.
    """

    __slots__ = ("_state",)

    def __init__(self, state: _SupervisorState) -> None:
        self._state = state

    @property
    def name(self) -> Hashable | None:
        """The name it runs under, if any."""
        return self._state.definition.name

    @property
    def alive(self) -> bool:
        """Whether it still accepts requests (it is not stopping, nor has it ended)."""
        return not self._state.stopping

    def __repr__(self) -> str:
        return f"<SupervisorRef {self._state.label} ({self._state.phase()})>"

    async def _request(self, operation: Callable[[_SupervisorState], Awaitable[T]]) -> T:
        return await send_request(self._state, operation)

    async def stop(
        self,
        reason: Exception | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as OTP's Supervisor.stop/3
    ) -> None:
        """Stop the supervisor from outside and wait until it has ended (OTP's
        ``supervisor:stop/3``): every child stops in reverse start order within its own
        shutdown budget, as on any shutdown, then :meth:`Supervisor.run` returns (no
        ``reason``) or raises ``reason``, so a parent supervisor sees the exit it would
        see for any child: normal, :class:`Shutdown`, or a crash. A checkpoint.

        The request joins the mailbox behind what is already there. ``timeout`` (default
        ``None``, as long as it takes, as OTP's ``infinity``) bounds only the wait: the
        stop goes on.

        Raises:
          SupervisorNotRunning: it had already ended, or began ending for another reason
            (escalation, auto-shutdown, cancellation) before the request was handled.
          SupervisorTimeout: it had not ended within ``timeout``.
          TypeError, ValueError: ``reason`` is neither None nor an exception, or
            ``timeout`` is not None or a number of seconds >= 0 (checked before sending).
        """
        check_stop_reason(reason, "stop's reason")
        seconds = check_timeout(timeout, "stop's timeout")
        await stop_supervisor(self._state, reason, seconds)

    async def start_child(self, spec: ChildSpec[T]) -> T:
        """Add a child and start it; it goes last in start order. Returns its reference,
        typed as the spec's (``ChildSpec[T]`` gives a ``T``).

        Raises:
          ChildAlreadyStarted: a running child has that id (its ``ref`` is attached).
          ChildAlreadyPresent: a stopped or restarting child has that id.
          ChildStartError: the start failed; the spec is not added.
          ChildIgnored: the start function returned :class:`Ignore`; the spec is kept,
            not running (``kept=True``), unless the child is temporary (OTP's
            ``{ok, undefined}``).
          TypeError, ValueError: ``spec`` is not a ChildSpec, or is significant under
            ``auto_shutdown=NEVER``; raised before the request is sent.
        """
        _require_spec(spec)
        _check_significant(spec, self._state.definition.auto_shutdown)
        ref = await self._request(lambda state: state.start_new_child(spec))
        return cast("T", ref)  # what the spec's start function passed to started()

    async def terminate_child(self, id: Hashable) -> None:  # noqa: A002
        """Stop a child with its shutdown policy, without restarting it.

        Its spec is kept (``restart_child`` starts it again), except for a temporary
        child, whose spec is deleted. Stopping a child that is not running returns at
        once; stopping a restarting child ends its retries. No restart is counted and no
        auto-shutdown follows.

        Raises:
          ChildNotFound: no child has that id.
        """
        await self._request(lambda state: state.terminate_child(id))

    async def restart_child(self, id: Hashable) -> object:  # noqa: A002
        """Start again a child whose spec is kept but which is not running. Returns its reference.

        Typed ``object``: an id does not say the child's type. Narrow it with
        ``isinstance``, or read it from :meth:`which_children` with :meth:`ChildInfo.ref_as`.

        Not counted toward the restart intensity. If the start fails the spec stays,
        stopped, and the error is raised (no retries).

        Raises:
          ChildNotFound, ChildRunning, ChildRestarting, ChildStartError
          ChildIgnored: the start returned :class:`Ignore`; the spec stays, not running
            (OTP's ``{ok, undefined}``).
        """
        return await self._request(lambda state: state.restart_child(id))

    async def delete_child(self, id: Hashable) -> None:  # noqa: A002
        """Remove the spec of a child that is not running.

        Raises:
          ChildNotFound, ChildRunning, ChildRestarting
        """
        await self._request(lambda state: state.delete_child(id))

    async def get_childspec(self, id: Hashable) -> ChildSpec:  # noqa: A002
        """The spec of a child. Raises :class:`ChildNotFound`."""
        return await self._request(lambda state: state.get_childspec(id))

    async def which_children(self) -> list[ChildInfo]:
        """Every child, **newest first** (reverse start order), as OTP lists them."""
        return await self._request(_SupervisorState.which_children)

    async def count_children(self) -> ChildCounts:
        """How many specs, running children, supervisors and workers (specs, running or not)."""
        return await self._request(_SupervisorState.count_children)


async def run_supervisor(state: _SupervisorState, task_status: trio.TaskStatus[Any]) -> None:
    """The body of every supervisor's ``run``: the control loop as a task of the
    supervisor's nursery, and this task waiting in the nursery's exit (see the module
    docstring for why)."""
    state.run_task = trio.lowlevel.current_task()
    ending: BaseException | None = None
    try:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    state.serve, nursery, task_status, name=f"trio_otp supervisor {state.label}"
                )
        except BaseExceptionGroup as group:
            interrupt = first_interrupt(group)
            if interrupt is not None:
                raise interrupt from None
            raise
    except BaseException as error:
        ending = error
        raise
    finally:
        state.ended.set()
        state.tell_monitors(ending)
        # No reference cycles left for the collector: the error's traceback holds this
        # frame, the ref holds the state (with a record of every child), and the child
        # this supervisor runs as holds the ref.
        ending = None
        state.ref = state.owner = None
    exit_error = state.exit_error
    if exit_error is not None:
        # Raised from a frame that names neither it nor the state, which leads to it:
        # the error's traceback holds this frame.
        del state, task_status, nursery
        try:
            raise exit_error
        finally:
            del exit_error


async def stop_supervisor(state: _SupervisorState, reason: Exception | None, seconds: float) -> None:
    """What every supervisor ref's ``stop`` does, once its arguments are checked: the
    timeout bounds the whole call, the wait in the mailbox included (the request, once
    sent, is carried out all the same)."""
    if state.ended.is_set():
        msg = f"supervisor {state.label} is not running"
        raise SupervisorNotRunning(msg)
    request = _StopRequest(reason)
    with trio.move_on_after(seconds):
        try:
            await send_request(state, lambda loop: loop.stop_requested(request))
        except SupervisorNotRunning:
            # It began ending before the request's turn: wait for the end all the same, so
            # that the name is free when this returns, and say if it ended for another reason.
            await state.ended.wait()
            if state.stop_request is None:
                msg = f"supervisor {state.label} ended ({describe_exit(state.exit_error)}) before the stop"
                raise SupervisorNotRunning(msg) from None
            return
        await state.ended.wait()
        return
    msg = f"supervisor {state.label} did not stop within {seconds:g} s; it goes on stopping"
    raise SupervisorTimeout(msg)


@protected
async def send_request(state: _SupervisorState, operation: Callable[[Any], Awaitable[T]]) -> T:
    """Put a request in a supervisor's mailbox and wait for its answer (both refs use it).

    Refused from a child the control loop is waiting for (to become ready, or to stop),
    or from within one: the loop would answer only after the child, which waits for it.
    """
    waited = (state.waiting_for, state.pending)
    if waited != (None, None) and not state.stopping:  # stopping: refused below, as for anyone
        child = _current_child()
        while child is not None:
            if child in waited:
                msg = (
                    f"child {safe_repr(child.spec.id)} asked its own supervisor {state.label} for something "
                    "while the supervisor waits for it (to start or to stop): that could only deadlock"
                )
                raise SupervisorError(msg)
            child = child.parent
    request: _Request[T] = _Request(operation)
    try:
        state.send.send_nowait(cast("_Request[object]", request))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        msg = f"supervisor {state.label} is not running"
        raise SupervisorNotRunning(msg) from None
    await request.done.wait()
    if request.error is not None:
        raise request.error
    return cast("T", request.value)  # set, since no error was


# --- the control loop --------------------------------------------------------------


class _Child:
    """The supervisor's record of one child spec."""

    __slots__ = ("last_error", "restarting", "restarts", "spec", "task")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec: ChildSpec = spec
        self.restarts: int = 0
        self.task: ChildTask | None = None  # the running (or starting) task
        self.restarting: bool = False  # a restart failed and a retry is queued
        self.last_error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self.task is not None


@attrs.define(eq=False)
class _ChildExited:
    child: _Child
    task: ChildTask


@attrs.define(eq=False)
class _RetryRestart:
    child: _Child


class _Wake:
    """Nothing to do but look at ``stopping`` again (set outside the loop, see report_exit)."""


@attrs.define(eq=False)
class _StopRequest:
    reason: BaseException | None


@attrs.define(eq=False)
class _Request(Generic[T]):
    operation: Callable[[_SupervisorState], Awaitable[T]]
    done: trio.Event = attrs.field(factory=trio.Event)
    value: T | None = None
    error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


_Message = _ChildExited | _RetryRestart | _Wake | _Request[object]


class _StartFailed(Exception):
    """Internal: a child's start function failed; ``error`` is why."""

    def __init__(self, child: _Child, error: BaseException) -> None:
        super().__init__(child.spec.id)
        self.child = child
        self.error = error


class _SupervisorState:
    """One run of a supervisor: the state its control loop owns."""

    #: What :func:`trio_otp.processes` calls it (a TaskSupervisor sets its own).
    kind = "supervisor"

    def __init__(self, definition: Supervisor, label: str | None = None) -> None:
        self.definition = definition
        if label is None:
            label = (
                name_label(definition.name) if definition.name is not None else f"<unnamed at {id(self):#x}>"
            )
        self.label: str = label
        self.strategy: RestartStrategy = definition.strategy
        self.intensity: RestartIntensity = RestartIntensity(
            definition.max_restarts, definition.max_seconds, trio.current_time
        )
        # Start order; a dict used as an ordered set, so that removing a child is O(1).
        self.children: dict[_Child, None] = {}
        self.by_id: dict[Hashable, _Child] = {}
        for spec in definition.children:
            self.add(_Child(spec))
        send, receive = trio.open_memory_channel[_Message](math.inf)
        self.send: trio.MemorySendChannel[_Message] = send
        self.receive: trio.MemoryReceiveChannel[_Message] = receive
        self.nursery: trio.Nursery | None = None
        self.spawn_context: contextvars.Context = contextvars.Context()
        self.exit_error: BaseException | None = None
        self.stopping: bool = False
        # A restart begun outside the loop (see report_exit) whose child is not ready yet.
        self.pending: ChildTask | None = None
        # The child whose task tree this supervisor runs in, if any: our children's parent.
        self.owner: ChildTask | None = None
        # The task that runs Supervisor.run, and the end of that run.
        self.run_task: trio.lowlevel.Task | None = None
        self.ended: trio.Event = trio.Event()
        self.ref: object = None  # made in serve, before any child starts
        # The child the loop waits for, to start or to stop; its requests are refused.
        self.waiting_for: ChildTask | None = None
        self.stop_request: _StopRequest | None = None  # the stop() that ended it, if one did
        self.monitors: dict[Any, None] | None = None  # trio_otp.monitor()s of it, oldest first
        self.exit_reason: BaseException | None = None  # as monitors were told, once ended

    @protected
    def tell_monitors(self, ending: BaseException | None) -> None:
        """Once it has ended: its exit reason, as a monitor's Down gives it (``None``
        normal, a Shutdown, or the error), to each monitor, once."""
        reason = self.exit_error
        if reason is None and ending is not None:
            reason = Shutdown(f"supervisor {self.label} was cancelled")
        self.exit_reason = reason
        for monitor in list(self.monitors or ()):
            monitor._fire(reason)

    def phase(self) -> str:
        """For reprs: running, stopping (its children) or ended."""
        return "ended" if self.ended.is_set() else "stopping" if self.stopping else "running"

    def make_ref(self) -> object:
        """The reference callers get: a :class:`SupervisorRef` (subclasses make theirs)."""
        return SupervisorRef._create(self)

    # -- the loop --

    @protected
    async def serve(self, nursery: trio.Nursery, task_status: trio.TaskStatus[Any]) -> None:
        self.nursery = nursery
        self.owner = _current_child()
        self.spawn_context = contextvars.copy_context()
        name = self.definition.name
        current: _Request[object] | None = None
        list_supervisor(self)
        try:
            self.ref = self.make_ref()
            if name is not None:
                try:
                    register_name(name, typing.cast("NamedRef", self.ref))
                except NameTaken as taken:
                    self.exit_error = taken
                    return
            try:
                for child in list(self.children):
                    await self.start(child)
            except _StartFailed as failure:
                self.exit_error = self.start_error(failure)
                return
            task_status.started(self.ref)
            while not self.stopping:
                message = await self.receive.receive()
                if isinstance(message, _Request):
                    current = message
                pending = self.pending
                if pending is not None:
                    # As if the loop had been busy starting it when the message came.
                    await self.wait_for(pending, pending.wait_ready)
                if self.shutting_down():
                    break  # decided outside the loop; a request is failed below
                if isinstance(message, _Request):
                    await self.handle_request(message)
                    current = None
                elif isinstance(message, _ChildExited):
                    await self.handle_exit(message.child, message.task)
                elif (
                    isinstance(message, _RetryRestart)
                    and message.child.restarting
                    and message.child in self.children
                ):
                    await self.restart(message.child, message.child.last_error)
                    self.after_exit(message.child)  # a retry that ignored: forgotten if dynamic
        finally:
            # Reached on every way out: escalation, auto-shutdown, a failed start,
            # cancellation from outside, KeyboardInterrupt. Requests are refused from now
            # on (a child that asked its own supervisor something while being stopped
            # would otherwise wait for a loop that waits for it). The stop is shielded so
            # that each child gets its whole budget even when we are being cancelled.
            self.stopping = True
            self.close_mailbox(current)
            try:
                with trio.CancelScope(shield=True):
                    await self.stop_all()
            finally:
                forget_supervisor(self)  # listed while it stops its children

    def close_mailbox(self, current: _Request[object] | None) -> None:
        gone = SupervisorNotRunning(f"supervisor {self.label} stopped before answering")
        if current is not None:
            current.fail(gone)
        # Closed first, so nothing new can arrive; then every request still waiting
        # gets an answer instead of hanging.
        self.send.close()
        while True:
            try:
                message = self.receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if isinstance(message, _Request):
                message.fail(gone)
        self.receive.close()

    def report_exit(self, child: _Child, task: ChildTask) -> None:
        """Called by a child's task when it ends on its own (not stopped by us).

        Normally the exit goes into the mailbox. But when the loop is idle (parked on an
        empty mailbox, nothing in flight) and a one_for_one restart needs no other child
        stopped, the exiting task makes the decision and spawns the replacement itself:
        the loop would have done exactly that, at the same moment, a scheduling round
        later. Until the replacement is ready the loop treats it as its own start in
        progress: any message that arrives first waits for it.
        """
        if (
            self.pending is None
            and self.strategy is RestartStrategy.ONE_FOR_ONE
            and not self.stopping
            and self.receive.statistics().tasks_waiting_receive == 1
        ):
            if self.decide_exit(child, task) and self.may_restart(child, child.last_error):
                self.begin_restart(child, child.last_error)
                return
            self.after_exit(child)
            if self.shutting_down():
                self.post(_Wake())
            return
        self.post(_ChildExited(child, task))

    def shutting_down(self) -> bool:
        """``stopping``, read through a call: it changes across awaits and behind a type
        checker's back (in report_exit), so no narrowing may stick to it."""
        return self.stopping

    def post(self, message: _Message) -> None:
        # A send can only fail once the loop has ended, and then nobody cares.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            self.send.send_nowait(message)

    def begin_restart(self, child: _Child, cause: BaseException | None) -> None:
        """A one_for_one restart from outside the loop: spawn now, finish in pending_ready."""
        child.restarts += 1
        task = self.spawn(child)
        self.pending = task
        task.on_ready = functools.partial(self.pending_ready, child, cause)

    def pending_ready(self, child: _Child, cause: BaseException | None, task: ChildTask) -> None:
        """The end of begin_restart's start, in the child's task: what restart() does
        after its start, with a failed start retried through the mailbox."""
        self.pending = None
        if child.task is not task or (not task.is_started and task.error is None and not task.ignored):
            return  # stopped by the supervisor (shutting down) before it was ready
        try:
            started = self.check_started(child, task)
        except _StartFailed:
            child.restarting = True
            self.post(_RetryRestart(child))
            return
        if started:
            self.restarted(child, cause)
        else:
            self.after_exit(child)

    # -- starting and stopping one child --

    async def start(self, child: _Child) -> bool:
        """Start one child and wait until it is ready; raise _StartFailed if it fails.
        False if it ignored its start (see check_started)."""
        task = self.spawn(child)
        await self.wait_for(task, task.wait_ready)
        return self.check_started(child, task)

    async def wait_for(self, task: ChildTask, wait: Callable[[], Awaitable[None]]) -> None:
        """The loop waits for one child: its requests would deadlock (see send_request)."""
        self.waiting_for = task
        try:
            await wait()
        finally:
            self.waiting_for = None

    def spawn(self, child: _Child) -> ChildTask:
        """Start the child's task; ``task.wait_ready()`` waits until its start is over."""
        assert self.nursery is not None
        task = ChildTask(child.spec, self.owner)
        task.supervisor, task.record = self, child
        child.task = task
        # From the supervisor's own context, whichever task spawns it (the control loop, an
        # exiting child restarting itself, a DynamicSupervisor caller): a child never
        # inherits the context variables of the task that happened to start it.
        self.spawn_context.run(self._start_task, task, child)
        return task

    def _start_task(self, task: ChildTask, child: _Child) -> None:
        assert self.nursery is not None
        self.nursery.start_soon(task.run, self, child, name=child.spec.task_name())

    def check_started(self, child: _Child, task: ChildTask) -> bool:
        """Once ``task.ready``: raise _StartFailed (and log) if the start failed; return
        False if it ignored its start (OTP's ``ignore``): then the child is not running,
        and a temporary one is removed, as OTP's start_children and start_child do."""
        if task.ignored:
            child.task = None
            child.restarting = False
            self.log_ignored(child)
            if child.spec.restart is Restart.TEMPORARY and child in self.children:
                self.remove(child)
            return False
        if not task.is_started:
            child.task = None
            assert task.error is not None
            child.last_error = task.error
            if isinstance(task.error, Exception):  # not an interrupt going up the tree
                self.log_start_error(child, task.error)
            raise _StartFailed(child, task.error)
        child.restarting = False
        self.emit_started(child, task)
        return True

    def log_ignored(self, child: _Child) -> None:
        emit("child_ignored", {}, {"supervisor": self.label, "child_id": child.spec.id})
        logger.info(
            "supervisor %s: child %r ignored its start (returned Ignore); it is not running",
            self.label,
            child.spec.id,
            extra=self.report("child_ignored", child, None),
        )

    def emit_started(self, child: _Child, task: ChildTask) -> None:
        emit("child_started", {}, {"supervisor": self.label, "child_id": child.spec.id, "ref": task.ref})

    def log_start_error(self, child: _Child, error: BaseException) -> None:
        logger.error(
            "supervisor %s: child %r failed to start: %r",
            self.label,
            child.spec.id,
            error,
            exc_info=error,
            extra=self.report("start_error", child, error),
        )

    def start_error(self, failure: _StartFailed) -> ChildStartError:
        return ChildStartError(self.label, failure.child.spec.id, failure.error, describe_exit(failure.error))

    async def stop(self, child: _Child, why: str) -> None:
        """Stop one child (if running) within its shutdown policy; shielded."""
        task = child.task
        child.task = None
        child.restarting = False
        if task is None:
            return
        reason = f"trio_otp: supervisor {self.label} is stopping child {child.spec.id!r} ({why})"
        with trio.CancelScope(shield=True):
            on_late = functools.partial(self.report_late, task)
            await self.wait_for(task, functools.partial(task.stop, reason, on_late))
        emit("child_stopped", {}, {"supervisor": self.label, "child_id": child.spec.id, "reason": why})
        signal = task.exit_signal
        if signal is not None and task.error is signal.reason:
            pass  # the reason of an exit sent from outside, which this stop took over
        elif isinstance(task.error, Exception):  # an interrupt goes up the tree, unreported
            # A child that fails while being stopped (or fails to start while the
            # supervisor is shutting down) changes nothing, but is not kept quiet.
            kind = "shutdown_error" if task.is_started else "start_error"
            logger.error(
                "supervisor %s: child %r raised while stopping: %s",
                self.label,
                child.spec.id,
                safe_repr(task.error),
                exc_info=task.error,
                extra=self.report(kind, task.spec.id, task.error),
            )

    def report_late(self, task: ChildTask) -> None:
        """At the moment a stopping child's report deadline passes with the child running."""
        if task.kill_deadline == -math.inf:
            how = (
                f"is still running {BRUTAL_KILL_REPORT_AFTER:g} s after a BRUTAL_KILL stop, so it "
                "shields itself from cancellation"
            )
        else:
            how = (
                f"did not stop within its shutdown budget (shutdown={_budget(task.spec.shutdown)}, "
                "or its supervisor's if that ran out first); its cleanup was cancelled"
            )
        logger.error(
            "supervisor %s: child %s %s, and the supervisor goes on waiting for it",
            self.label,
            safe_repr(task.spec.id),
            how,
            extra=self.report("shutdown_error", task.spec.id, None),
        )

    async def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.task is not None:
                await self.stop(child, "the supervisor is shutting down")

    def add(self, child: _Child) -> None:
        self.children[child] = None
        self.by_id[child.spec.id] = child

    def remove(self, child: _Child) -> None:
        del self.children[child]
        del self.by_id[child.spec.id]

    def report(
        self,
        kind: str,
        child: _Child | Hashable | None,
        error: BaseException | None,
        described: str | None = None,
    ) -> dict[str, object]:
        """Structured fields attached to every log record, for log processors: the
        display strings (``supervisor``, ``reason``) and the raw values beside them (see
        ``_log_fields``). ``described`` is ``describe_exit(error)``, when already worked out."""
        return {
            "otp_report": kind,
            "supervisor": self.label,
            **supervisor_fields(self),
            "child_id": child.spec.id if isinstance(child, _Child) else child,
            "reason": describe_exit(error) if described is None else described,
            **error_fields(error),
        }

    # -- exits and restarts --

    async def handle_exit(self, child: _Child, task: ChildTask) -> None:
        if self.decide_exit(child, task):
            await self.restart(child, child.last_error)
        self.after_exit(child)

    def decide_exit(self, child: _Child, task: ChildTask) -> bool:
        """Record a child's exit and log it; return whether its restart type asks for a
        restart (the intensity is checked by the caller). Never awaits."""
        if child.task is not task:
            return False  # an exit from a task we already replaced or stopped
        child.task = None
        # The record keeps the error, the task no longer: the error's traceback holds the
        # start function's frame, whose task_status is the task, so the two would be a
        # reference cycle, and the ended task with its frames would wait for the collector.
        error = child.last_error = task.error
        task.error = None
        kind = exit_kind(error)
        emit(
            "child_exited",
            {},
            {"supervisor": self.label, "child_id": child.spec.id, "kind": kind.value, "error": error},
        )
        restart = child.spec.restart
        level = logging.ERROR if kind is ExitKind.CRASH else logging.INFO
        # The report's arguments cost more than the restart: built only if it is logged.
        logged = logger.isEnabledFor(level)
        if restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and kind is ExitKind.CRASH):
            if logged:
                described = describe_exit(error)
                logger.log(
                    level,
                    "supervisor %s: child %r %s",
                    self.label,
                    child.spec.id,
                    described,
                    exc_info=error if kind is ExitKind.CRASH else None,
                    extra=self.report("child_terminated", child, error, described),
                )
            return True
        if restart is Restart.TEMPORARY:
            if kind is ExitKind.CRASH and logged:
                described = describe_exit(error)
                logger.log(
                    level,
                    "supervisor %s: temporary child %r %s; not restarted",
                    self.label,
                    child.spec.id,
                    described,
                    exc_info=error,
                    extra=self.report("child_terminated", child, error, described),
                )
            self.remove(child)
        self.check_auto_shutdown(child)
        return False

    def after_exit(self, child: _Child) -> None:
        """After an exit has been handled (restarted or not); DynamicSupervisor forgets
        children that are not coming back."""

    async def restart(self, child: _Child, cause: BaseException | None) -> None:
        """One restart decision: the intensity check first, then the strategy."""
        if not self.may_restart(child, cause):
            return
        try:
            started = await self.restart_by_strategy(child)
        except _StartFailed as failure:
            failed = failure.child
            failed.restarting = True
            # Retried through the mailbox, after whatever is already waiting there (OTP's
            # cast to self), so requests and a shutdown can come first.
            self.post(_RetryRestart(failed))
            return
        if started:  # one that ignored its restart stays down (logged as child_ignored)
            self.restarted(child, cause)

    def may_restart(self, child: _Child, cause: BaseException | None) -> bool:
        """Count a restart against the intensity; if that exceeds it, escalate instead."""
        if self.intensity.add_restart():
            return True
        self.escalate(child, cause)
        return False

    def restarted(self, child: _Child, cause: BaseException | None) -> None:
        emit(
            "child_restarted",
            {"restarts": child.restarts},
            {"supervisor": self.label, "child_id": child.spec.id, "strategy": self.strategy.value},
        )
        if logger.isEnabledFor(logging.INFO):  # the arguments cost more than the restart
            logger.info(
                "supervisor %s: restarted child %r (%s, %s in the last %g s)",
                self.label,
                child.spec.id,
                self.strategy.value,
                _restarts(self.intensity.restarts_in_window(), self.intensity.max_restarts),
                self.intensity.max_seconds,
                extra=self.report("child_restarted", child, cause),
            )

    async def restart_by_strategy(self, child: _Child) -> bool:
        """Restart by strategy; False if ``child`` itself ignored its restart."""
        if self.strategy is RestartStrategy.ONE_FOR_ONE:
            child.restarts += 1
            return await self.start(child)
        if self.strategy is RestartStrategy.ONE_FOR_ALL:
            group = list(self.children)
        else:
            in_order = list(self.children)
            group = in_order[in_order.index(child) :]
        why = f"{self.strategy.value} restart after child {child.spec.id!r} exited"
        for member in reversed(group):
            await self.stop(member, why)
            if member.spec.restart is Restart.TEMPORARY and member is not child:
                self.remove(member)  # temporary bystanders are dropped, never restarted
        started = True
        for member in group:
            if member.spec.restart is not Restart.TEMPORARY or member is child:
                member.restarts += 1
                if not await self.start(member) and member is child:
                    started = False
        return started

    def escalate(self, child: _Child, cause: BaseException | None) -> None:
        error = RestartIntensityExceeded(
            self.label, child.spec.id, self.intensity.max_restarts, self.intensity.max_seconds
        )
        error.__cause__ = cause
        logger.error(
            "supervisor %s: child %r needs a restart, but max_restarts=%d within %g s is used up; "
            "stopping all children and escalating",
            self.label,
            child.spec.id,
            self.intensity.max_restarts,
            self.intensity.max_seconds,
            extra=self.report("reached_max_restart_intensity", child, cause),
        )
        child.restarting = False
        self.exit_error = error
        self.stopping = True
        emit(
            "supervisor_escalated", {}, {"supervisor": self.label, "child_id": child.spec.id, "error": cause}
        )

    def check_auto_shutdown(self, child: _Child) -> None:
        rule = self.definition.auto_shutdown
        if rule is AutoShutdown.NEVER or not child.spec.significant:
            return
        if rule is AutoShutdown.ALL_SIGNIFICANT and any(
            other.spec.significant and (other.running or other.restarting) for other in self.children
        ):
            return
        logger.info(
            "supervisor %s: significant child %r ended; auto_shutdown=%s stops the supervisor",
            self.label,
            child.spec.id,
            rule.value,
            extra=self.report("auto_shutdown", child, None),
        )
        self.stopping = True

    # -- runtime API --

    async def stop_requested(self, request: _StopRequest) -> None:
        """:meth:`SupervisorRef.stop`: end the loop; ``run`` then exits with the reason."""
        self.exit_error = request.reason
        self.stop_request = request
        self.stopping = True

    async def handle_request(self, request: _Request[object]) -> None:
        try:
            request.value = await request.operation(self)
        except Exception as error:  # whatever a request raises is its caller's, never the loop's
            request.error = error
        request.done.set()

    def find(self, id: Hashable) -> _Child:  # noqa: A002
        try:
            return self.by_id[id]
        except (KeyError, TypeError):
            msg = f"supervisor {self.label} has no child with id {id!r}"
            raise ChildNotFound(msg) from None

    async def start_new_child(self, spec: ChildSpec) -> object:
        existing = self.by_id.get(spec.id)
        if existing is not None:
            if existing.task is not None:
                msg = f"supervisor {self.label} already runs a child with id {spec.id!r}"
                raise ChildAlreadyStarted(msg, existing.task.ref)
            msg = (
                f"supervisor {self.label} already has a child spec with id {spec.id!r} (not running); "
                "use restart_child or delete_child"
            )
            raise ChildAlreadyPresent(msg)
        child = await self.add_and_start(spec)
        assert child.task is not None
        return child.task.ref

    async def add_and_start(self, spec: ChildSpec) -> _Child:
        """Add a child last in start order and start it; if the start fails, remove it
        again and raise ChildStartError."""
        child = _Child(spec)
        self.add(child)
        try:
            started = await self.start(child)
        except _StartFailed as failure:
            self.remove(child)
            raise self.start_error(failure) from failure.error
        if not started:  # kept, not running, unless temporary (then check_started removed it)
            raise ChildIgnored(self.label, spec.id, kept=spec.restart is not Restart.TEMPORARY)
        return child

    async def terminate_child(self, id: Hashable) -> None:  # noqa: A002
        child = self.find(id)
        await self.stop(child, "terminate_child")
        if child.spec.restart is Restart.TEMPORARY:
            self.remove(child)

    async def running_task(self, id: Hashable) -> ChildTask:  # noqa: A002
        """The task of a running child (for testing.exit_child)."""
        child = self.find(id)
        if child.task is None or not child.task.is_started:
            msg = f"child {id!r} of supervisor {self.label} is not running"
            raise ChildNotFound(msg)
        return child.task

    async def restart_child(self, id: Hashable) -> object:  # noqa: A002
        child = self.find(id)
        self.check_stopped(child)
        try:
            started = await self.start(child)
        except _StartFailed as failure:
            raise self.start_error(failure) from failure.error
        if not started:
            raise ChildIgnored(self.label, id, kept=child in self.children)
        assert child.task is not None
        return child.task.ref

    async def delete_child(self, id: Hashable) -> None:  # noqa: A002
        child = self.find(id)
        self.check_stopped(child)
        self.remove(child)

    async def get_childspec(self, id: Hashable) -> ChildSpec:  # noqa: A002
        return self.find(id).spec

    def check_stopped(self, child: _Child) -> None:
        if child.task is not None:
            msg = f"child {child.spec.id!r} of supervisor {self.label} is running"
            raise ChildRunning(msg)
        if child.restarting:
            msg = f"child {child.spec.id!r} of supervisor {self.label} is being restarted"
            raise ChildRestarting(msg)

    def listed_children(self) -> list[_Child]:
        """The children queries report: not those a DynamicSupervisor caller is still
        starting (their start has not returned; OTP's query would wait behind it)."""
        return [child for child in self.children if child.task is None or child.task.is_started]

    async def which_children(self) -> list[ChildInfo]:
        infos: list[ChildInfo] = []
        for child in reversed(self.listed_children()):
            if child.task is not None:
                state = ChildState.RUNNING
            elif child.restarting:
                state = ChildState.RESTARTING
            else:
                state = ChildState.STOPPED
            infos.append(ChildInfo._of(child, state))
        return infos

    async def count_children(self) -> ChildCounts:
        children = self.listed_children()
        supervisors = sum(1 for child in children if child.spec.type is ChildType.SUPERVISOR)
        return ChildCounts(
            specs=len(children),
            active=sum(1 for child in children if child.task is not None),
            supervisors=supervisors,
            workers=len(children) - supervisors,
        )
