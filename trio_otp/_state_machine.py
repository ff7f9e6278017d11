"""StateMachines: OTP's gen_statem, on the same process layer as a GenServer.

A machine is a :class:`Process` (mailbox, name, monitors, the callers it owes, the end
that fails them) like a GenServer's, reached through the same :class:`ServerRef`, so
names, monitors, timers, supervisors and ``sys`` work on it unchanged. What differs is
the dispatch: each message becomes an event for the state callback, and the callback's
:class:`NextState` / :class:`KeepState` / ... carries actions.

The event queue
---------------
Besides the mailbox the machine keeps a queue of events to handle before it takes the
next message, and the events postponed in the current state. After each callback, in
gen_statem's order (checked against OTP 25 by ``tests/test_otp_agreement.py``):

1. the actions are carried out in order (replies are sent as they come);
2. a postponed event joins the postponed list;
3. on a state change, the postponed events go to the front of the queue, oldest first,
   and the state timeout is cancelled;
4. the state enter call runs, if enabled and the state changed (or repeat); its actions
   count as if appended to the callback's, and it may not postpone, insert or change
   the state;
5. inserted events (:class:`NextEvent`) go to the very front, in the order given;
6. timeouts, in the order given (the last of each kind wins): a zero one is queued
   after the inserted and postponed events, before any message not yet taken; the event
   timeout starts only if no event was queued before these zero timeouts, and any event
   handled, a queued zero timeout too, cancels it.

Timeouts are entries in the run's deadline heap (``_call_timer.py``), as
:func:`send_after` is: one that fires puts itself in the mailbox, so it arrives behind the
messages sent before it, as an Erlang timer message does. Cancelling or restarting one
that has fired but was not yet taken drops it when it is taken, as gen_statem flushes it.

Ending
------
As a GenServer's, with ``terminate(reason, state, data)``. :class:`StopMachine`'s replies
go out before ``terminate`` runs, as gen_statem sends them; every call the machine still
owes (postponed, deferred or queued) gets :class:`ServerExited` after it.
"""

from __future__ import annotations

import logging
import math
import typing
from collections import deque
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

import trio

from . import _context
from ._backend import require_trio
from ._call_timer import call_timer
from ._caller import Caller
from ._checks import check_callable, check_instance
from ._child import ChildTask, cleanup_scope
from ._child_spec import ChildSpec, Ignore, Restart, ShutdownPolicy
from ._exceptions import InitIgnored, InitStopped, ReplaceStateFailed
from ._ki import protected, self_protecting, unprotected
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
    exited,
    reason_of,
)
from ._processes import list_server
from ._server_ref import ServerRef
from ._system_messages import SystemRequest, time_source
from ._transitions import (
    _CANCEL,
    _KEEP,
    _UPDATE,
    CallEvent,
    CastEvent,
    EnterEvent,
    Event,
    EventTimeout,
    EventTimeoutEvent,
    GenericTimeoutEvent,
    InfoEvent,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    ReplyTo,
    StateTimeout,
    StateTimeoutEvent,
    StopMachine,
    Transition,
    _TimeoutAction,
)
from ._util import describe, safe_repr

logger = logging.getLogger("trio_otp.state_machine")

StateT = TypeVar("StateT")
DataT = TypeVar("DataT")
RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

# Consecutive events a machine handles without parking before it yields to other tasks.
_FAIRNESS_BATCH = 64

# A CastEvent built field by field: an attrs frozen class's __init__ sets its slot through
# object.__setattr__, which the slot's own descriptor does for a third of the cost.
_new_event = object.__new__
_set_cast_request = CastEvent.request.__set__


