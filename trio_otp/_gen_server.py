"""GenServers: a state object whose methods handle requests, run as one task with a mailbox.

The process under a server (its mailbox, name, monitors, and the callers it owes an
answer) is in ``_process.py``; the :class:`Caller` of a call in ``_caller.py``; the
:class:`ServerRef` and calls by name in ``_server_ref.py``. This module is the GenServer
behaviour: the callbacks, and the loop that dispatches messages to them.

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
import typing
from collections import deque
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, Final, Generic, TypeVar, final

import attrs
import trio

from . import _context
from ._backend import require_trio
from ._caller import Caller
from ._checks import check_callable, check_exit_reason, check_instance, check_seconds, check_timeout
from ._child import ChildTask, cleanup_scope
from ._child_spec import ChildSpec, Ignore, Restart, ShutdownPolicy
from ._exceptions import InitIgnored, InitStopped, InitTimeout
from ._ki import self_protecting, unprotected
from ._log_fields import error_fields
from ._names import check_name
from ._process import (
    Cast,
    Info,
    Process,
    StopRequest,
    check_mailbox_size,
    defer,
    end_after_error,
    exit_signal_of,
    reason_of,
)
from ._processes import child_of, list_server, supervisor_path
from ._server_ref import ServerRef
from ._system_messages import SystemRequest, handle_system, time_source
from ._util import describe, safe_repr

logger = logging.getLogger("trio_otp.gen_server")

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

# Consecutive messages a server handles without parking before it yields to other tasks.
_FAIRNESS_BATCH = 64


# --- what callbacks return ---------------------------------------------------------


class _Action:
    """Base of the values a callback returns to ask for more than "carry on"."""

    __slots__ = ()


_NOTHING: Any = object()


def _check_return_timeout(timeout: object, continue_with: object, action: str) -> float | None:
    if timeout is None:
        return None
    seconds = check_seconds(timeout, f"{action}'s timeout", rule=">= 0 or None")
    if continue_with is not _NOTHING:
        msg = (
            f"{action} takes continue_with or timeout, not both (OTP's return takes one of them), "
            f"got timeout={timeout!r}"
        )
        raise ValueError(msg)
    return seconds


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
    continue step, for a ``timeout`` (as :class:`Timeout`: OTP's ``{reply, R, S, T}``), and
    for replying a value that is itself one of these action types. ``continue_with`` and
    ``timeout`` exclude each other, as in OTP.

    Raises:
      TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0, or is
        given together with ``continue_with``.
    """

    __slots__ = ("continue_with", "timeout", "value")

    def __init__(
        self, value: ReplyT, *, continue_with: object = _NOTHING, timeout: float | None = None
    ) -> None:
        self.value: ReplyT = value
        self.continue_with: object = continue_with
        self.timeout: float | None = _check_return_timeout(timeout, continue_with, "Reply")


@final
class NoReply(_Action):
    """From ``handle_call``: do not reply now; reply later through the :class:`Caller`.

    ``NO_REPLY`` is the instance to return when there is no continue step. ``timeout``
    is as :class:`Timeout`'s (OTP's ``{noreply, S, T}``); it excludes ``continue_with``.

    Raises:
      TypeError, ValueError: as :class:`Reply`.
    """

    __slots__ = ("continue_with", "timeout")

    def __init__(self, *, continue_with: object = _NOTHING, timeout: float | None = None) -> None:
        self.continue_with: object = continue_with
        self.timeout: float | None = _check_return_timeout(timeout, continue_with, "NoReply")


NO_REPLY: Final = NoReply()


