"""Asynchronous calls: a request sent now, its reply collected later (OTP's
``gen_server:send_request`` and ``wait_response``, ``receive_response``,
``check_response``, and the request-id collections of OTP 25).

How a request travels
---------------------
:meth:`ServerRef.send_request` puts the same :class:`Caller` in the mailbox that a call
does, so a server handles it exactly as a call (``handle_call``, a deferred reply, a
crash before replying). What differs is the other end: nobody is parked on it. The
Caller's reply goes to its :class:`RequestId`, which keeps the outcome until someone
takes it, and wakes whoever is waiting for it. No task and no timer per request.

Nothing hangs, nothing leaks
----------------------------
A server that ends fails every Caller it owes an answer (see ``_process.py``), so a
request to a server that crashes gets :class:`ServerExited`, as a call does. A request
that is abandoned (``receive_response`` timed out or was cancelled) ends its Caller as a
timed-out call does: it leaves the server's table of deferred replies, and a late reply
is dropped. A wait that ends unanswered removes its wake-up from the request.

A reply is taken once
---------------------
As in OTP, where the reply is one message in the caller's mailbox, a request's reply is
taken once: after it was returned (or raised), or after the request was abandoned, a
further wait is a mistake and raises :exc:`RuntimeError` at once rather than waiting for
ever as OTP would.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

import outcome
import trio

from ._caller import _ABANDONED as _CALLER_ABANDONED
from ._caller import Caller, new_caller
from ._checks import check_instance, check_timeout
from ._exceptions import CallTimeout
from ._ki import protected
from ._util import NoPublicConstructor

if TYPE_CHECKING:
    from ._server_ref import ServerRef

ReplyT = TypeVar("ReplyT")
LabelT = TypeVar("LabelT")

_DEFAULT_TIMEOUT: Final = 5.0  # OTP's default call timeout, as DEFAULT_CALL_TIMEOUT

_PENDING, _ANSWERED, _TAKEN, _ABANDONED = 0, 1, 2, 3

# Answers are numbered as they arrive, so that a collection returns the earliest first.
_answers = itertools.count()


@final
class RequestId(Generic[ReplyT], metaclass=NoPublicConstructor):
    """One request sent with :meth:`ServerRef.send_request`, whose reply is collected later.

    Wait for the reply with :meth:`wait_response` or :meth:`receive_response`, or look
    for it with :meth:`check_response`; or put it in a :class:`RequestIdCollection` with
    others. The reply is taken once (see :meth:`wait_response`).
    """

    __slots__ = ("_caller", "_label", "_order", "_outcome", "_server", "_state", "_waiters")

    _caller: Caller[Any] | None
    _label: str
    _order: int
    _outcome: outcome.Outcome[ReplyT] | None
    _server: ServerRef[Any, ReplyT] | None
    _state: int
    # Who to tell when it answers or is abandoned: a task's wait, or a collection.
    _waiters: list[trio.Event | RequestIdCollection[Any]] | None

    @property
    def done(self) -> bool:
        """Whether the request is no longer pending. It is done once it has its answer (a
        reply, or the error it will raise), whether or not that was taken yet, and once
        it was abandoned."""
        return self._state != _PENDING

    @property
    def server(self) -> ServerRef[Any, ReplyT] | None:
        """The server the request went to; ``None`` if it was sent by a name that named
        no running server (the request then raises :class:`ServerNotRunning`)."""
        return self._server

    def __repr__(self) -> str:
        state = ("pending", "answered", "taken", "abandoned")[self._state]
        return f"<RequestId to {self._label} ({state})>"

    # -- the server's side ------------------------------------------------------------

    @protected
    def _answer(self, result: outcome.Outcome[ReplyT]) -> None:
        """The Caller's reply or failure (it ends once, so this runs at most once)."""
        if self._state != _PENDING:
            return
        self._state = _ANSWERED
        self._outcome = result
        self._caller = None
        self._tell()

    def _tell(self) -> None:
        """Number this answer (or abandonment) and wake whoever watches (KI-protected callers)."""
        self._order = next(_answers)
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if type(waiter) is trio.Event:
                waiter.set()
            else:
                waiter._answered(self)

    # -- the caller's side ------------------------------------------------------------

    def _check_open(self, method: str) -> None:
        if self._state == _TAKEN:
            msg = f"{method}: the reply of {self!r} was already taken (a reply is taken once)"
            raise RuntimeError(msg)
        if self._state == _ABANDONED:
            msg = f"{method}: {self!r} was abandoned (receive_response timed out or was cancelled)"
            raise RuntimeError(msg)

    @protected
    def _take(self) -> outcome.Outcome[ReplyT]:
        result = self._outcome
        assert result is not None  # only called once answered
        self._outcome = None
        self._state = _TAKEN
        return result

    @protected
    def _abandon(self) -> None:
        """Give up on the reply: a late one is dropped, and the server forgets the caller."""
        if self._state in (_TAKEN, _ABANDONED):
            return
        self._state = _ABANDONED
        self._outcome = None
        caller, self._caller = self._caller, None
        if caller is not None:
            caller._end(_CALLER_ABANDONED)  # out of the deferred set; a late reply is dropped
        self._tell()

    @protected
    def _watch(self, waiter: trio.Event | RequestIdCollection[Any]) -> None:
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)

    @protected
    def _unwatch(self, waiter: trio.Event | RequestIdCollection[Any]) -> None:
        waiters = self._waiters
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                self._waiters = None

    async def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the answer; whether it came. A checkpoint."""
        if self._state != _PENDING:
            await trio.lowlevel.checkpoint()
            return True
        event = trio.Event()
        self._watch(event)
        try:
            with trio.move_on_after(seconds):
                await event.wait()
        finally:
            self._unwatch(event)
        return self._state != _PENDING

    def _timeout(self, method: str, timeout: float) -> CallTimeout:
        return CallTimeout(f"{method}: no reply from {self._label} within {timeout:g} s")

    async def wait_response(self, *, timeout: float | None = _DEFAULT_TIMEOUT) -> ReplyT:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the reply and return it (OTP's
        ``wait_response``). A checkpoint.

        On a timeout, or if the caller is cancelled, the request stays pending: wait
        again later, or :meth:`receive_response`. ``timeout=None`` (or ``math.inf``) waits
        for ever.

        Raises:
          CallTimeout: no reply within ``timeout`` (the request is still pending).
          ServerExited: the server ended before replying (chained from its crash).
          ServerNotRunning: the server had already ended when the request was sent, or
            its name named no running server.
          RuntimeError: the reply was already taken, or the request was abandoned.
          TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0.
        """
        seconds = check_timeout(timeout, "wait_response's timeout")
        self._check_open("wait_response")
        if not await self._wait(seconds):
            raise self._timeout("wait_response", seconds)
        self._check_open("wait_response")  # another task took it meanwhile
        return self._take().unwrap()

    async def receive_response(self, *, timeout: float | None = _DEFAULT_TIMEOUT) -> ReplyT:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the reply and return it; on a timeout, or if
        the caller is cancelled, abandon the request (OTP's ``receive_response``): the
        server still handles it, but a late reply is dropped. A checkpoint.

        Raises as :meth:`wait_response`, except that after :class:`CallTimeout` the
        request is abandoned.
        """
        seconds = check_timeout(timeout, "receive_response's timeout")
        self._check_open("receive_response")
        try:
            answered = await self._wait(seconds)
        except BaseException:
            if self._state == _PENDING:  # a reply that has come stays to be taken
                self._abandon()
            raise
        self._check_open("receive_response")
        if not answered:
            self._abandon()
            raise self._timeout("receive_response", seconds)
        return self._take().unwrap()

    def check_response(self) -> ReplyT:
        """The reply if it has come (OTP's ``check_response``); not a checkpoint.

        Raises:
          trio.WouldBlock: no reply yet (OTP's ``no_reply``); the request stays pending.
          ServerExited, ServerNotRunning, RuntimeError: as :meth:`wait_response`.
        """
        self._check_open("check_response")
        if self._state == _PENDING:
            msg = f"no reply yet from {self._label}"
            raise trio.WouldBlock(msg)
        return self._take().unwrap()


@protected
def new_request(server: ServerRef[Any, ReplyT], request: object, label: str) -> RequestId[ReplyT]:
    """A request's id and its Caller, which the caller (still) has to post."""
    request_id = _new_id(server, label)
    caller: Caller[Any] = new_caller(request, trio.lowlevel.current_task())
    caller._request_id = request_id
    request_id._caller = caller
    return request_id


def failed_request(server: ServerRef[Any, ReplyT] | None, label: str, error: Exception) -> RequestId[ReplyT]:
    """A request that could not be sent: already answered with ``error``, as OTP's
    ``send_request`` to a dead server answers ``noproc`` through the request."""
    request_id: RequestId[ReplyT] = _new_id(server, label)
    request_id._answer(outcome.Error(error))
    return request_id


def _new_id(server: ServerRef[Any, ReplyT] | None, label: str) -> RequestId[ReplyT]:
    request_id: RequestId[ReplyT] = object.__new__(RequestId)  # pyright: ignore[reportUnknownVariableType]
    request_id._caller = None
    request_id._label = label
    request_id._order = 0
    request_id._outcome = None
    request_id._server = server
    request_id._state = _PENDING
    request_id._waiters = None
    return request_id


def _taken_elsewhere(request_id: RequestId[Any]) -> outcome.Error:
    return outcome.Error(
        RuntimeError(f"the reply of {request_id!r} was taken outside the collection, or it was abandoned")
    )


class RequestIdCollection(Generic[LabelT]):
    """Requests (:class:`RequestId`) with a label each, to collect whichever answers first
    (OTP 25's request-id collections: ``reqids_new``, ``reqids_add``, ...).

    Unlike OTP's, it is a mutable object, and the answer returned always leaves it (OTP's
    ``Delete = true``). Each of the three methods returns ``(outcome, label)``: an
    :class:`outcome.Value` holding the reply, or an :class:`outcome.Error` holding what
    the request raised (:class:`ServerExited`, ...); ``outcome.unwrap()`` gives the reply
    or raises. A request whose reply was taken outside the collection (or that was
    abandoned there) answers with an ``outcome.Error`` holding a :exc:`RuntimeError`.
    Answers come out in the order they arrived.

    Several tasks may wait on one collection: each answer goes to one of them, and the
    others go on waiting for the next, up to their own timeouts. Taking an answer costs
    O(log n) in the requests it holds, so collecting n answers costs O(n log n).

    An empty collection raises :exc:`LookupError` from all three (OTP returns
    ``no_request``): loop ``while collection:``.
    """

    def __init__(self) -> None:
        self._requests: dict[RequestId[Any], LabelT] = {}
        # Requests that answered (or can no longer answer), by when: a heap of
        # (order, request), with entries for requests no longer held skipped lazily.
        self._answered_heap: list[tuple[int, RequestId[Any]]] = []
        self._arrival: trio.Event | None = None  # set at the next answer, for the waiters

    @protected
    def add(self, request_id: RequestId[Any], label: LabelT) -> None:
        """Add ``request_id`` with ``label`` (OTP's ``reqids_add``). Not a checkpoint.

        Raises:
          TypeError: ``request_id`` is not a :class:`RequestId`.
          ValueError: it is already in the collection, or its reply was already taken
            or it was abandoned.
        """
        check_instance(request_id, RequestId, "RequestIdCollection.add's request_id", "a RequestId")
        if request_id in self._requests:
            msg = f"RequestIdCollection.add: {request_id!r} is already in the collection"
            raise ValueError(msg)
        state = request_id._state
        if state in (_TAKEN, _ABANDONED):
            msg = f"RequestIdCollection.add: {request_id!r} can no longer answer"
            raise ValueError(msg)
        self._requests[request_id] = label
        if state == _PENDING:
            request_id._watch(self)
        else:
            self._answered(request_id)

    def _answered(self, request_id: RequestId[Any]) -> None:
        """``request_id`` answered or was abandoned (called KI-protected, by it or add)."""
        heapq.heappush(self._answered_heap, (request_id._order, request_id))
        arrival, self._arrival = self._arrival, None
        if arrival is not None:
            arrival.set()

    def __len__(self) -> int:
        """How many requests it holds (OTP's ``reqids_size``)."""
        return len(self._requests)

    def to_list(self) -> list[tuple[RequestId[Any], LabelT]]:
        """Its requests and labels, in the order they were added (OTP's ``reqids_to_list``)."""
        return list(self._requests.items())

    def __repr__(self) -> str:
        return f"<RequestIdCollection of {len(self._requests)} requests>"

    def _check_not_empty(self, method: str) -> None:
        if not self._requests:
            msg = f"RequestIdCollection.{method}: the collection holds no requests (OTP's no_request)"
            raise LookupError(msg)

    @protected
    def _take_first(self) -> tuple[outcome.Outcome[Any], LabelT] | None:
        """The earliest answer among the requests it holds, removed; None if none has come."""
        heap = self._answered_heap
        requests = self._requests
        while heap:
            _, request_id = heapq.heappop(heap)
            if request_id in requests:
                label = requests.pop(request_id)
                if request_id._state != _ANSWERED:
                    return _taken_elsewhere(request_id), label
                return request_id._take(), label
        return None

    async def _wait(self, seconds: float) -> tuple[outcome.Outcome[Any], LabelT] | None:
        """Wait up to ``seconds`` for an answer and take it; None at the deadline. A checkpoint."""
        if self._answered_heap:
            await trio.lowlevel.checkpoint()
        deadline = trio.current_time() + seconds
        while True:
            answer = self._take_first()
            if answer is not None or not self._requests:
                return answer  # no request left: another waiter took the last one
            if self._arrival is None:
                self._arrival = trio.Event()
            with trio.move_on_at(deadline):
                await self._arrival.wait()
            if trio.current_time() >= deadline:
                return self._take_first()

    def _timeout(self, method: str, seconds: float) -> CallTimeout:
        count = len(self._requests)
        if not count:  # emptied while this task waited
            return CallTimeout(
                f"RequestIdCollection.{method}: another task waiting on the collection took "
                "or abandoned the last of its requests"
            )
        return CallTimeout(
            f"RequestIdCollection.{method}: none of its {count} requests got a reply within {seconds:g} s"
        )

    async def wait_response(
        self,
        *,
        timeout: float | None = _DEFAULT_TIMEOUT,  # noqa: ASYNC109 - as OTP's
    ) -> tuple[outcome.Outcome[Any], LabelT]:
        """Wait up to ``timeout`` seconds for the first answer among its requests, and
        remove that request. A checkpoint. On a timeout or a cancellation all its
        requests stay pending in it.

        Raises:
          CallTimeout: none answered within ``timeout``, or another task waiting on the
            collection took the last of its requests meanwhile.
          LookupError: the collection is empty.
          TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0.
        """
        seconds = check_timeout(timeout, "wait_response's timeout")
        self._check_not_empty("wait_response")
        answer = await self._wait(seconds)
        if answer is None:
            raise self._timeout("wait_response", seconds)
        return answer

    async def receive_response(
        self,
        *,
        timeout: float | None = _DEFAULT_TIMEOUT,  # noqa: ASYNC109 - as OTP's
    ) -> tuple[outcome.Outcome[Any], LabelT]:
        """As :meth:`wait_response`, but on a timeout or a cancellation every request of
        the collection still pending is abandoned (late replies are dropped) and leaves
        it, as OTP's ``receive_response`` abandons them. Answers that had already come
        stay, to be taken (a cancellation loses no reply). Other tasks waiting on the
        same collection then raise :class:`CallTimeout` once nothing is left in it. A
        checkpoint.

        Raises as :meth:`wait_response`.
        """
        seconds = check_timeout(timeout, "receive_response's timeout")
        self._check_not_empty("receive_response")
        try:
            answer = await self._wait(seconds)
        except BaseException:
            self._abandon_pending()
            raise
        if answer is None:
            error = self._timeout("receive_response", seconds)
            self._abandon_pending()
            raise error
        return answer

    def check_response(self) -> tuple[outcome.Outcome[Any], LabelT]:
        """The first answer among its requests, if one has come, and remove that request.
        Not a checkpoint.

        Raises:
          trio.WouldBlock: none has answered yet (OTP's ``no_reply``).
          LookupError: the collection is empty.
        """
        self._check_not_empty("check_response")
        answer = self._take_first()
        if answer is None:
            msg = f"none of the {len(self._requests)} requests has answered yet"
            raise trio.WouldBlock(msg)
        return answer

    @protected
    def _abandon_pending(self) -> None:
        requests = self._requests
        pending = [request_id for request_id in requests if request_id._state == _PENDING]
        for request_id in pending:
            del requests[request_id]
            request_id._unwatch(self)
            request_id._abandon()
        arrival, self._arrival = self._arrival, None
        if arrival is not None:  # other waiters look again: what they wait for may be gone
            arrival.set()
