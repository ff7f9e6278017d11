"""A small model of gen_statem's queue rules, and the table-driven machine it is compared
with (in trio_otp here, in Erlang/OTP by ``otp/statem_check.escript``).

A scenario is a reaction table and a schedule of outside events. The table maps
``(state, key)`` to ``(next state or None to keep it, actions)``; keys are the casts
``"x" "y" "z"``, ``"call"``, ``"i"`` (the inserted internal event), ``"st" "et" "gt"``
(the state, event and generic timeout, whose content is their key) and ``"enter"``.
Actions are ``("postpone",)``, ``("next",)`` (insert ``"i"``), ``("reply",)`` (reply
``(call id, state)``), ``("st"|"et"|"gt", seconds)``, ``("st_cancel",)``,
``("gt_cancel",)`` and ``("st_update",)``.

The trace is what an observer sees: every event handled as ``(state, key, extra)``
(the call id for calls, the old state for enter calls), and each call's outcome.
The model is a plain discrete-event simulation written from gen_statem's documentation,
independently of trio_otp's loop: lists for the queues, a sorted list for the timers.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import trio
import trio.testing

import trio_otp

Action = tuple[Any, ...]
Reaction = tuple[str | None, tuple[Action, ...]]
Table = dict[tuple[str, str], Reaction]
#: (time, "cast", key) or (time, "call", call id)
Outside = tuple[float, str, str]
Handled = tuple[str, str, Any]


@attrs.frozen
class Scenario:
    table: Table
    schedule: tuple[Outside, ...]
    state_enter: bool
    end: float  # the machine is stopped then


@attrs.define(eq=False)
class _Timer:
    key: str
    deadline: float  # for a zero timeout, the time it was queued
    seq: int
    status: str = "running"  # "queued" (a zero timeout), "fired" (in the mailbox)


@attrs.define
class Model:
    scenario: Scenario
    state: str = "a"
    now: float = 0.0
    queue: list[Any] = attrs.field(factory=list)  # ("event", key, extra) or ("timer", timer)
    postponed: list[Any] = attrs.field(factory=list)
    mailbox: list[Any] = attrs.field(factory=list)
    timers: dict[str, _Timer] = attrs.field(factory=dict)  # the live timer of each key
    seq: int = 0
    handled: list[Handled] = attrs.field(factory=list)
    replies: dict[str, Any] = attrs.field(factory=dict)
    #: When each outside event arrived and each timer fired, to tell near ties apart.
    arrivals: list[float] = attrs.field(factory=list)

    def run(self) -> tuple[list[Handled], dict[str, Any]]:
        sc = self.scenario
        self.transition((), self.state, enter=True)
        outside = list(sc.schedule)
        while True:
            self.drain()
            running = [t for t in self.timers.values() if t.status == "running"]
            now = min([t.deadline for t in running] + [outside[0][0] if outside else math.inf])
            if now >= sc.end:
                break
            self.now = now
            for timer in sorted((t for t in running if t.deadline == now), key=lambda t: t.seq):
                self.arrivals.append(now)
                timer.status = "fired"
                self.mailbox.append(("timer", timer))
            if outside and outside[0][0] == now:
                _, kind, content = outside.pop(0)
                self.arrivals.append(now)
                self.mailbox.append(
                    ("event", content, None) if kind == "cast" else ("event", "call", content)
                )
        for _, kind, content in sc.schedule:
            if kind == "call" and content not in self.replies:
                self.replies[content] = "exited"
        return self.handled, self.replies

    def drain(self) -> None:
        while self.queue or self.mailbox:
            from_mailbox = not self.queue
            entry = self.mailbox.pop(0) if from_mailbox else self.queue.pop(0)
            if entry[0] == "timer":
                timer = entry[1]
                if self.timers.get(timer.key) is not timer:
                    continue  # cancelled or restarted after it fired or was queued
                del self.timers[timer.key]
                entry = ("event", timer.key, None)
            if from_mailbox:
                self.cancel("et")  # any event cancels the event timeout
            self.handle(entry)

    def cancel(self, key: str) -> None:
        self.timers.pop(key, None)

    def handle(self, event: Any) -> None:
        _, key, extra = event
        self.handled.append((self.state, key, extra))
        next_state, actions = self.scenario.table.get((self.state, key), (None, ()))
        for action in actions:
            if action[0] == "reply":
                self.replies.setdefault(extra, (extra, self.state))
        if ("postpone",) in actions:
            self.postponed.append(event)
        old = self.state
        self.state = old if next_state is None else next_state
        changed = self.state != old
        if changed:
            self.queue[:0] = self.postponed
            self.postponed = []
            self.cancel("st")
        self.transition(actions, old, enter=changed)

    def transition(self, actions: tuple[Action, ...], old: str, *, enter: bool) -> None:
        """Inserted events, the enter call, then the timeouts (an event timeout last)."""
        every = list(actions)
        if enter and self.scenario.state_enter:
            self.handled.append((self.state, "enter", old))
            every += self.scenario.table.get((self.state, "enter"), (None, ()))[1]
        self.queue[:0] = [("event", "i", None) for action in every if action[0] == "next"]
        event_timeout = None
        for action in every:
            kind = action[0]
            if kind in ("st", "gt"):
                self.start(kind, action[1])
            elif kind == "et":
                event_timeout = action[1]
            elif kind in ("st_cancel", "gt_cancel"):
                self.cancel(kind[:2])
            elif kind == "st_update" and "st" not in self.timers:
                self.start("st", 0)
        if event_timeout is not None:
            self.cancel("et")
            if not self.queue:
                self.start("et", event_timeout)

    def start(self, key: str, seconds: float) -> None:
        self.seq += 1
        timer = self.timers[key] = _Timer(key, self.now + seconds, self.seq)
        if seconds == 0:
            timer.status = "queued"
            self.queue.append(("timer", timer))


# --- the same scenario in trio_otp -------------------------------------------------------


def _key(event: trio_otp.Event[Any, Any]) -> tuple[str, Any]:
    match event:
        case trio_otp.CastEvent(request=request):
            return request, None
        case trio_otp.CallEvent(request=call_id):
            return "call", call_id
        case trio_otp.InternalEvent():
            return "i", None
        case trio_otp.EnterEvent(old_state=old):
            return "enter", old
        case trio_otp.StateTimeoutEvent():
            return "st", None
        case trio_otp.EventTimeoutEvent():
            return "et", None
        case trio_otp.GenericTimeoutEvent():
            return "gt", None
    raise AssertionError(event)


def _action(action: Action, event: trio_otp.Event[Any, Any], state: str) -> trio_otp.Action:
    kind = action[0]
    if kind == "postpone":
        return trio_otp.Postpone()
    if kind == "next":
        return trio_otp.NextEvent(trio_otp.InternalEvent("i"))
    if kind == "reply":
        assert isinstance(event, trio_otp.CallEvent)
        return trio_otp.ReplyTo(event.caller, (event.request, state))
    if kind == "st":
        return trio_otp.StateTimeout(action[1], "st")
    if kind == "et":
        return trio_otp.EventTimeout(action[1], "et")
    if kind == "gt":
        return trio_otp.GenericTimeout("g", action[1], "gt")
    if kind == "st_cancel":
        return trio_otp.StateTimeout.cancel()
    if kind == "gt_cancel":
        return trio_otp.GenericTimeout.cancel("g")
    assert kind == "st_update"
    return trio_otp.StateTimeout.update("st")


@attrs.define(eq=False)
class TableMachine(trio_otp.StateMachine[str, None, str, Any]):
    table: Table
    handled: list[Handled] = attrs.field(factory=list)

    async def init(self) -> trio_otp.NextState[str, None]:
        return trio_otp.NextState("a", None)

    async def handle_event(
        self, event: trio_otp.Event[str, Any], state: str, data: None
    ) -> trio_otp.Transition[str, None]:
        key, extra = _key(event)
        self.handled.append((state, key, extra))
        next_state, actions = self.table.get((state, key), (None, ()))
        built = [_action(action, event, state) for action in actions]
        if next_state is None:
            return trio_otp.KeepState(None, *built)
        return trio_otp.NextState(next_state, None, *built)


def run_in_trio(scenario: Scenario) -> tuple[list[Handled], dict[str, Any]]:
    """Play ``scenario`` through trio_otp on virtual time."""
    cls: type[TableMachine] = TableMachine
    if scenario.state_enter:

        @attrs.define(eq=False)
        class EnterTableMachine(TableMachine):
            state_enter = True

        cls = EnterTableMachine
    machine = cls(scenario.table)
    replies: dict[str, Any] = {}

    async def call(ref: trio_otp.ServerRef[str, Any], call_id: str) -> None:
        try:
            replies[call_id] = await ref.call(call_id, timeout=None)
        except trio_otp.ServerExited:
            replies[call_id] = "exited"

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_state_machine(nursery, lambda: machine)
            for at, kind, content in scenario.schedule:
                await trio.sleep_until(at)
                if kind == "cast":
                    ref.cast(content)
                else:
                    nursery.start_soon(call, ref, content)
            await trio.sleep_until(scenario.end)
            await ref.stop()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return machine.handled, replies