@final
class Timeout(_Action):
    """Carry on, but if no message arrives within ``seconds``, get
    ``handle_info(IdleTimeout(seconds))``: OTP's ``{noreply, State, Timeout}``.

    Return it from ``init``, ``handle_cast``, ``handle_info`` or ``handle_continue``; from
    ``handle_call`` use ``Reply(value, timeout=...)`` or ``NoReply(timeout=...)``. It
    fires at most once: any message cancels it, and only returning it again sets another.
    For that one wait it replaces the ``idle_timeout`` attribute (which
    applies again after the next message); ``math.inf`` waits for ever, ``0`` fires at
    once unless a message is already waiting.

    Raises:
      TypeError, ValueError: ``seconds`` is not a number of seconds >= 0.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds: float = check_seconds(seconds, "Timeout's seconds")

    def __repr__(self) -> str:
        return f"Timeout({self.seconds!r})"


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
    #: for this many seconds gets ``handle_info(IdleTimeout(...))``, and
    #: again after each further period without one. ``None`` or a number of seconds > 0;
    #: another value fails the start, or crashes the server when a callback sets it. For
    #: a timeout that fires once, as OTP's does, return :class:`Timeout` instead.
    idle_timeout: float | None = None

    async def init(self) -> Continue | Timeout | Stop[Any] | type[Ignore] | None:
        """Runs before the server accepts messages; ``start_server`` returns after it.

        Return ``None``, :class:`Continue` to run a continue step before the first
        message, :class:`Timeout` for a first message deadline, :class:`Stop` to fail
        the start (:class:`InitStopped`), or :class:`Ignore` not to start, which is no
        failure under a supervisor (:class:`InitIgnored` outside one). An exception
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

    async def handle_cast(self, request: Any) -> Continue | Timeout | Stop[Any] | None:
        """Handle a :meth:`ServerRef.cast`. The default crashes, as for calls."""
        msg = f"{type(self).__name__} does not handle casts; got {request!r}"
        raise NotImplementedError(msg)

    async def handle_info(self, message: Any) -> Continue | Timeout | Stop[Any] | None:
        """Handle a plain message (:meth:`ServerRef.send`). The default logs a warning
        and carries on: stray messages are common and not worth a crash."""
        logger.warning(
            "server %s received a message it does not handle: %r",
            type(self).__name__,
            message,
            extra={"otp_report": "unexpected_message", "server": type(self).__name__},
        )
        return None

    async def handle_continue(self, continuation: Any) -> Continue | Timeout | Stop[Any] | None:
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
_ONE_SHOT: Any = object()  # in place of the idle_timeout seen: a returned Timeout is pending


# --- running a server ----------------------------------------------------------------


def _check_factory(factory: object) -> None:
    check_callable(factory, "factory", "a callable that builds the server's state (such as the class)")


def _check_idle_timeout(server: object, value: object) -> None:
    if value is not None:
        check_seconds(value, f"{type(server).__name__}.idle_timeout (None or seconds)", rule="> 0")


