"""Reproducers for a review of 3107213 (casts as plain tuples)."""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import attrs
import trio
from trio.testing import MockClock

import trio_otp

from .harness import settle

rid: contextvars.ContextVar[str] = contextvars.ContextVar("rid_review2", default="own")


@attrs.define
class Seer(trio_otp.GenServer[Any, Any]):
    seen: list[object] = attrs.field(factory=list)
    gate: trio.Event = attrs.field(factory=trio.Event)

    async def handle_cast(self, request: Any) -> None:
        self.seen.append(("cast", request, rid.get()))
        if request == "block":
            await self.gate.wait()
        if request == "crash":
            raise ValueError("boom")

    async def handle_info(self, message: Any) -> None:
        self.seen.append(("info", message, rid.get()))


async def test_cast_channel_and_abcast_carry_context(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(rid)
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)

    @attrs.define
    class Member(Seer):
        async def init(self) -> None:
            registry.register("g", None)

    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Member)
        server = ref._process.server
        rid.set("c1")
        await trio_otp.mailbox_channel(ref, kind="cast").send(("a", "tuple"))
        rid.set("c2")
        trio_otp.abcast(registry, "g", ("x", None))
        rid.set("c3")
        ref.send(("i", None))  # an info of a 2-tuple is not a cast
        ref.cast((1, 2))
        await settle()
        assert server.seen == [
            ("cast", ("a", "tuple"), "c1"),
            ("cast", ("x", None), "c2"),
            ("info", ("i", None), "own"),
            ("cast", (1, 2), "c3"),
        ]
        nursery.cancel_scope.cancel()


async def test_get_status_and_crash_report_of_a_cast(autojump_clock: MockClock, caplog: Any) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Seer)
        ref.cast("block")
        ref.cast("second")
        await settle()
        status = trio_otp.get_status(ref)
        assert status.message == ("cast", "block")
        assert status.mailbox == 1
        ref._process.server.gate.set()
        nursery.cancel_scope.cancel()

    with caplog.at_level(logging.ERROR):
        try:
            async with trio.open_nursery() as nursery:
                ref = await trio_otp.start_server(nursery, Seer)
                ref.cast("crash")
                await settle()
        except BaseException:
            pass
    assert "('cast', 'crash')" in caplog.text


async def test_state_machine_cast_with_context(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(rid)
    seen: list[object] = []

    @attrs.define
    class SM(trio_otp.StateMachine[Any, Any, Any, Any]):
        async def init(self) -> Any:
            return trio_otp.NextState("a", None)

        async def handle_event(self, event: Any, state: Any, data: Any) -> Any:
            if isinstance(event, trio_otp.CastEvent):
                seen.append((event.request, rid.get(), state))
                if state == "a":
                    return trio_otp.NextState("b", None, trio_otp.Postpone())
            return None

    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_state_machine(nursery, SM)
        rid.set("s1")
        ref.cast(("p", 1))
        await settle()
        assert seen[0] == (("p", 1), "s1", "a")
        nursery.cancel_scope.cancel()
