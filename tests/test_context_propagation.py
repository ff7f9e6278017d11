"""propagate_context: the caller's context variables reach the server's callbacks."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="server's own")


class Seer(trio_otp.GenServer[str, str]):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> Any:
        if request == "continue":
            return trio_otp.Reply(request_id.get(), continue_with="step")
        return request_id.get()

    async def handle_cast(self, request: str) -> None:
        self.seen.append(("cast", request_id.get()))

    async def handle_info(self, message: Any) -> None:
        self.seen.append(("info", request_id.get()))

    async def handle_continue(self, continuation: Any) -> None:
        self.seen.append(("continue", request_id.get()))


async def as_request(rid: str, ref: trio_otp.ServerRef[str, str], request: str) -> str:
    request_id.set(rid)
    return await ref.call(request)


async def test_off_by_default(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Seer)
        assert await as_request("r1", ref, "get") == "server's own"
        nursery.cancel_scope.cancel()


async def test_calls_and_casts_carry_the_named_variables(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(request_id)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Seer)
        assert await ref.call("get") == "server's own"  # this task has not set it yet
        assert await as_request("r1", ref, "get") == "r1"
        assert await as_request("r2", ref, "get") == "r2"

        request_id.set("r3")
        ref.cast("x")
        ref.send("tick")  # an info message carries nothing
        assert await as_request("r4", ref, "continue") == "r4"
        state = await trio_otp.get_state(ref)
        assert state.seen == [("cast", "r3"), ("info", "server's own"), ("continue", "r4")]
        nursery.cancel_scope.cancel()


async def test_calls_by_name_carry_them_too(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(request_id)
    async with trio.open_nursery() as nursery:
        await trio_otp.start_server(nursery, Seer, name="seer")
        request_id.set("by name")
        assert await trio_otp.call("seer", "get") == "by name"
        nursery.cancel_scope.cancel()


async def test_turned_off_again(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(request_id)
    trio_otp.propagate_context()
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Seer)
        assert await as_request("r1", ref, "get") == "server's own"
        nursery.cancel_scope.cancel()


class Tenant:
    """A ContextCarrier of a context that is no ContextVar."""

    current = "none"

    def capture(self) -> object:
        return Tenant.current if Tenant.current != "none" else None

    def enter(self, value: Any) -> object:
        before, Tenant.current = Tenant.current, value
        return before

    def exit(self, token: Any) -> None:
        Tenant.current = token


class TenantSeer(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return Tenant.current


async def test_a_carrier_of_ones_own(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(Tenant())
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, TenantSeer)
        Tenant.current = "acme"
        reply = await ref.call("who")
        Tenant.current = "none"
        assert reply == "acme"
        nursery.cancel_scope.cancel()


def test_outside_a_run() -> None:
    with pytest.raises(RuntimeError, match=r"call it inside trio\.run"):
        trio_otp.propagate_context(request_id)


class StateSeer(trio_otp.StateMachine[str, list[tuple[str, str]], str, str]):
    async def init(self) -> trio_otp.NextState[str, list[tuple[str, str]]]:
        return trio_otp.NextState("on", [])

    async def on(
        self, event: trio_otp.Event[str, str], data: list[tuple[str, str]]
    ) -> trio_otp.Transition[str, list[tuple[str, str]]]:
        if isinstance(event, trio_otp.CallEvent):
            return trio_otp.KeepState(data, trio_otp.ReplyTo(event.caller, request_id.get()))
        if isinstance(event, trio_otp.CastEvent):
            data.append(("cast", request_id.get()))
        elif isinstance(event, trio_otp.InfoEvent):
            data.append(("info", request_id.get()))
        return None


async def test_state_machines_see_the_callers_values_as_gen_servers_do(autojump_clock: MockClock) -> None:
    trio_otp.propagate_context(request_id)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_state_machine(nursery, StateSeer)
        assert await as_request("r1", ref, "get") == "r1"
        assert await as_request("r2", ref, "get") == "r2"
        request_id.set("r3")
        ref.cast("x")
        ref.send("tick")  # an info message carries nothing
        request_id.set("r4")
        assert await ref.call("get") == "r4"
        state, seen = await trio_otp.get_state(ref)
        assert (state, seen) == ("on", [("cast", "r3"), ("info", "server's own")])
        nursery.cancel_scope.cancel()
