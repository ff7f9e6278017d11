"""Looking inside a running server: OTP's ``sys:get_state``, ``sys:replace_state`` and
``sys:get_status``.

System messages
---------------
:func:`get_state` and :func:`replace_state` are *system messages*, as in OTP: a
:class:`SystemRequest` joins the server's mailbox behind the messages already there, and
the server's loop handles it between two callbacks, never during one, so it never races
a callback and sees the state exactly as the messages before it left it. Like a stop
request it is never refused for want of room in a bounded mailbox. It carries a
:class:`Caller`, so the caller waits, times out and learns of the server's end exactly
as :meth:`ServerRef.call` does (the server fails every call it still owes when it ends).

What "the state" is
-------------------
A trio_otp server keeps its state in the :class:`GenServer` instance whose methods are
its callbacks, so that instance *is* the state: :func:`get_state` returns it (the object
itself, not a copy), and :func:`replace_state` puts the object its function returns in
its place, for every later callback. Because the instance also carries the code, the new
one must be of exactly the same class: another class would change the server's
behaviour, which is a code change, not a state change. A new ``idle_timeout`` is
checked too. Anything wrong (the function raised, a wrong class, a bad idle timeout)
leaves the server running on the state object it had (with what the function changed in
place, but its old ``idle_timeout``), and the caller gets
:class:`ReplaceStateFailed` from the cause, as OTP's caller gets an error while the
server carries on.

get_status is a direct read
---------------------------
OTP's ``sys:get_status`` is a system message too, so it waits while a callback is
stuck, which is when one needs it most. In trio_otp the server's bookkeeping lives in
the same thread as the caller, and a task switch only happens at a checkpoint, so
:func:`get_status` reads it directly, without a message: it is race-free, instant, not a
checkpoint, and works while a callback is stuck in an ``await``.

How long the current message has been handled
---------------------------------------------
``trio.current_time()`` is some 1,750 instructions (three Python frames), a fifth of
a cast, so it is not read per message. The loop reads the clock once per *scheduling
step* of the server's task: Trio clears a task's ``custom_sleep_data`` whenever it
reschedules it, so the loop leaves a mark there after reading the clock, and reads it
again only when the mark has gone. Messages handled back to back, without the server
yielding, share the step's time; they could not be observed in between anyway. And on
Trio's default clock, which is :func:`time.perf_counter` plus a constant offset, it
reads :func:`time.perf_counter` directly (``_system_messages.time_source``), a C call.
What remains, measured with callgrind: the mark test, some 150 instructions a message
(1.5-2% of a cast), and a call, after which the server parks, 200-800 more (under 1%).
This is the one cost get_status puts on the message path; the process table puts none.
A message taken after a wait shows its own time exactly; one taken straight after
others in the same step shows theirs too (at most 63 of them: the loop yields after 64).
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import attrs
import trio

from ._agent import AgentRef
from ._call_timer import call_timer
from ._caller import Caller, TimedOut, new_caller
from ._checks import check_callable, check_hashable, check_timeout
from ._exceptions import CallTimeout, ServerError, ServerNotRunning
from ._gen_server import GenServer
from ._ki import protected
from ._process import Cast, Info, StopRequest
from ._processes import child_of, supervisor_path
from ._server_ref import DEFAULT_CALL_TIMEOUT, ServerRef, lookup
from ._state_machine import StateMachine, status_of
from ._system_messages import SystemRequest, time_source
from ._util import describe, safe_repr

# A GenServer's state is its instance; a StateMachine's is the pair (state, data).
StateT = TypeVar("StateT", bound="GenServer[Any, Any] | tuple[Any, Any]")
ValueT = TypeVar("ValueT")


def _resolve(server: object, function: str) -> ServerRef[Any, Any]:
    if isinstance(server, AgentRef):
        return cast("ServerRef[Any, Any]", server.server)
    if isinstance(server, ServerRef):
        return cast("ServerRef[Any, Any]", server)  # type: ignore[redundant-cast]  # for pyright
    check_hashable(server, f"{function}'s server (a ServerRef or a server name)")
    return lookup(server)


@protected  # from queueing the request to parking on it, as ServerRef.call
async def _system_call(
    ref: ServerRef[Any, Any],
    function: Callable[[Any], Any] | None,
    what: str,
    timeout: float | None,  # noqa: ASYNC109 - for the error message only
    seconds: float,
) -> Any:
    process = ref._process
    task = trio.lowlevel.current_task()
    if task is process.task:
        msg = f"server {process.label} asked itself for {what}, which would wait for ever"
        raise ServerError(msg)
    await trio.lowlevel.checkpoint_if_cancelled()
    deadline = math.inf if seconds == math.inf else trio.current_time() + seconds
    caller = new_caller(what, task)
    process.post_system(SystemRequest(function, caller))  # raises ServerNotRunning
    if deadline != math.inf:
        timer = process.call_timer
        if timer is None:  # this run's timer, kept by the server: no RunVar lookup per call
            timer = process.call_timer = call_timer()
        caller._timer = timer
        timer.add(caller, deadline)
    try:
        return await trio.lowlevel.wait_task_rescheduled(caller._abort)
    except TimedOut:
        msg = f"{what} of server {process.label} got no reply within {timeout:g} s"
        raise CallTimeout(msg) from None


@typing.overload
async def get_state(
    server: AgentRef[ValueT],
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> ValueT: ...


@typing.overload
async def get_state(
    server: ServerRef[Any, Any] | Hashable,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> Any: ...


async def get_state(
    server: ServerRef[Any, Any] | Hashable,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> Any:
    """The server's state: its :class:`GenServer` instance itself, as the messages
    before this request left it (OTP's ``sys:get_state``). ``server`` is a
    :class:`ServerRef` or a name, as :func:`call` takes, or an :class:`AgentRef`, whose
    state is its value. A :class:`StateMachine`'s state is the pair ``(state, data)``.

    A system message: it waits behind the messages already in the mailbox (never for
    room in a full one) and is answered between two callbacks. A checkpoint. The object
    is the live state, not a copy: read it, and change it only through the server.

    Raises:
      CallTimeout: no answer within ``timeout`` (a callback is stuck, say).
      ServerExited: the server ended before answering.
      ServerNotRunning: it had already ended, or no server has that name.
      ServerError: a server asked for its own state (it has it: ``self``).
      TypeError, ValueError: a bad ``server`` or ``timeout``, before anything is sent.
    """
    seconds = check_timeout(timeout, "get_state's timeout")
    ref = _resolve(server, "get_state")
    state = await _system_call(ref, None, "get_state", timeout, seconds)
    return state.state if isinstance(server, AgentRef) else state


@typing.overload
async def replace_state(  # type: ignore[overload-overlap]  # an AgentRef is Hashable too
    server: AgentRef[ValueT],
    function: Callable[[ValueT], ValueT],
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> ValueT: ...


@typing.overload
async def replace_state(
    server: ServerRef[Any, Any] | Hashable,
    function: Callable[[StateT], StateT],
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> StateT: ...


async def replace_state(
    server: ServerRef[Any, Any] | Hashable,
    function: Callable[[Any], Any],
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
) -> Any:
    """Replace the server's state with ``function(state)`` and return the new state
    (OTP's ``sys:replace_state``). ``function`` is a plain (not async) function that
    runs in the server's task, between two callbacks, so it sees the state the messages
    before it left and every later message sees what it returns. A checkpoint.

    The new state must be an instance of the server's own class (the class is its code;
    see the :ref:`sys` docs); it may be the same object, changed in place. If
    ``function`` raises or returns anything else, the state is unchanged (except for
    what ``function`` changed in place before it failed), the server carries on, and the
    caller gets :class:`ReplaceStateFailed`. If the call times out
    the server still carries the replacement out, as it would a call. For a
    :class:`StateMachine` the function takes and returns ``(state, data)``, as OTP's
    does for a gen_statem; no state enter call runs and no postponed event is retried.

    Raises:
      ReplaceStateFailed: ``function`` raised (its ``__cause__``), or returned no valid
        state; the server did not crash.
      CallTimeout, ServerExited, ServerNotRunning, ServerError: as :func:`get_state`.
      TypeError, ValueError: a bad ``server``, ``function`` or ``timeout``, before
        anything is sent.
    """
    check_callable(function, "replace_state's function", "a function of the old state returning the new")
    if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(type(function), "__call__", None)  # noqa: B004 - an async __call__, not callability
    ):
        msg = (
            "replace_state's function must be a plain function (it runs between two callbacks "
            f"and cannot await), got the async function {describe(function)}"
        )
        raise TypeError(msg)
    seconds = check_timeout(timeout, "replace_state's timeout")
    ref = _resolve(server, "replace_state")
    if isinstance(server, AgentRef):  # an agent's state is its value
        return (await _system_call(ref, _on_value(function), "replace_state", timeout, seconds)).state
    return await _system_call(ref, function, "replace_state", timeout, seconds)


def _on_value(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def replace_value(agent: Any) -> Any:
        agent.state = function(agent.state)
        return agent

    return replace_value


@attrs.frozen
class ServerStatus:
    """What :func:`get_status` saw of a server (OTP's ``sys:get_status``, and some of
    Elixir's ``Process.info``).
    """

    #: The server's :class:`GenServer` subclass (OTP's callback module).
    server_class: type
    #: How reports name it: its class and name, such as ``"Counter 'hits'"``.
    label: str
    #: The name it was started under, or ``None``.
    name: Hashable | None
    #: Its state as :meth:`GenServer.format_status` shows it (the state object itself
    #: by default); a stand-in text if ``format_status`` raised.
    state: object
    #: Whether it accepts messages.
    alive: bool
    #: Whether it is ending: it no longer accepts messages, and ``terminate`` runs.
    stopping: bool
    #: Messages waiting in its mailbox (not counting the one being handled).
    mailbox: int
    #: The message being handled, as ``(kind, content)`` with kind ``"call"``,
    #: ``"cast"``, ``"info"`` or ``"stop"``, or ``None`` when it waits for one. It stays
    #: the message through the continue steps it asked for, and through ``terminate``
    #: after the message that ended the server.
    message: tuple[str, object] | None
    #: Seconds since it took that message, on Trio's clock, or ``None``.
    handling_for: float | None
    #: How many times its supervisor has restarted it, or ``None`` if no supervisor
    #: runs it directly.
    restarts: int | None
    #: Its child id under that supervisor, or ``None``.
    child_id: Hashable | None
    #: The labels of the supervisors above it, the root first (empty if none).
    supervisors: tuple[str, ...]


def describe_message(item: object) -> tuple[str, object] | None:
    """A mailbox item as ``(kind, content)``, as crash reports show the last message."""
    if isinstance(item, Caller):
        return ("call", item._request)
    if type(item) is Cast:
        return ("cast", item[0])
    if isinstance(item, Info):
        return ("info", item.message)
    if isinstance(item, StopRequest):
        return ("stop", item.reason)
    return None


def get_status(server: ServerRef[Any, Any] | Hashable) -> ServerStatus:
    """What a server is doing now, read from its bookkeeping (see :class:`ServerStatus`).

    Not a checkpoint, and no message: it works while a callback is stuck, unlike OTP's
    ``sys:get_status``, which waits for the server. It calls the server's
    ``format_status`` in the calling task. Call it from a task of the server's Trio run.

    Raises:
      ServerNotRunning: the server has ended, or no server has that name.
      TypeError: ``server`` is neither a :class:`ServerRef` nor a hashable name.
    """
    if not trio.lowlevel.in_trio_run():
        msg = "get_status must be called from a task of the server's Trio run (not from another thread)"
        raise RuntimeError(msg)
    process = _resolve(server, "get_status")._process
    if process.ended:
        msg = f"server {process.label} is not running"
        raise ServerNotRunning(msg)
    state = process.server
    assert state is not None  # set before the server can be found
    server_class: type = type(state)
    try:
        shown = status_of(process) if isinstance(state, StateMachine) else state.format_status()
    except Exception as failure:  # a broken redaction must not break the status
        shown = f"<format_status raised {safe_repr(failure)}>"
    message = None if process.parked is not None else describe_message(process.current)
    child = child_of(process.task)
    own = child is not None and child.trio_task is process.task
    return ServerStatus(
        server_class=server_class,
        label=process.label,
        name=process.name,
        state=shown,
        alive=process.alive,
        stopping=not process.alive,
        mailbox=len(process.mailbox) if process.mailbox else 0,
        message=message,
        handling_for=None if message is None else time_source()() - process.step_time,
        restarts=child.record.restarts if own and child is not None else None,
        child_id=child.spec.id if own and child is not None else None,
        supervisors=supervisor_path(child),
    )


def status_fields(ref: object) -> tuple[int | None, tuple[str, object] | None, float | None] | None:
    """(mailbox, message, handling_for) of a server ref for :func:`snapshot` (Nones once
    it has ended); ``None`` for anything that is no server ref."""
    if not isinstance(ref, ServerRef):
        return None
    if ref._process.ended:
        return None, None, None
    process = ref._process
    message = None if process.parked is not None else describe_message(process.current)
    handling_for = None if message is None else time_source()() - process.step_time
    return (len(process.mailbox) if process.mailbox else 0), message, handling_for
