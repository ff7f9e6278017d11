"""The handle on a running server, and calls, casts and sends by name.

``call`` is the hot path of every application built on this: it queues one
:class:`Caller` in the server's mailbox and parks on it until the reply reschedules it
(see ``_caller.py`` and ``_process.py``).
"""

from __future__ import annotations

import math
import typing
from collections import deque
from collections.abc import Hashable
from functools import partial
from heapq import heappush
from time import perf_counter
from typing import Any, Final, Generic, TypeVar, final

import trio

from . import _context, _events
from ._call_timer import call_timer
from ._caller import _WAITING, Caller, TimedOut
from ._checks import check_exit_reason, check_timeout
from ._events import attached as _events_attached
from ._events import emit
from ._exceptions import CallTimeout, MailboxFull, ServerError, ServerNotRunning
from ._ki import protected
from ._names import Partition, Via, registered_value, whereis
from ._process import Info, Process, StopRequest, exited
from ._processes import server_of_task
from ._requests import RequestId, failed_request, new_request
from ._util import NoPublicConstructor, safe_repr

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

#: OTP's default call timeout.
DEFAULT_CALL_TIMEOUT: Final = 5.0


def _call_timeout(process: Process, request: object, timeout: float | None) -> CallTimeout:
    return CallTimeout(
        f"call to server {process.label} got no reply within {timeout:g} s: {safe_repr(request)}"
    )


@final
class ServerRef(Generic[RequestT, ReplyT], metaclass=NoPublicConstructor):
    """A handle on one running server (one start of it: a restart makes a new one).

    Use a name (``start_server(..., name=...)`` and :func:`whereis`) to reach whichever
    server currently runs under that name.
    """

    __slots__ = ("_process",)

    def __init__(self, process: Process) -> None:
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
        if seconds == math.inf:
            timer = None
            deadline = math.inf
        else:
            timer = process.call_timer
            if timer is None:  # this run's timer, kept by the server: no RunVar lookup per call
                timer = process.call_timer = call_timer()
            # Under Trio's SystemClock its current_time() inline: the same sum, no frame.
            offset = timer.offset
            deadline = (offset + perf_counter() if offset is not None else timer.now()) + seconds
        if process.room is not None and process.full():
            await self._wait_for_room(process, deadline, request, timeout)
        if not process.alive:
            msg = f"server {process.label} is not running"
            raise ServerNotRunning(msg)
        # new_caller, Process.append and CallTimer.add inlined (this frame is
        # KI-protected as they are): a Python call each is a tenth of what a call adds
        # to a raw Trio request/reply.
        caller: Caller[ReplyT] = object.__new__(Caller)  # pyright: ignore[reportUnknownVariableType]
        caller._request = request
        caller._task = task
        caller._state = _WAITING
        caller._process = None
        caller._timer = timer
        caller._request_id = None
        caller._context = _context.capture() if _context.active else None
        mailbox = process.mailbox
        if mailbox is None:
            mailbox = process.mailbox = deque()
        mailbox.append(caller)
        parked = process.parked
        if parked is not None:
            process.parked = None
            trio.lowlevel.reschedule(parked)
        if timer is not None:  # CallTimer.add
            heap = timer.heap
            if not timer.live:
                heap.clear()
            seq = timer.seq = timer.seq + 1
            heappush(heap, (deadline, seq, caller))
            live = timer.live = timer.live + 1
            if deadline < timer.next_deadline or len(heap) > 2 * live + 64:
                timer.adjust(deadline)
        # attached()'s own first tests, inline: no function call while nobody listens.
        if (_events._process_handlers or _events._attached_in_runs) and _events_attached():
            return await self._measured(process, caller, request, timeout)  # type: ignore[no-any-return]
        try:
            return await trio.lowlevel.wait_task_rescheduled(caller._abort)  # type: ignore[no-any-return]
        except TimedOut:
            raise _call_timeout(process, request, timeout) from None

    @staticmethod
    async def _measured(
        process: Process,
        caller: Caller[Any],
        request: object,
        timeout: float | None,  # noqa: ASYNC109 - for the error message only
    ) -> Any:
        """The end of a call while event handlers are attached: also emits call_completed."""
        started = trio.current_time()
        outcome_name = "reply"
        try:
            return await trio.lowlevel.wait_task_rescheduled(caller._abort)
        except TimedOut:
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
        process: Process,
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

    @protected
    def send_request(self, request: RequestT) -> RequestId[ReplyT]:
        """Send ``request`` to ``handle_call`` now and collect the reply later (OTP's
        ``gen_server:send_request``). Not a checkpoint.

        The server handles it exactly as a :meth:`call`. Take the reply with
        :meth:`RequestId.wait_response`, :meth:`~RequestId.receive_response` or
        :meth:`~RequestId.check_response`, or through a :class:`RequestIdCollection`.
        As in OTP, a server that has ended does not make this raise: the request
        answers :class:`ServerNotRunning` when its reply is asked for. A server may send
        a request to itself (it is handled after the current callback returns).

        Raises:
          MailboxFull: the mailbox is bounded and full (as :meth:`cast`; a call would
            wait for room, but this does not wait).
        """
        process = self._process
        if not process.alive:
            return failed_request(
                self, process.label, ServerNotRunning(f"server {process.label} is not running")
            )
        if process.full():
            msg = f"the mailbox of server {process.label} is full ({process.mailbox_size:g} messages)"
            raise MailboxFull(msg)
        request_id = new_request(self, request, process.label)
        assert request_id._caller is not None  # a new request has its Caller
        process.append(request_id._caller)
        return request_id

    @protected
    def cast(self, request: object) -> None:
        """Send ``request`` to ``handle_cast`` without waiting. Not a checkpoint.

        Raises:
          ServerNotRunning: the server has ended (OTP drops such a cast silently;
            trio_otp knows, so it says so).
          MailboxFull: the mailbox is bounded and full.
        """
        # cast_item and Process.post, inlined (KI-protected, as post is): a cast is
        # little more than this, so a Python call is a tenth of its cost.
        process = self._process
        if not process.alive:
            msg = f"server {process.label} is not running"
            raise ServerNotRunning(msg)
        mailbox = process.mailbox
        if mailbox is None:
            mailbox = process.mailbox = deque()
        elif process.room is not None and len(mailbox) >= process.mailbox_size:
            msg = f"the mailbox of server {process.label} is full ({process.mailbox_size:g} messages)"
            raise MailboxFull(msg)
        mailbox.append((request, _context.capture() if _context.active else None))
        parked = process.parked
        if parked is not None:
            process.parked = None
            trio.lowlevel.reschedule(parked)

    def send(self, message: object) -> None:
        """Send a plain message to ``handle_info`` (OTP's ``Pid ! Message``). Raises as
        :meth:`cast` does. Not a checkpoint."""
        self._process.post(Info(message))

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
        process.post_system(StopRequest(reason))
        with trio.move_on_after(seconds):
            await process.wait_ended()
            if process.exit_reason is not reason:
                # It ended for another reason first (OTP raises that reason in the caller).
                raise exited(process.label, process.exit_reason)
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


