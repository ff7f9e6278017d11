"""GenServers: a state object whose methods handle requests, run as one task with a mailbox.

The mailbox and the call path
-----------------------------
``call`` is the hot path of every application built on this, so it uses the cheapest
request/reply Trio allows between two tasks: the mailbox is a ``deque``, the server parks
with :func:`trio.lowlevel.wait_task_rescheduled` when it is empty, and a sender that finds
it parked wakes it with :func:`trio.lowlevel.reschedule`. A call is one small object
(the :class:`Caller`) that travels to the server and back; the caller parks on it and the
server's reply reschedules the caller directly. There is no channel pair and no task per
call. A finite timeout costs one cancel scope; ``timeout=None`` costs none.

A call that ends early (its timeout passed, or the caller was cancelled) marks its
Caller abandoned as it leaves. The server still handles the request, as OTP's does, but
a reply to an abandoned Caller goes nowhere: it can never reach a later call, because
every call has its own Caller.

Nothing hangs on a dead server
------------------------------
A server that ends, however it ends, first stops accepting messages, then fails every
call it still owes an answer: the one being handled, those waiting in the mailbox, and
those whose reply was deferred. Each gets :class:`ServerExited`, chained from the crash
if there was one. A call to a server that has ended raises :class:`ServerNotRunning`
at once.

Ending, and ``terminate``
-------------------------
``terminate(reason)`` runs when a callback returns :class:`Stop`, when a callback raises
(``reason`` is the exception), when :meth:`ServerRef.stop` is called, and when the server
is cancelled (its supervisor stopping it; ``reason`` is a :class:`Shutdown` carrying the
cancel reason). Unlike OTP, where only a server that traps exits gets ``terminate`` on a
shutdown, trio_otp always runs it, inside :func:`cleanup_scope`, so it has the child's
shutdown budget and no more. A reply sent together with a stop reaches its caller after
``terminate``, as in OTP.
"""

from __future__ import annotations

import logging
import math
import sys
import typing
from collections import deque
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, Final, Generic, TypeVar, final

import attrs
import outcome
import trio

from . import _context
from ._backend import require_trio
from ._call_timer import CallTimer, call_timer
from ._checks import (
    check_callable,
    check_exit_reason,
    check_instance,
    check_seconds,
    check_timeout,
)
from ._child import ExitSignal, child_of_task, cleanup_scope
from ._child_spec import ChildSpec, Restart, ShutdownPolicy
from ._events import attached as _events_attached
from ._events import emit
from ._exceptions import (
    CallTimeout,
    InitStopped,
    MailboxFull,
    ServerError,
    ServerExited,
    ServerNotRunning,
    Shutdown,
)
from ._exit import ExitKind, exit_kind
from ._ki import protected, self_protecting, unprotected
from ._names import check_name, register_name, unregister_name, whereis
from ._processes import forget_process, list_process
from ._system_messages import SystemRequest, handle_system, time_source
from ._util import NoPublicConstructor, describe, safe_repr, safe_str

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

logger = logging.getLogger("trio_otp.gen_server")

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")
ServerT = TypeVar("ServerT", bound="GenServer[Any, Any]")

#: OTP's default call timeout.
DEFAULT_CALL_TIMEOUT: Final = 5.0

# Consecutive messages a server handles without parking before it yields to other tasks.
_FAIRNESS_BATCH = 64


# --- what callbacks return ---------------------------------------------------------


class _Action:
    """Base of the values a callback returns to ask for more than "carry on"."""

    __slots__ = ()


_NOTHING: Any = object()


