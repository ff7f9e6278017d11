"""Timers: send a message later (OTP's ``erlang:send_after``), and cancel it.

Timers share the per-run deadline heap that call timeouts use (``_call_timer.py``), so a
timer costs an entry in a heap, not a task or a cancel scope. A timer aimed at a
:class:`ServerRef` is cancelled when that server ends, as OTP cancels a timer whose
destination process is gone; a timer aimed at a name looks the name up when it fires.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, final

import trio

from ._call_timer import call_timer
from ._checks import check_seconds
from ._exceptions import MailboxFull, ServerNotRunning
from ._gen_server import logger
from ._ki import protected
from ._names import check_name
from ._server_ref import ServerRef, lookup
from ._util import NoPublicConstructor


@final
class Timer(metaclass=NoPublicConstructor):
    """A message on its way; made by :func:`send_after`."""

    __slots__ = ("_state", "_timer", "deadline", "destination", "message")

    _WAITING, _SENT, _CANCELLED = 0, 1, 2

    def __init__(self, destination: object, message: object, deadline: float) -> None:
        self.destination: object = destination
        self.message: object = message
        self.deadline: float = deadline
        self._state = Timer._WAITING
        self._timer = call_timer()

    def __repr__(self) -> str:
        state = ("waiting", "sent", "cancelled")[self._state]
        return f"<Timer {self.message!r} to {self.destination!r} ({state})>"

    @property
    def done(self) -> bool:
        """Whether it has fired or been cancelled."""
        return self._state != Timer._WAITING

    @protected
    def cancel(self) -> bool:
        """Cancel it. Returns ``True`` if the message had not been sent yet (it now never
        will be), ``False`` if it had been sent or cancelled already. Not a checkpoint."""
        if self._state != Timer._WAITING:
            return False
        self._state = Timer._CANCELLED
        self._forget()
        return True

    @protected
    def _time_out(self) -> None:  # called by the deadline heap when it is due
        if self._state != Timer._WAITING:
            return
        self._state = Timer._SENT
        self._forget()
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
    if isinstance(destination, ServerRef):
        if not destination.alive:
            msg = f"{destination!r} has ended; a timer to it would never be delivered"
            raise ServerNotRunning(msg)
    else:
        check_name(destination, "send_after's destination (a ServerRef or a name)")
    timer = Timer._create(destination, message, trio.current_time() + seconds)
    if isinstance(destination, ServerRef):
        if destination._process.timers is None:
            destination._process.timers = {}
        destination._process.timers[timer] = None
    timer._timer.add(timer, timer.deadline)
    return timer