class StateMachine(Generic[StateT, DataT, RequestT, ReplyT]):
    """Base class of a state machine (OTP's gen_statem): subclass it and define either
    :meth:`handle_event` (one callback for every state, OTP's ``handle_event_function``)
    or one async method per state, named as the state (``state_functions``; the states
    are then strings, such as a ``StrEnum``'s members).

    ``StateT`` and ``DataT`` type the state and the data the callbacks receive and
    return; ``RequestT`` and ``ReplyT`` type the calls, as for a :class:`GenServer`. The
    instance holds the configuration; state and data travel through the callbacks.
    Every callback is async and runs in the machine's task, one event at a time.

    Start one with :func:`start_state_machine`, or put :func:`state_machine_spec` in a
    :class:`Supervisor`; either gives a :class:`ServerRef`.
    """

    #: Make a state enter call (an :class:`EnterEvent`) each time the machine enters a
    #: state, and after ``init`` (OTP's ``state_enter`` callback mode).
    state_enter: ClassVar[bool] = False

    async def init(self) -> NextState[StateT, DataT] | StopMachine[Any] | type[Ignore]:
        """Return the first state and data, ``NextState(state, data, *actions)``,
        :class:`StopMachine` to fail the start (:class:`InitStopped`), or :class:`Ignore`
        not to start (no failure under a supervisor; :class:`InitIgnored` outside one). Runs before the
        machine accepts messages; ``start_state_machine`` returns after it. The actions
        may be anything but :class:`Postpone`."""
        msg = f"{type(self).__name__} must define init, returning NextState(state, data)"
        raise NotImplementedError(msg)

    async def handle_event(
        self, event: Event[RequestT, ReplyT], state: StateT, data: DataT
    ) -> Transition[StateT, DataT]:
        """Handle ``event`` in ``state``. Not overriding it means state functions: the
        event goes to ``await self.<state>(event, data)``, which returns the same."""
        return await self._state_function(state)(event, data)

    def _state_function(
        self, state: object
    ) -> Callable[[Event[RequestT, ReplyT], DataT], typing.Awaitable[Transition[StateT, DataT]]]:
        if (
            not isinstance(state, str)
            or not state.isidentifier()
            or state.startswith("_")
            or hasattr(StateMachine, state)
        ):
            msg = (
                f"{type(self).__name__} uses state functions (it does not define handle_event), so its "
                "states must name its methods: identifiers, not starting with '_', not a StateMachine "
                f"attribute; got state {describe(state)}"
            )
            raise TypeError(msg)
        method: Any = getattr(self, state, None)
        if method is None or not callable(method):
            msg = (
                f"{type(self).__name__} has no method for state {state!r}: "
                f"define async def {state}(self, event, data)"
            )
            raise TypeError(msg)
        return typing.cast(
            "Callable[[Event[RequestT, ReplyT], DataT], typing.Awaitable[Transition[StateT, DataT]]]", method
        )

    def format_status(self, state: StateT, data: DataT) -> object:
        """What crash reports and :func:`get_status` show of the machine (OTP's
        ``format_status``): ``(state, data)`` by default. Override it to redact."""
        return (state, data)

    async def terminate(self, reason: BaseException | None, state: StateT, data: DataT) -> None:
        """Runs once as the machine ends, as :meth:`GenServer.terminate` does (same
        reasons, in :func:`cleanup_scope`), with the state and data it ends in."""


# --- timeouts ------------------------------------------------------------------------

_RUNNING, _QUEUED, _FIRED, _CANCELLED = 0, 1, 2, 3
_STATE, _EVENT, _GENERIC = 0, 1, 2


class _Timeout:
    """One timeout of a machine: running in the deadline heap, queued as a zero timeout,
    fired (in the mailbox), or cancelled. Its content is read when its event is made, so
    an update reaches one that has fired but was not taken yet."""

    __slots__ = ("content", "kind", "name", "process", "status")

    def __init__(self, kind: int, name: Hashable, content: object, process: Process) -> None:
        self.kind = kind
        self.name = name
        self.content = content
        self.process = process
        self.status = _QUEUED

    @property
    def done(self) -> bool:  # for the deadline heap
        return self.status != _RUNNING

    @protected
    def start(self, deadline: float) -> None:
        self.status = _RUNNING
        process = self.process
        if process.timers is None:
            process.timers = {}
        process.timers[self] = None  # the process cancels it when it ends
        call_timer().add(self, deadline)

    @protected
    def _time_out(self) -> None:  # called by the deadline heap when it is due
        if self.status != _RUNNING:
            return
        self._forget()
        self.status = _FIRED
        if self.process.alive:
            self.process.append(self)  # as a timer message: never refused for room

    @protected
    def cancel(self) -> None:
        if self.status == _RUNNING:
            self._forget()
        self.status = _CANCELLED

    def _forget(self) -> None:
        call_timer().finished()
        timers = self.process.timers
        if timers is not None:
            timers.pop(self, None)

    def event(self) -> Event[Any, Any]:
        if self.kind == _STATE:
            return StateTimeoutEvent(self.content)
        if self.kind == _EVENT:
            return EventTimeoutEvent(self.content)
        return GenericTimeoutEvent(self.name, self.content)


