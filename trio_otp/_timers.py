"""Timers: send a message later (OTP's ``erlang:send_after``) or every so often
(``timer:send_interval``), and cancel it.

Timers share the per-run deadline heap that call timeouts use (``_call_timer.py``), so a
timer costs an entry in a heap, not a task or a cancel scope; an interval timer puts
itself back with its next deadline each time it fires. A timer aimed at a
:class:`ServerRef` is cancelled when that server ends, as OTP cancels a timer whose
destination process is gone; a timer aimed at a name looks the name up when it fires.

An interval timer aimed at a name would otherwise fire for ever once its creator is
gone, so, as ``timer:send_interval/3`` ties such a timer to the calling process, it is
cancelled when the task that made it ends. That tie is an entry, keyed by the timer, in
a registry of this run's own (``_owners``): the registry's reaper already removes a
task's entries when it ends, at one dictionary lookup per ending task, and its listener
cancels the timer.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, final

import trio

from ._call_timer import call_timer
from ._checks import check_seconds
from ._exceptions import MailboxFull, ServerNotRunning
from ._gen_server import logger
from ._ki import protected
from ._names import check_name
from ._registry import Keys, Registry, RegistryEvent
from ._server_ref import ServerRef, lookup
from ._util import NoPublicConstructor


@final
class Timer(metaclass=NoPublicConstructor):
    """A message on its way; made by :func:`send_after` or :func:`send_interval`."""

    __slots__ = ("_owner", "_state", "_timer", "deadline", "destination", "message", "period")

    _WAITING, _SENT, _CANCELLED = 0, 1, 2

    def __init__(self, destination: object, message: object, deadline: float, period: float | None) -> None:
        self.destination: object = destination
        self.message: object = message
        #: When it fires next (for an interval timer, the next time).
        self.deadline: float = deadline
        #: Seconds between two messages of an interval timer; ``None`` for a one-shot one.
        self.period: float | None = period
        self._state = Timer._WAITING
        self._timer = call_timer()
        self._owner: trio.lowlevel.Task | None = None  # the task it is tied to, if by name

    def __repr__(self) -> str:
        state = ("waiting", "sent", "cancelled")[self._state]
        every = "" if self.period is None else f" every {self.period:g} s"
        return f"<Timer {self.message!r} to {self.destination!r}{every} ({state})>"

    @property
    def done(self) -> bool:
        """Whether it will send nothing more (a one-shot timer that has fired, or a timer
        that was cancelled, also by its destination's or its owner's end)."""
        return self._state != Timer._WAITING

    @protected
    def cancel(self) -> bool:
        """Cancel it. Returns ``True`` if it was still going to send (it now never will),
        ``False`` if it had fired (a one-shot timer) or been cancelled already. Not a
        checkpoint."""
        if self._state != Timer._WAITING:
            return False
        self._state = Timer._CANCELLED
        self._forget()
        return True

    @protected
    def _time_out(self) -> None:  # called by the deadline heap when it is due
        if self._state != Timer._WAITING:
            return
        if self.period is None:
            self._state = Timer._SENT
            self._forget()
        else:
            # The next deadline from this one, not from now: no drift. Added before this
            # entry is counted finished: the heap drops its entries when none is live.
            self.deadline += self.period
            self._timer.add(self, self.deadline)
            self._timer.finished()
        self._deliver()

    def _deliver(self) -> None:
        try:
            lookup(self.destination).send(self.message)
        except ServerNotRunning:
            pass  # the destination (by name) is gone: OTP drops such a message too
        except MailboxFull:
            logger.warning(
                "timer message %r dropped: the mailbox of %r is full",
                self.message,
                self.destination,
                extra={"otp_report": "timer_message_dropped"},
            )

    def _forget(self) -> None:
        self._timer.finished()
        if isinstance(self.destination, ServerRef):
            timers = self.destination._process.timers  # pyright: ignore[reportUnknownMemberType]
            if timers is not None:
                timers.pop(self, None)
        owner = self._owner
        if owner is not None:
            self._owner = None
            _owners()._remove(owner, self)


def _cancel_on_owner_end(event: RegistryEvent) -> None:
    if event.kind == "unregister":
        timer = event.key
        assert isinstance(timer, Timer)
        timer.cancel()


_owners_var: trio.lowlevel.RunVar[Registry[None]] = trio.lowlevel.RunVar("trio_otp_interval_timer_owners")


def _owners() -> Registry[None]:
    """This run's registry of interval timers tied to the task that made them."""
    try:
        return _owners_var.get()
    except LookupError:
        registry: Registry[None] = Registry(
            Keys.UNIQUE, name="trio_otp interval timers", listeners=(_cancel_on_owner_end,)
        )
        _owners_var.set(registry)
        return registry


def _check_destination(destination: object, function: str) -> None:
    if isinstance(destination, ServerRef):
        if not destination.alive:
            msg = f"{destination!r} has ended; a timer to it would never be delivered"
            raise ServerNotRunning(msg)
    else:
        check_name(destination, f"{function}'s destination (a ServerRef or a name)")


@protected
def _arm(timer: Timer) -> Timer:
    destination = timer.destination
    if isinstance(destination, ServerRef):
        if destination._process.timers is None:
            destination._process.timers = {}
        destination._process.timers[timer] = None
    elif timer.period is not None:
        timer._owner = trio.lowlevel.current_task()
        _owners().register(timer, None)
    timer._timer.add(timer, timer.deadline)
    return timer


@protected
def send_after(delay: float, destination: ServerRef[Any, Any] | Hashable, message: object) -> Timer:
    """Send ``message`` to ``destination``'s ``handle_info`` after ``delay`` seconds.

    ``destination`` is a :class:`ServerRef` (the timer is cancelled if that server ends
    first) or a name (looked up when the timer fires; dropped if nothing has it then).
    Not a checkpoint.

    Raises:
      ServerNotRunning: ``destination`` is a ServerRef that has already ended.
      TypeError, ValueError: ``delay`` is not a number of seconds >= 0, or
        ``destination`` is neither a ServerRef nor a hashable name.
    """
    seconds = check_seconds(delay, "send_after's delay")
    _check_destination(destination, "send_after")
    return _arm(Timer._create(destination, message, trio.current_time() + seconds, None))


@protected
def send_interval(period: float, destination: ServerRef[Any, Any] | Hashable, message: object) -> Timer:
    """Send ``message`` to ``destination``'s ``handle_info`` every ``period`` seconds,
    the first time ``period`` seconds from now, until the returned :class:`Timer` is
    cancelled (OTP's ``timer:send_interval/3``). Not a checkpoint.

    Deadlines follow from the first one (``now + k * period``), so the messages do not
    drift however long each delivery takes. ``destination`` is a :class:`ServerRef`,
    and the timer is cancelled when that server ends; or a name, looked up at each
    message (one that finds nobody is dropped and the timer goes on), and then, as in
    OTP, the timer is tied to the calling task instead and cancelled when that task ends.
    A message that finds a bounded mailbox full is dropped with a warning, and the
    timer goes on.

    Raises:
      ServerNotRunning: ``destination`` is a ServerRef that has already ended.
      TypeError, ValueError: ``period`` is not a finite number of seconds > 0, or
        ``destination`` is neither a ServerRef nor a hashable name.
    """
    seconds = check_seconds(period, "send_interval's period", rule="> 0")
    if seconds == math.inf:
        msg = "send_interval's period must be a finite number of seconds > 0, got inf: use send_after"
        raise ValueError(msg)
    _check_destination(destination, "send_interval")
    return _arm(Timer._create(destination, message, trio.current_time() + seconds, seconds))
