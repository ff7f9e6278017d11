"""The process table of a Trio run: what :func:`processes` lists, and how it stays cheap.

What is in the table
--------------------
A per-run dict (a RunVar, used as an ordered set) holds every running supervisor (of
the three kinds) and every server that is *not* the start function of a supervised
child: one started with :func:`start_server` in a plain nursery, or in a nursery inside
a worker. The servers (and workers) that a supervisor runs directly are not in it: the
supervisor already keeps a record of each child, whose task knows the child's
reference, so :func:`processes` reads them from there. So the 100,000 servers of a
DynamicSupervisor cost the table nothing, and a supervisor costs one dict entry.

Entries are added when a process starts and removed when it has ended, each in one
KI-protected step; nothing on the call, cast or send path touches the table.

A server's entry is keyed by its task, so that :func:`server_of_task` finds the server a
task runs in O(1) (what :func:`current_server` and :func:`multi_call`'s groups need);
a supervised child's task records its server itself (``ChildTask.server``). A task that
already runs a server and awaits ``serve`` again in a callback (nested, which nothing
forbids) runs the inner one until it ends: the outer process links to it
(``Process.inner``), and the inner one's entry is keyed by its process. Once a server
has ended, its task is no server (until it runs another).

Parents
-------
Every supervised child's task records its supervisor (``ChildTask.supervisor``), and
every supervisor records the child whose task tree it runs in (``owner``). A process's
parent is the supervisor of the nearest supervised child whose task tree it runs in:
for a supervised child, its own supervisor.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, cast

import attrs
import trio

from ._child import ChildTask, _children_by_task
from ._ki import protected

# Supervisors' states keyed by themselves, servers' refs keyed by their task (see above).
_table: trio.lowlevel.RunVar[dict[object, object]] = trio.lowlevel.RunVar("trio_otp_processes")


def _get_table() -> dict[object, object]:
    try:
        return _table.get()
    except LookupError:
        table = dict[object, object]()
        _table.set(table)
        return table


@protected
def list_supervisor(state: object) -> None:
    """Add a running supervisor's state to the table."""
    _get_table()[state] = state


@protected
def forget_supervisor(state: object) -> None:
    """Remove a supervisor's state, if it is there."""
    _table.get({}).pop(state, None)


@protected
def list_server(ref: Any, task: trio.lowlevel.Task, task_status: object) -> None:
    """Record that ``task`` runs the server of ``ref`` (in the server's task, before init).

    The server a supervised child starts as (``task_status`` is the child's) is kept in
    its ``ChildTask``, and its supervisor lists it for :func:`processes`; any other goes
    into the table (a worker that serves after reporting ready, a second serve).
    """
    outer = server_of_task(task)
    if outer is not None:  # a serve nested in a callback of the server the task runs
        outer._process.inner = ref
        _get_table()[ref._process] = ref
        return
    child = _children_by_task.get({}).get(task)
    if child is not None and task_status is child:
        child.server = ref
    else:
        _get_table()[task] = ref


@protected
def forget_server(process: Any) -> None:
    """Forget a server once it has ended: its table entry, or a supervised child's
    ``ChildTask.server``, or, for a serve nested in a callback, its entry and the outer
    server's link to it."""
    table = _table.get({})
    task = process.task
    child = _children_by_task.get({}).get(task)
    outermost: Any = child.server if child is not None else None
    if outermost is None:
        outermost = table.get(task)
    if outermost is not None and outermost._process is process:
        if child is not None and child.server is outermost:
            child.server = None
        else:
            del table[task]
        return
    table.pop(process, None)  # a nested serve's, keyed by its process
    ref = outermost
    while ref is not None:  # unlink it from the server it ran in
        inner = ref._process.inner
        if inner is not None and inner._process is process:
            ref._process.inner = None
            return
        ref = inner


def server_of_task(task: trio.lowlevel.Task) -> Any:
    """The ServerRef of the server ``task`` runs (the innermost, if one is nested in
    another's callback), or None. Not a checkpoint."""
    child = _children_by_task.get({}).get(task)
    ref: Any = child.server if child is not None else None
    if ref is None:
        ref = _table.get({}).get(task)
    while ref is not None and ref._process.inner is not None:
        ref = ref._process.inner
    return ref


def child_of(task: trio.lowlevel.Task | None) -> ChildTask | None:
    """The supervised child whose task tree ``task`` belongs to: its own, or the nearest
    one above it (as :func:`_current_child`, for any task)."""
    running = _children_by_task.get({})
    while task is not None:
        child = running.get(task)
        if child is not None:
            return child
        nursery = task.parent_nursery
        task = nursery.parent_task if nursery is not None else None
    return None


def supervisor_label(state: Any) -> str:
    """How processes() and get_status name a supervisor: its name, or its report label."""
    name = state.definition.name
    return name if isinstance(name, str) else str(state.label)


