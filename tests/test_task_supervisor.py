"""TaskSupervisor: fire-and-forget and awaited tasks, and a bounded, ordered map."""

from __future__ import annotations

import contextlib
import functools
import gc
import warnings
from collections.abc import AsyncIterator
from typing import Literal

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


async def test_an_ordered_maps_finished_results_hold_no_slot_while_a_slow_head_runs(
    autojump_clock: MockClock,
) -> None:
    # As Elixir's async_stream (ordered: true): a task that has finished frees its slot at
    # once, its result kept until the items before it are yielded.
    started: dict[int, float] = {}
    active = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal active, peak
        started[n] = trio.current_time()
        active += 1
        peak = max(peak, active)
        await trio.sleep(10 if n == 0 else 1)
        active -= 1
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        async with contextlib.aclosing(tasks.map(work, range(6), max_concurrency=2)) as results:
            collected = [result async for result in results]
        assert collected == list(range(6))
        assert started == {0: 0.0, 1: 0.0, 2: 1.0, 3: 2.0, 4: 3.0, 5: 4.0}
        assert peak == 2
        assert trio.current_time() == 10.0  # the head's time, not the head's plus the rest
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


async def test_cancelling_the_consumer_of_an_ordered_map_stops_the_item_it_waited_for(
    autojump_clock: MockClock,
) -> None:
    # The consumer is cancelled while it waits for the head item: that item, too, is one
    # of "the tasks still running", not left to run its 100 s under the supervisor.
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        with trio.move_on_after(1):
            await consume(tasks.map(functools.partial(double_later, delay=100), [1]))
        assert await tasks.children() == []
        nursery.cancel_scope.cancel()


