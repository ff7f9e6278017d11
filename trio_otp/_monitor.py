"""Monitors: be told, once, when a process ends and why (OTP's ``erlang:monitor``).

A monitor is one-way and one-shot: it does not link the watcher's fate to the target's,
and it fires exactly once, when the target ends (at once if it already has), unless it
was removed with :meth:`Monitor.demonitor` first. The notice can be awaited by any task
(:meth:`Monitor.wait`) and, if ``notify`` is given, also arrives as a :class:`Down`
message in that server's ``handle_info``.

A target is a server (its process keeps its monitors and tells them as it closes), a
supervisor of any kind (its run tells them as it ends, with its exit reason), or a
supervised task's :class:`TaskHandle` (told when the handle settles, so a transient
task's monitor fires when it ends for good, not at each crash). Each target keeps its
own monitors, so firing and removing one costs O(1) (O(monitors of that task) for a
task handle), never a scan of every monitor.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast, final

import attrs
import outcome
import trio

from ._checks import check_instance
from ._dynamic_supervisor import DynamicSupervisorRef
from ._exceptions import MailboxFull, ServerNotRunning, Shutdown, TaskFailed
from ._gen_server import logger
from ._ki import protected
from ._names import whereis
from ._server_ref import ServerRef, lookup
from ._supervisor import SupervisorRef, _SupervisorState
from ._task_supervisor import TaskHandle, TaskSupervisorRef
from ._util import NoPublicConstructor

if TYPE_CHECKING:
    from typing import TypeAlias

#: What a monitor can watch.
MonitorTarget: TypeAlias = (
    "ServerRef[Any, Any] | SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef | TaskHandle[Any]"
)


@attrs.frozen
class Down:
    """A monitored process has ended (OTP's ``{'DOWN', Ref, process, Pid, Reason}``).

    ``reason`` is ``None`` for a normal exit (a task that returned), a :class:`Shutdown`
    for a shutdown (a task that was stopped), the exception for a crash (a task's own
    exception). ``already_ended`` is true when the target had ended before the monitor
    was made (OTP's ``noproc``).
    """

    monitor: Monitor
    target: MonitorTarget
    reason: BaseException | None
    already_ended: bool = False


@final
class Monitor(metaclass=NoPublicConstructor):
    """A watch on one process; made by :func:`monitor`."""

    __slots__ = ("_ended", "_event", "_notify", "_removed", "target")

    def __init__(self, target: MonitorTarget, notify: ServerRef[Any, Any] | None) -> None:
        self.target: MonitorTarget = target
        self._notify = notify
        self._event = trio.Event()
        # (reason, already_ended) once fired. Not the Down itself: a Down holds its
        # monitor, so the two would be a reference cycle, and the ended target with them
        # (its process, task and frames) would wait for the cyclic collector.
        self._ended: tuple[BaseException | None, bool] | None = None
        self._removed = False

    def __repr__(self) -> str:
        state = "down" if self._ended else "removed" if self._removed else "watching"
        return f"<Monitor of {self.target!r} ({state})>"

    async def wait(self) -> Down:
        """Wait until the target ends; returns the :class:`Down` notice. A checkpoint.

        Raises:
          RuntimeError: the monitor was removed before the target ended, so it never will fire.
        """
        await self._event.wait()
        down = self.down
        if down is None:
            msg = f"{self!r} was removed before its target ended"
            raise RuntimeError(msg)
        return down

    @property
    def down(self) -> Down | None:
        """The notice, once the target has ended; ``None`` before. Each read gives a new
        :class:`Down`, equal to the others."""
        ended = self._ended
        return None if ended is None else Down(self, self.target, *ended)

    @protected
    def demonitor(self) -> bool:
        """Stop watching. Returns ``True`` if the notice had not fired yet (it now never
        will), ``False`` if it already had. Not a checkpoint."""
        if self._ended is not None or self._removed:
            return False
        self._removed = True
        self._detach()
        self._event.set()
        return True

    def _detach(self) -> None:
        target = self.target
        if isinstance(target, TaskHandle):
            target._unlisten(self._task_ended)
        else:
            owner = target._process if isinstance(target, ServerRef) else _supervisor_state(target)
            monitors = owner.monitors
            if monitors is not None:
                monitors.pop(self, None)
        if self._notify is not None:
            watching = self._notify._process.watching
            if watching is not None:
                watching.pop(self, None)

    @protected
    def _fire(self, reason: BaseException | None, *, already_ended: bool = False) -> None:
        if self._ended is not None or self._removed:
            return
        self._ended = (reason, already_ended)
        self._detach()
        self._event.set()
        if self._notify is not None:
            try:
                self._notify.send(Down(self, self.target, reason, already_ended))
            except ServerNotRunning:
                pass  # the watcher has ended too: nobody left to tell
            except MailboxFull:
                logger.warning(
                    "monitor notice for %r dropped: the mailbox of %r is full (the wait() still fires)",
                    self.target,
                    self._notify,
                    extra={"otp_report": "monitor_notice_dropped"},
                )

    def _task_ended(self, handle: TaskHandle[Any], *, already_ended: bool = False) -> None:
        self._fire(_task_reason(handle), already_ended=already_ended)


def _task_reason(handle: TaskHandle[Any]) -> BaseException | None:
    ended = handle._outcome
    if ended is None or isinstance(ended, outcome.Value):
        return None
    assert isinstance(ended, outcome.Error)
    failed = ended.error
    if isinstance(failed, TaskFailed) and failed.cancelled:
        return Shutdown(f"task {handle.name} was stopped")
    return failed.__cause__ or failed


def _supervisor_state(target: SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef) -> _SupervisorState:
    if isinstance(target, TaskSupervisorRef):
        return target._supervisor._state
    return target._state


@protected
def monitor(target: MonitorTarget | Hashable, *, notify: ServerRef[Any, Any] | None = None) -> Monitor:
    """Watch ``target`` until it ends: a :class:`ServerRef`, a supervisor's reference (of
    any kind), a supervised task's :class:`TaskHandle`, or the name of a server or a
    supervisor (looked up now).

    With ``notify``, the :class:`Down` notice is also sent to that server as a message.
    Not a checkpoint.

    Raises:
      ServerNotRunning: ``target`` is a name that no process has.
      TypeError: ``notify`` is neither None nor a :class:`ServerRef`, or ``target`` is
        none of those (checked before anything is attached).
    """
    if notify is not None:
        check_instance(notify, ServerRef, "monitor's notify", "None or a ServerRef")
    given: object = target  # as the caller passed it, not as it is typed
    if isinstance(given, TaskHandle):
        return _monitor_task(cast("TaskHandle[Any]", given), notify)  # type: ignore[redundant-cast]  # for pyright
    if not isinstance(given, (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef, ServerRef)):
        found = whereis(given)  # a name: of a supervisor, or of a server
        if isinstance(found, (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef)):
            given = found
    if isinstance(given, (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef)):
        return _monitor_supervisor(given, notify)
    ref: ServerRef[Any, Any] = lookup(cast("ServerRef[Any, Any] | Hashable", given))  # type: ignore[redundant-cast]  # for pyright
    made = Monitor._create(ref, notify)
    process = ref._process
    if process.closed:
        made._fire(process.exit_reason, already_ended=True)
    else:
        # Also while the server is in terminate: it has not ended yet, and its reason is
        # not known until it has.
        if process.monitors is None:
            process.monitors = {}
        process.monitors[made] = None
        if notify is not None:
            if notify._process.watching is None:
                notify._process.watching = {}
            notify._process.watching[made] = None
    return made


def _watching(made: Monitor, notify: ServerRef[Any, Any] | None) -> None:
    if notify is not None:
        if notify._process.watching is None:
            notify._process.watching = {}
        notify._process.watching[made] = None


def _monitor_task(handle: TaskHandle[Any], notify: ServerRef[Any, Any] | None) -> Monitor:
    made = Monitor._create(handle, notify)
    if handle.done:
        made._task_ended(handle, already_ended=True)
    else:
        handle._listen(made._task_ended)
        _watching(made, notify)
    return made


def _monitor_supervisor(
    target: SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef, notify: ServerRef[Any, Any] | None
) -> Monitor:
    made = Monitor._create(target, notify)
    state = _supervisor_state(target)
    if state.ended.is_set():
        made._fire(state.exit_reason, already_ended=True)
    else:
        if state.monitors is None:
            state.monitors = {}
        state.monitors[made] = None
        _watching(made, notify)
    return made