def lookup(name: object) -> ServerRef[Any, Any]:
    if type(name) is ServerRef:
        return name  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(name, (Via, Partition)):
        # The usual case, a running server under a plain name, without whereis's checks
        # (a third of a call by name); anything else takes the checked path below.
        try:
            found = registered_value(name)
        except TypeError:
            found = None
        if type(found) is ServerRef and found._process.alive:
            return found  # pyright: ignore[reportUnknownVariableType]
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
    return await lookup(name).call(request, timeout=timeout)


@typing.overload
def send_request(name: ServerRef[RequestT, ReplyT], request: RequestT) -> RequestId[ReplyT]: ...


@typing.overload
def send_request(name: Hashable, request: object) -> RequestId[Any]: ...


def send_request(name: Hashable, request: object) -> RequestId[Any]:
    """:meth:`ServerRef.send_request` on whichever server runs under ``name`` now (or on
    a ref). Not a checkpoint.

    As in OTP, a name that names no running server does not make this raise: the
    request answers :class:`ServerNotRunning` (and its ``server`` is ``None``).

    Raises:
      TypeError: ``name`` is not hashable, or names something that is not a server.
      MailboxFull: as :meth:`ServerRef.send_request`.
    """
    try:
        ref = lookup(name)
    except ServerNotRunning as error:
        return failed_request(None, safe_repr(name), error)
    return ref.send_request(request)


def cast(name: ServerRef[Any, Any] | Hashable, request: object) -> None:
    """:meth:`ServerRef.cast` by name. Not a checkpoint."""
    lookup(name).cast(request)


def send(name: ServerRef[Any, Any] | Hashable, message: object) -> None:
    """:meth:`ServerRef.send` by name. Not a checkpoint."""
    lookup(name).send(message)


# --- the server whose callback is running ---------------------------------------------


def current_server() -> ServerRef[Any, Any]:
    """The :class:`ServerRef` of the server whose task this is (OTP's ``self()`` in a
    server). Not a checkpoint.

    The server's task is the one that runs ``init`` and every callback, so ``init`` can
    hand its own reference out (to a :class:`Registry` group, say). As ``self()`` in a
    process that a server spawns, a task that a callback starts is not the server:
    there it raises, and a callback passes the reference on if the task needs it.

    Raises:
      RuntimeError: not in a running server's own task.
    """
    ref = server_of_task(trio.lowlevel.current_task()) if trio.lowlevel.in_trio_run() else None
    if ref is None or ref._process.ended:
        msg = "current_server() was called outside a server (no GenServer or StateMachine runs in this task)"
        raise RuntimeError(msg)
    return typing.cast("ServerRef[Any, Any]", ref)