class _Stopped(Exception):
    """Internal: the machine returned StopMachine or was asked to stop."""

    def __init__(self, stop: StopMachine[Any]) -> None:
        self.stop = stop


# --- the loop --------------------------------------------------------------------------


class _Run:
    """A running machine's state, data, event queue and timeouts."""

    def __init__(self, machine: StateMachine[Any, Any, Any, Any], process: Process) -> None:
        self.machine = machine
        self.process = process
        self.state: Any = None
        self.data: Any = None
        self.queue: deque[Event[Any, Any] | _Timeout] = deque()  # events and queued zero timeouts, first next
        self.postponed: list[Event[Any, Any]] = []
        self.state_timeout: _Timeout | None = None
        self.event_timeout: _Timeout | None = None
        self.generic: dict[Hashable, _Timeout] = {}
        self.event: Event[Any, Any] | None = None  # the event being handled, for the crash report
        cls = type(machine)
        self.by_state = cls.handle_event is StateMachine.handle_event  # pyright: ignore[reportUnknownMemberType]
        self.state_enter = bool(cls.state_enter)
        # Enter calls since the loop last checkpointed or parked: only a run of them
        # with no event between (RepeatState from an enter call) checkpoints itself.
        self.enter_calls = 0

    async def dispatch(self, event: Event[Any, Any]) -> Any:
        if self.by_state:
            method = self.machine._state_function(self.state)
            return await method(event, self.data)
        return await self.machine.handle_event(event, self.state, self.data)

    async def begin(self, first: NextState[Any, Any]) -> None:
        """After init: the first state, its enter call, init's actions."""
        self.state = first.state
        self.data = first.data
        await self.after(first.actions, first.state, enter=True)

    def transition(
        self, event: Event[Any, Any], result: Transition[Any, Any]
    ) -> tuple[tuple[Any, ...], object, bool] | None:
        """Take a state callback's result for ``event`` (not None): the new state and
        data, postponing, the state change's effects. What is left to carry out, as
        :meth:`after`'s arguments, or None if nothing is.

        Raises:
          _Stopped: the result is a StopMachine.
          TypeError: the result is not a transition.
        """
        repeat = False
        old = self.state
        if isinstance(result, KeepState):
            self.data = result.data
            actions: tuple[Any, ...] = result.actions
            changed = False
        elif isinstance(result, NextState):
            # Reflexive, as OTP's =:= is: a state unequal to itself (a NaN) is no change.
            # Compared before anything is assigned, in case the comparison raises.
            changed = result.state is not old and bool(result.state != old)
            self.data = result.data
            actions = result.actions
            self.state = result.state
        elif isinstance(result, RepeatState):
            self.data = result.data
            actions = result.actions
            changed = False
            repeat = True
        elif isinstance(result, StopMachine):
            raise _Stopped(result)
        else:  # only reachable from code that is not type-checked
            msg = (
                f"{type(self.machine).__name__}'s state callback returned {safe_repr(result)}; expected "
                "NextState, KeepState, RepeatState, StopMachine or None"
            )
            raise TypeError(msg)
        for action in actions:
            if type(action) is Postpone:
                self.postponed.append(event)
                break
        if changed:
            if self.postponed:
                self.queue.extendleft(reversed(self.postponed))
                self.postponed = []
            self._cancel_state_timeout()
        if actions or changed or repeat:
            return actions, old, changed or repeat
        return None

    def _cancel_state_timeout(self) -> None:
        if self.state_timeout is not None:
            self.drop(self.state_timeout)
            self.state_timeout = None

    async def after(self, actions: tuple[Any, ...], old_state: object, *, enter: bool) -> None:
        """Carry out a transition's actions, with its state enter call (steps 1, 4-6)."""
        inserted: list[Event[Any, Any]] = []
        timeouts: list[_TimeoutAction] = []
        self._carry_out(actions, inserted, timeouts)
        while enter and self.state_enter:
            enter = False
            self.enter_calls += 1
            # Past the loop's batch, these enter calls are a run with no event between
            # (RepeatState from an enter call): let others run.
            if self.enter_calls > _FAIRNESS_BATCH:
                self.enter_calls = 0
                await trio.lowlevel.checkpoint()
            result: Transition[Any, Any] = await self.dispatch(EnterEvent(old_state))
            if result is None:
                continue
            if isinstance(result, StopMachine):
                raise _Stopped(result)
            if isinstance(result, NextState):
                if result.state is not self.state and result.state != self.state:
                    msg = (
                        f"{type(self.machine).__name__}'s state enter call returned {safe_repr(result)}: a "
                        f"state enter call cannot change the state (it is {safe_repr(self.state)})"
                    )
                    raise TypeError(msg)
            elif isinstance(result, RepeatState):
                enter = True
                old_state = self.state
            elif not isinstance(result, KeepState):  # pyright: ignore[reportUnnecessaryIsInstance]
                msg = (  # type: ignore[unreachable]
                    f"{type(self.machine).__name__}'s state enter call returned {safe_repr(result)}; "
                    "expected "
                    "KeepState, RepeatState, NextState to the same state, StopMachine or None"
                )
                raise TypeError(msg)
            self.data = result.data
            enter_actions: tuple[Any, ...] = result.actions
            for action in enter_actions:
                if isinstance(action, (Postpone, NextEvent)):
                    msg = (
                        f"{type(self.machine).__name__}'s state enter call returned {action!r}: a state "
                        "enter call may not postpone or insert events"
                    )
                    raise TypeError(msg)
            self._carry_out(enter_actions, inserted, timeouts)
        if inserted:
            self.queue.extendleft(reversed(inserted))
        # gen_statem's test for the event timeout: events queued before this transition's
        # zero timeouts (those are ordinary events, and the first one cancels it).
        events_queued = bool(self.queue)
        for action in timeouts:
            if type(action) is EventTimeout:
                self._set_event_timeout(action, events_queued)
            else:
                self._set_timeout(action)

    @staticmethod
    def _carry_out(
        actions: tuple[Any, ...], inserted: list[Event[Any, Any]], timeouts: list[_TimeoutAction]
    ) -> None:
        for action in actions:
            if isinstance(action, ReplyTo):
                reply = typing.cast("ReplyTo[Any]", action)  # type: ignore[redundant-cast]  # for pyright
                reply.caller.reply(reply.value)
            elif isinstance(action, NextEvent):
                inserted.append(action.event)
            elif not isinstance(action, Postpone):
                timeouts.append(action)

    def _set_timeout(self, action: _TimeoutAction) -> None:
        if type(action) is StateTimeout:
            kind, current = _STATE, self.state_timeout
        else:
            kind, current = _GENERIC, self.generic.get(action.name)
        if action.mode == _UPDATE and current is not None and current.status != _CANCELLED:
            current.content = action.content
            return
        if current is not None:
            self.drop(current)
        if action.mode == _CANCEL or action.seconds == math.inf:
            timeout = None
        else:
            timeout = _Timeout(kind, action.name, action.content, self.process)
            if action.seconds == 0:
                self.queue.append(timeout)  # after queued events, before any message
            else:
                timeout.start(trio.current_time() + action.seconds)
        if kind == _STATE:
            self.state_timeout = timeout
        elif timeout is None:
            self.generic.pop(action.name, None)
        else:
            self.generic[action.name] = timeout

    def _set_event_timeout(self, action: _TimeoutAction, events_queued: bool) -> None:
        current = self.event_timeout
        if action.mode == _UPDATE and current is not None and current.status != _CANCELLED:
            current.content = action.content
            return
        self.cancel_event_timeout()
        if action.mode == _CANCEL or action.seconds == math.inf or events_queued:
            return  # an event is queued, and it would cancel the timeout at once
        timeout = self.event_timeout = _Timeout(_EVENT, None, action.content, self.process)
        if action.seconds == 0:
            self.queue.append(timeout)
        else:
            timeout.start(trio.current_time() + action.seconds)

    def drop(self, timeout: _Timeout) -> None:
        """Cancel a timeout; a queued zero one leaves the queue, which may then be empty
        for an event timeout (gen_statem removes the queued event too)."""
        if timeout.status == _QUEUED:
            self.queue.remove(timeout)
        timeout.cancel()

    def cancel_event_timeout(self) -> None:
        if self.event_timeout is not None:
            self.drop(self.event_timeout)
            self.event_timeout = None

    def timeout_event(self, timeout: _Timeout) -> Event[Any, Any] | None:
        """The event of a timeout taken from the queue or the mailbox, or None if it was
        cancelled or replaced meanwhile."""
        if timeout.status == _CANCELLED:
            return None
        timeout.status = _CANCELLED  # delivered: it is no longer running
        if timeout is self.state_timeout:
            self.state_timeout = None
        elif timeout is self.event_timeout:
            self.event_timeout = None
        elif self.generic.get(timeout.name) is timeout:
            del self.generic[timeout.name]
        return timeout.event()

    async def loop(self) -> StopMachine[Any]:
        process = self.process
        task = process.task
        now = time_source()
        handled = 0
        queue = self.queue
        machine = self.machine
        by_state = self.by_state
        while True:
            handled += 1
            if handled >= _FAIRNESS_BATCH:
                handled = 0
                self.enter_calls = 0  # this checkpoint is theirs too
                process.current = None
                await trio.lowlevel.checkpoint()
            if queue:
                entry = queue.popleft()
                event: Event[Any, Any] | None
                if type(entry) is _Timeout:
                    event = self.timeout_event(entry)
                    if event is None:
                        continue
                else:
                    event = entry  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
            else:
                while not process.mailbox:
                    handled = 0
                    self.enter_calls = 0
                    process.current = None  # handled: get_status shows no message
                    process.parked = task
                    await trio.lowlevel.wait_task_rescheduled(process)  # its own abort function
                # take() inlined, as a GenServer's serve does (see there)
                queued: deque[object] = process.mailbox
                item = queued[0]
                process.current = item
                queued.popleft()
                if process.room:
                    process.room.unpark()
                if task.custom_sleep_data is not process:  # once per scheduling step (see _sys.py)
                    process.step_time = now()
                    task.custom_sleep_data = process
                if _context.active:  # the caller's values, as a GenServer's handlers see them
                    _context.enter(item)
                kind: type[Any] = type(item)
                if kind is Caller:
                    caller: Caller[Any] = item  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
                    # Owed until answered: the machine fails it at its end if nobody did.
                    # One that ended in the mailbox (timed out, cancelled) is owed nothing:
                    # deferred, it would stay in the set for the machine's whole life.
                    if not caller.done:
                        caller._process = process
                        defer(process, caller)
                    event = CallEvent(caller._request, caller)
                elif kind is Cast:
                    # CastEvent(item[0]) without attrs's frozen __init__ (a third of the cost)
                    event = _new_event(CastEvent)
                    _set_cast_request(event, item[0])  # type: ignore[index]  # pyright: ignore[reportIndexIssue]
                elif kind is Info:
                    event = InfoEvent(item.message)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
                elif kind is _Timeout:
                    event = self.timeout_event(item)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
                    if event is None:
                        continue  # cancelled after it fired: gen_statem flushes it
                elif kind is StopRequest:
                    return StopMachine(item.reason)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
                else:
                    self.system(item)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
                    continue
            if self.event_timeout is not None:
                self.cancel_event_timeout()  # any event cancels it, a queued one too
            assert event is not None
            self.event = event  # for the crash report
            # The callback is awaited here rather than in a method of its own: one
            # coroutine frame less per event.
            try:
                result: Transition[Any, Any]
                if by_state:
                    result = await machine._state_function(self.state)(event, self.data)
                else:
                    result = await machine.handle_event(event, self.state, self.data)
                if result is None:
                    pass  # keep state and data: nothing to carry out
                elif type(result) is KeepState and not result.actions:
                    self.data = result.data  # the other common case, without a call
                else:
                    left = self.transition(event, result)
                    if left is not None:
                        await self.after(left[0], left[1], enter=left[2])
            except _Stopped as stopped:
                return stopped.stop

    def system(self, request: SystemRequest) -> None:
        """get_state and replace_state, between two events: the state is ``(state, data)``."""
        function = request.function
        if function is None:
            request.caller.reply((self.state, self.data))
            return
        try:
            new = function((self.state, self.data))
            if not isinstance(new, tuple) or len(new) != 2:  # pyright: ignore[reportUnknownArgumentType]
                shown = describe(typing.cast("object", new))
                msg = f"replace_state's function must return (state, data) for a state machine, got {shown}"
                raise TypeError(msg)
        except Exception as error:
            failure = ReplaceStateFailed(
                f"replace_state on state machine {self.process.label}: {safe_repr(error)}; "
                "nothing was replaced"
            )
            failure.__cause__ = error
            request.caller._fail(failure)
            return
        self.state, self.data = new
        request.caller.reply(new)

    def fail_current(self, reason: BaseException | None) -> None:
        """Fail the call being handled, if the event is one and still waits (before terminate)."""
        event = self.event
        if isinstance(event, CallEvent) and not event.caller.done:
            event.caller._fail(exited(self.process.label, reason))

    def last_event(self) -> object:
        event = self.event
        if isinstance(event, CallEvent):
            request: object = event.request
            return ("call", request)
        if event is None:
            return None
        return event


