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

import math
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar, final

import attrs
import trio

from ._child import ChildTask
from ._child_spec import ChildSpec, ChildType
from ._exceptions import ChildNotFound, MaxChildrenReached, SupervisorNotRunning
from ._intensity import validate_max_restarts, validate_max_seconds
from ._supervisor import (
    AutoShutdown,
    ChildCounts,
    ChildInfo,
    RestartStrategy,
    Supervisor,
    _Child,
    _Message,
    _require_spec,
    _StartFailed,
    _SupervisorState,
    logger,
    send_request,
)
from ._util import NoPublicConstructor, describe


@final
class DynamicChild(metaclass=NoPublicConstructor):
    """A child of a :class:`DynamicSupervisor`, as :meth:`DynamicSupervisorRef.start_child`
    returns it. It names the child across restarts (OTP's pid would change)."""

    __slots__ = ("_child",)

    def __init__(self, child: _Child) -> None:
        self._child = child

    @property
    def id(self) -> Hashable:
        return self._child.spec.id

    @property
    def ref(self) -> object:
        """The value the current run passed to ``task_status.started()``; ``None`` when
        the child is not running."""
        task = self._child.task
        return None if task is None else task.ref

    @property
    def running(self) -> bool:
        return self._child.task is not None

    def __repr__(self) -> str:
        return f"<DynamicChild {self.id!r} ({'running' if self.running else 'not running'})>"


