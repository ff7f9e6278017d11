"""What a :class:`StateMachine`'s callbacks receive (events) and return (transitions and
their actions): OTP's gen_statem event types, state callback results and actions.

Events are plain values with public constructors, because a callback may make one to
insert it with :class:`NextEvent`, as OTP's ``{next_event, Type, Content}`` does. Actions
check their arguments when they are built, so a bad timeout fails in the callback that
returned it, with the callback's line in the traceback.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, Generic, TypeAlias, TypeVar, final

import attrs

from ._caller import Caller
from ._checks import check_exit_reason, check_hashable, check_instance, check_seconds
from ._util import describe, safe_repr

StateT = TypeVar("StateT")
DataT = TypeVar("DataT")
RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

# --- events ------------------------------------------------------------------------


@final
@attrs.frozen
class CallEvent(Generic[RequestT, ReplyT]):
    """A :meth:`ServerRef.call` (OTP's ``{call, From}``): answer it with
    :class:`ReplyTo`, or later with ``caller.reply(value)``."""

    request: RequestT
    caller: Caller[ReplyT] = attrs.field(repr=False)


@final
@attrs.frozen
class CastEvent:
    """A :meth:`ServerRef.cast` (OTP's ``cast``)."""

    request: Any


@final
@attrs.frozen
class InfoEvent:
    """A plain message, :meth:`ServerRef.send` or a timer (OTP's ``info``)."""

    message: Any


@final
@attrs.frozen
class InternalEvent:
    """An event only the machine itself inserts, with :class:`NextEvent` (OTP's ``internal``)."""

    content: Any


@final
@attrs.frozen
class EnterEvent:
    """The state enter call (OTP's ``enter``), made when the machine has entered a state,
    if the class sets ``state_enter = True``. ``old_state`` is the state it came from (the
    state itself after ``init`` and after :class:`RepeatState`)."""

    old_state: Any


@final
@attrs.frozen
class StateTimeoutEvent:
    """A :class:`StateTimeout` fired: the machine stayed that long in one state."""

    content: Any


@final
@attrs.frozen
class EventTimeoutEvent:
    """An :class:`EventTimeout` fired: no event came for that long (OTP's ``timeout``)."""

    content: Any


@final
@attrs.frozen
class GenericTimeoutEvent:
    """A :class:`GenericTimeout` named ``name`` fired (OTP's ``{timeout, Name}``)."""

    name: Hashable
    content: Any


#: What a state callback receives. Annotate ``handle_event`` (or a state method) with it:
#: ``event: Event[Request, Reply]``.
Event: TypeAlias = (
    CallEvent[RequestT, ReplyT]
    | CastEvent
    | InfoEvent
    | InternalEvent
    | EnterEvent
    | StateTimeoutEvent
    | EventTimeoutEvent
    | GenericTimeoutEvent
)

_INSERTABLE = (
    CallEvent,
    CastEvent,
    InfoEvent,
    InternalEvent,
    StateTimeoutEvent,
    EventTimeoutEvent,
    GenericTimeoutEvent,
)

# --- actions -----------------------------------------------------------------------


@final
class Postpone:
    """Keep the current event and retry it after the next state change (OTP's
    ``postpone``). Postponed events are retried in the order they arrived, before any
    event that had not been handled yet. Not allowed from a state enter call."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Postpone()"


@final
class NextEvent:
    """Insert ``event`` to be handled next, before any other event (OTP's
    ``next_event``); several are handled in the order given. Not allowed from a state
    enter call.

    Raises:
      TypeError: ``event`` is not an event (an :class:`EnterEvent` cannot be inserted).
    """

    __slots__ = ("event",)

    def __init__(self, event: Event[Any, Any]) -> None:
        if not isinstance(event, _INSERTABLE):
            msg = (
                "NextEvent's event must be an InternalEvent, CastEvent, InfoEvent, CallEvent or a "
                f"timeout event (not an EnterEvent), got {describe(event)}"
            )
            raise TypeError(msg)
        self.event: Event[Any, Any] = event

    def __repr__(self) -> str:
        return f"NextEvent({self.event!r})"


@final
class ReplyTo(Generic[ReplyT]):
    """Reply ``value`` to ``caller`` (OTP's ``{reply, From, Reply}``), as the actions are
    carried out; the same as calling ``caller.reply(value)`` from the callback.

    Raises:
      TypeError: ``caller`` is not a :class:`Caller`.
    """

    __slots__ = ("caller", "value")

    def __init__(self, caller: Caller[ReplyT], value: ReplyT) -> None:
        check_instance(caller, Caller, "ReplyTo's caller", "the Caller of a CallEvent")
        self.caller: Caller[ReplyT] = caller
        self.value: ReplyT = value

    def __repr__(self) -> str:
        return f"ReplyTo({self.caller!r}, {safe_repr(self.value)})"


_SET, _CANCEL, _UPDATE = 0, 1, 2


class _TimeoutAction:
    """Start, cancel or update one timeout. ``seconds`` 0 delivers its event after the
    events already queued, before any message not yet received; ``math.inf`` cancels,
    as OTP's ``infinity`` does."""

    __slots__ = ("content", "mode", "name", "seconds")

    def __init__(self, name: Hashable, seconds: float, content: object, mode: int) -> None:
        self.name: Hashable = name
        self.seconds: float = seconds
        self.content: object = content
        self.mode: int = mode

    def _describe(self) -> str:
        return "" if self.name is None else f"{safe_repr(self.name)}, "

    def __repr__(self) -> str:
        kind = type(self).__name__
        if self.mode == _CANCEL:
            return f"{kind}.cancel({self._describe().rstrip(', ')})"
        if self.mode == _UPDATE:
            return f"{kind}.update({self._describe()}{safe_repr(self.content)})"
        return f"{kind}({self._describe()}{self.seconds:g}, {safe_repr(self.content)})"


def _seconds(value: object, kind: str) -> float:
    seconds = check_seconds(value, f"{kind}'s seconds (>= 0; math.inf cancels)")
    return math.inf if seconds == math.inf else float(seconds)


@final
class StateTimeout(_TimeoutAction):
    """Deliver :class:`StateTimeoutEvent` ``(content)`` after ``seconds`` in this state
    (OTP's ``{state_timeout, Time, Content}``). Any state change cancels it; setting it
    again restarts it. Set in a transition that changes state, it belongs to the new one.

    Raises:
      TypeError, ValueError: ``seconds`` is not a number >= 0.
    """

    __slots__ = ()

    def __init__(self, seconds: float, content: object = None) -> None:
        super().__init__(None, _seconds(seconds, "StateTimeout"), content, _SET)

    @classmethod
    def cancel(cls) -> StateTimeout:
        """Cancel the state timeout, running or not (OTP's ``{state_timeout, cancel}``)."""
        action = cls(math.inf)
        action.mode = _CANCEL
        return action

    @classmethod
    def update(cls, content: object) -> StateTimeout:
        """Change a running state timeout's content without restarting it; if none is
        running, deliver its event now, as a zero timeout (OTP's ``update``)."""
        action = cls(0, content)
        action.mode = _UPDATE
        return action


@final
class EventTimeout(_TimeoutAction):
    """Deliver :class:`EventTimeoutEvent` ``(content)`` if no event comes within
    ``seconds`` (OTP's ``{timeout, Time, Content}``). Any event cancels it, so it starts
    only if no event is queued once the transition is done.

    Raises:
      TypeError, ValueError: ``seconds`` is not a number >= 0.
    """

    __slots__ = ()

    def __init__(self, seconds: float, content: object = None) -> None:
        super().__init__(None, _seconds(seconds, "EventTimeout"), content, _SET)

    @classmethod
    def cancel(cls) -> EventTimeout:
        """Cancel the event timeout (OTP's ``{timeout, cancel}``)."""
        action = cls(math.inf)
        action.mode = _CANCEL
        return action

    @classmethod
    def update(cls, content: object) -> EventTimeout:
        """Change a running event timeout's content; if none runs, deliver it now."""
        action = cls(0, content)
        action.mode = _UPDATE
        return action


@final
class GenericTimeout(_TimeoutAction):
    """Deliver :class:`GenericTimeoutEvent` ``(name, content)`` after ``seconds`` (OTP's
    ``{{timeout, Name}, Time, Content}``). State changes and other events leave it
    running; setting the same name again restarts it.

    Raises:
      TypeError, ValueError: ``name`` is not hashable, or ``seconds`` is not a number >= 0.
    """

    __slots__ = ()

    def __init__(self, name: Hashable, seconds: float, content: object = None) -> None:
        check_hashable(name, "GenericTimeout's name")
        super().__init__(name, _seconds(seconds, "GenericTimeout"), content, _SET)

    @classmethod
    def cancel(cls, name: Hashable) -> GenericTimeout:
        """Cancel the timeout named ``name``, if it runs."""
        action = cls(name, math.inf)
        action.mode = _CANCEL
        return action

    @classmethod
    def update(cls, name: Hashable, content: object) -> GenericTimeout:
        """Change the running timeout's content; if none runs, deliver it now."""
        action = cls(name, 0, content)
        action.mode = _UPDATE
        return action


#: What a transition may carry out, in the order given.
Action: TypeAlias = Postpone | NextEvent | ReplyTo[Any] | StateTimeout | EventTimeout | GenericTimeout
_ACTIONS = (Postpone, NextEvent, ReplyTo, StateTimeout, EventTimeout, GenericTimeout)


def _check_actions(actions: tuple[object, ...], result: str) -> None:
    for action in actions:
        if not isinstance(action, _ACTIONS):
            msg = (
                f"{result}'s actions must be Postpone, NextEvent, ReplyTo, StateTimeout, EventTimeout "
                f"or GenericTimeout, got {describe(action)}"
            )
            raise TypeError(msg)


# --- transitions -------------------------------------------------------------------


@final
class NextState(Generic[StateT, DataT]):
    """Go to ``state`` with ``data``, then carry out ``actions`` (OTP's ``next_state``).

    A state equal to the current one is no state change: postponed events stay
    postponed and the state timeout keeps running. ``init`` returns one too.

    Raises:
      TypeError: an action is not one of :data:`Action`.
    """

    __slots__ = ("actions", "data", "state")

    def __init__(self, state: StateT, data: DataT, *actions: Action) -> None:
        if actions:
            _check_actions(actions, "NextState")
        self.state: StateT = state
        self.data: DataT = data
        self.actions: tuple[Action, ...] = actions

    def __repr__(self) -> str:
        return f"NextState({safe_repr(self.state)}, {safe_repr(self.data)}{_listed(self.actions)})"


@final
class KeepState(Generic[DataT]):
    """Stay in the state with ``data``, then carry out ``actions`` (OTP's ``keep_state``).
    Returning ``None`` keeps state and data with no actions.

    Raises:
      TypeError: an action is not one of :data:`Action`.
    """

    __slots__ = ("actions", "data")

    def __init__(self, data: DataT, *actions: Action) -> None:
        if actions:
            _check_actions(actions, "KeepState")
        self.data: DataT = data
        self.actions: tuple[Action, ...] = actions

    def __repr__(self) -> str:
        return f"KeepState({safe_repr(self.data)}{_listed(self.actions)})"


@final
class RepeatState(Generic[DataT]):
    """As :class:`KeepState`, and make the state enter call again (OTP's ``repeat_state``).

    Raises:
      TypeError: an action is not one of :data:`Action`.
    """

    __slots__ = ("actions", "data")

    def __init__(self, data: DataT, *actions: Action) -> None:
        if actions:
            _check_actions(actions, "RepeatState")
        self.data: DataT = data
        self.actions: tuple[Action, ...] = actions

    def __repr__(self) -> str:
        return f"RepeatState({safe_repr(self.data)}{_listed(self.actions)})"


_KEEP: Any = object()


@final
class StopMachine(Generic[DataT]):
    """End the machine (OTP's ``stop`` and ``stop_and_reply``): send ``replies``, then run
    ``terminate(reason, state, data)``, then exit with ``reason``; ``data`` replaces the
    data first if given.

    The replies go out *before* ``terminate``, as gen_statem's do (a GenServer's
    ``Stop(reply=...)`` replies after). ``reason`` reads as :class:`Stop`'s: ``None`` is a
    normal exit, an exception is raised from the machine's task after ``terminate``.

    Raises:
      TypeError: ``reason`` is neither None nor an exception, or a reply is no
        :class:`ReplyTo`.
    """

    __slots__ = ("data", "reason", "replies")

    def __init__(
        self, reason: BaseException | None = None, *replies: ReplyTo[Any], data: DataT = _KEEP
    ) -> None:
        check_exit_reason(reason, "StopMachine's reason")
        for reply in replies:
            check_instance(reply, ReplyTo, "StopMachine's replies", "ReplyTo actions")
        self.reason: BaseException | None = reason
        self.replies: tuple[ReplyTo[Any], ...] = replies
        self.data: DataT = data

    def __repr__(self) -> str:
        return f"StopMachine({safe_repr(self.reason)}{_listed(self.replies)})"


#: What a state callback returns; ``None`` keeps state and data.
Transition: TypeAlias = (
    NextState[StateT, DataT] | KeepState[DataT] | RepeatState[DataT] | StopMachine[DataT] | None
)


def _listed(actions: tuple[object, ...]) -> str:
    return "".join(f", {action!r}" for action in actions)
