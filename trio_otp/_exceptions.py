"""Every exception trio_otp raises, in one place.

Two kinds live here. :class:`Shutdown` and its subclass are *exit signals*: a child
raises :class:`Shutdown` to end with OTP's ``shutdown`` reason rather than crash, and a
supervisor that gives up raises :class:`RestartIntensityExceeded`, which its own parent
therefore sees as a shutdown exit, exactly as OTP's parent sees ``{'EXIT', Sup, shutdown}``.
The rest derive from :class:`SupervisorError` and report a runtime API request that
could not be carried out, one class per outcome that OTP spells as ``{error, ...}``.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from ._util import safe_repr

if TYPE_CHECKING:
    from ._registry import Entry


class Shutdown(Exception):
    """Raised by a child to exit with OTP's ``shutdown`` reason instead of crashing.

    A *transient* child that raises it is not restarted (like a normal return); a
    *permanent* child is restarted; a *temporary* child is dropped without an error report.
    An exception group whose every leaf is a :class:`Shutdown` counts as a shutdown exit
    too, so raising it inside a nursery works. ``reason`` is free-form, for reports
    (OTP's ``{shutdown, Reason}``).
    """

    def __init__(self, reason: object = None) -> None:
        super().__init__(*(() if reason is None else (reason,)))
        self.reason = reason


class RestartIntensityExceeded(Shutdown):
    """A supervisor stopped because restarts exceeded ``max_restarts`` within ``max_seconds``.

    By the time it is raised the supervisor has stopped all its remaining children in
    reverse start order. ``__cause__`` is the exit of the child whose restart was refused
    (its exception or exception group, never unwrapped), or the last start error when a
    failing restart is what ran out the budget; it is ``None`` for a permanent child that
    returned normally.

    It subclasses :class:`Shutdown` because OTP's supervisor exits with reason
    ``shutdown`` when it escalates: a parent restarts a *permanent* child supervisor that
    escalated, but leaves a *transient* one down with its spec kept.
    """

    def __init__(self, supervisor: str, child_id: Hashable, max_restarts: int, max_seconds: float) -> None:
        self.supervisor = supervisor
        self.child_id = child_id
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        noun = "restart" if max_restarts == 1 else "restarts"
        super().__init__(
            f"supervisor {supervisor} gave up: child {safe_repr(child_id)} needed a restart beyond "
            f"max_restarts={max_restarts} ({max_restarts} {noun} within {max_seconds:g} s), "
            "so it stopped its remaining children"
        )


class Killed(Exception):
    """The exit reason of a child ended by ``trio_otp.exit(child, KILL)`` (OTP's
    ``killed``): a crash, for its supervisor's restart rules."""


class SupervisorError(Exception):
    """Base class of the errors raised by a :class:`SupervisorRef` request."""


class SupervisorNotRunning(SupervisorError):
    """The supervisor has ended (or ended while the request was waiting)."""


class SupervisorTimeout(SupervisorError, TimeoutError):
    """A supervisor did not stop within the timeout given to its ``stop``. It was not
    cut short and goes on stopping its children, each within its own budget."""


class ChildStartError(SupervisorError):
    """A child's start function failed: it raised, or it returned without calling
    ``task_status.started()``.

    ``reason`` is the exception the start function raised, and also the ``__cause__``
    (but trio before 0.34 clears ``__cause__`` on exceptions that leave
    ``nursery.start`` before ``started()``, so ``reason`` is the one to rely on). Raised by
    :meth:`Supervisor.run` when a child fails during the supervisor's own start (after the
    children already started have been stopped in reverse order), and by
    :meth:`SupervisorRef.start_child` and :meth:`SupervisorRef.restart_child`.
    """

    def __init__(self, supervisor: str, child_id: Hashable, reason: BaseException, detail: str) -> None:
        self.supervisor = supervisor
        self.child_id = child_id
        self.reason = reason
        super().__init__(f"child {safe_repr(child_id)} of supervisor {supervisor} failed to start: {detail}")
        self.__cause__: BaseException | None = reason


class ChildIgnored(SupervisorError):
    """The start function of a child that :meth:`SupervisorRef.start_child`,
    :meth:`SupervisorRef.restart_child` or :meth:`DynamicSupervisorRef.start_child` started
    returned :class:`Ignore` (a server's ``init`` did): nothing runs. OTP's call returns
    ``{ok, undefined}`` instead; here a call that returns has a running child's reference.

    ``kept`` says whether the spec stays in the child list, not running (as OTP keeps it:
    a static child that is not temporary), or was not added (a temporary child, any
    child of a DynamicSupervisor).
    """

    def __init__(self, supervisor: str, child_id: Hashable, *, kept: bool) -> None:
        self.supervisor = supervisor
        self.child_id = child_id
        self.kept = kept
        outcome = "its spec is kept, not running" if kept else "it was not added"
        super().__init__(
            f"child {safe_repr(child_id)} of supervisor {supervisor} ignored its start "
            f"(returned Ignore); {outcome}"
        )


class MaxChildrenReached(SupervisorError):
    """``start_child`` on a DynamicSupervisor that already has ``max_children`` children."""


class ChildNotFound(SupervisorError, LookupError):
    """No child with that id (OTP's ``{error, not_found}``)."""


class ChildAlreadyStarted(SupervisorError):
    """``start_child`` with the id of a running child (OTP's ``{error, {already_started, Pid}}``).

    ``ref`` is the running child's reference.
    """

    def __init__(self, message: str, ref: object) -> None:
        super().__init__(message)
        self.ref = ref


class ChildAlreadyPresent(SupervisorError):
    """``start_child`` with the id of a child whose spec is kept but which is not running
    (OTP's ``{error, already_present}``); use ``restart_child`` or ``delete_child``."""


class ChildRunning(SupervisorError):
    """``restart_child`` or ``delete_child`` on a running child (OTP's ``{error, running}``)."""


class ChildRestarting(SupervisorError):
    """``restart_child`` or ``delete_child`` on a child whose restart failed and is being
    retried (OTP's ``{error, restarting}``)."""


class ServerError(Exception):
    """Base class of the errors raised when talking to a :class:`GenServer`."""


class ServerNotRunning(ServerError):
    """The server had already ended (OTP's ``noproc``)."""


class ServerExited(ServerError):
    """The server ended before it replied to this call.

    ``reason`` is how it ended: ``None`` for a normal stop, a :class:`Shutdown` when it
    was shut down, or the exception it crashed with, which is also the ``__cause__``.
    """

    def __init__(self, message: str, reason: BaseException | None) -> None:
        super().__init__(message)
        self.reason = reason


class CallTimeout(ServerError, TimeoutError):
    """No reply within the call's timeout (OTP's ``timeout`` exit). The server was not
    told and may still handle the request; its late reply is dropped."""


class InitStopped(ServerError):
    """A server's ``init`` returned :class:`Stop`, so it did not start. ``reason`` is the
    stop reason (also the ``__cause__``, which trio before 0.34 clears when the error
    leaves ``nursery.start``)."""

    def __init__(self, message: str, reason: BaseException | None) -> None:
        super().__init__(message)
        self.reason = reason
        self.__cause__: BaseException | None = reason


class InitIgnored(ServerError):
    """A server's (or state machine's) ``init`` returned :class:`Ignore`, so it did not
    start: it ended normally, and ``terminate`` did not run. Raised by
    :func:`start_server`, :func:`start_state_machine` and ``nursery.start(serve, ...)``
    outside a supervisor (OTP's ``start_link`` returning ``ignore``); under a supervisor
    an ignoring start is no error (see :class:`Ignore`)."""


class InitTimeout(ServerError, TimeoutError):
    """A server's ``init`` did not finish within its ``start_timeout`` (OTP's start
    ``{timeout, T}`` giving ``{error, timeout}``), so it did not start: ``init`` was
    cancelled and ``terminate`` did not run."""


class ReplaceStateFailed(ServerError):
    """:func:`replace_state`'s function raised, or returned something that cannot be the
    server's state. The server did not crash and its state is unchanged (as OTP's
    ``sys:replace_state`` with a failing function). ``__cause__`` is what went wrong.
    """


class MailboxFull(ServerError):
    """A cast or message to a server whose bounded mailbox is full."""


class NameTaken(ServerError):
    """Another running process (a server or a supervisor) already has that name. ``ref``
    is that process's reference."""

    def __init__(self, message: str, ref: object) -> None:
        super().__init__(message)
        self.ref = ref


class AlreadyRegistered(Exception):
    """A unique :class:`Registry` key that a running task holds. ``entry`` is its entry."""

    def __init__(self, message: str, entry: Entry[Any]) -> None:
        super().__init__(message)
        self.entry: Entry[Any] = entry


class TaskFailed(Exception):
    """A supervised task raised (its exception is the ``__cause__``) or was cancelled
    (``cancelled`` is true)."""

    def __init__(self, message: str, *, cancelled: bool) -> None:
        super().__init__(message)
        self.cancelled = cancelled


class TaskTimeout(TimeoutError):
    """A wait for a task gave up (``TaskHandle.result``, :func:`await_many`: the task is
    still running), or a ``map`` item ran past its ``timeout`` (it was stopped)."""


class WorkerCrashed(Exception):
    """A :class:`WorkerPool`'s worker process died on its own: a segfault, ``os._exit``,
    ``sys.exit`` in a job, the OOM killer, a SIGKILL from outside.

    Raised by the call whose job was running on it, and by the worker's slot as its exit
    reason, which its pool's supervisor counts against the restart intensity.
    ``returncode`` is as :attr:`subprocess.Popen.returncode`: the exit status, or minus
    the number of the signal that killed it.
    """

    def __init__(self, message: str, pid: int, returncode: int | None) -> None:
        super().__init__(message)
        self.pid = pid
        self.returncode = returncode

    @property
    def signal(self) -> _signal.Signals | None:
        """The signal that killed the worker, if one did."""
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return _signal.Signals(-self.returncode)
        except ValueError:
            return None


class JobTimeout(TimeoutError):
    """A :meth:`WorkerPoolRef.run` call had no result within its timeout. Unlike
    :class:`CallTimeout`, nothing goes on running: the job, if it had started, was
    stopped and its worker replaced."""


class WorkerPoolNotRunning(Exception):
    """A job for a :class:`WorkerPool` that is stopping or has ended, or that stopped
    the job's worker while it ran."""


class OsProcessExited(Exception):
    """A supervised OS program (see :func:`os_process_spec`) ended in a way that counts
    as a crash: an exit status that is not 0 nor one of its clean statuses, or death by a
    signal that trio_otp did not send to stop it.

    Attributes:
      argv: the program and its arguments, as given.
      pid: its process id (gone by the time you read this).
      exit_status: its exit status, or ``None`` if a signal ended it.
      signal: the signal that ended it, or ``None`` if it exited.
      stderr_tail: its last lines on stderr, oldest first (at most 20, each cut at 1000
        characters), the first thing to read about why it ended.
    """

    def __init__(
        self,
        message: str,
        *,
        argv: tuple[str, ...],
        pid: int,
        exit_status: int | None,
        signal: int | None,
        stderr_tail: tuple[str, ...],
    ) -> None:
        super().__init__(message)
        self.argv = argv
        self.pid = pid
        self.exit_status = exit_status
        self.signal = signal
        self.stderr_tail = stderr_tail