async def test_leaving_a_map_early_leaves_no_generator_of_its_own_to_the_garbage_collector(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with contextlib.aclosing(tasks.map(double_later, range(10), max_concurrency=2)) as results:
                async for _ in results:
                    break
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
        nursery.cancel_scope.cancel()


async def test_leaving_a_map_stops_the_items_in_flight_together(autojump_clock: MockClock) -> None:
    # Each item's cleanup takes 1 s of its 5 s budget: stopping 8 of them one after the
    # other took 8 s; they are stopped at once, as async_stream kills its tasks at a halt.
    async def work(n: int) -> int:
        try:
            await trio.sleep(100)
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(1)
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        with trio.move_on_after(1):
            await consume(tasks.map(work, range(8), max_concurrency=8))
        left = trio.current_time()
        assert (await tasks.count_children()).active == 0
        assert trio.current_time() - left == 0
        assert trio.current_time() < 3
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


# -- many handles at once: await_many, yield_many --


async def test_await_many_returns_values_in_the_order_of_the_handles(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handles = [await tasks.spawn(double_later, n, 3.0 - n) for n in range(3)]
        assert await trio_otp.await_many(handles) == [0, 2, 4]
        assert trio.current_time() == 3.0  # as long as the slowest
        nursery.cancel_scope.cancel()


async def test_await_many_raises_the_first_failure_at_once(autojump_clock: MockClock) -> None:
    async def fail_after(delay: float) -> int:
        await trio.sleep(delay)
        raise Boom(delay)

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        slow = await tasks.spawn(double_later, 1, 4.0)
        handles = [slow, await tasks.spawn(fail_after, 2.0), await tasks.spawn(fail_after, 1.0)]
        with pytest.raises(trio_otp.TaskFailed) as info:
            await trio_otp.await_many(handles)
        assert str(info.value.__cause__) == "1.0"
        assert trio.current_time() == 1.0  # not after the slow one
        assert not slow.done  # the others keep running
        assert await slow.result() == 2
        nursery.cancel_scope.cancel()


async def test_await_many_raises_the_earliest_failure_when_several_failed_before_the_call(
    autojump_clock: MockClock,
) -> None:
    # As Elixir's, which exits on the first :DOWN in its mailbox: the order they failed
    # in, not the order of the list.
    async def fail_after(delay: float) -> int:
        await trio.sleep(delay)
        raise Boom(delay)

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        later = await tasks.spawn(fail_after, 2.0)
        earlier = await tasks.spawn(fail_after, 1.0)
        await trio.sleep(3.0)
        assert later.done
        assert earlier.done
        with pytest.raises(trio_otp.TaskFailed) as info:
            await trio_otp.await_many([later, earlier])
        assert str(info.value.__cause__) == "1.0"
        nursery.cancel_scope.cancel()


async def test_await_many_timeout_leaves_them_running(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handles = [await tasks.spawn(double_later, n, 10.0 * n) for n in (1, 2)]
        with pytest.raises(trio_otp.TaskTimeout, match="1 of 2 tasks did not finish within 15 s"):
            await trio_otp.await_many(handles, timeout=15)
        assert trio.current_time() == 15.0
        assert await handles[1].result(timeout=None) == 4
        nursery.cancel_scope.cancel()


async def test_yield_many_gives_the_results_so_far_and_leaves_the_rest_running(
    autojump_clock: MockClock,
) -> None:
    async def failing() -> int:
        raise Boom("no")

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        fast = await tasks.spawn(double_later, 1, 1.0)
        crashed = await tasks.spawn(failing)
        slow = await tasks.spawn(double_later, 2, 10.0)
        ok, failed, running = await trio_otp.yield_many([fast, crashed, slow], timeout=5)
        assert trio.current_time() == 5.0
        assert ok == trio_otp.TaskOk(2)
        assert isinstance(failed, trio_otp.TaskExit)
        assert isinstance(failed.reason.__cause__, Boom)
        assert running is None
        assert not slow.done
        assert await trio_otp.yield_many([slow], timeout=None) == [trio_otp.TaskOk(4)]
        assert trio.current_time() == 10.0  # returned as soon as all had ended
        nursery.cancel_scope.cancel()


# -- TaskHandle.shutdown --


async def test_shutdown_of_a_running_task_stops_it_and_returns_none(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.spawn(double_later, 1, 10.0)
        assert await handle.shutdown() is None
        assert handle.done
        with pytest.raises(trio_otp.TaskFailed) as info:
            await handle.result()
        assert info.value.cancelled
        nursery.cancel_scope.cancel()


async def test_shutdown_returns_a_result_that_arrived_meanwhile(autojump_clock: MockClock) -> None:
    async def failing() -> None:
        raise Boom("no")

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        finished = await tasks.spawn(double_later, 21, 1.0)
        crashed = await tasks.spawn(failing)
        await trio.sleep(2)
        assert await finished.shutdown() == trio_otp.TaskOk(42)
        ended = await crashed.shutdown(trio_otp.BRUTAL_KILL)
        assert isinstance(ended, trio_otp.TaskExit)
        assert isinstance(ended.reason.__cause__, Boom)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("budget", "cleanup_took"), [(2.0, 2.0), (trio_otp.BRUTAL_KILL, 0.0), (30.0, 10.0)])
async def test_shutdown_timeout_is_the_budget_of_that_stop(
    autojump_clock: MockClock, budget: float | trio_otp.ShutdownMode, cleanup_took: float
) -> None:
    cleanup: list[float] = []

    async def slow_to_clean_up() -> None:
        try:
            await trio.sleep_forever()
        finally:
            began = trio.current_time()
            with trio_otp.cleanup_scope():
                await trio.sleep(10)
            cleanup.append(trio.current_time() - began)

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)  # shutdown=5 s for each task, which this stop overrides
        handle = await tasks.spawn(slow_to_clean_up)
        assert await handle.shutdown(budget) is None
        assert cleanup == [cleanup_took]
        nursery.cancel_scope.cancel()


# -- map: per-item timeout, nolink --


async def test_map_timeout_raise_stops_the_stream(autojump_clock: MockClock) -> None:
    async def work(n: int) -> int:
        await trio.sleep(n)
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        got: list[int] = []

        async def collect() -> None:
            async with contextlib.aclosing(tasks.map(work, [1, 2, 3, 1], timeout=2.5)) as results:
                async for value in results:
                    got.append(value)

        with pytest.raises(trio_otp.TaskTimeout, match=r"within map's timeout of 2\.5 s"):
            await collect()
        assert got == [1, 2]
        assert trio.current_time() == 2.5
        assert (await tasks.count_children()).active == 0  # the rest were cancelled
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("on_timeout", ["raise", "kill_task"])
async def test_a_timed_out_items_cleanup_gets_the_shutdown_budget_not_for_ever(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture, on_timeout: Literal["raise", "kill_task"]
) -> None:
    # The item is stopped as its supervisor stops a task: its cleanup_scope is cut at the
    # 5 s budget, where a bare cancel at the deadline left it shielded for ever (100 s).
    async def work(n: int) -> int:
        try:
            await trio.sleep(100)
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(100)
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery, shutdown=5)
        with contextlib.suppress(trio_otp.TaskTimeout):
            async with contextlib.aclosing(tasks.map(work, [1], timeout=1, on_timeout=on_timeout)) as results:
                got = [result async for result in results]
                assert isinstance(got[0], trio_otp.TaskExit)
                assert isinstance(got[0].reason, trio_otp.TaskTimeout)
        assert trio.current_time() == 6
        nursery.cancel_scope.cancel()
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "raised" in r.getMessage()]


