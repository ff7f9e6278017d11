"""Agent: a value behind get, update and get-and-update."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import settle


async def test_get_update_get_and_update(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        counter = await trio_otp.start_agent(nursery, lambda: 0)
        assert await counter.get() == 0
        await counter.update(lambda n: n + 5)
        counter.cast_update(lambda n: n * 2)
        assert await counter.get(lambda n: n + 1) == 11
        assert await counter.get_and_update(lambda n: (n, 0)) == 10
        assert await counter.get() == 0
        await counter.stop()


async def test_concurrent_updates_are_serialised(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        counter = await trio_otp.start_agent(nursery, lambda: 0)
        async with trio.open_nursery() as clients:
            for _ in range(100):
                clients.start_soon(counter.update, lambda n: n + 1)
        assert await counter.get() == 100
        await counter.stop()


async def test_a_raising_function_crashes_the_agent_and_its_supervisor_restarts_it(
    autojump_clock: MockClock,
) -> None:
    spec = trio_otp.agent_spec("cache", dict, name="cache")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=3).run)
        cache = trio_otp.agent("cache")
        await cache.update(lambda d: {**d, "k": "v"})
        with pytest.raises(trio_otp.ServerExited) as info:
            await cache.get(lambda d: d["missing"])
        assert isinstance(info.value.__cause__, KeyError)
        await settle()
        assert await trio_otp.agent("cache").get() == {}  # restarted with initial() afresh
        nursery.cancel_scope.cancel()
