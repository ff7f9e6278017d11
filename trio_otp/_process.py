"""The process under a server: its mailbox, its name, and the callers it owes an answer.

Every behaviour (:class:`GenServer`, and what is built like it) runs as one task around a
:class:`Process`; the behaviours differ only in how they dispatch what they take from it.

The mailbox
-----------
The mailbox is the hot path of every application built on this, so it is the cheapest
queue between two tasks Trio allows: a ``deque``, made at the first message. The server
parks with :func:`trio.lowlevel.wait_task_rescheduled` when it is empty, and a sender
that finds it parked wakes it with :func:`trio.lowlevel.reschedule`.

Nothing hangs on a dead server
------------------------------
A server that ends, however it ends, first stops accepting messages, then fails every
call it still owes an answer: the one being handled, those waiting in the mailbox, and
those whose reply was deferred. Each gets :class:`ServerExited`, chained from the crash
if there was one. A call to a server that has ended raises :class:`ServerNotRunning`
at once.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Final

import trio

from . import _context
from ._caller import Caller
from ._child import ExitSignal, child_of_task
from ._exceptions import MailboxFull, ServerExited, ServerNotRunning, Shutdown
from ._exit import ExitKind, exit_kind
from ._ki import protected
from ._names import register_name, unregister_name
from ._processes import forget_server
from ._system_messages import SystemRequest
from ._util import describe, safe_repr, safe_str

if TYPE_CHECKING:
    from ._call_timer import CallTimer
    from ._gen_server import GenServer
    from ._server_ref import ServerRef
    from ._state_machine import StateMachine

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


#: A cast in the mailbox is a plain tuple, ``(request, carried)`` (``carried`` is what
#: propagate_context captured, or None), and every other item is an object of a class:
#: ``type(item) is Cast`` tells them apart. A tuple is built without a call, and the
#: cyclic garbage collector stops tracking one whose contents hold no containers, where
#: an object of ours stays tracked: a cast costs ~15% fewer instructions, and 100,000
#: queued casts of plain values are nothing for the collector's walks.
Cast: Final[type[tuple[Any, ...]]] = tuple


def cast_item(request: object) -> tuple[object, object]:
    """What a cast of ``request`` puts in the mailbox (ServerRef.cast builds it inline)."""
    return (request, _context.capture() if _context.active else None)


class Info:
    __slots__ = ("message",)

    def __init__(self, message: object) -> None:
        self.message = message


class StopRequest:
    __slots__ = ("reason",)

    def __init__(self, reason: BaseException | None) -> None:
        self.reason = reason


class Process:
    """The running server: its mailbox and whatever callers it owes an answer.

    Every method that changes more than one thing is KI-protected (see ``_ki.py``), so a
    Ctrl-C can never leave a caller in the mailbox whom nobody will answer, or a parked
    server that nobody will wake.
    """

    __slots__ = (
        "alive",
        "call_timer",
        "closed",
        "current",
        "deferred",
        "ended",
        "ended_event",
        "exit_reason",
        "inner",
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
        self.call_timer: CallTimer | None = None  # this run's, at the first timed call to it
        # The ServerRef of a server its task runs nested in one of its callbacks (see _processes.py).
        self.inner: object = None
        self.server: GenServer[Any, Any] | StateMachine[Any, Any, Any, Any] | None = (
            None  # the state, for get_status (see _sys.py)
        )
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
        # full(), append() and wake(), inlined: a cast is little more than this.
        mailbox = self.mailbox
        if mailbox is None:
            mailbox = self.mailbox = deque()
        elif self.room is not None and len(mailbox) >= self.mailbox_size:
            msg = f"the mailbox of server {self.label} is full ({self.mailbox_size:g} messages)"
            raise MailboxFull(msg)
        mailbox.append(item)
        task = self.parked
        if task is not None:
            self.parked = None
            trio.lowlevel.reschedule(task)

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
            await trio.lowlevel.wait_task_rescheduled(self)
        return self.take()

    @protected
    def take(self) -> object:
        """The oldest message, which becomes :attr:`current`; the mailbox must not be empty."""
        item = self.current = self.mailbox.popleft()  # type: ignore[union-attr]  # pyright: ignore[reportOptionalMemberAccess]
        room = self.room
        if room is not None and room:
            room.unpark()
        return item

    def __call__(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        """The abort function of the server's park: ``wait_task_rescheduled(process)``.
        The process itself rather than a bound method, which would be one more object
        for the cyclic collector to track per parked server."""
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
        return None if error is None else reason_of(error)

    @protected
    def fail_current(self, reason: BaseException | None) -> None:
        """Fail the call being handled, if it is one and still waits (before terminate)."""
        current = self.current
        if type(current) is SystemRequest:  # an interrupt in replace_state's function
            current = current.caller
        if type(current) is Caller and current._process is None:  # deferred ones: after terminate
            current._fail(exited(self.label, reason))

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
            error = exited(self.label, reason)
            for caller in owed:
                caller._fail(copy_exited(error))
        if self.room is not None:
            self.room.unpark_all()

    @protected
    def finish(self, error: BaseException | None) -> None:
        """The last step of the server's task, however it ended: close if that has not
        happened (an interrupt can skip the usual path), release the name, mark the end."""
        if not self.closed:
            self.close(None if error is None else reason_of(error))
        if self.task.custom_sleep_data is self:  # the step mark (see _sys.py): no cycle left
            self.task.custom_sleep_data = None
        forget_server(self)
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


def defer(process: Process, caller: Caller[Any]) -> None:
    if process.deferred is None:
        process.deferred = set()
    process.deferred.add(caller)


def exited(label: str, reason: BaseException | None) -> ServerExited:
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


def copy_exited(error: ServerExited) -> ServerExited:
    # Each waiting caller raises its own instance, so tracebacks do not pile up on one.
    copy = ServerExited(str(error), error.reason)
    copy.__cause__ = error.__cause__
    return copy


def exit_signal_of(process: Process, error: BaseException) -> ExitSignal | None:
    """The :func:`trio_otp.exit` signal that cancelled this server, if that is how it
    ends: by a ``Cancelled``, or a group of nothing else (a callback's nursery)."""
    if reason_of(error) is error:
        return None  # not a cancellation: its own error
    child = child_of_task(process.task)
    return None if child is None else child.exit_signal


async def end_after_error(
    process: Process,
    error: BaseException,
    *,
    report: Callable[[Exception], None],
    fail_current: Callable[[BaseException | None], None],
    terminate: Callable[[BaseException | None], Awaitable[None]],
) -> None:
    """How every behaviour ends when its loop raised ``error`` (a crash, a cancellation,
    an exit from outside): stop accepting, ``report`` a crash, ``fail_current`` (the call
    being handled), ``terminate`` (not after a kill), then close with the exit reason.
    The caller re-raises ``error``."""
    reason = process.stop_accepting(error)  # worked out once: reason_of(error)
    # As exit_signal_of, with the child looked up once: only a cancellation can be an exit.
    child = None if reason is error else child_of_task(process.task)
    signal = None if child is None else child.exit_signal
    if signal is not None:  # trio_otp.exit: its reason, and no terminate for a kill
        reason = signal.reason
    elif isinstance(error, Exception) and exit_kind(error) is ExitKind.CRASH:
        report(error)
    fail_current(reason)
    if signal is None or not signal.killed:
        await terminate(reason)
        if child is not None and child.exit_signal is not None:  # a kill may have come meanwhile
            reason = child.exit_signal.reason
    process.close(reason)


def reason_of(error: BaseException) -> BaseException:
    """How a server's end reads in ServerExited and Down: a cancellation is a shutdown."""
    if isinstance(error, trio.Cancelled):
        return Shutdown(str(error))
    if isinstance(error, BaseExceptionGroup):
        _, rest = error.split(trio.Cancelled)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if rest is None:
            return Shutdown(safe_str(error.exceptions[0]))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return error  # pyright: ignore[reportUnknownVariableType]


def check_mailbox_size(mailbox_size: object) -> None:
    if isinstance(mailbox_size, bool) or not isinstance(mailbox_size, (int, float)):
        msg = f"mailbox_size must be a whole number >= 1 or math.inf, got {describe(mailbox_size)}"
        raise TypeError(msg)
    if not (mailbox_size == math.inf or (mailbox_size >= 1 and mailbox_size == int(mailbox_size))):
        msg = f"mailbox_size must be a whole number >= 1 or math.inf, got {mailbox_size!r}"
        raise ValueError(msg)
