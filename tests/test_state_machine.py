"""StateMachine (gen_statem): dispatch, events, postpone, inserted events, the three kinds
of timeouts, state enter calls, stopping, crashes, supervision and sys, on virtual time.

Most tests drive ``Script``, a machine whose reactions are a table from
``(state, event key)`` to what the callback returns, and which logs every event it
handles with the (virtual) time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import pytest
import trio
from hypothesis import given, settings
from trio.testing import MockClock

import trio_otp
from trio_otp import (
    CallEvent,
    CastEvent,
    EnterEvent,
    Event,
    EventTimeout,
    EventTimeoutEvent,
    GenericTimeout,
    GenericTimeoutEvent,
    InfoEvent,
    InternalEvent,
    KeepState,
    NextEvent,
    NextState,
    Postpone,
    RepeatState,
    ReplyTo,
    StateMachine,
    StateTimeout,
    StateTimeoutEvent,
    StopMachine,
    Transition,
)

from .harness import settle
from .statem_model import Model, Scenario, run_in_trio
from .strategies import statem_scenarios


class Boom(Exception):
    pass


def key(event: Event[Any, Any]) -> Any:
    """How the log and the reaction table name an event."""
    match event:
        case CallEvent(request=request):
            return ("call", request)
        case CastEvent(request=request):
            return request
        case InfoEvent(message=message):
            return ("info", message)
        case InternalEvent(content=content):
            return ("internal", content)
        case EnterEvent(old_state=old):
            return ("enter", old)
        case StateTimeoutEvent(content=content):
            return ("state_timeout", content)
        case EventTimeoutEvent(content=content):
            return ("event_timeout", content)
        case GenericTimeoutEvent(name=name, content=content):
            return ("timeout", name, content)
    raise AssertionError(event)


Reaction = Callable[[Event[Any, Any], list[Any]], Transition[str, list[Any]]]


@attrs.define(eq=False)
class Script(StateMachine[str, list[Any], Any, Any]):
    """Reacts to ``(state, key(event))`` from ``table`` (a Transition, or a function of
    the event and data giving one); anything else keeps state and data."""

    table: dict[tuple[str, Any], Transition[str, list[Any]] | Reaction] = attrs.field(factory=dict)
    first: str = "a"
    init_actions: tuple[Any, ...] = ()
    log: list[Any] = attrs.field(factory=list)
    ended: list[Any] = attrs.field(factory=list)

    async def init(self) -> NextState[str, list[Any]]:
        return NextState(self.first, [], *self.init_actions)

    async def handle_event(
        self, event: Event[Any, Any], state: str, data: list[Any]
    ) -> Transition[str, list[Any]]:
        self.log.append((trio.current_time(), state, key(event)))
        reaction = self.table.get((state, key(event)))
        if callable(reaction):
            return reaction(event, data)
        return reaction

    async def terminate(self, reason: BaseException | None, state: str, data: list[Any]) -> None:
        self.ended.append((type(reason).__name__ if reason is not None else None, state, list(data)))


@attrs.define(eq=False)
class EnterScript(Script):
    state_enter: ClassVar[bool] = True


def events(machine: Script) -> list[Any]:
    """The log without times."""
    return [(state, event) for _, state, event in machine.log]


def reply(value: Any) -> Reaction:
    def react(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        assert isinstance(event, CallEvent)
        return KeepState(data, ReplyTo(event.caller, value))

    return react


async def later(seconds: float, function: Callable[[], object]) -> None:
    await trio.sleep(seconds)
    function()


async def start(nursery: trio.Nursery, machine: Script, **kwargs: Any) -> trio_otp.ServerRef[Any, Any]:
    return await trio_otp.start_state_machine(nursery, lambda: machine, **kwargs)


# --- dispatch ----------------------------------------------------------------------------


class Door(StateMachine[str, int, str, str]):
    """State functions: one method per state; data counts the openings."""

    async def init(self) -> NextState[str, int]:
        return NextState("closed", 0)

    async def closed(self, event: Event[str, str], data: int) -> Transition[str, int]:
        if isinstance(event, CallEvent) and event.request == "open":
            return NextState("open", data + 1, ReplyTo(event.caller, "opened"))
        if isinstance(event, CallEvent):
            return KeepState(data, ReplyTo(event.caller, f"closed {data}"))
        return None

    async def open(self, event: Event[str, str], data: int) -> Transition[str, int]:
        if isinstance(event, CallEvent):
            return NextState("closed", data, ReplyTo(event.caller, "closed it"))
        return None


async def test_state_functions_dispatch_to_the_method_named_as_the_state(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        door = await trio_otp.start_state_machine(nursery, Door)
        assert await door.call("peek") == "closed 0"
        assert await door.call("open") == "opened"
        assert await door.call("anything") == "closed it"
        assert await door.call("peek") == "closed 1"
        await door.stop()


async def test_handle_event_gets_every_event_with_state_and_data(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): NextState("b", ["went"])})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        ref.send("hello")
        assert await trio_otp.get_state(ref) == ("b", ["went"])
        await ref.stop()
    assert events(machine) == [("a", "go"), ("b", ("info", "hello"))]


async def test_the_events_a_machine_gets_are_the_public_frozen_values(autojump_clock: MockClock) -> None:
    """The loop builds a cast's event without CastEvent's __init__: it must be the same value."""
    seen: list[Event[Any, Any]] = []

    def keep(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        seen.append(event)
        return None

    machine = Script({("a", ("x", 1)): keep, ("a", ("info", "y")): keep})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast(("x", 1))
        ref.send("y")
        await settle()
        await ref.stop()
    cast, info = seen
    assert type(cast) is CastEvent
    assert cast == CastEvent(("x", 1))
    assert hash(cast) == hash(CastEvent(("x", 1)))
    assert repr(cast) == "CastEvent(request=('x', 1))"
    assert info == InfoEvent("y")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cast.request = "z"  # type: ignore[misc]


async def test_a_state_that_names_no_method_crashes_with_a_clear_error(autojump_clock: MockClock) -> None:
    class Typo(Door):
        async def closed(self, event: Event[str, str], data: int) -> Transition[str, int]:
            return NextState("opne", data)

    with pytest.RaisesGroup(TypeError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_state_machine(nursery, Typo)
            ref.cast("x")
            with pytest.raises(trio_otp.ServerExited) as info:
                await ref.call("y")
    assert isinstance(info.value.reason, TypeError)
    assert "no method for state 'opne'" in str(info.value.reason)


async def test_deferred_reply_through_the_caller(autojump_clock: MockClock) -> None:
    kept: list[trio_otp.Caller[Any]] = []

    def keep(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        assert isinstance(event, CallEvent)
        kept.append(event.caller)
        return None

    machine = Script(
        {("a", ("call", "later")): keep, ("a", "answer"): lambda e, d: kept[0].reply("now") or None}
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        nursery.start_soon(later, 1, lambda: ref.cast("answer"))
        assert await ref.call("later") == "now"
        assert trio.current_time() == pytest.approx(1)
        await ref.stop()


async def test_a_call_nobody_answers_times_out_as_a_gen_server_call(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, Script())
        with pytest.raises(trio_otp.CallTimeout):
            await ref.call("ignored", timeout=2)
        assert trio.current_time() == pytest.approx(2)
        await ref.stop()


# --- postpone and inserted events ------------------------------------------------------


async def test_postponed_events_are_retried_after_a_state_change_oldest_first_before_new_ones(
    autojump_clock: MockClock,
) -> None:
    machine = Script(
        {
            ("a", "p1"): KeepState([], Postpone()),
            ("a", "p2"): KeepState([], Postpone()),
            ("a", "go"): NextState("b", []),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("p1", "p2", "go", "later"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine) == [
        ("a", "p1"),
        ("a", "p2"),
        ("a", "go"),
        ("b", "p1"),
        ("b", "p2"),
        ("b", "later"),
    ]


async def test_postponed_events_wait_through_transitions_to_the_same_state(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", "p"): KeepState([], Postpone()),
            ("a", "same"): NextState("a", []),
            ("a", "go"): NextState("b", []),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("p", "same", "go"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine) == [("a", "p"), ("a", "same"), ("a", "go"), ("b", "p")]


async def test_a_postponed_call_is_answered_in_the_state_that_handles_it(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", ("call", "q")): KeepState([], Postpone()),
            ("a", "ready"): NextState("b", []),
            ("b", ("call", "q")): reply("in b"),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        nursery.start_soon(later, 3, lambda: ref.cast("ready"))
        assert await ref.call("q") == "in b"
        assert trio.current_time() == pytest.approx(3)
        await ref.stop()


async def test_inserted_events_go_first_in_order_then_postponed_ones(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", "p"): KeepState([], Postpone()),
            ("a", "go"): NextState("b", [], NextEvent(InternalEvent(1)), NextEvent(InternalEvent(2))),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("p", "go", "queued"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine) == [
        ("a", "p"),
        ("a", "go"),
        ("b", ("internal", 1)),
        ("b", ("internal", 2)),
        ("b", "p"),
        ("b", "queued"),
    ]


async def test_next_event_may_insert_a_cast_and_init_may_insert_events(autojump_clock: MockClock) -> None:
    machine = Script(init_actions=(NextEvent(CastEvent("from init")),))
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("later")
        await settle()
        await ref.stop()
    assert events(machine) == [("a", "from init"), ("a", "later")]


# --- state timeouts ----------------------------------------------------------------------


async def test_a_state_timeout_fires_after_its_time_in_the_state(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): NextState("b", [], StateTimeout(5, "late"))})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(10)
        await ref.stop()
    assert machine.log[-1] == (5, "b", ("state_timeout", "late"))


async def test_a_state_change_cancels_the_state_timeout(autojump_clock: MockClock) -> None:
    machine = Script(
        {("a", "go"): KeepState([], StateTimeout(5, "late")), ("a", "leave"): NextState("b", [])}
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(4)
        ref.cast("leave")
        await trio.sleep(10)
        await ref.stop()
    assert events(machine) == [("a", "go"), ("a", "leave")]


async def test_events_that_keep_the_state_leave_the_state_timeout_running(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): KeepState([], StateTimeout(5, "late")), ("a", "same"): NextState("a", [])})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(4)
        ref.cast("same")
        await trio.sleep(10)
        await ref.stop()
    assert machine.log[-1] == (5, "a", ("state_timeout", "late"))


async def test_setting_the_state_timeout_again_restarts_it_and_update_changes_its_content(
    autojump_clock: MockClock,
) -> None:
    machine = Script(
        {
            ("a", "go"): KeepState([], StateTimeout(5, "first")),
            ("a", "again"): KeepState([], StateTimeout(5, "second")),
            ("a", "update"): KeepState([], StateTimeout.update("updated")),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(3)
        ref.cast("again")  # now due at 8
        await trio.sleep(1)
        ref.cast("update")  # still due at 8
        await trio.sleep(10)
        await ref.stop()
    assert machine.log[-1] == (8, "a", ("state_timeout", "updated"))
    assert len(machine.log) == 4


async def test_updating_or_cancelling_a_timeout_that_does_not_run(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", "update"): KeepState([], StateTimeout.update("now")),
            ("a", "cancel"): KeepState([], StateTimeout.cancel()),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("cancel")
        ref.cast("update")
        await trio.sleep(1)
        await ref.stop()
    assert machine.log == [(0, "a", "cancel"), (0, "a", "update"), (0, "a", ("state_timeout", "now"))]


async def test_cancel_and_infinity_stop_a_running_state_timeout(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", "go"): KeepState([], StateTimeout(5, "x")),
            ("a", "cancel"): KeepState([], StateTimeout.cancel()),
            ("a", "go2"): KeepState([], StateTimeout(5, "y")),
            ("a", "inf"): KeepState([], StateTimeout(float("inf"))),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("go", "cancel", "go2", "inf"):
            ref.cast(message)
        await trio.sleep(10)
        await ref.stop()
    assert [event for _, event in events(machine)] == ["go", "cancel", "go2", "inf"]


# --- event timeouts ----------------------------------------------------------------------


async def test_an_event_timeout_fires_when_no_event_comes(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): KeepState([], EventTimeout(3, "idle"))})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(10)
        await ref.stop()
    assert machine.log == [(0, "a", "go"), (3, "a", ("event_timeout", "idle"))]


async def test_any_event_cancels_the_event_timeout(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): KeepState([], EventTimeout(3, "idle"))})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(2)
        ref.send("anything")
        await trio.sleep(10)
        await ref.stop()
    assert events(machine) == [("a", "go"), ("a", ("info", "anything"))]


async def test_an_event_timeout_does_not_start_while_events_are_queued(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): KeepState([], EventTimeout(0, "idle"), NextEvent(InternalEvent("next")))})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(10)
        await ref.stop()
    assert events(machine) == [("a", "go"), ("a", ("internal", "next"))]


@pytest.mark.parametrize(
    ("actions", "delivered"),
    [
        ((EventTimeout(0, "et"), StateTimeout(0, "st")), [("event_timeout", "et"), ("state_timeout", "st")]),
        ((StateTimeout(0, "st"), EventTimeout(0, "et")), [("state_timeout", "st")]),
        ((StateTimeout(0, "st"), StateTimeout(5, "st"), EventTimeout(1, "et")), [("event_timeout", "et")]),
    ],
    ids=["event-timeout-first", "state-timeout-first-cancels-it", "replaced-zero-timeout-is-no-event"],
)
async def test_an_event_timeout_counts_the_events_queued_before_its_transitions_zero_timeouts(
    autojump_clock: MockClock, actions: tuple[Any, ...], delivered: list[Any]
) -> None:
    """As gen_statem (found by the OTP agreement): a zero timeout is an ordinary event that
    cancels an event timeout queued behind it, and a replaced one leaves the queue."""
    machine = Script({("a", "go"): KeepState([], *actions)})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(2)
        await ref.stop()
    assert [event for _, event in events(machine)][1:] == delivered


async def test_a_timeout_that_fired_while_the_machine_was_busy_is_dropped_once_cancelled(
    autojump_clock: MockClock,
) -> None:
    class Busy(Script):
        async def handle_event(
            self, event: Event[Any, Any], state: str, data: list[Any]
        ) -> Transition[str, list[Any]]:
            if event == CastEvent("slow"):
                await trio.sleep(5)
            return await super().handle_event(event, state, data)

    machine = Busy({("a", "go"): KeepState([], StateTimeout(2, "st")), ("a", "leave"): NextState("b", [])})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        ref.cast("slow")
        await trio.sleep(1)
        ref.cast("leave")  # in the mailbox before the timeout fires at 2, behind it
        await trio.sleep(10)
        await ref.stop()
    # "leave" changed the state, which cancelled the state timeout that had already fired.
    assert events(machine) == [("a", "go"), ("a", "slow"), ("a", "leave")]


# --- generic timeouts --------------------------------------------------------------------


async def test_a_generic_timeout_survives_state_changes(autojump_clock: MockClock) -> None:
    machine = Script(
        {("a", "go"): NextState("b", [], GenericTimeout("retry", 5, "r")), ("b", "on"): NextState("c", [])}
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(1)
        ref.cast("on")
        await trio.sleep(10)
        await ref.stop()
    assert machine.log[-1] == (5, "c", ("timeout", "retry", "r"))


async def test_generic_timeouts_by_name_restart_update_and_cancel(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", "start"): KeepState(
                [], GenericTimeout("x", 5, "x1"), GenericTimeout("y", 5, "y1"), GenericTimeout("z", 6, "z1")
            ),
            ("a", "restart x"): KeepState([], GenericTimeout("x", 5, "x2")),
            ("a", "update y"): KeepState([], GenericTimeout.update("y", "y2")),
            ("a", "cancel z"): KeepState([], GenericTimeout.cancel("z")),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("start")
        await trio.sleep(2)
        for message in ("restart x", "update y", "cancel z"):
            ref.cast(message)
        await trio.sleep(10)
        await ref.stop()
    fired = [(time, event) for time, _, event in machine.log if event[0] == "timeout"]
    assert fired == [(5, ("timeout", "y", "y2")), (7, ("timeout", "x", "x2"))]


# --- zero timeouts and the queue -------------------------------------------------------


async def test_zero_timeouts_come_after_inserted_and_postponed_events_before_new_messages(
    autojump_clock: MockClock,
) -> None:
    machine = Script(
        {
            ("a", "p"): KeepState([], Postpone()),
            ("a", "go"): NextState(
                "b", [], StateTimeout(0, "st"), GenericTimeout("g", 0, "g"), NextEvent(InternalEvent("n"))
            ),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("p", "go", "message"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine)[2:] == [
        ("b", ("internal", "n")),
        ("b", "p"),
        ("b", ("state_timeout", "st")),
        ("b", ("timeout", "g", "g")),
        ("b", "message"),
    ]


async def test_a_state_change_drops_a_queued_zero_state_timeout(autojump_clock: MockClock) -> None:
    machine = Script(
        init_actions=(NextEvent(InternalEvent("go")), StateTimeout(0, "st")),
        table={("a", ("internal", "go")): NextState("b", [])},
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        await settle()
        await ref.stop()
    assert events(machine) == [("a", ("internal", "go"))]


# --- state enter calls -------------------------------------------------------------------


async def test_state_enter_runs_after_init_on_every_change_and_on_repeat_only(
    autojump_clock: MockClock,
) -> None:
    machine = EnterScript(
        {
            ("a", "go"): NextState("b", []),
            ("b", "same"): NextState("b", []),
            ("b", "keep"): None,
            ("b", "repeat"): RepeatState([]),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("go", "same", "keep", "repeat"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine) == [
        ("a", ("enter", "a")),
        ("a", "go"),
        ("b", ("enter", "a")),
        ("b", "same"),
        ("b", "keep"),
        ("b", "repeat"),
        ("b", ("enter", "b")),
    ]


class Unequal:
    """A state that compares unequal even to itself, as a float NaN does."""

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0


async def test_staying_in_a_state_unequal_to_itself_is_no_state_change(autojump_clock: MockClock) -> None:
    """OTP compares states with =:=, which is reflexive: KeepState, and NextState to the
    very same state, make no enter call and leave postponed events postponed."""
    odd: Any = Unequal()
    machine = EnterScript(
        {
            ("a", "go"): NextState(odd, []),
            (odd, "later"): KeepState([], Postpone()),
            (odd, "again"): NextState(odd, [], Postpone()),
            (odd, "keep"): KeepState([1]),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        for message in ("go", "later", "again", "keep"):
            ref.cast(message)
        await settle()
        await ref.stop()
    assert events(machine) == [
        ("a", ("enter", "a")),
        ("a", "go"),
        (odd, ("enter", "a")),
        (odd, "later"),
        (odd, "again"),
        (odd, "keep"),
    ]


class Incomparable:
    def __ne__(self, other: object) -> bool:
        raise ValueError("cannot compare")


async def test_a_state_comparison_that_raises_crashes_the_machine_in_the_state_it_was_in(
    autojump_clock: MockClock,
) -> None:
    incomparable: Any = Incomparable()
    machine = Script({("a", "go"): NextState(incomparable, [1])})
    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="cannot compare")):
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, machine)
            ref.cast("go")
            await trio.sleep_forever()
    assert machine.ended == [("ValueError", "a", [])]


class Keep(KeepState[list[Any]]):  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]
    """What untyped code may do: KeepState is final only to type checkers."""


async def test_a_subclass_of_a_transition_is_that_transition(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): Keep(["kept"])})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        assert await trio_otp.get_state(ref) == ("a", ["kept"])
        await ref.stop()


async def test_state_enter_actions_come_after_the_transitions_so_its_timeout_wins(
    autojump_clock: MockClock,
) -> None:
    machine = EnterScript(
        {
            ("a", "go"): NextState("b", [], StateTimeout(10, "from event")),
            ("b", ("enter", "a")): KeepState(["entered"], StateTimeout(2, "from enter")),
        }
    )
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await trio.sleep(20)
        assert await trio_otp.get_state(ref) == ("b", ["entered"])
        await ref.stop()
    assert machine.log[-1] == (2, "b", ("state_timeout", "from enter"))


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        (KeepState([], Postpone()), "may not postpone or insert"),
        (KeepState([], NextEvent(InternalEvent(1))), "may not postpone or insert"),
        (NextState("c", []), "cannot change the state"),
    ],
)
async def test_a_state_enter_call_that_breaks_otps_rules_crashes_the_machine(
    autojump_clock: MockClock, returned: Transition[str, list[Any]], error: str
) -> None:
    machine = EnterScript({("a", "go"): NextState("b", []), ("b", ("enter", "a")): returned})
    with pytest.RaisesGroup(TypeError):
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, machine)
            ref.cast("go")
            with pytest.raises(trio_otp.ServerExited) as info:
                await ref.call("after")
    assert isinstance(info.value.reason, TypeError)
    assert error in str(info.value.reason)
    assert machine.ended == [("TypeError", "b", [])]


# --- stopping and crashing ---------------------------------------------------------------


async def test_stop_machine_sends_its_replies_before_terminate_runs(autojump_clock: MockClock) -> None:
    seen: list[str] = []

    class Order(Script):
        async def terminate(self, reason: BaseException | None, state: str, data: list[Any]) -> None:
            await trio.sleep(1)
            seen.append("terminate")

    def stop(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        assert isinstance(event, CallEvent)
        return StopMachine(None, ReplyTo(event.caller, "bye"), data=["last"])

    machine = Order({("a", ("call", "stop")): stop})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        assert await ref.call("stop") == "bye"
        seen.append("reply")
        assert trio.current_time() == 0  # the reply came before terminate's second
    assert seen == ["reply", "terminate"]


async def test_terminate_gets_reason_state_and_data_and_owed_calls_fail(autojump_clock: MockClock) -> None:
    machine = Script(
        {
            ("a", ("call", "wait")): KeepState([1], Postpone()),
            ("a", "end"): StopMachine(trio_otp.Shutdown("done"), data=[2]),
        }
    )
    with pytest.RaisesGroup(trio_otp.Shutdown):
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, machine)

            async def owed() -> None:
                with pytest.raises(trio_otp.ServerExited, match="shut down"):
                    await ref.call("wait")

            nursery.start_soon(owed)
            await settle()
            ref.cast("end")
    assert machine.ended == [("Shutdown", "a", [2])]
    assert not ref.alive


async def test_server_ref_stop_ends_the_machine_with_terminate(autojump_clock: MockClock) -> None:
    machine = Script({("a", "go"): NextState("b", ["d"])})
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        ref.cast("go")
        await ref.stop()
    assert machine.ended == [(None, "b", ["d"])]


async def test_a_crash_fails_the_call_and_reports_state_and_last_event(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        raise Boom("in b")

    machine = Script({("a", "go"): NextState("b", ["secret"]), ("b", ("call", "crash")): crash})
    with pytest.RaisesGroup(Boom):
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, machine, name="crashy")
            ref.cast("go")
            with pytest.raises(trio_otp.ServerExited) as info:
                await ref.call("crash")
            assert isinstance(info.value.__cause__, Boom)
    assert machine.ended == [("Boom", "b", ["secret"])]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.otp_report == "server_crash"  # type: ignore[attr-defined]
    assert record.last_message == ("call", "crash")  # type: ignore[attr-defined]
    assert record.state == ("b", ["secret"])  # type: ignore[attr-defined]


async def test_format_status_redacts_crash_reports_and_get_status(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Secret(Script):
        def format_status(self, state: str, data: list[Any]) -> object:
            return {"state": state, "data": "<redacted>"}

    async with trio.open_nursery() as nursery:
        ref = await start(nursery, Secret(), name="secret")
        assert trio_otp.get_status("secret").state == {"state": "a", "data": "<redacted>"}
        assert trio_otp.get_status(ref).server_class is Secret
        await ref.stop()


# --- init ----------------------------------------------------------------------------------


class Refuses(Script):
    async def init(self) -> Any:
        return self.first_result  # type: ignore[attr-defined]


async def test_init_stop_fails_the_start_and_bad_returns_are_type_errors(autojump_clock: MockClock) -> None:
    async def start_with(nursery: trio.Nursery, result: Any) -> None:
        machine = Refuses()
        machine.first_result = result  # type: ignore[attr-defined]
        await start(nursery, machine)

    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.InitStopped):
            await start_with(nursery, StopMachine(Boom("no")))
        with pytest.raises(TypeError, match="expected NextState"):
            await start_with(nursery, KeepState([]))
        with pytest.raises(TypeError, match="no event to postpone"):
            await start_with(nursery, NextState("a", [], Postpone()))


# --- supervision, names and sys ------------------------------------------------------------


async def test_a_supervised_machine_restarts_fresh_under_its_name(autojump_clock: MockClock) -> None:
    def crash(event: Event[Any, Any], data: list[Any]) -> Transition[str, list[Any]]:
        raise Boom("bad")

    starts: list[Script] = []

    def factory() -> Script:
        starts.append(
            Script(
                {("a", "go"): NextState("b", []), ("b", "crash"): crash, ("b", ("call", "where")): reply("b")}
            )
        )
        return starts[-1]

    spec = trio_otp.state_machine_spec("conn", factory, name="conn")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=3).run)
        trio_otp.cast("conn", "go")
        assert await trio_otp.call("conn", "where") == "b"
        trio_otp.cast("conn", "crash")
        await settle()
        assert len(starts) == 2
        assert await trio_otp.get_state("conn") == ("a", [])
        nursery.cancel_scope.cancel()
    assert starts[0].ended == [("Boom", "b", [])]
    assert starts[1].ended == [("Shutdown", "a", [])]


async def test_monitors_and_send_after_reach_a_machine(autojump_clock: MockClock) -> None:
    machine = Script()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, machine)
        trio_otp.send_after(2, ref, "tick")
        monitor = trio_otp.monitor(ref)
        await trio.sleep(3)
        await ref.stop()
        down = await monitor.wait()
        assert down.reason is None
    assert machine.log == [(2, "a", ("info", "tick"))]


async def test_replace_state_takes_and_gives_state_and_data(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, Script())
        assert await trio_otp.replace_state(ref, lambda sd: ("z", [*sd[1], 1])) == ("z", [1])
        assert await trio_otp.get_state(ref) == ("z", [1])
        with pytest.raises(trio_otp.ReplaceStateFailed):
            await trio_otp.replace_state(ref, lambda sd: "not a pair")  # type: ignore[type-var]
        assert await trio_otp.get_state(ref) == ("z", [1])
        await ref.stop()


# --- the queue rules, against a model --------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(statem_scenarios())
def test_random_events_and_timeouts_follow_the_model_of_gen_statems_queue_rules(scenario: Scenario) -> None:
    """Postpone, inserted events, the three timeouts (zero ones too), enter calls and
    replies, in any mix: trio_otp handles the same events in the same states in the same
    order as the model, and the calls get the same answers."""
    assert run_in_trio(scenario) == Model(scenario).run()


class Slow(StateMachine[str, None, str, str]):
    """Each call takes a second to answer: calls with a shorter timeout end while queued."""

    async def init(self) -> NextState[str, None]:
        return NextState("on", None)

    async def on(self, event: Event[str, str], data: None) -> Transition[str, None]:
        if isinstance(event, CallEvent):
            await trio.sleep(1)
            return KeepState(data, ReplyTo(event.caller, "late"))
        return None


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_calls_that_ended_while_queued_leave_no_deferred_reply_behind(
    how: str, autojump_clock: MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_state_machine(nursery, Slow)

        async def impatient() -> None:
            if how == "timeout":
                with pytest.raises(trio_otp.CallTimeout):
                    await ref.call("now", timeout=0.5)
            else:
                with trio.move_on_after(0.5):
                    await ref.call("now")

        for _ in range(50):
            nursery.start_soon(impatient)
        await trio.sleep(60)  # every call ended, and the machine handled them all
        assert not ref._process.deferred  # the set does not grow with abandoned calls
        nursery.cancel_scope.cancel()


class Repeater(StateMachine[str, int, str, str]):
    """Its state enter call repeats itself 1024 times, never awaiting anything."""

    state_enter: ClassVar[bool] = True

    async def init(self) -> NextState[str, int]:
        return NextState("on", 0)

    async def on(self, event: Event[str, str], data: int) -> Transition[str, int]:
        if isinstance(event, EnterEvent) and data < 1024:
            return RepeatState(data + 1)
        return None


async def test_repeated_state_enter_calls_let_other_tasks_run(autojump_clock: MockClock) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await trio.lowlevel.checkpoint()
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        before = ticks
        ref = await trio_otp.start_state_machine(nursery, Repeater)
        assert (await trio_otp.get_state(ref))[1] == 1024
        assert ticks - before >= 1024 // 64
        nursery.cancel_scope.cancel()


@attrs.define
class Toggle(StateMachine[str, None, str, str]):
    """Flips state on every cast; marks the time between a transition and its enter call."""

    state_enter: ClassVar[bool] = True
    between: bool = False
    enters: int = 0

    async def init(self) -> NextState[str, None]:
        return NextState("a", None)

    async def handle_event(self, event: Event[str, str], state: str, data: None) -> Transition[str, None]:
        if isinstance(event, EnterEvent):
            self.between = False
            self.enters += 1
            return None
        self.between = True
        return NextState("b" if state == "a" else "a", None)


async def test_no_other_task_runs_between_a_transition_and_its_enter_call(autojump_clock: MockClock) -> None:
    """The loop's own checkpoints (every 64 events) reset the enter calls' count, so a
    transition is never split from its enter call (as gen_statem runs them in one go)."""
    seen_between: list[int] = []
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_state_machine(nursery, Toggle)
        machine = ref._process.server
        assert isinstance(machine, Toggle)

        async def probe() -> None:
            while True:
                await trio.lowlevel.checkpoint()
                if machine.between:
                    seen_between.append(machine.enters)

        nursery.start_soon(probe)
        for _ in range(1000):
            ref.cast("flip")
        while machine.enters < 1001:
            await trio.lowlevel.checkpoint()
        assert seen_between == []
        nursery.cancel_scope.cancel()
