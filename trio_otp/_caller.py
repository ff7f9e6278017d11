"""The caller of one call: the object that travels to the server and back.

A call is one small object (the :class:`Caller`) that goes into the server's mailbox; the
caller parks on it and the server's reply reschedules the caller directly. There is no
channel pair and no task per call. A finite timeout costs one entry in the call timer
(``_call_timer.py``); ``timeout=None`` costs none.

A call that ends early (its timeout passed, or the caller was cancelled) marks its
Caller abandoned as it leaves. The server still handles the request, as OTP's does, but
a reply to an abandoned Caller goes nowhere: it can never reach a later call, because
every call has its own Caller.

A request sent with :meth:`ServerRef.send_request` travels as a Caller too (so servers
handle it exactly as a call), but nobody is parked on it: its ``_request_id`` is set, and
the answer is handed to that :class:`RequestId` instead of rescheduling a task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

import outcome
import trio

from . import _context
from ._ki import protected
from ._util import NoPublicConstructor, safe_repr

if TYPE_CHECKING:
    from ._call_timer import CallTimer
    from ._process import Process
    from ._requests import RequestId

ReplyT = TypeVar("ReplyT")

_WAITING, _DONE, _ABANDONED = 0, 1, 2


@final
class Caller(Generic[ReplyT], metaclass=NoPublicConstructor):
    """The caller of one :meth:`ServerRef.call`, as ``handle_call`` sees it.

    Keep it to reply later (OTP's ``From`` and ``gen_server:reply/2``).
    """

    __slots__ = ("_context", "_process", "_request", "_request_id", "_state", "_task", "_timer")

    _context: list[tuple[Any, object]] | None  # what propagate_context carries, if on
    _process: Process | None  # set while the reply is deferred
    _request: Any  # the request's type is the server's, which a Caller does not carry
    _request_id: RequestId[Any] | None  # set for send_request: answer it, wake no task
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
        if self._state != _WAITING:
            return
        # _end(_DONE), inlined: every call's reply comes this way.
        self._state = _DONE
        if self._process is not None:
            deferred = self._process.deferred
            if deferred is not None:
                deferred.discard(self)
            self._process = None
        timer = self._timer
        if timer is not None:
            timer.live -= 1
            self._timer = None
        if self._request_id is None:
            trio.lowlevel.reschedule(self._task, outcome.Value(value))
        else:
            self._request_id._answer(outcome.Value(value))

    @protected
    def _fail(self, error: BaseException) -> None:
        if self._end(_DONE):
            if self._request_id is None:
                trio.lowlevel.reschedule(self._task, outcome.Error(error))
            else:
                self._request_id._answer(outcome.Error(error))

    @protected
    def _time_out(self) -> None:
        if self._end(_ABANDONED):
            trio.lowlevel.reschedule(self._task, outcome.Error(TimedOut()))

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
        timer = self._timer
        if timer is not None:
            timer.live -= 1  # CallTimer.finished, inlined: one method call less per call
            self._timer = None
        return True

    @property
    def done(self) -> bool:
        """Whether the call has ended (answered, timed out or cancelled)."""
        return self._state != _WAITING

    def __repr__(self) -> str:
        return f"<Caller of {safe_repr(self._request)}>"


def new_caller(request: object, task: trio.lowlevel.Task) -> Caller[Any]:
    caller: Caller[Any] = object.__new__(Caller)  # pyright: ignore[reportUnknownVariableType]
    caller._request = request
    caller._task = task
    caller._state = _WAITING
    caller._process = None
    caller._timer = None
    caller._request_id = None
    caller._context = _context.capture() if _context.active else None
    return caller


class TimedOut(Exception):
    """Internal: the call timer failed a call; ``call`` turns it into CallTimeout."""