def _check_max_children(_instance: object, _attribute: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        msg = f"max_children must be a whole number >= 0 or math.inf, got {describe(value)}"
        raise ValueError(msg)


@attrs.frozen
class DynamicSupervisor:
    """A supervisor whose children are started at run time (Elixir's DynamicSupervisor).

    Args:
      max_restarts, max_seconds: the restart intensity, as for :class:`Supervisor`
        (defaults 3 in 5 s, as Elixir's DynamicSupervisor).
      max_children: how many children may run at once (default unlimited); one more
        ``start_child`` raises :class:`MaxChildrenReached`.
      name: a name for reports.

    Raises:
      TypeError, ValueError: a bad value, naming the rule.
    """

    max_restarts: int = attrs.field(default=3, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)
    max_children: float = attrs.field(default=math.inf, kw_only=True, validator=_check_max_children)
    name: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        validate_max_restarts(self.max_restarts)
        object.__setattr__(self, "max_seconds", validate_max_seconds(self.max_seconds))

    async def run(
        self, *, task_status: trio.TaskStatus[DynamicSupervisorRef] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled or until restarts exceed the intensity; reports a
        :class:`DynamicSupervisorRef` through ``task_status`` at once.

        Raises:
          RestartIntensityExceeded: after stopping every child.
          trio.Cancelled: cancelled from outside, after every child stopped.
        """
        definition = Supervisor(
            [],
            strategy=RestartStrategy.ONE_FOR_ONE,
            max_restarts=self.max_restarts,
            max_seconds=self.max_seconds,
            auto_shutdown=AutoShutdown.NEVER,
            name=self.name,
        )
        state = _DynamicState(definition, self.max_children)
        async with trio.open_nursery() as nursery:
            await state.serve(nursery, _RefStatus(task_status, state))
        if state.exit_error is not None:
            raise state.exit_error

    def child_spec(self, id: Hashable, **options: object) -> ChildSpec:  # noqa: A002
        """A :class:`ChildSpec` that runs this DynamicSupervisor under another supervisor;
        ``options`` as :class:`ChildSpec`'s (restart, shutdown, significant)."""
        definition = self if self.name is not None else attrs.evolve(self, name=str(id))
        options.setdefault("type", ChildType.SUPERVISOR)
        return ChildSpec(id, definition.run, **options)  # type: ignore[arg-type]


def _check_dynamic_spec(spec: object) -> None:
    _require_spec(spec)
    assert isinstance(spec, ChildSpec)
    if spec.significant:
        msg = f"child {spec.id!r}: a DynamicSupervisor has no auto_shutdown, so no child can be significant"
        raise ValueError(msg)


T = TypeVar("T")


class _RefStatus(trio.TaskStatus[object]):
    """Turns the SupervisorRef the shared loop reports into a DynamicSupervisorRef."""

    def __init__(self, inner: trio.TaskStatus[DynamicSupervisorRef], state: _DynamicState) -> None:
        self.inner, self.state = inner, state

    def started(self, value: object = None) -> None:
        self.inner.started(DynamicSupervisorRef._create(self.state.label, self.state.send))


@final
class DynamicSupervisorRef(metaclass=NoPublicConstructor):
    """A handle on a running :class:`DynamicSupervisor`. Every method is a checkpoint
    answered in mailbox order, and raises :class:`SupervisorNotRunning` once it has ended."""

    __slots__ = ("_name", "_send")

    def __init__(self, name: str, send: trio.MemorySendChannel[_Message]) -> None:
        self._name = name
        self._send = send

    def __repr__(self) -> str:
        return f"<DynamicSupervisorRef {self._name}>"

    async def _request(self, operation: Callable[[Any], Awaitable[T]]) -> T:
        return await send_request(self._send, self._name, operation)

    async def start_child(self, spec: ChildSpec) -> DynamicChild:
        """Start a child from ``spec`` (its ``args`` are this child's arguments).

        Raises:
          MaxChildrenReached: ``max_children`` children are running.
          ChildStartError: the start failed; nothing is added.
          TypeError: ``spec`` is not a ChildSpec.
          ValueError: ``spec`` is significant (a DynamicSupervisor has no auto-shutdown).
        """
        _check_dynamic_spec(spec)
        await trio.lowlevel.checkpoint_if_cancelled()
        # Shielded: a caller cancelled while the child starts would otherwise lose the
        # only handle to a child that runs anyway. If it was cancelled meanwhile, the
        # child is stopped again before the Cancelled goes on.
        with trio.CancelScope(shield=True):
            child: DynamicChild = await self._request(lambda state: state.start_dynamic(spec))
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            with trio.CancelScope(shield=True):
                try:
                    await self.terminate_child(child)
                except (ChildNotFound, SupervisorNotRunning):
                    pass
            raise
        return child

    async def start_children(self, specs: Iterable[ChildSpec]) -> list[DynamicChild]:
        """Start many children at once, concurrently; returns their handles in spec order.

        All or nothing: if any start fails, the ones that started are stopped again and
        :class:`ChildStartError` is raised for the first failure (in spec order). Much
        faster than one ``start_child`` per spec for large numbers, because the starts
        share the supervisor's and Trio's scheduling rounds instead of taking a few each.

        Raises:
          MaxChildrenReached: the batch would exceed ``max_children``; nothing is started.
          ChildStartError, TypeError, ValueError: as :meth:`start_child`.
        """
        batch = list(specs)
        for spec in batch:
            _check_dynamic_spec(spec)
        await trio.lowlevel.checkpoint_if_cancelled()
        with trio.CancelScope(shield=True):  # as start_child: never lose the handles
            children: list[DynamicChild] = await self._request(lambda state: state.start_batch(batch))
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            with trio.CancelScope(shield=True):
                for child in children:
                    try:
                        await self.terminate_child(child)
                    except (ChildNotFound, SupervisorNotRunning):
                        pass
            raise
        return children

    async def terminate_child(self, child: DynamicChild) -> None:
        """Stop ``child`` with its shutdown policy and forget it; it is not restarted.

        Raises:
          ChildNotFound: it is not a child of this supervisor (any more).
        """
        await self._request(lambda state: state.terminate_dynamic(child))

    async def which_children(self) -> list[ChildInfo]:
        """Every child, newest first."""
        return await self._request(_SupervisorState.which_children)

    async def count_children(self) -> ChildCounts:
        """How many children, running children, supervisors and workers."""
        return await self._request(_SupervisorState.count_children)


class _DynamicState(_SupervisorState):
    def __init__(self, definition: Supervisor, max_children: float) -> None:
        super().__init__(definition)
        self.max_children = max_children

    # Ids need not be unique here, so there is no by-id index.
    def add(self, child: _Child) -> None:
        self.children[child] = None

    def remove(self, child: _Child) -> None:
        del self.children[child]

    async def start_dynamic(self, spec: ChildSpec) -> DynamicChild:
        if len(self.children) >= self.max_children:
            msg = f"supervisor {self.label} already runs max_children={self.max_children:g} children"
            raise MaxChildrenReached(msg)
        return DynamicChild._create(await self.add_and_start(spec))

    async def start_batch(self, specs: list[ChildSpec]) -> list[DynamicChild]:
        if len(self.children) + len(specs) > self.max_children:
            msg = (
                f"supervisor {self.label} has {len(self.children)} children; {len(specs)} more would "
                f"exceed max_children={self.max_children:g}"
            )
            raise MaxChildrenReached(msg)
        batch = [_Child(spec) for spec in specs]
        tasks = []
        for child in batch:
            self.add(child)
            tasks.append(self.spawn(child))
        for task in tasks:
            await task.wait_ready()
        failure: _StartFailed | None = None
        for child, task in zip(batch, tasks, strict=True):
            try:
                self.check_started(child, task)
            except _StartFailed as failed:
                failure = failure or failed
        if failure is not None:
            for child in batch:
                await self.stop(child, "another child of its batch failed to start")
                self.remove(child)
            raise self.start_error(failure) from failure.error
        return [DynamicChild._create(child) for child in batch]

    async def handle_exit(self, child: _Child, task: ChildTask) -> None:
        await super().handle_exit(child, task)
        # A child that is not restarted is forgotten, as in OTP's simple_one_for_one.
        if child.task is None and not child.restarting and child in self.children:
            self.remove(child)

    async def terminate_dynamic(self, handle: DynamicChild) -> None:
        child = handle._child
        if child not in self.children:
            msg = f"{handle!r} is not a child of supervisor {self.label}"
            raise ChildNotFound(msg)
        await self.stop(child, "terminate_child")
        self.remove(child)

    async def stop_all(self) -> None:
        # All at once: every child is cancelled now, each within its own budget, and we
        # wait for them all, so the group takes as long as its slowest member.
        # One wait for the whole group, not a scope per child: with 100,000 children the
        # bookkeeping of a wait each would itself outlast the budgets.
        reason = f"trio_otp: supervisor {self.label} is shutting down"
        tasks = [child.task for child in self.children if child.task is not None]
        for child in self.children:
            child.task = None
            child.restarting = False
        for task in tasks:
            task.begin_stop(reason)
        latest = max((task.kill_deadline for task in tasks), default=-math.inf)
        with trio.CancelScope(shield=True):
            with trio.move_on_at(latest):
                for task in tasks:
                    await task.wait_finished()
            late = [task for task in tasks if not task.finished]
            for task in late:
                await task.wait_finished()
        for task in late:
            logger.error(
                "supervisor %s: child %r did not finish within its shutdown budget; cleanup cancelled",
                self.label,
                task.spec.id,
                extra={"otp_report": "shutdown_error", "supervisor": self.label, "child_id": task.spec.id},
            )