@pytest.mark.parametrize("ordered", [True, False])
async def test_map_kill_task_yields_an_exit_in_the_items_place(
    autojump_clock: MockClock, ordered: bool
) -> None:
    stopped_at: dict[int, float] = {}

    async def work(n: int) -> int:
        try:
            await trio.sleep(n)
        except trio.Cancelled:
            stopped_at[n] = trio.current_time()
            raise
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        async with contextlib.aclosing(
            tasks.map(work, [4, 9, 1], timeout=5, on_timeout="kill_task", ordered=ordered)
        ) as results:
            got = [result async for result in results]
        late = [result for result in got if isinstance(result, trio_otp.TaskExit)]
        assert [result for result in got if not isinstance(result, trio_otp.TaskExit)] == (
            [4, 1] if ordered else [1, 4]
        )
        assert len(late) == 1
        assert isinstance(late[0].reason, trio_otp.TaskTimeout)
        assert got.index(late[0]) == (1 if ordered else 2)
        assert stopped_at == {9: 5.0}  # at its own deadline, from its start
        nursery.cancel_scope.cancel()


async def test_map_nolink_yields_failures_and_goes_on(autojump_clock: MockClock) -> None:
    async def work(n: int) -> int:
        await trio.sleep(1)
        if n % 2:
            raise Boom(n)
        return n

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        async with contextlib.aclosing(tasks.map_nolink(work, range(5), max_concurrency=2)) as results:
            got = [result async for result in results]
        assert [result for result in got if not isinstance(result, trio_otp.TaskExit)] == [0, 2, 4]
        failures = [result for result in got if isinstance(result, trio_otp.TaskExit)]
        assert [got.index(result) for result in failures] == [1, 3]
        assert all(isinstance(result.reason, trio_otp.TaskFailed) for result in failures)
        assert [str(result.reason.__cause__) for result in failures] == ["1", "3"]
        nursery.cancel_scope.cancel()


# -- children, terminate_child, transient tasks --


async def test_children_and_terminate_child(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        first = await tasks.spawn(double_later, 1, 10.0)
        second = await tasks.start_child(double_later, 2, 10.0)
        assert await tasks.children() == [second, first]
        await tasks.terminate_child(first)
        assert await tasks.children() == [second]
        with pytest.raises(trio_otp.TaskFailed) as info:
            await first.result()
        assert info.value.cancelled
        with pytest.raises(trio_otp.ChildNotFound):
            await tasks.terminate_child(first)
        other = await start(nursery)
        with pytest.raises(trio_otp.ChildNotFound, match="is not a task of"):
            await other.terminate_child(second)
        assert await second.result(timeout=None) == 4
        nursery.cancel_scope.cancel()


async def test_a_transient_task_is_run_again_until_it_returns(autojump_clock: MockClock) -> None:
    runs: list[int] = []

    async def flaky(n: int) -> int:
        runs.append(n)
        await trio.sleep(1)
        if len(runs) < 3:
            raise Boom(len(runs))
        return n * 10

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery)
        handle = await tasks.start_child(flaky, 7, restart=trio_otp.Restart.TRANSIENT)
        assert await handle.result() == 70
        assert runs == [7, 7, 7]
        await settle()
        assert runs == [7, 7, 7]  # a normal return ends it for good
        assert await tasks.children() == []
        nursery.cancel_scope.cancel()


async def test_a_transient_task_that_keeps_crashing_escalates_and_its_handle_fails(
    autojump_clock: MockClock,
) -> None:
    runs = 0

    async def always_crashes() -> None:
        nonlocal runs
        runs += 1
        await trio.sleep(0.1)
        raise Boom(runs)

    escalated: list[BaseException] = []

    async def run(*, task_status: trio.TaskStatus[trio_otp.TaskSupervisorRef]) -> None:
        try:
            await trio_otp.TaskSupervisor(max_restarts=2, max_seconds=5).run(task_status=task_status)
        except trio_otp.RestartIntensityExceeded as error:
            escalated.append(error)

    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(run)
        handle = await tasks.start_child(always_crashes, restart=trio_otp.Restart.TRANSIENT)
    assert len(escalated) == 1
    assert runs == 3  # the first run and two restarts
    assert handle.done
    with pytest.raises(trio_otp.TaskFailed) as info:
        await handle.result()
    assert str(info.value.__cause__) == "3"  # the last run's failure


async def test_terminating_a_transient_task_between_runs_settles_its_handle(
    autojump_clock: MockClock,
) -> None:
    async def crashes_at_once() -> None:
        await trio.sleep(1)
        raise Boom("again")

    async with trio.open_nursery() as nursery:
        tasks = await start(nursery, max_restarts=100)
        handle = await tasks.start_child(crashes_at_once, restart=trio_otp.Restart.TRANSIENT)
        await trio.sleep(1.5)
        assert await handle.shutdown() is None
        with pytest.raises(trio_otp.TaskFailed):
            await handle.result(timeout=0)
        nursery.cancel_scope.cancel()
