"""GenServer timeouts as OTP returns them (``Timeout``, ``Reply(timeout=)``, ``NoReply(timeout=)``)
next to the ``idle_timeout`` attribute: a returned timeout fires once unless returned again,
any message cancels it, and the attribute applies again after it."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp


@attrs.define
class Waiter(trio_otp.GenServer[Any, Any]):
    """Returns whatever timeout the last request asked for; records when timeouts fire."""

    fired: list[tuple[float, float]] = attrs.field(factory=list[tuple[float, float]])
    on_timeout: Any = None  # what handle_info returns for an IdleTimeout
    first: Any = None  # what init returns
    idle_timeout: float | None = None

    async def init(self) -> Any:
        return self.first

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        kind, seconds = request
        if kind == "reply":
            return trio_otp.Reply("ok", timeout=seconds)
        caller.reply("ok")
        return trio_otp.NoReply(timeout=seconds)

    async def handle_cast(self, request: Any) -> Any:
        return trio_otp.Timeout(request)

    async def handle_info(self, message: Any) -> Any:
        if isinstance(message, trio_otp.IdleTimeout):
            self.fired.append((trio.current_time(), message.seconds))
            return self.on_timeout
        return None  # any other message: carry on, with no timeout


async def start(nursery: trio.Nursery, state: Waiter) -> trio_otp.ServerRef[Any, Any]:
    return await trio_otp.start_server(nursery, lambda: state)


async def test_a_returned_timeout_fires_once(autojump_clock: MockClock) -> None:
    state = Waiter()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        t0 = trio.current_time()
        ref.cast(3)
        await trio.sleep(20)
        assert [(t - t0, s) for t, s in state.fired] == [(3.0, 3.0)]
        await ref.stop()


async def test_returning_it_again_fires_again(autojump_clock: MockClock) -> None:
    state = Waiter(on_timeout=trio_otp.Timeout(2))
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        t0 = trio.current_time()
        ref.cast(3)
        await trio.sleep(8.5)
        assert [t - t0 for t, _ in state.fired] == [3.0, 5.0, 7.0]
        assert [s for _, s in state.fired] == [3.0, 2.0, 2.0]
        await ref.stop()


async def test_any_message_cancels_it(autojump_clock: MockClock) -> None:
    state = Waiter()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        ref.cast(5)
        await trio.sleep(4)
        ref.send("anything")  # handle_info returns None: no new timeout
        await trio.sleep(20)
        assert state.fired == []
        await ref.stop()


async def test_a_message_already_waiting_cancels_it(autojump_clock: MockClock) -> None:
    state = Waiter()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        ref.cast(0)  # 0 fires at once, but only if nothing is waiting
        ref.send("already queued")
        await trio.sleep(10)
        assert state.fired == []
        ref.cast(0)
        await trio.sleep(1)
        assert [s for _, s in state.fired] == [0.0]
        await ref.stop()


@pytest.mark.parametrize("kind", ["reply", "noreply"])
async def test_handle_call_returns_one_with_its_reply(autojump_clock: MockClock, kind: str) -> None:
    state = Waiter()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        t0 = trio.current_time()
        assert await ref.call((kind, 4)) == "ok"
        await trio.sleep(10)
        assert [(t - t0, s) for t, s in state.fired] == [(4.0, 4.0)]
        await ref.stop()


async def test_init_returns_one_for_the_first_message(autojump_clock: MockClock) -> None:
    state = Waiter(first=trio_otp.Timeout(2))
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        ref = await start(nursery, state)
        await trio.sleep(10)
        assert [(t - t0, s) for t, s in state.fired] == [(2.0, 2.0)]
        await ref.stop()


async def test_it_replaces_idle_timeout_for_one_wait_then_idle_timeout_resumes(
    autojump_clock: MockClock,
) -> None:
    state = Waiter(idle_timeout=10.0)
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        t0 = trio.current_time()
        ref.cast(1)
        await trio.sleep(25)
        # The returned 1 s first, then the attribute's 10 s, again and again.
        assert [(t - t0, s) for t, s in state.fired] == [(1.0, 1.0), (11.0, 10.0), (21.0, 10.0)]
        await ref.stop()


async def test_infinity_suspends_idle_timeout_until_the_next_message(autojump_clock: MockClock) -> None:
    state = Waiter(idle_timeout=2.0)
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        ref.cast(math.inf)
        await trio.sleep(100)
        assert state.fired == []
        t1 = trio.current_time()
        ref.send("wake")
        await trio.sleep(3)
        assert [(t - t1, s) for t, s in state.fired] == [(2.0, 2.0)]
        await ref.stop()


async def test_a_system_message_re_arms_it_as_in_otp(autojump_clock: MockClock) -> None:
    state = Waiter()
    async with trio.open_nursery() as nursery:
        ref = await start(nursery, state)
        t0 = trio.current_time()
        ref.cast(5)
        await trio.sleep(3)
        await trio_otp.get_state(ref)  # a system message: OTP waits the full timeout again
        await trio.sleep(10)
        assert [(t - t0, s) for t, s in state.fired] == [(8.0, 5.0)]
        await ref.stop()


def test_continue_with_and_timeout_exclude_each_other() -> None:
    with pytest.raises(ValueError, match=r"Reply takes continue_with or timeout, not both"):
        trio_otp.Reply(1, continue_with="x", timeout=1)
    with pytest.raises(ValueError, match=r"NoReply takes continue_with or timeout, not both"):
        trio_otp.NoReply(continue_with="x", timeout=1)


async def test_a_bad_return_from_a_callback_names_timeout_among_the_choices(
    autojump_clock: MockClock,
) -> None:
    class Bad(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> Any:
            return 5  # a number where a Timeout(5) was meant

    with pytest.RaisesGroup(pytest.RaisesExc(TypeError, match=r"expected None, Continue, Timeout or Stop")):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Bad)
            ref.cast("x")


# --- start_timeout: an init deadline, as OTP's start {timeout, T} ---------------------


@attrs.define
class SlowInit(trio_otp.GenServer[Any, Any]):
    seconds: float
    terminated: list[Any] = attrs.field(factory=list[Any])

    async def init(self) -> None:
        await trio.sleep(self.seconds)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request

    async def terminate(self, reason: BaseException | None) -> None:
        self.terminated.append(reason)


async def test_an_init_past_start_timeout_fails_the_start(autojump_clock: MockClock) -> None:
    state = SlowInit(10)
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        with pytest.raises(trio_otp.InitTimeout, match=r"SlowInit 'slow': init did not return within 2 s"):
            await trio_otp.start_server(nursery, lambda: state, name="slow", start_timeout=2)
        assert trio.current_time() - t0 == 2.0
        assert state.terminated == []  # OTP kills it: no terminate
        assert trio_otp.whereis("slow") is None  # the name is free again


async def test_an_init_within_start_timeout_starts(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: SlowInit(1.5), start_timeout=2)
        await trio.sleep(5)  # the deadline was for init only
        assert await ref.call("up") == "up"
        await ref.stop()


async def test_a_supervised_start_past_start_timeout_is_a_failed_start(autojump_clock: MockClock) -> None:
    spec = trio_otp.server_spec("slow", lambda: SlowInit(10), start_timeout=1)
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.ChildStartError) as raised:
            await nursery.start(trio_otp.Supervisor([spec]).run)
        assert isinstance(raised.value.reason, trio_otp.InitTimeout)
