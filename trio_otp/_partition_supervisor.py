"""PartitionSupervisor: N copies of one child spec, and a key that picks one (Elixir's
PartitionSupervisor).

One process serialises everything sent to it; when that becomes the bottleneck, or one
piece of state should be split into independent shards, a PartitionSupervisor starts
``partitions`` copies of a child and routes each key to one of them: the same key always
to the same partition, so a shard's state stays in one place.

It is a :class:`Supervisor` underneath, as Elixir's is: the children have the ids
``0 .. partitions - 1``, are started in that order, and are restarted by the given
strategy and intensity; :class:`SupervisorRef` and the supervisor functions work on it
as on any supervisor. What it adds is the routing: :class:`Partition` ``(name, key)`` is a
name that resolves, at each use, to the current reference of the partition ``key``
routes to, by reading this supervisor's record of that child (O(1), no message), so a
caller follows a partition across its restarts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

import attrs
import trio

from ._backend import require_trio
from ._checks import check_callable, check_whole_number
from ._child_spec import INFINITY, ChildSpec, ChildType, Restart, ShutdownPolicy
from ._intensity import validate_max_restarts, validate_max_seconds
from ._ki import protected, self_protecting
from ._names import name_label, partition_index
from ._supervisor import RestartStrategy, Supervisor, SupervisorRef, _SupervisorState, run_supervisor
from ._util import describe, name_validator

RefT = TypeVar("RefT")


def _default_partitions() -> int:
    return os.cpu_count() or 1


def _check_partitions(_instance: object, _attribute: object, value: object) -> None:
    check_whole_number(value, "PartitionSupervisor partitions", minimum=1)


def _check_name(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        msg = (
            "PartitionSupervisor.name is required: its partitions are reached through "
            "trio_otp.Partition(name, key)"
        )
        raise TypeError(msg)
    name_validator("PartitionSupervisor")(instance, attribute, value)


def _check_with_arguments(_instance: object, _attribute: object, value: Any) -> None:
    if value is not None:
        check_callable(
            value,
            "PartitionSupervisor with_arguments",
            "None or a callable taking (args, partition) and returning the partition's args",
        )


def _check_spec(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, ChildSpec):
        msg = f"PartitionSupervisor spec must be a ChildSpec, got {describe(value)}"
        raise TypeError(msg)


@attrs.frozen
class PartitionSupervisor(Generic[RefT]):
    """``partitions`` copies of ``spec`` under one supervisor, reached by key through
    :class:`Partition` (Elixir's PartitionSupervisor).

    Args:
      spec: the child each partition runs; its ``id`` is replaced by the partition's
        number, ``0 .. partitions - 1``.
      name: the name it runs under (required, as Elixir's): ``Partition(name, key)``
        reaches a partition; ``whereis(name, SupervisorRef)`` the supervisor itself.
      partitions: how many (default ``os.cpu_count()``, as Elixir's default is the
        number of schedulers).
      with_arguments: ``with_arguments(args, partition)`` gives each partition its own
        arguments from the spec's ``args`` (Elixir's ``:with_arguments``), for example
        to tell a partition its number; called here, once per partition, so that a
        failure is an error at construction. Default: every partition gets ``args``.
      strategy, max_restarts, max_seconds: as :class:`Supervisor`'s (default
        one_for_one, 3 in 5 s).

    Raises:
      TypeError, ValueError: a bad value, naming the rule; whatever ``with_arguments``
        raises.
    """

    spec: ChildSpec[RefT] = attrs.field(validator=_check_spec)
    name: Hashable = attrs.field(kw_only=True, validator=_check_name)
    partitions: int = attrs.field(factory=_default_partitions, kw_only=True, validator=_check_partitions)
    with_arguments: Callable[[tuple[Any, ...], int], Iterable[Any]] | None = attrs.field(
        default=None, kw_only=True, validator=_check_with_arguments
    )
    strategy: RestartStrategy = attrs.field(default=RestartStrategy.ONE_FOR_ONE, kw_only=True)
    max_restarts: int = attrs.field(default=3, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)
    _supervisor: Supervisor = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        validate_max_restarts(self.max_restarts)
        object.__setattr__(self, "max_seconds", validate_max_seconds(self.max_seconds))
        children = [
            attrs.evolve(self.spec, id=partition, args=self._arguments(partition))
            for partition in range(self.partitions)
        ]
        supervisor = Supervisor(
            children,
            strategy=self.strategy,
            max_restarts=self.max_restarts,
            max_seconds=self.max_seconds,
            name=self.name,
        )
        object.__setattr__(self, "_supervisor", supervisor)

    def _arguments(self, partition: int) -> tuple[Any, ...]:
        if self.with_arguments is None:
            return self.spec.args
        given: object = self.with_arguments(self.spec.args, partition)  # as it returned it
        if not isinstance(given, Iterable) or isinstance(given, (str, bytes)):  # pyright: ignore[reportUnnecessaryIsInstance]
            msg = (
                f"PartitionSupervisor with_arguments must return the partition's args (a tuple), "
                f"got {describe(given)} for partition {partition}"
            )
            raise TypeError(msg)
        return tuple(given)

    @self_protecting
    @protected
    async def run(self, *, task_status: trio.TaskStatus[SupervisorRef] = trio.TASK_STATUS_IGNORED) -> None:
        """Start every partition, in order, report the :class:`SupervisorRef`, and
        supervise them, as :meth:`Supervisor.run` (which also says what it raises)."""
        require_trio("PartitionSupervisor.run")
        await run_supervisor(_PartitionState(self._supervisor, self.partitions), task_status)

    def child_spec(
        self,
        id: Hashable,  # noqa: A002 - the child spec's own name for it
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: ShutdownPolicy = INFINITY,
        significant: bool = False,
    ) -> ChildSpec[SupervisorRef]:
        """A :class:`ChildSpec` that runs this PartitionSupervisor under another
        supervisor; the options as :class:`ChildSpec`'s."""
        return ChildSpec(
            id,
            _run_as_child,
            args=(self,),
            restart=restart,
            type=ChildType.SUPERVISOR,
            shutdown=shutdown,
            significant=significant,
        )


@self_protecting
@protected
async def _run_as_child(
    definition: PartitionSupervisor[Any], *, task_status: trio.TaskStatus[SupervisorRef]
) -> None:
    await run_supervisor(_PartitionState(definition._supervisor, definition.partitions), task_status)


class _PartitionState(_SupervisorState):
    # processes() and snapshot() call it a "supervisor", which it is, as in Elixir.

    def __init__(self, definition: Supervisor, partitions: int) -> None:
        super().__init__(definition, name_label(definition.name) if definition.name is not None else None)
        self.partitions = partitions

    def partition_ref(self, key: Hashable) -> object:
        """The reference of the partition ``key`` routes to, or ``None`` while it is not
        running. A direct read, O(1)."""
        child = self.by_id.get(partition_index(key, self.partitions))
        task = None if child is None else child.task
        if task is None or not task.is_started or self.stopping:
            return None
        return task.ref
