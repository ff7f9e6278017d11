"""Exits sent from outside: OTP's ``exit(Pid, Reason)`` for any supervised child.

A supervised child is a Trio task that trio_otp cannot kill from outside; what it can
do is cancel it and decide how its ending reads. So an exit signal stops the child the
way its supervisor would (cancelled, cleanup within its shutdown budget, a GenServer's
``terminate`` called), except that the child then counts as having exited by itself with
the signal's reason, and its supervisor applies its usual rules (restart type, strategy,
intensity) to that exit. :data:`KILL` is the untrappable one: the child's cleanup is
cancelled at once (its :func:`cleanup_scope` gets no time, a GenServer's ``terminate``
does not run) and it exits with :class:`Killed`.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from typing import Any, Final, Literal

from ._agent import AgentRef
from ._child import ChildTask, ExitSignal, child_of_task
from ._dynamic_supervisor import DynamicChild, DynamicSupervisorRef
from ._exceptions import ChildNotFound, Killed
from ._names import check_name, whereis
from ._server_ref import ServerRef
from ._supervisor import ChildInfo, SupervisorRef
from ._task_supervisor import TaskHandle, TaskSupervisorRef
from ._util import describe, safe_repr


class ExitMode(enum.Enum):
    """The exit reason that is not an exception."""

    #: End the child at once, without its cleanup (OTP's ``kill``); it exits with :class:`Killed`.
    KILL = "kill"


#: The exit reason that ends a child at once, without its cleanup (OTP's ``kill``).
KILL: Final[Literal[ExitMode.KILL]] = ExitMode.KILL

#: What :func:`exit` accepts as a target besides a name.
_TARGETS = (
    ServerRef,
    AgentRef,
    SupervisorRef,
    DynamicSupervisorRef,
    TaskSupervisorRef,
    DynamicChild,
    TaskHandle,
    ChildInfo,
)


def exit(  # noqa: A001 - OTP's name for it, as trio_otp.exit
    target: ServerRef[Any, Any]
    | AgentRef[Any]
    | SupervisorRef
    | DynamicSupervisorRef
    | TaskSupervisorRef
    | DynamicChild
    | TaskHandle[Any]
    | ChildInfo
    | Hashable,
    reason: Exception | Literal[ExitMode.KILL] | None,
) -> None:
    """End a supervised child from outside, as if it had exited by itself with ``reason``
    (OTP's ``exit(Pid, Reason)``). Not a checkpoint: the child is told at once, and its
    supervisor applies its rules when the child's task has ended.

    ``target`` is the child's reference (a :class:`ServerRef`, :class:`AgentRef`, a
    supervisor's ref, a :class:`DynamicChild`, a :class:`TaskHandle`), the name it runs
    under, or its :class:`ChildInfo` from ``which_children`` (which reaches any child,
    however it is written, in the run that was listed). ``reason`` is ``None`` (a
    normal exit), a :class:`Shutdown` (a shutdown exit), any other exception (a crash),
    or :data:`KILL`.

    Except for :data:`KILL`, the child is stopped as its supervisor stops it: cancelled,
    with its shutdown budget for cleanup (a GenServer's ``terminate`` gets ``reason``).
    With :data:`KILL` its cleanup is cancelled at once and a GenServer's ``terminate``
    does not run; it exits with :class:`Killed`, a crash. Code in a bare shielded scope
    is out of reach of either, as of its supervisor's own stop.

    An exit sent to a child that its supervisor is already stopping changes nothing
    (a :data:`KILL` still cuts its cleanup short, and the child then reads
    :class:`Killed`). A child whose start is not over fails its start with ``reason``
    (a ``RuntimeError`` saying so for ``None``). A child that was already crashing keeps
    its own error.

    Raises:
      ChildNotFound: ``target`` is not a running supervised child: nothing runs under
        that name, it has ended, or it runs in a nursery of its own rather than as a
        supervisor's child (stop such a server with :meth:`ServerRef.stop`).
      TypeError: ``reason`` is not None, an exception or KILL, or ``target`` is neither a
        reference nor hashable.
    """
    check_exit_signal_reason(reason, "exit's reason")
    child = _child_of(target)
    child.exit(signal_for(child, reason))


def check_exit_signal_reason(reason: object, argument: str) -> None:
    if not (reason is None or reason is KILL or isinstance(reason, Exception)):
        msg = (
            f"{argument} must be None, an Exception instance or trio_otp.KILL (an interrupt such as "
            f"KeyboardInterrupt is no exit reason), got {describe(reason)}"
        )
        raise TypeError(msg)


def signal_for(child: ChildTask, reason: Exception | ExitMode | None) -> ExitSignal:
    if reason is KILL:
        return ExitSignal(
            Killed(f"child {safe_repr(child.spec.id)} was killed (exit reason KILL)"), killed=True
        )
    assert not isinstance(reason, ExitMode)
    return ExitSignal(reason)


def _child_of(target: object) -> ChildTask:
    """The running child that ``target`` (a reference or a name) is."""
    shown: object = target  # for messages, whatever it turns out to be
    ref = target
    if not isinstance(target, _TARGETS):
        check_name(target, "exit's target (a reference or a name)")
        ref = whereis(target)
        if ref is None:
            msg = f"no running process is registered as {safe_repr(target)}"
            raise ChildNotFound(msg)
    child: ChildTask | None
    if isinstance(ref, AgentRef):
        ref = ref.server
    if isinstance(ref, TaskHandle):
        ref = ref._child
        if ref is None:
            msg = f"{safe_repr(shown)} is not running"
            raise ChildNotFound(msg)
    if isinstance(ref, ChildInfo):
        child = ref._task
    elif isinstance(ref, DynamicChild):
        child = ref._child.task
    elif isinstance(ref, ServerRef):
        child = child_of_task(ref._process.task)
    elif isinstance(ref, TaskSupervisorRef):
        child = child_of_task(ref._supervisor._state.run_task)
    elif isinstance(ref, (SupervisorRef, DynamicSupervisorRef)):
        child = child_of_task(ref._state.run_task)
    else:  # pragma: no cover - whereis returns nothing else
        child = None
    if child is None or child.finished:
        msg = (
            f"{safe_repr(shown)} is not a running supervised child (it has ended, or it runs in a "
            "nursery of its own rather than under a supervisor)"
        )
        raise ChildNotFound(msg)
    return child