def parent_label(child: ChildTask | None) -> str | None:
    """The supervisor of ``child``, the nearest supervised child above a process."""
    return None if child is None or child.supervisor is None else supervisor_label(child.supervisor)


def supervisor_path(child: ChildTask | None) -> tuple[str, ...]:
    """The names of the supervisors above ``child``'s process, the root first."""
    labels: list[str] = []
    while child is not None and child.supervisor is not None:
        supervisor = child.supervisor
        labels.append(supervisor_label(supervisor))
        child = supervisor.owner
    return tuple(reversed(labels))


@attrs.frozen
class ProcessInfo:
    """One live process of the Trio run, as :func:`processes` saw it."""

    #: ``"server"``, ``"agent"``, ``"supervisor"``, ``"dynamic_supervisor"``,
    #: ``"task_supervisor"``, ``"worker_pool"`` or ``"worker"`` (a supervised child that is none of these,
    #: such as a plain function or a TaskSupervisor's task).
    kind: str
    #: How reports and log records name it: a server's class and name
    #: (``"Counter 'hits'"``), a supervisor's name, a worker's child id.
    label: str
    #: The name it was started under (a server's registered name, a supervisor's
    #: ``name``), or ``None``.
    name: Hashable | None
    #: Its child id under its supervisor, or ``None`` if no supervisor runs it directly.
    id: Hashable | None
    #: The name (or label) of the supervisor above it, or ``None`` at the top of the run.
    parent: str | None
    #: Messages waiting in a server's (or agent's) mailbox; ``None`` for other kinds.
    mailbox: int | None
    #: Its reference: a :class:`ServerRef`, a supervisor's ref, or what a worker gave
    #: ``task_status.started``.
    ref: object = attrs.field(default=None, eq=False)


def processes() -> list[ProcessInfo]:
    """Every live server, agent, supervisor (of each kind) and supervised worker of the
    current Trio run, supervisors before their children, in start order.

    O(n) in the number of processes and not a checkpoint: it reads the bookkeeping
    directly, in this task, so it works while any server is busy or stuck, and it is
    cheap enough for a health endpoint. A server still in ``init`` is listed only if no
    supervisor runs it directly (its supervisor lists it once it has started).

    Raises:
      RuntimeError: called outside a Trio run.
    """
    from ._agent import _AgentServer  # noqa: PLC0415 - import cycle
    from ._dynamic_supervisor import DynamicSupervisorRef  # noqa: PLC0415
    from ._server_ref import ServerRef  # noqa: PLC0415
    from ._supervisor import SupervisorRef  # noqa: PLC0415
    from ._task_supervisor import TaskSupervisorRef  # noqa: PLC0415
    from ._worker_pool import WorkerPoolRef  # noqa: PLC0415

    if not trio.lowlevel.in_trio_run():
        msg = "trio_otp.processes() lists the processes of a Trio run; call it inside trio.run"
        raise RuntimeError(msg)

    def server(process: Any, child_id: Hashable | None, parent: str | None, ref: object) -> ProcessInfo:
        kind = "agent" if isinstance(process.server, _AgentServer) else "server"
        waiting = len(process.mailbox) if process.mailbox else 0
        return ProcessInfo(kind, process.label, process.name, child_id, parent, waiting, ref)

    def process_of(ref: object) -> Any:
        return ref._process if isinstance(ref, ServerRef) else None

    supervisor_refs = (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef, WorkerPoolRef)

    infos: list[ProcessInfo] = []
    for entry in list(_table.get({}).values()):
        if isinstance(entry, ServerRef):
            listed_ref = cast("ServerRef[Any, Any]", entry)  # type: ignore[redundant-cast]  # for pyright
            listed = listed_ref._process
            if not listed.ended:
                infos.append(server(listed, None, parent_label(child_of(listed.task)), listed_ref))
            continue
        state: Any = entry
        owner = state.owner
        # Its child id, if it is a supervised child itself (not one run inside a worker).
        child_id = owner.spec.id if owner is not None and owner.ref is state.ref else None
        label = supervisor_label(state)
        infos.append(
            ProcessInfo(
                state.kind, label, state.definition.name, child_id, parent_label(owner), None, state.ref
            )
        )
        for record in state.children:
            task = record.task
            if task is None or not task.is_started or task.finished:
                continue
            child_ref = task.ref
            if isinstance(child_ref, supervisor_refs):
                continue  # a supervisor: it has an entry of its own
            process = process_of(child_ref)
            if process is not None:
                if not process.ended:
                    infos.append(server(process, record.spec.id, label, child_ref))
                continue
            spec_id = record.spec.id
            text = spec_id if isinstance(spec_id, str) else repr(spec_id)
            infos.append(ProcessInfo("worker", text, None, spec_id, label, None, child_ref))
    return infos