@self_protecting
@unprotected  # it runs the server's callbacks, which must stay interruptible
async def serve(
    factory: Callable[[], GenServer[RequestT, ReplyT]],
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    start_timeout: float | None = None,
    *,
    task_status: trio.TaskStatus[ServerRef[RequestT, ReplyT]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a server until it ends: the start function behind :func:`start_server` and
    :func:`server_spec`, for ``nursery.start``.

    Builds the state with ``factory()``, registers ``name``, runs ``init``, reports a
    :class:`ServerRef` through ``task_status``, then handles messages. Returns when the
    server stops normally; raises the stop reason or the crash otherwise. When ``init``
    returns :class:`Ignore`, it raises :class:`InitIgnored`, except under a supervisor,
    where it tells the supervisor so and returns without calling ``task_status.started()``.
    ``start_timeout`` (seconds, or ``None`` to wait for ever) bounds ``init``, as OTP's
    start ``timeout`` option does.

    Raises:
      NameTaken: before ``init``, if another server runs under ``name``.
      InitStopped: ``init`` returned :class:`Stop`.
      InitIgnored: ``init`` returned :class:`Ignore`, not under a supervisor.
      InitTimeout: ``init`` had not returned within ``start_timeout``; it was cancelled.
      TypeError, ValueError: a bad argument, a factory that builds no GenServer, a bad
        ``idle_timeout``, or ``init`` returning something other than None, Continue, Timeout, Stop or Ignore.
      Exception: whatever ``factory`` or ``init`` raised (before ``started``).
    """
    # One coroutine from start to end, with the mailbox wait inlined: every frame a
    # parked server keeps costs a few hundred bytes, times the number of servers.
    spec = task_status.spec if type(task_status) is ChildTask else None
    checked = None if spec is None else spec._checked_server_args
    if spec is not None and checked is not None and checked[0] is spec.args and spec.start is serve:
        init_seconds = checked[1]  # server_spec made the checks, on these very arguments
    else:
        require_trio("trio_otp.serve")
        check_mailbox_size(mailbox_size)
        _check_factory(factory)
        if name is not None:
            check_name(name)
        init_seconds = check_timeout(start_timeout, "start_timeout")
    server: object = factory()
    if not isinstance(server, GenServer):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
        msg = f"a server factory must return a GenServer instance, got {describe(server)}"
        raise TypeError(msg)
    idle_timeout = server.idle_timeout
    _check_idle_timeout(server, idle_timeout)
    label = f"{type(server).__name__}" + (f" {safe_repr(name)}" if name is not None else "")
    process = Process(label, name, mailbox_size)
    process.server = server
    ref = typing.cast("ServerRef[RequestT, ReplyT]", ServerRef._create(process))
    # Every way out passes through process.finish: a KeyboardInterrupt can land between
    # any two lines of this (unprotected) function, and no caller may be left waiting.
    ended_by: BaseException | None = None
    try:
        list_server(ref, process.task, task_status)  # current_server() from here on
        if name is not None:
            process.register(ref)
        result: object
        try:
            # As object, not as init is typed: not every subclass is type-checked.
            if init_seconds == math.inf:
                result = typing.cast("object", await server.init())
            else:
                result = _NOTHING
                with trio.move_on_after(init_seconds):
                    result = typing.cast("object", await server.init())
                if result is _NOTHING:
                    msg = f"server {process.label}: init did not return within {init_seconds:g} s"
                    raise InitTimeout(msg)
        except BaseException as init_error:
            signal = exit_signal_of(process, init_error)
            process.close(reason_of(init_error) if signal is None else signal.reason)
            raise
        if isinstance(result, Stop):
            message = f"server {process.label}: init returned Stop({safe_repr(result.reason)})"
            stopped = InitStopped(message, result.reason)
            process.close(result.reason)
            raise stopped
        if result is Ignore:
            process.close(None)
            if isinstance(task_status, ChildTask):
                task_status.ignore()  # its supervisor keeps it not running
                return
            raise InitIgnored(f"server {process.label}: init returned Ignore")
        if result is not None and not isinstance(result, (Continue, Timeout)):
            msg = (
                f"{type(server).__name__}.init returned {safe_repr(result)}; "
                "expected None, Continue, Timeout, Stop or Ignore"
            )
            raise TypeError(msg)
        task_status.started(ref)
        pending_reply: Caller[Any] | None = None
        stop: Stop[Any] | None = None
        continuation = result.value if isinstance(result, Continue) else _NOTHING
        # What the next wait for a message uses: idle_timeout, or a returned Timeout's
        # seconds (`once`), marked by setting idle_timeout to _ONE_SHOT so that the check
        # the loop makes anyway (has the attribute changed?) picks it up: no extra cost
        # per message.
        wait: float | None = idle_timeout
        once: float = math.inf
        if isinstance(result, Timeout):
            once, idle_timeout = result.seconds, _ONE_SHOT
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
                    if server.idle_timeout is not idle_timeout:  # changed, or a Timeout returned
                        one_shot = idle_timeout is _ONE_SHOT
                        idle_timeout = server.idle_timeout
                        _check_idle_timeout(server, idle_timeout)
                        # A message already waiting cancels a returned Timeout, as in OTP.
                        wait = once if one_shot and not process.mailbox else idle_timeout
                    item: object
                    if wait is None or process.mailbox:
                        while not process.mailbox:
                            process.current = None  # handled: get_status shows no message
                            process.parked = task
                            await trio.lowlevel.wait_task_rescheduled(process)  # its own abort function
                        # take() inlined (the call is a tenth of a cast's cost): peek,
                        # record, pop, wake a sender waiting for room. An interrupt
                        # between two steps ends the server with the message current,
                        # queued or both, and close() fails a call found either way once
                        # and wakes every sender.
                        queued: deque[object] = process.mailbox
                        item = queued[0]
                        process.current = item
                        queued.popleft()
                        if process.room:  # a bounded mailbox with senders waiting
                            process.room.unpark()
                    else:
                        item = _IDLE
                        with trio.move_on_after(wait):
                            item = await process.receive()
                        if item is _IDLE:
                            item = process.current = Info(IdleTimeout(wait))
                        if type(item) is not SystemRequest:  # OTP re-arms it after those
                            wait = idle_timeout  # a returned Timeout is spent
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
                            returned = getattr(result, "timeout", None)
                            if returned is not None:
                                once, idle_timeout = returned, _ONE_SHOT
                        continue
                    if kind is Cast:
                        result = await server.handle_cast(item[0])  # type: ignore[index]  # pyright: ignore[reportIndexIssue]
                    elif kind is Info:
                        result = await server.handle_info(item.message)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
                    elif kind is StopRequest:
                        result = Stop(item.reason)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
                    else:  # get_state or replace_state, between two callbacks (see _sys.py)
                        server = process.server = handle_system(server, item)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
                        continue
                if result is None:
                    continue
                if isinstance(result, Continue):
                    continuation = result.value
                elif isinstance(result, Stop):
                    stop = result
                elif isinstance(result, Timeout):  # pyright: ignore[reportUnnecessaryIsInstance]
                    once, idle_timeout = result.seconds, _ONE_SHOT
                else:  # only reachable from code that is not type-checked
                    callback = type(server).__name__  # type: ignore[unreachable]
                    msg = (
                        f"{callback} callback returned {safe_repr(result)}; "
                        "expected None, Continue, Timeout or Stop"
                    )
                    raise TypeError(msg)
        except BaseException as error:
            await end_after_error(
                process,
                error,
                report=partial(_crash_report, server, process),
                fail_current=process.fail_current,
                terminate=partial(_terminate, server, process),
            )
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
        # The error's traceback holds this frame: without the name the two are no
        # reference cycle, and a server that ends leaves nothing for the cyclic
        # collector (100,000 servers torn down would leave 37 objects each).
        ended_by = None


def _after_call(
    process: Process, caller: Caller[Any], result: _Action
) -> tuple[object, Stop[Any] | None, Caller[Any] | None]:
    """What a handle_call's Reply, NoReply or Stop means: (continuation, stop, pending reply)."""
    if isinstance(result, Reply):
        caller.reply(result.value)  # pyright: ignore[reportUnknownMemberType]
        return result.continue_with, None, None
    if isinstance(result, NoReply):
        if not caller.done:
            caller._process = process
            defer(process, caller)
        return result.continue_with, None, None
    if isinstance(result, Stop):
        if result.reply is not _NOTHING:  # pyright: ignore[reportUnknownMemberType]
            return _NOTHING, result, caller  # pyright: ignore[reportUnknownVariableType]
        defer(process, caller)  # failed by close() below
        caller._process = process
        return _NOTHING, result, None  # pyright: ignore[reportUnknownVariableType]
    msg = f"handle_call returned {result!r}, which is no reply; use Reply(value, continue_with=...)"
    raise TypeError(msg)


def _crash_report(server: GenServer[Any, Any], process: Process, error: Exception) -> None:
    """OTP's gen_server crash report: reason, last message and (redactable) state."""
    if not logger.isEnabledFor(logging.ERROR):
        return  # format_status can cost more than the crash
    last = process.current
    if isinstance(last, Caller):
        last_message: object = ("call", last._request)
    elif type(last) is Cast:
        last_message = ("cast", last[0])
    elif isinstance(last, Info):
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
            # Raw values beside the display strings, as the supervisors' reports have.
            "server_name": process.name,
            "supervisor_path": list(supervisor_path(child_of(process.task))),
            **error_fields(error),
        },
    )