@final
class Continue(_Action):
    """Run :meth:`GenServer.handle_continue` with ``value`` before any other message.

    Return it from ``init``, ``handle_cast``, ``handle_info`` or ``handle_continue``;
    from ``handle_call`` use ``Reply(value, continue_with=...)``.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value: object = value

    def __repr__(self) -> str:
        return f"Continue({self.value!r})"


@final
class Reply(_Action, Generic[ReplyT]):
    """Reply ``value``, then run ``handle_continue(continue_with)`` if it is given.

    A plain return value from ``handle_call`` is a reply too; this form exists for the
    continue step (and for replying a value that is itself one of these action types).
    """

    __slots__ = ("continue_with", "value")

    def __init__(self, value: ReplyT, *, continue_with: object = _NOTHING) -> None:
        self.value: ReplyT = value
        self.continue_with: object = continue_with


@final
class NoReply(_Action):
    """From ``handle_call``: do not reply now; reply later through the :class:`Caller`.

    ``NO_REPLY`` is the instance to return when there is no continue step.
    """

    __slots__ = ("continue_with",)

    def __init__(self, *, continue_with: object = _NOTHING) -> None:
        self.continue_with: object = continue_with


NO_REPLY: Final = NoReply()


@final
class Stop(_Action, Generic[ReplyT]):
    """End the server: ``terminate(reason)`` runs, then the server exits with ``reason``.

    ``reason=None`` is a normal exit (the server's task returns); an exception is raised
    from the server's task after ``terminate``, so ``Stop(Shutdown("done"))`` is a shutdown
    exit and any other exception a crash, as its supervisor sees them. From
    ``handle_call``, ``reply`` is sent to the caller after ``terminate`` has run; without
    it, the caller gets :class:`ServerExited`.
    """

    __slots__ = ("reason", "reply")

    def __init__(self, reason: BaseException | None = None, *, reply: ReplyT = _NOTHING) -> None:
        check_exit_reason(reason, "Stop's reason")
        self.reason: BaseException | None = reason
        self.reply: ReplyT = reply


# --- the server's side -----------------------------------------------------------------


class GenServer(Generic[RequestT, ReplyT]):
    """Base class of a server: subclass it (typically as an ``attrs`` class whose fields
    are the state) and override the callbacks it handles.

    ``RequestT`` and ``ReplyT`` type the requests :meth:`ServerRef.call` sends and the
    replies it returns. Every callback is async and runs in the server's task, one
    message at a time, so the state needs no locks.

    Start a server with :func:`start_server`, or put :func:`server_spec` in a
    :class:`Supervisor`.
    """

    #: If set (as a class attribute or an attrs field), a server that receives no message
    #: for this many seconds gets ``handle_info(IdleTimeout(...))`` (OTP's timeout), and
    #: again after each further period without one. ``None`` or a number of seconds > 0;
    #: another value fails the start, or crashes the server when a callback sets it.
    idle_timeout: float | None = None

    async def init(self) -> Continue | Stop[Any] | None:
        """Runs before the server accepts messages; ``start_server`` returns after it.

        Return ``None``, :class:`Continue` to run a continue step before the first
        message, or :class:`Stop` to fail the start (:class:`InitStopped`). An exception
        fails the start too, and so does any other return value (a :exc:`TypeError`).
        """
        return None

    async def handle_call(
        self, request: RequestT, caller: Caller[ReplyT]
    ) -> ReplyT | Reply[ReplyT] | NoReply | Stop[ReplyT]:
        """Answer a :meth:`ServerRef.call`: the return value is the reply.

        Return :data:`NO_REPLY` and keep ``caller`` to reply later with
        :meth:`Caller.reply`, from any task. The default raises
        :exc:`NotImplementedError`, which crashes the server: a call it does not expect
        is a bug, and the caller sees :class:`ServerExited` chained from it.
        """
        msg = f"{type(self).__name__} does not handle calls; got {request!r}"
        raise NotImplementedError(msg)

    async def handle_cast(self, request: Any) -> Continue | Stop[Any] | None:
        """Handle a :meth:`ServerRef.cast`. The default crashes, as for calls."""
        msg = f"{type(self).__name__} does not handle casts; got {request!r}"
        raise NotImplementedError(msg)

    async def handle_info(self, message: Any) -> Continue | Stop[Any] | None:
        """Handle a plain message (:meth:`ServerRef.send`). The default logs a warning
        and carries on: stray messages are common and not worth a crash."""
        logger.warning(
            "server %s received a message it does not handle: %r",
            type(self).__name__,
            message,
            extra={"otp_report": "unexpected_message", "server": type(self).__name__},
        )
        return None

    async def handle_continue(self, continuation: Any) -> Continue | Stop[Any] | None:
        """Runs after a callback returned :class:`Continue` (or ``continue_with=``),
        before any other message. The default crashes."""
        msg = f"{type(self).__name__} returned a Continue but does not define handle_continue"
        raise NotImplementedError(msg)

    def format_status(self) -> object:
        """What crash reports show as the server's state (OTP's ``format_status``).

        The default is the server object itself. Override it to leave out secrets or
        bulk, for example ``return {"user": self.user, "token": "<redacted>"}``.
        """
        return self

    async def terminate(self, reason: BaseException | None) -> None:
        """Runs once as the server ends. ``reason`` is ``None`` for a normal stop, a
        :class:`Shutdown` when it is being shut down, the exception when a callback
        raised. It runs in :func:`cleanup_scope`, so it has the shutdown budget."""


@attrs.frozen
class IdleTimeout:
    """The message a server with ``idle_timeout`` gets after that long without one."""

    seconds: float


_IDLE: Any = object()


# --- the calls ---------------------------------------------------------------------

_WAITING, _DONE, _ABANDONED = 0, 1, 2


@final
class Caller(Generic[ReplyT], metaclass=NoPublicConstructor):
    """The caller of one :meth:`ServerRef.call`, as ``handle_call`` sees it.

    Keep it to reply later (OTP's ``From`` and ``gen_server:reply/2``).
    """

    __slots__ = ("_context", "_process", "_request", "_state", "_task", "_timer")

    _context: list[tuple[Any, object]] | None  # what propagate_context carries, if on
    _process: _Process | None  # set while the reply is deferred
    _request: Any  # the request's type is the server's, which a Caller does not carry
    _state: int
    _task: trio.lowlevel.Task
    _timer: CallTimer | None  # set while a timeout watches the call

    @protected
    def reply(self, value: ReplyT) -> None:
        """Complete the call with ``value``. Not a checkpoint; never raises.

        A reply to a call that already ended (timed out, cancelled, answered) is
        dropped, as OTP drops a reply to a caller that is gone. Call it from a task of
        the same Trio run; from another thread use ``trio.from_thread.run_sync``.
        """
        if self._end(_DONE):
            trio.lowlevel.reschedule(self._task, outcome.Value(value))

    @protected
    def _fail(self, error: BaseException) -> None:
        if self._end(_DONE):
            trio.lowlevel.reschedule(self._task, outcome.Error(error))

    @protected
    def _time_out(self) -> None:
        if self._end(_ABANDONED):
            trio.lowlevel.reschedule(self._task, outcome.Error(_TimedOut()))

    def _abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self._end(_ABANDONED)
        return trio.lowlevel.Abort.SUCCEEDED

    @protected
    def _end(self, state: int) -> bool:
        """Move out of waiting; False if the call had already ended."""
        if self._state != _WAITING:
            return False
        self._state = state
        if self._process is not None:
            deferred = self._process.deferred
            if deferred is not None:
                deferred.discard(self)
            self._process = None
        if self._timer is not None:
            self._timer.finished()
            self._timer = None
        return True

    @property
    def done(self) -> bool:
        """Whether the call has ended (answered, timed out or cancelled)."""
        return self._state != _WAITING

    def __repr__(self) -> str:
        return f"<Caller of {safe_repr(self._request)}>"


def _new_caller(request: object, task: trio.lowlevel.Task) -> Caller[Any]:
    caller: Caller[Any] = object.__new__(Caller)  # pyright: ignore[reportUnknownVariableType]
    caller._request = request
    caller._task = task
    caller._state = _WAITING
    caller._process = None
    caller._timer = None
    caller._context = _context.capture() if _context.active else None
    return caller


class _TimedOut(Exception):
    """Internal: the call timer failed a call; ``call`` turns it into CallTimeout."""


class _Cast:
    __slots__ = ("_context", "request")

    def __init__(self, request: object) -> None:
        self.request = request
        self._context = _context.capture() if _context.active else None


class _Info:
    __slots__ = ("message",)

    def __init__(self, message: object) -> None:
        self.message = message


class _StopRequest:
    __slots__ = ("reason",)

    def __init__(self, reason: BaseException | None) -> None:
        self.reason = reason


class _Process:
    """The running server: its mailbox and whatever callers it owes an answer.

    Every method that changes more than one thing is KI-protected (see ``_ki.py``), so a
    Ctrl-C can never leave a caller in the mailbox whom nobody will answer, or a parked
    server that nobody will wake.
    """

    __slots__ = (
        "alive",
        "closed",
        "current",
        "deferred",
        "ended",
        "ended_event",
        "exit_reason",
        "label",
        "mailbox",
        "mailbox_size",
        "monitors",
        "name",
        "parked",
        "registered",
        "room",
        "server",
        "step_time",
        "task",
        "timers",
        "token",
        "watching",
    )

    def __init__(self, label: str, name: Hashable | None, mailbox_size: float) -> None:
        self.label: str = label
        self.name: Hashable | None = name
        self.registered: bool = False  # holds its name in the registry
        # Made at the first message: an empty deque alone is 760 bytes, and with 100,000
        # idle servers such containers add up. The ones below are made on first use too.
        self.mailbox: deque[object] | None = None
        self.mailbox_size: float = mailbox_size
        # Callers waiting for room; only a bounded mailbox needs one.
        self.room: trio.lowlevel.ParkingLot | None = (
            trio.lowlevel.ParkingLot() if mailbox_size != math.inf else None
        )
        self.parked: trio.lowlevel.Task | None = None
        self.alive: bool = True
        # The message being handled (the last one taken), for the crash report and so
        # that a call taken from the mailbox is never left without an answer.
        self.current: object = None
        self.deferred: set[Caller[Any]] | None = None
        self.ended: bool = False  # the server's task is past its last await
        self.ended_event: trio.Event | None = None  # made when someone waits for the end
        self.exit_reason: BaseException | None = None
        self.closed: bool = False  # set once exit_reason is final and the monitors were told
        self.monitors: dict[Any, None] | None = None  # Monitors of this server, oldest first
        self.watching: dict[Any, None] | None = None  # Monitors that notify this server
        self.timers: dict[Any, None] | None = None  # Timers that will send to this server
        self.server: GenServer[Any, Any] | None = None  # the state, for get_status (see _sys.py)
        # When the scheduling step in which the server took ``current`` began, by
        # _system_messages.time_source() (see _sys.py).
        self.step_time: float = 0.0
        self.task: trio.lowlevel.Task = trio.lowlevel.current_task()
        self.token: trio.lowlevel.TrioToken = trio.lowlevel.current_trio_token()

    @protected
    def register(self, ref: ServerRef[Any, Any]) -> None:
        """Take the server's name (in the server's own task). Raises NameTaken."""
        register_name(self.name, ref)
        self.registered = True

    @protected
    def post(self, item: object) -> None:
        """Put a cast or info in the mailbox (not a checkpoint)."""
        if not self.alive:
            msg = f"server {self.label} is not running"
            raise ServerNotRunning(msg)
        if self.full():
            msg = f"the mailbox of server {self.label} is full ({self.mailbox_size:g} messages)"
            raise MailboxFull(msg)
        self.append(item)

    @protected
    def post_system(self, item: object) -> None:
        """Put a system message (a stop) in the mailbox: in order, but never refused for
        want of room, so that a busy server can always be stopped."""
        if not self.alive:
            msg = f"server {self.label} is not running"
            raise ServerNotRunning(msg)
        self.append(item)

    @protected
    def append(self, item: object) -> None:
        """Put an item in the mailbox and wake the server (no checks)."""
        mailbox = self.mailbox
        if mailbox is None:
            mailbox = self.mailbox = deque()
        mailbox.append(item)
        self.wake()

    def full(self) -> bool:
        return self.room is not None and self.mailbox is not None and len(self.mailbox) >= self.mailbox_size

    async def wait_ended(self) -> None:
        if not self.ended:
            if self.ended_event is None:
                self.ended_event = trio.Event()
            await self.ended_event.wait()

    @protected
    def wake(self) -> None:
        task = self.parked
        if task is not None:
            self.parked = None
            trio.lowlevel.reschedule(task)

    async def receive(self) -> object:
        while not self.mailbox:
            self.current = None
            self.parked = self.task
            await trio.lowlevel.wait_task_rescheduled(self.abort_park)
        return self.take()

    @protected
    def take(self) -> object:
        """The oldest message, which becomes :attr:`current`; the mailbox must not be empty."""
        assert self.mailbox is not None
        item = self.current = self.mailbox.popleft()
        room = self.room
        if room is not None and room:
            room.unpark()
        return item

    def abort_park(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self.parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    @protected
    def stop_accepting(self, error: BaseException | None) -> BaseException | None:
        """The server is ending (``error`` is why, ``None`` for a requested stop): refuse
        new messages, and forget any park that an interrupt cut short. Lookups by name
        no longer find it, though it keeps the name until it has ended. Returns the exit
        reason, a :class:`Shutdown` for a cancellation."""
        self.alive = False
        self.parked = None
        return None if error is None else _reason_of(error)

    @protected
    def fail_current(self, reason: BaseException | None) -> None:
        """Fail the call being handled, if it is one and still waits (before terminate)."""
        current = self.current
        if type(current) is SystemRequest:  # an interrupt in replace_state's function
            current = current.caller
        if type(current) is Caller and current._process is None:  # deferred ones: after terminate
            current._fail(_exited(self.label, reason))

    @protected
    def close(self, reason: BaseException | None) -> None:
        """Stop accepting messages, fail every call still owed an answer, cancel the
        timers aimed at this server and tell its monitors, once each."""
        if self.closed:
            return
        self.stop_accepting(None)
        self.exit_reason = reason
        self.closed = True
        for timer in list(self.timers or ()):
            timer.cancel()
        for monitor in list(self.monitors or ()):
            monitor._fire(reason)
        for monitor in list(self.watching or ()):
            monitor.demonitor()  # nobody left to tell: OTP drops a dead watcher's monitors
        owed = list(self.deferred or ())
        current = self.current
        if type(current) is SystemRequest:
            current = current.caller
        if type(current) is Caller and not current.done:
            owed.append(current)  # pyright: ignore[reportUnknownArgumentType]
        while self.mailbox:
            item = self.mailbox.popleft()
            if type(item) is Caller:
                owed.append(item)  # pyright: ignore[reportUnknownArgumentType]
            elif type(item) is SystemRequest:
                owed.append(item.caller)
        if owed:
            error = _exited(self.label, reason)
            for caller in owed:
                caller._fail(_copy(error))
        if self.room is not None:
            self.room.unpark_all()

    @protected
    def finish(self, error: BaseException | None) -> None:
        """The last step of the server's task, however it ended: close if that has not
        happened (an interrupt can skip the usual path), release the name, mark the end."""
        self.close(None if error is None else _reason_of(error))
        forget_process(self)
        self.server = None  # a ref held after the end must not keep the state alive
        if self.registered:
            self.registered = False
            unregister_name(self.name)
        self.set_ended()

    def set_ended(self) -> None:
        self.alive = False
        self.ended = True
        if self.ended_event is not None:
            self.ended_event.set()


def _defer(process: _Process, caller: Caller[Any]) -> None:
    if process.deferred is None:
        process.deferred = set()
    process.deferred.add(caller)


def _call_timeout(process: _Process, request: object, timeout: float | None) -> CallTimeout:
    return CallTimeout(
        f"call to server {process.label} got no reply within {timeout:g} s: {safe_repr(request)}"
    )


def _exited(label: str, reason: BaseException | None) -> ServerExited:
    if reason is None:
        how = "exited normally before replying"
    elif isinstance(reason, Shutdown):
        text = safe_str(reason)
        how = "was shut down before replying" + (f" ({text})" if text else "")
    else:
        how = f"crashed before replying: {safe_repr(reason)}"
    error = ServerExited(f"server {label} {how}", reason)
    error.__cause__ = reason
    return error


def _copy(error: ServerExited) -> ServerExited:
    # Each waiting caller raises its own instance, so tracebacks do not pile up on one.
    copy = ServerExited(str(error), error.reason)
    copy.__cause__ = error.__cause__
    return copy


@final
class ServerRef(Generic[RequestT, ReplyT], metaclass=NoPublicConstructor):
    """A handle on one running server (one start of it: a restart makes a new one).

    Use a name (``start_server(..., name=...)`` and :func:`whereis`) to reach whichever
    server currently runs under that name.
    """

    __slots__ = ("_process",)

    def __init__(self, process: _Process) -> None:
        self._process = process

    @property
    def name(self) -> Hashable | None:
        """The name it was started under, if any."""
        return self._process.name

    @property
    def alive(self) -> bool:
        """Whether the server still accepts messages."""
        return self._process.alive

    def __repr__(self) -> str:
        state = "running" if self._process.alive else "ended"
        return f"<ServerRef {self._process.label} ({state})>"

    # A timeout parameter, not trio.fail_after around the call: OTP's call takes one, its
    # default (5 s) protects every caller, and CallTimeout names the server and request.
    # KI-protected from start to park: a Ctrl-C between queueing the Caller and parking on
    # it would leave the server to reschedule a task that has gone (see _ki.py).
    @protected
    async def call(self, request: RequestT, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> ReplyT:  # noqa: ASYNC109
        """Send ``request`` to ``handle_call`` and wait for the reply.

        A checkpoint. ``timeout`` is in seconds >= 0 (default 5, as OTP); ``None`` (or
        ``math.inf``) waits for ever. Cancelling the caller, or the timeout passing,
        abandons the call: the server still handles the request, and its reply is dropped.

        Raises:
          CallTimeout: no reply within ``timeout``.
          ServerExited: the server ended before replying (chained from its crash).
          ServerNotRunning: the server had already ended.
          MailboxFull: never; with a bounded mailbox a call waits (within its timeout)
            for room.
          ServerError: the server called itself, which could only deadlock.
          TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0
            (checked before anything is sent).
        """
        if type(timeout) is float and timeout >= 0.0:  # the usual case, checked inline
            seconds = timeout
        else:
            seconds = check_timeout(timeout, "call's timeout")
        process = self._process
        task = trio.lowlevel.current_task()
        if task is process.task:
            msg = f"server {process.label} called itself, which would wait for ever"
            raise ServerError(msg)
        await trio.lowlevel.checkpoint_if_cancelled()
        deadline = math.inf if seconds == math.inf else trio.current_time() + seconds
        if process.room is not None and process.full():
            await self._wait_for_room(process, deadline, request, timeout)
        if not process.alive:
            msg = f"server {process.label} is not running"
            raise ServerNotRunning(msg)
        caller: Caller[ReplyT] = _new_caller(request, task)
        process.append(caller)
        if deadline != math.inf:
            timer = caller._timer = call_timer()
            timer.add(caller, deadline)
        if _events_attached():
            return await self._measured(process, caller, request, timeout)  # type: ignore[no-any-return]
        try:
            return await trio.lowlevel.wait_task_rescheduled(caller._abort)  # type: ignore[no-any-return]
        except _TimedOut:
            raise _call_timeout(process, request, timeout) from None

    @staticmethod
    async def _measured(
        process: _Process,
        caller: Caller[Any],
        request: object,
        timeout: float | None,  # noqa: ASYNC109 - for the error message only
    ) -> Any:
        """The end of a call while event handlers are attached: also emits call_completed."""
        started = trio.current_time()
        outcome_name = "reply"
        try:
            return await trio.lowlevel.wait_task_rescheduled(caller._abort)
        except _TimedOut:
            outcome_name = "CallTimeout"
            raise _call_timeout(process, request, timeout) from None
        except BaseException as error:
            outcome_name = type(error).__name__
            raise
        finally:
            emit(
                "call_completed",
                {"duration": trio.current_time() - started},
                {"server": process.label, "request": request, "outcome": outcome_name},
            )

    @staticmethod
    async def _wait_for_room(
        process: _Process,
        deadline: float,
        request: object,
        timeout: float | None,  # noqa: ASYNC109 - for the error message only
    ) -> None:
        with trio.move_on_at(deadline):
            while process.full() and process.alive:
                assert process.room is not None  # bounded mailboxes have one
                await process.room.park()
            return
        raise _call_timeout(process, request, timeout)

    def cast(self, request: object) -> None:
        """Send ``request`` to ``handle_cast`` without waiting. Not a checkpoint.

        Raises:
          ServerNotRunning: the server has ended (OTP drops such a cast silently;
            trio_otp knows, so it says so).
          MailboxFull: the mailbox is bounded and full.
        """
        self._process.post(_Cast(request))

    def send(self, message: object) -> None:
        """Send a plain message to ``handle_info`` (OTP's ``Pid ! Message``). Raises as
        :meth:`cast` does. Not a checkpoint."""
        self._process.post(_Info(message))

    async def stop(
        self,
        reason: BaseException | None = None,
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as call's
    ) -> None:
        """Ask the server to end with ``reason`` and wait until it has.

        The request joins the mailbox behind the messages already there, as OTP's system
        message does, but a full bounded mailbox never refuses it; the server then runs
        ``terminate(reason)`` and exits with ``reason`` (see :class:`Stop`). A checkpoint.

        Raises:
          ServerNotRunning: it had already ended.
          ServerExited: it ended for another reason first (a crash queued before the
            stop, say), as OTP raises that reason in the caller.
          CallTimeout: it had not ended within ``timeout``; it is not killed and goes on
            ending.
          TypeError, ValueError: ``reason`` is neither None nor an exception, or
            ``timeout`` is not None or a number of seconds >= 0 (checked before sending).
          ServerError: the server asked to stop itself and wait; return :class:`Stop`.
        """
        check_exit_reason(reason, "stop's reason")
        seconds = check_timeout(timeout, "stop's timeout")
        process = self._process
        if trio.lowlevel.current_task() is process.task:
            msg = f"server {process.label} asked to stop itself and wait for that; return Stop instead"
            raise ServerError(msg)
        process.post_system(_StopRequest(reason))
        with trio.move_on_after(seconds):
            await process.wait_ended()
            if process.exit_reason is not reason:
                # It ended for another reason first (OTP raises that reason in the caller).
                raise _exited(process.label, process.exit_reason)
            return
        msg = f"server {process.label} did not stop within {timeout:g} s"
        raise CallTimeout(msg)

    def call_from_thread(self, request: RequestT, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> ReplyT:
        """:meth:`call` from a thread that is not running Trio (a worker thread, a
        synchronous library's callback). Blocks that thread; raises as :meth:`call`, and
        :class:`ServerNotRunning` once the Trio run that the server belonged to is over."""
        check_timeout(timeout, "call_from_thread's timeout")
        self._check_outside_trio("call_from_thread")
        try:
            return trio.from_thread.run(
                partial(self.call, request, timeout=timeout), trio_token=self._process.token
            )
        except trio.RunFinishedError:
            raise self._run_over() from None

    def cast_from_thread(self, request: object) -> None:
        """:meth:`cast` from a thread that is not running Trio; raises as :meth:`cast`,
        and :class:`ServerNotRunning` once the server's Trio run is over."""
        self._check_outside_trio("cast_from_thread")
        try:
            trio.from_thread.run_sync(self.cast, request, trio_token=self._process.token)
        except trio.RunFinishedError:
            raise self._run_over() from None

    @staticmethod
    def _check_outside_trio(method: str) -> None:
        if trio.lowlevel.in_trio_run():
            msg = f"{method} is for a thread that is not running Trio; in Trio, await the method without it"
            raise RuntimeError(msg)

    def _run_over(self) -> ServerNotRunning:
        return ServerNotRunning(f"server {self._process.label} is not running: its Trio run has ended")


# --- calls by name ------------------------------------------------------------------


def _lookup(name: object) -> ServerRef[Any, Any]:
    if isinstance(name, ServerRef):
        return name  # pyright: ignore[reportUnknownVariableType]
    ref = whereis(name)
    if not isinstance(ref, ServerRef):
        msg = f"no running server is registered as {safe_repr(name)}"
        if ref is not None:
            msg = f"{safe_repr(name)} names {safe_repr(ref)}, which is not a server"
            raise TypeError(msg)
        raise ServerNotRunning(msg)
    return ref


# A ServerRef is Hashable too, so without the overloads a type checker cannot tell which
# branch of the union it got, and infers no reply type at all (Never).
@typing.overload
async def call(
    name: ServerRef[RequestT, ReplyT],
    request: RequestT,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> ReplyT: ...


@typing.overload
async def call(
    name: Hashable,
    request: object,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> Any: ...


async def call(
    name: Hashable,
    request: object,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> Any:
    """:meth:`ServerRef.call` on whichever server runs under ``name`` now (or on a ref).

    Looking the name up at every call is what lets a caller outlive a restart. Raises as
    :meth:`ServerRef.call`, and :class:`ServerNotRunning` if nothing has that name. The
    reply is typed from a ref's type parameters; by name it is ``Any``.
    """
    return await _lookup(name).call(request, timeout=timeout)


def cast(name: ServerRef[Any, Any] | Hashable, request: object) -> None:
    """:meth:`ServerRef.cast` by name. Not a checkpoint."""
    _lookup(name).cast(request)


def send(name: ServerRef[Any, Any] | Hashable, message: object) -> None:
    """:meth:`ServerRef.send` by name. Not a checkpoint."""
    _lookup(name).send(message)


# --- running a server ----------------------------------------------------------------


def _check_factory(factory: object) -> None:
    check_callable(factory, "factory", "a callable that builds the server's state (such as the class)")


def _check_mailbox_size(mailbox_size: object) -> None:
    if isinstance(mailbox_size, bool) or not isinstance(mailbox_size, (int, float)):
        msg = f"mailbox_size must be a whole number >= 1 or math.inf, got {describe(mailbox_size)}"
        raise TypeError(msg)
    if not (mailbox_size == math.inf or (mailbox_size >= 1 and mailbox_size == int(mailbox_size))):
        msg = f"mailbox_size must be a whole number >= 1 or math.inf, got {mailbox_size!r}"
        raise ValueError(msg)


def _check_idle_timeout(server: object, value: object) -> None:
    if value is not None:
        check_seconds(value, f"{type(server).__name__}.idle_timeout (None or seconds)", rule="> 0")


@self_protecting
@unprotected  # it runs the server's callbacks, which must stay interruptible
async def serve(
    factory: Callable[[], GenServer[RequestT, ReplyT]],
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    *,
    task_status: trio.TaskStatus[ServerRef[RequestT, ReplyT]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a server until it ends: the start function behind :func:`start_server` and
    :func:`server_spec`, for ``nursery.start``.

    Builds the state with ``factory()``, registers ``name``, runs ``init``, reports a
    :class:`ServerRef` through ``task_status``, then handles messages. Returns when the
    server stops normally; raises the stop reason or the crash otherwise.

    Raises:
      NameTaken: before ``init``, if another server runs under ``name``.
      InitStopped: ``init`` returned :class:`Stop`.
      TypeError, ValueError: a bad argument, a factory that builds no GenServer, a bad
        ``idle_timeout``, or ``init`` returning something other than None, Continue or Stop.
      Exception: whatever ``factory`` or ``init`` raised (before ``started``).
    """
    require_trio("trio_otp.serve")
    # One coroutine from start to end, with the mailbox wait inlined: every frame a
    # parked server keeps costs a few hundred bytes, times the number of servers.
    _check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    server: object = factory()
    if not isinstance(server, GenServer):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
        msg = f"a server factory must return a GenServer instance, got {describe(server)}"
        raise TypeError(msg)
    idle_timeout = server.idle_timeout
    _check_idle_timeout(server, idle_timeout)
    label = f"{type(server).__name__}" + (f" {safe_repr(name)}" if name is not None else "")
    process = _Process(label, name, mailbox_size)
    process.server = server
    ref = typing.cast("ServerRef[RequestT, ReplyT]", ServerRef._create(process))
    # Every way out passes through process.finish: a KeyboardInterrupt can land between
    # any two lines of this (unprotected) function, and no caller may be left waiting.
    ended_by: BaseException | None = None
    try:
        list_process(process, process.task)
        if name is not None:
            process.register(ref)
        result: object
        try:
            # As object, not as init is typed: not every subclass is type-checked.
            result = typing.cast("object", await server.init())
        except BaseException as init_error:
            signal = _exit_signal(process, init_error)
            process.close(_reason_of(init_error) if signal is None else signal.reason)
            raise
        if isinstance(result, Stop):
            message = f"server {process.label}: init returned Stop({safe_repr(result.reason)})"
            stopped = InitStopped(message, result.reason)
            process.close(result.reason)
            raise stopped
        if result is not None and not isinstance(result, Continue):
            msg = (
                f"{type(server).__name__}.init returned {safe_repr(result)}; expected None, Continue or Stop"
            )
            raise TypeError(msg)
        task_status.started(ref)
        pending_reply: Caller[Any] | None = None
        stop: Stop[Any] | None = None
        continuation = result.value if isinstance(result, Continue) else _NOTHING
        handled = 0
        task = process.task
        now = time_source()
        try:
            while stop is None:
                if continuation is not _NOTHING:
                    step, continuation = continuation, _NOTHING
                    result = await server.handle_continue(step)
                else:
                    if process.mailbox:
                        handled += 1
                        if handled >= _FAIRNESS_BATCH:
                            handled = 0
                            process.current = None  # handled; get_status shows no message
                            await trio.lowlevel.checkpoint()
                    else:
                        handled = 0
                    if server.idle_timeout is not idle_timeout:  # a callback changed it
                        idle_timeout = server.idle_timeout
                        _check_idle_timeout(server, idle_timeout)
                    item: object
                    if idle_timeout is None or process.mailbox:
                        while not process.mailbox:
                            process.current = None  # handled: get_status shows no message
                            process.parked = process.task
                            await trio.lowlevel.wait_task_rescheduled(process.abort_park)
                        item = process.take()
                    else:
                        item = _IDLE
                        with trio.move_on_after(idle_timeout):
                            item = await process.receive()
                        if item is _IDLE:
                            item = process.current = _Info(IdleTimeout(idle_timeout))
                    # Trio clears custom_sleep_data whenever it reschedules a task: if our
                    # mark is gone, this is a new scheduling step, so read the clock (once
                    # per step, not per message; see _sys.py).
                    if task.custom_sleep_data is not process:
                        process.step_time = now()
                        task.custom_sleep_data = process
                    if _context.active:
                        _context.enter(item)
                    kind = type(item)
                    if kind is Caller:
                        caller: Caller[Any] = item  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
                        result = await server.handle_call(caller._request, caller)
                        if not isinstance(result, _Action):
                            caller.reply(result)
                        else:
                            continuation, stop, pending_reply = _after_call(process, caller, result)
                        continue
                    if kind is _Cast:
                        result = await server.handle_cast(item.request)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
                    elif kind is _Info:
                        result = await server.handle_info(item.message)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
                    elif kind is _StopRequest:
                        result = Stop(item.reason)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
                    else:  # get_state or replace_state, between two callbacks (see _sys.py)
                        server = process.server = handle_system(server, item)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
                        continue
                if result is None:
                    continue
                if isinstance(result, Continue):
                    continuation = result.value
                elif isinstance(result, Stop):  # pyright: ignore[reportUnnecessaryIsInstance]
                    stop = result
                else:  # only reachable from code that is not type-checked
                    callback = type(server).__name__  # type: ignore[unreachable]
                    msg = f"{callback} callback returned {safe_repr(result)}; expected None, Continue or Stop"
                    raise TypeError(msg)
        except BaseException as error:
            crash_reason = process.stop_accepting(error)
            signal = _exit_signal(process, error)
            if signal is not None:  # trio_otp.exit: its reason, and no terminate for a kill
                crash_reason = signal.reason
            elif isinstance(error, Exception) and exit_kind(error) is ExitKind.CRASH:
                _crash_report(server, process, error)
            process.fail_current(crash_reason)
            if signal is None or not signal.killed:
                await _terminate(server, process, crash_reason)
                signal = _exit_signal(process, error)  # a kill may have come meanwhile
                if signal is not None:
                    crash_reason = signal.reason
            process.close(crash_reason)
            raise
        reason = stop.reason
        # A requested stop: terminate first, then the reply (OTP's order), then the exit.
        process.stop_accepting(None)
        await _terminate(server, process, reason)
        if pending_reply is not None:
            pending_reply.reply(stop.reply)
        process.close(reason)
        if reason is not None:
            raise reason
    except BaseException as error:
        ended_by = error
        raise
    finally:
        process.finish(ended_by)


def _after_call(
    process: _Process, caller: Caller[Any], result: _Action
) -> tuple[object, Stop[Any] | None, Caller[Any] | None]:
    """What a handle_call's Reply, NoReply or Stop means: (continuation, stop, pending reply)."""
    if isinstance(result, Reply):
        caller.reply(result.value)  # pyright: ignore[reportUnknownMemberType]
        return result.continue_with, None, None
    if isinstance(result, NoReply):
        if not caller.done:
            caller._process = process
            _defer(process, caller)
        return result.continue_with, None, None
    if isinstance(result, Stop):
        if result.reply is not _NOTHING:  # pyright: ignore[reportUnknownMemberType]
            return _NOTHING, result, caller  # pyright: ignore[reportUnknownVariableType]
        _defer(process, caller)  # failed by close() below
        caller._process = process
        return _NOTHING, result, None  # pyright: ignore[reportUnknownVariableType]
    msg = f"handle_call returned {result!r}, which is no reply; use Reply(value, continue_with=...)"
    raise TypeError(msg)


def _crash_report(server: GenServer[Any, Any], process: _Process, error: Exception) -> None:
    """OTP's gen_server crash report: reason, last message and (redactable) state."""
    if not logger.isEnabledFor(logging.ERROR):
        return  # format_status can cost more than the crash
    last = process.current
    if isinstance(last, Caller):
        last_message: object = ("call", last._request)
    elif isinstance(last, _Cast):
        last_message = ("cast", last.request)
    elif isinstance(last, _Info):
        last_message = ("info", last.message)
    else:
        last_message = None
    try:
        status = server.format_status()
    except Exception as failure:  # a broken redaction must not hide the crash
        status = f"<format_status raised {safe_repr(failure)}>"
    logger.error(
        "server %s terminating: %s; last message: %s; state: %s",
        process.label,
        safe_repr(error),
        safe_repr(last_message),
        safe_repr(status),
        extra={
            "otp_report": "server_crash",
            "server": process.label,
            "reason": safe_repr(error),
            "last_message": last_message,
            "state": status,
        },
    )


def _exit_signal(process: _Process, error: BaseException) -> ExitSignal | None:
    """The :func:`trio_otp.exit` signal that cancelled this server, if that is how it
    ends: by a ``Cancelled``, or a group of nothing else (a callback's nursery)."""
    if _reason_of(error) is error:
        return None  # not a cancellation: its own error
    child = child_of_task(process.task)
    return None if child is None else child.exit_signal


def _reason_of(error: BaseException) -> BaseException:
    """How a server's end reads in ServerExited and Down: a cancellation is a shutdown."""
    if isinstance(error, trio.Cancelled):
        return Shutdown(str(error))
    if isinstance(error, BaseExceptionGroup):
        _, rest = error.split(trio.Cancelled)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if rest is None:
            return Shutdown(safe_str(error.exceptions[0]))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return error  # pyright: ignore[reportUnknownVariableType]


async def _terminate(server: GenServer[Any, Any], process: _Process, reason: BaseException | None) -> None:
    if type(server).terminate is GenServer.terminate:  # pyright: ignore[reportUnknownMemberType]
        return  # nothing to run: skip the cleanup scope, which is not free
    with cleanup_scope():
        try:
            await server.terminate(reason)
        except Exception:
            logger.exception(
                "server %s: terminate raised",
                process.label,
                extra={"otp_report": "terminate_error", "server": process.label},
            )


async def start_server(
    nursery: trio.Nursery,
    factory: Callable[[], GenServer[RequestT, ReplyT]],
    *,
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
) -> ServerRef[RequestT, ReplyT]:
    """Start a server in ``nursery`` and return its reference once ``init`` has finished.

    ``factory`` builds the state, e.g. ``Counter`` or ``functools.partial(Counter, total=5)``.
    ``mailbox_size`` bounds the mailbox (default unbounded, as OTP's): when it is full,
    calls wait for room and casts and sends raise :class:`MailboxFull`. A checkpoint.

    Raises what :func:`serve` raises before the server is running, and TypeError or
    ValueError for a bad argument before anything starts.
    """
    require_trio("trio_otp.start_server")
    check_instance(nursery, trio.Nursery, "start_server's nursery", "a trio.Nursery")
    _check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    ref: ServerRef[RequestT, ReplyT] = await nursery.start(serve, factory, name, mailbox_size)
    return ref


def server_spec(
    id: Hashable,  # noqa: A002
    factory: Callable[[], GenServer[RequestT, ReplyT]],
    *,
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
    significant: bool = False,
) -> ChildSpec[ServerRef[RequestT, ReplyT]]:
    """A :class:`ChildSpec` that runs a server under a supervisor.

    Each start (and restart) calls ``factory()`` for fresh state. The child's reference
    is its :class:`ServerRef`, typed as the server's (a ``GenServer[str, int]`` gives a
    ``ChildSpec[ServerRef[str, int]]``); give it a ``name`` so callers find the restarted
    server.
    """
    _check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    return ChildSpec(
        id,
        serve,
        args=(factory, name, mailbox_size),
        restart=restart,
        shutdown=shutdown,
        significant=significant,
    )
