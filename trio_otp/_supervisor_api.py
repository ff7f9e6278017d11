"""The supervisor runtime API as functions that take a supervisor's reference or its name
(Elixir's ``Supervisor.start_child(MyApp.Sessions, spec)``).

A name is looked up at each call, so a caller reaches whichever run of the supervisor is
current: a supervisor restarted by its parent takes its name again, where a held
reference would raise :class:`SupervisorNotRunning` (it names the run that ended).
"""

from __future__ import annotations

import typing
from collections.abc import Hashable
from typing import Any, TypeVar

from ._child_spec import ChildSpec
from ._dynamic_supervisor import DynamicChild, DynamicSupervisorRef
from ._exceptions import SupervisorNotRunning
from ._names import check_name, whereis
from ._supervisor import ChildCounts, ChildInfo, SupervisorRef
from ._task_supervisor import TaskSupervisorRef
from ._util import safe_repr
from ._worker_pool import WorkerPoolRef

AnySupervisorRef = SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef | WorkerPoolRef
_SUPERVISOR_REFS = (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef, WorkerPoolRef)
T = TypeVar("T")


def _supervisor(target: object, function: str) -> AnySupervisorRef:
    """The supervisor ``target`` is, or the one running under that name now."""
    if isinstance(target, _SUPERVISOR_REFS):
        return target
    check_name(target, f"{function}'s supervisor (a supervisor's ref or its name)")
    ref = whereis(target)
    if ref is None:
        msg = f"no running supervisor is registered as {safe_repr(target)}"
        raise SupervisorNotRunning(msg)
    if not isinstance(ref, _SUPERVISOR_REFS):
        msg = f"{function}: {safe_repr(target)} names {safe_repr(ref)}, which is not a supervisor"
        raise TypeError(msg)
    return ref


def _not_for_pools(
    ref: AnySupervisorRef, function: str
) -> SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef:
    if isinstance(ref, WorkerPoolRef):
        msg = (
            f"{function}: {ref!r} is a WorkerPool, whose children are its worker slots, which the "
            "pool starts, replaces and stops itself; size it with WorkerPool(workers=...)"
        )
        raise TypeError(msg)
    return ref


def _not_for_tasks(
    ref: AnySupervisorRef, function: str, instead: str
) -> SupervisorRef | DynamicSupervisorRef:
    ref = _not_for_pools(ref, function)
    if isinstance(ref, TaskSupervisorRef):
        msg = f"{function}: {ref!r} is a TaskSupervisor, whose children are tasks; use {instead}"
        raise TypeError(msg)
    return ref


@typing.overload
async def start_child(supervisor: DynamicSupervisorRef, spec: ChildSpec[T]) -> DynamicChild[T]: ...


@typing.overload
async def start_child(supervisor: SupervisorRef, spec: ChildSpec[T]) -> T: ...


@typing.overload
async def start_child(supervisor: Hashable, spec: ChildSpec[Any]) -> Any: ...


async def start_child(supervisor: Hashable, spec: ChildSpec[Any]) -> Any:
    """:meth:`SupervisorRef.start_child` or :meth:`DynamicSupervisorRef.start_child` on
    ``supervisor``, a reference or the name of a running supervisor. Returns what that
    method returns: the child's reference, or its :class:`DynamicChild`. A checkpoint.

    Raises:
      SupervisorNotRunning: nothing runs under that name (and as that method raises).
      TypeError: the name is a server's, a TaskSupervisor's (start its tasks with
        :meth:`TaskSupervisorRef.spawn` or ``start_child``), or a WorkerPool's (whose
        slots the pool manages itself).
      Exception: whatever that method raises.
    """
    ref = _not_for_tasks(_supervisor(supervisor, "start_child"), "start_child", "TaskSupervisorRef.spawn")
    return await ref.start_child(spec)


async def terminate_child(supervisor: Hashable, child: Hashable) -> None:
    """Stop a child without restarting it: ``child`` is a child id for a
    :class:`Supervisor`, a :class:`DynamicChild` for a :class:`DynamicSupervisor`
    (as their refs' ``terminate_child``). A checkpoint.

    Raises as that method does, and SupervisorNotRunning or TypeError as
    :func:`start_child`.
    """
    ref = _not_for_tasks(_supervisor(supervisor, "terminate_child"), "terminate_child", "TaskHandle.cancel")
    if isinstance(ref, DynamicSupervisorRef):
        # Checked by the method, which names the rule.
        await ref.terminate_child(child)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    else:
        await ref.terminate_child(child)


def _static(ref: AnySupervisorRef, function: str) -> SupervisorRef:
    ref = _not_for_pools(ref, function)
    if not isinstance(ref, SupervisorRef):
        msg = (
            f"{function}: {ref!r} is not a Supervisor; only a Supervisor keeps the specs of stopped children"
        )
        raise TypeError(msg)
    return ref


async def restart_child(supervisor: Hashable, child_id: Hashable) -> object:
    """:meth:`SupervisorRef.restart_child` by reference or name. A checkpoint.

    Raises as that method does, and SupervisorNotRunning or TypeError as
    :func:`start_child` (also for a DynamicSupervisor, which keeps no stopped children).
    """
    return await _static(_supervisor(supervisor, "restart_child"), "restart_child").restart_child(child_id)


async def delete_child(supervisor: Hashable, child_id: Hashable) -> None:
    """:meth:`SupervisorRef.delete_child` by reference or name. A checkpoint; raises as
    :func:`restart_child`."""
    await _static(_supervisor(supervisor, "delete_child"), "delete_child").delete_child(child_id)


async def which_children(supervisor: Hashable) -> list[ChildInfo]:
    """The children of any supervisor (by reference or name), newest first, as its
    ref's ``which_children``: for a :class:`WorkerPool`, its worker slots. A checkpoint.

    Raises:
      SupervisorNotRunning: it has ended, or nothing runs under that name.
      TypeError: the name is a server's.
    """
    return await _supervisor(supervisor, "which_children").which_children()


async def count_children(supervisor: Hashable) -> ChildCounts:
    """The child counts of any supervisor (by reference or name), as its ref's
    ``count_children``. A checkpoint; raises as :func:`which_children`."""
    return await _supervisor(supervisor, "count_children").count_children()