async def _terminate(server: GenServer[Any, Any], process: Process, reason: BaseException | None) -> None:
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
    start_timeout: float | None = None,
) -> ServerRef[RequestT, ReplyT]:
    """Start a server in ``nursery`` and return its reference once ``init`` has finished.

    ``factory`` builds the state, e.g. ``Counter`` or ``functools.partial(Counter, total=5)``.
    ``mailbox_size`` bounds the mailbox (default unbounded, as OTP's): when it is full,
    calls wait for room and casts and sends raise :class:`MailboxFull`. ``start_timeout``
    (seconds, default ``None``: for ever) bounds ``init`` (OTP's start ``timeout``): past
    it, ``init`` is cancelled and the start raises :class:`InitTimeout`. A checkpoint.

    Raises what :func:`serve` raises before the server is running (:class:`InitIgnored`
    if ``init`` returned :class:`Ignore`), and TypeError or
    ValueError for a bad argument before anything starts.
    """
    require_trio("trio_otp.start_server")
    check_instance(nursery, trio.Nursery, "start_server's nursery", "a trio.Nursery")
    check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    check_timeout(start_timeout, "start_timeout")
    ref: ServerRef[RequestT, ReplyT] = await nursery.start(serve, factory, name, mailbox_size, start_timeout)
    return ref


def server_spec(
    id: Hashable,  # noqa: A002
    factory: Callable[[], GenServer[RequestT, ReplyT]],
    *,
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    start_timeout: float | None = None,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
    significant: bool = False,
) -> ChildSpec[ServerRef[RequestT, ReplyT]]:
    """A :class:`ChildSpec` that runs a server under a supervisor.

    Each start (and restart) calls ``factory()`` for fresh state. The child's reference
    is its :class:`ServerRef`, typed as the server's (a ``GenServer[str, int]`` gives a
    ``ChildSpec[ServerRef[str, int]]``); give it a ``name`` so callers find the restarted
    server. ``start_timeout`` bounds each start's ``init`` (OTP's start ``timeout``): a
    start that takes longer fails with :class:`InitTimeout`, which the supervisor treats
    as any failed start.

    Raises:
      TypeError, ValueError: a bad argument, at once.
    """
    check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    init_seconds = check_timeout(start_timeout, "server_spec's start_timeout")
    spec: ChildSpec[ServerRef[RequestT, ReplyT]] = ChildSpec(
        id,
        serve,
        args=(factory, name, mailbox_size, start_timeout),
        restart=restart,
        shutdown=shutdown,
        significant=significant,
    )
    object.__setattr__(spec, "_checked_server_args", (spec.args, init_seconds))
    return spec
