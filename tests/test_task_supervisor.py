"""TaskSupervisor: fire-and-forget and awaited tasks, and a bounded, ordered map."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import settle


class Boom(Exception):
    pass


async def start(nursery: trio.Nursery, **options: object) -> trio_otp.TaskSupervisorRef:
    ref: trio_otp.TaskSupervisorRef = await nursery.start(trio_otp.TaskSupervisor(**options).run)  # type: ignore[arg-type]
    return ref


async def double_later(n: int, delay: float = 1.0) -> int:
    await trio.sleep(delay)
    return n * 2


async def test_spawn_and_await(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.spawn(double_later, 21)
        assert not handle.done
        assert await handle.result() == 42
        assert handle.done
        nursery.cancel_scope.cancel()


async def test_a_failed_task_raises_from_result_and_is_not_restarted(autojump_clock: MockClock) -> None:
    runs = 0

    async def failing() -> None:
        nonlocal runs
        runs += 1
        raise Boom("no")

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.spawn(failing)
        with pytest.raises(trio_otp.TaskFailed) as info:
            await handle.result()
        assert isinstance(info.value.__cause__, Boom)
        assert not info.value.cancelled
        await settle()
        assert runs == 1
        nursery.cancel_scope.cancel()


async def test_result_timeout_leaves_the_task_running(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.spawn(double_later, 1, 10.0)
        with pytest.raises(trio_otp.TaskTimeout):
            await handle.result(timeout=1)
        assert await handle.result(timeout=None) == 2
        nursery.cancel_scope.cancel()


async def test_cancel(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.spawn(double_later, 1, 10.0)
        await handle.cancel()
        with pytest.raises(trio_otp.TaskFailed) as info:
            await handle.result()
        assert info.value.cancelled
        nursery.cancel_scope.cancel()


async def test_fire_and_forget_and_shutdown_stops_tasks(autojump_clock: MockClock) -> None:
    finished: list[int] = []

    async def job(n: int) -> None:
        await trio.sleep(n)
        finished.append(n)

    with trio.move_on_after(2.5):
        async with trio.open_nursery() as nursery:
            tasks = await start(nursery)
            for n in (1, 2, 3, 4):
                await tasks.start_child(job, n)
    assert finished == [1, 2]  # 3 and 4 were stopped with the tree


@pytest.mark.parametrize("ordered", [True, False])
async def test_map_bounds_concurrency_and_orders_results(autojump_clock: MockClock, ordered: bool) -> None:
    active = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await trio.sleep(10 - n)  # later inputs finish first
        active -= 1
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        async with contextlib.aclosing(
            tasks.map(work, range(10), max_concurrency=3, ordered=ordered)
        ) as results:
            collected = [result async for result in results]
        assert peak == 3
        if ordered:
            assert collected == list(range(10))
        else:
            assert sorted(collected) == list(range(10))
            assert collected != list(range(10))
        nursery.cancel_scope.cancel()


async def test_map_failure_cancels_the_rest(autojump_clock: MockClock) -> None:
    started: list[int] = []

    async def work(n: int) -> int:
        started.append(n)
        await trio.sleep(1)
        if n == 2:
            raise Boom(n)
        await trio.sleep(100)
        return n

    async def inputs() -> AsyncIterator[int]:  # an async stream works too
        for n in range(100):
            yield n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        with pytest.raises(trio_otp.TaskFailed):
            await consume(tasks.map(work, inputs(), max_concurrency=4, ordered=False))
        await settle()
        assert started == [0, 1, 2, 3]  # inputs are read only as fast as tasks can run
        assert (await tasks._supervisor.count_children()).active == 0  # the rest were cancelled
        nursery.cancel_scope.cancel()


async def consume(results: AsyncIterator[int]) -> None:
    async with contextlib.aclosing(results) as closing:
        async for _ in closing:
            pass


async def test_bad_arguments(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        with pytest.raises(TypeError, match="async function"):
            await tasks.spawn(42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_concurrency"):
            async for _ in tasks.map(double_later, [1], max_concurrency=0):
                pass
        nursery.cancel_scope.cancel()
    with pytest.raises(ValueError, match="max_children"):
        trio_otp.TaskSupervisor(max_children=-1)