# --- running a machine -------------------------------------------------------------------


def _check_factory(factory: object) -> None:
    check_callable(factory, "factory", "a callable that builds the state machine (such as the class)")


@self_protecting
@unprotected  # it runs the machine's callbacks, which must stay interruptible
async def serve_state_machine(
    factory: Callable[[], StateMachine[Any, Any, RequestT, ReplyT]],
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    *,
    task_status: trio.TaskStatus[ServerRef[RequestT, ReplyT]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a state machine until it ends: the start function behind
    :func:`start_state_machine` and :func:`state_machine_spec`, for ``nursery.start``;
    the machine's :func:`serve`.

    Raises:
      NameTaken: before ``init``, if another server runs under ``name``.
      InitStopped: ``init`` returned :class:`StopMachine`.
      InitIgnored: ``init`` returned :class:`Ignore`, not under a supervisor (under one,
        it tells the supervisor so and returns without calling ``task_status.started()``).
      TypeError, ValueError: a bad argument, a factory that builds no StateMachine, or
        ``init`` returning something other than NextState or StopMachine.
      Exception: whatever ``factory`` or ``init`` raised (before ``started``).
    """
    require_trio("trio_otp.serve_state_machine")
    check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    machine: object = factory()
    if not isinstance(machine, StateMachine):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
        msg = f"a state machine factory must return a StateMachine instance, got {describe(machine)}"
        raise TypeError(msg)
    label = f"{type(machine).__name__}" + (f" {safe_repr(name)}" if name is not None else "")
    process = Process(label, name, mailbox_size)
    process.server = machine  # read by _sys as the server's state
    ref = typing.cast("ServerRef[RequestT, ReplyT]", ServerRef._create(process))
    run = _Run(machine, process)
    ended_by: BaseException | None = None
    try:
        _runs[process] = run  # inside the try: an interrupt cannot leave it in this module's dict
        list_server(ref, process.task, task_status)  # current_server() from here on
        if name is not None:
            process.register(ref)
        try:
            result = typing.cast("object", await machine.init())
        except BaseException as init_error:
            signal = exit_signal_of(process, init_error)
            process.close(reason_of(init_error) if signal is None else signal.reason)
            raise
        if isinstance(result, StopMachine):
            stopped = InitStopped(
                f"state machine {process.label}: init returned StopMachine({safe_repr(result.reason)})",
                result.reason,
            )
            process.close(result.reason)
            raise stopped
        if result is Ignore:
            process.close(None)
            if isinstance(task_status, ChildTask):
                task_status.ignore()  # its supervisor keeps it not running
                return
            raise InitIgnored(f"state machine {process.label}: init returned Ignore")
        if not isinstance(result, NextState):
            msg = (
                f"{type(machine).__name__}.init returned {safe_repr(result)}; "
                "expected NextState(state, data), StopMachine or Ignore"
            )
            raise TypeError(msg)
        if any(isinstance(action, Postpone) for action in result.actions):
            msg = f"{type(machine).__name__}.init returned Postpone: there is no event to postpone"
            raise TypeError(msg)
        task_status.started(ref)
        try:
            await run.begin(result)  # pyright: ignore[reportUnknownArgumentType]
            stop = await run.loop()
        except _Stopped as stopped_in_begin:
            stop = stopped_in_begin.stop
        except BaseException as error:
            await end_after_error(
                process,
                error,
                report=partial(_crash_report, run),
                fail_current=run.fail_current,
                terminate=partial(_terminate, run),
            )
            raise
        reason = stop.reason
        if stop.data is not _KEEP:
            run.data = stop.data
        # gen_statem's order: the replies, then terminate, then the exit.
        process.stop_accepting(None)
        for reply in stop.replies:
            reply.caller.reply(reply.value)
        await _terminate(run, reason)
        process.close(reason)
        if reason is not None:
            raise reason
    except BaseException as error:
        ended_by = error
        raise
    finally:
        _runs.pop(process, None)
        process.finish(ended_by)
        ended_by = None  # no reference cycle with the error's traceback (see serve's)


# The running machines' loops, for get_status (a process's server is the StateMachine).
_runs: dict[Process, _Run] = {}


def status_of(process: Process) -> object:
    """What get_status shows as a machine's state: ``format_status(state, data)``."""
    run = _runs.get(process)
    if run is None:
        return None
    return run.machine.format_status(run.state, run.data)


def _crash_report(run: _Run, error: Exception) -> None:
    """gen_statem's crash report: reason, last event, and (redactable) state and data."""
    if not logger.isEnabledFor(logging.ERROR):
        return
    try:
        status = run.machine.format_status(run.state, run.data)
    except Exception as failure:
        status = f"<format_status raised {safe_repr(failure)}>"
    last_event = run.last_event()
    label = run.process.label
    logger.error(
        "state machine %s terminating: %s; last event: %s; state: %s",
        label,
        safe_repr(error),
        safe_repr(last_event),
        safe_repr(status),
        extra={
            "otp_report": "server_crash",
            "server": label,
            "reason": safe_repr(error),
            "last_message": last_event,
            "state": status,
        },
    )


async def _terminate(run: _Run, reason: BaseException | None) -> None:
    machine = run.machine
    if type(machine).terminate is StateMachine.terminate:  # pyright: ignore[reportUnknownMemberType]
        return
    with cleanup_scope():
        try:
            await machine.terminate(reason, run.state, run.data)
        except Exception:
            logger.exception(
                "state machine %s: terminate raised",
                run.process.label,
                extra={"otp_report": "terminate_error", "server": run.process.label},
            )


async def start_state_machine(
    nursery: trio.Nursery,
    factory: Callable[[], StateMachine[Any, Any, RequestT, ReplyT]],
    *,
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
) -> ServerRef[RequestT, ReplyT]:
    """Start a state machine in ``nursery`` and return its :class:`ServerRef` once
    ``init`` has run and then, with ``state_enter``, the first state enter call (an
    :class:`EnterEvent` whose old state is the first state), as :func:`start_server`
    waits for ``init``.
    A checkpoint.

    Raises what :func:`serve_state_machine` raises before the machine is running, and
    TypeError or ValueError for a bad argument before anything starts.
    """
    require_trio("trio_otp.start_state_machine")
    check_instance(nursery, trio.Nursery, "start_state_machine's nursery", "a trio.Nursery")
    check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    ref: ServerRef[RequestT, ReplyT] = await nursery.start(serve_state_machine, factory, name, mailbox_size)
    return ref


def state_machine_spec(
    id: Hashable,  # noqa: A002
    factory: Callable[[], StateMachine[Any, Any, RequestT, ReplyT]],
    *,
    name: Hashable | None = None,
    mailbox_size: float = math.inf,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
    significant: bool = False,
) -> ChildSpec[ServerRef[RequestT, ReplyT]]:
    """A :class:`ChildSpec` that runs a state machine under a supervisor, as
    :func:`server_spec` does a server: each start calls ``factory()`` afresh, and is over
    once ``init`` and, with ``state_enter``, the first state enter call have run (the
    enter call comes after ``init``, with the first state as the old one). Not a
    checkpoint.

    Raises:
      TypeError, ValueError: a bad argument (checked here, not at the first start).
    """
    check_mailbox_size(mailbox_size)
    _check_factory(factory)
    if name is not None:
        check_name(name)
    return ChildSpec(
        id,
        serve_state_machine,
        args=(factory, name, mailbox_size),
        restart=restart,
        shutdown=shutdown,
        significant=significant,
    )
