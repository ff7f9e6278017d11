"""DynamicSupervisor: children started at run time, restarted one_for_one, stopped together."""

from __future__ import annotations

import math

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import DynamicSupervisor, Restart
from trio_otp.testing import ScriptedWorkers, settle

from .harness import supervised_task_names


async def start_dynamic(nursery: trio.Nursery, **options: object) -> trio_otp.DynamicSupervisorRef:
    ref: trio_otp.DynamicSupervisorRef = await nursery.start(DynamicSupervisor(**options).run)  # type: ignore[arg-type]
    return ref


async def worker(n: int, *, task_status: trio.TaskStatus[int]) -> None:
    task_status.started(n)
    await trio.sleep_forever()


async def test_start_children_with_their_own_arguments(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        children = [await sup.start_child(trio_otp.ChildSpec("w", worker, args=(n,))) for n in range(3)]
        assert [child.ref for child in children] == [0, 1, 2]
        assert all(child.running for child in children)
        assert await sup.count_children() == trio_otp.ChildCounts(specs=3, active=3, supervisors=0, workers=3)
        await sup.terminate_child(children[1])
        assert not children[1].running
        assert [info.ref for info in await sup.which_children()] == [2, 0]
        with pytest.raises(trio_otp.ChildNotFound):
            await sup.terminate_child(children[1])
        nursery.cancel_scope.cancel()


async def test_restarts_keep_the_handle_and_arguments(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_restarts=5)
        child = await sup.start_child(workers.spec("a"))
        workers.crash("a")
        await settle()
        assert child.running
        assert workers.trace == [("start", "a"), ("start", "a")]
        await sup.terminate_child(child)  # the handle still names the restarted child
        assert await sup.which_children() == []
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("restart", "how", "kept"),
    [
        (Restart.TRANSIENT, "normal", False),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TEMPORARY, "crash", False),
        (Restart.PERMANENT, "normal", True),
    ],
)
async def test_children_that_are_not_restarted_are_forgotten(
    autojump_clock: MockClock, restart: Restart, how: str, kept: bool
) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        await sup.start_child(workers.spec("a", restart=restart))
        if how == "crash":
            workers.crash("a")
        else:
            workers.exit_normally("a")
        await settle()
        assert (len(await sup.which_children()) == 1) is kept
        nursery.cancel_scope.cancel()


async def test_max_children_is_enforced_under_concurrent_starts(autojump_clock: MockClock) -> None:
    results: list[object] = []

    async def slow_worker(*, task_status: trio.TaskStatus[None]) -> None:
        await trio.sleep(1)  # every start overlaps the others
        task_status.started()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_children=3)

        async def try_start() -> None:
            try:
                results.append(await sup.start_child(trio_otp.ChildSpec("s", slow_worker)))
            except trio_otp.MaxChildrenReached as error:
                results.append(error)

        async with trio.open_nursery() as starters:
            for _ in range(10):
                starters.start_soon(try_start)
        assert sum(isinstance(r, trio_otp.DynamicChild) for r in results) == 3
        assert sum(isinstance(r, trio_otp.MaxChildrenReached) for r in results) == 7
        assert (await sup.count_children()).active == 3
        nursery.cancel_scope.cancel()


async def test_intensity_and_escalation(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    escalated: list[BaseException] = []

    async def run(*, task_status: trio.TaskStatus[trio_otp.DynamicSupervisorRef]) -> None:
        try:
            await DynamicSupervisor(max_restarts=1, max_seconds=5).run(task_status=task_status)
        except trio_otp.RestartIntensityExceeded as error:
            escalated.append(error)

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(run)
        await sup.start_child(workers.spec("a"))
        await sup.start_child(workers.spec("b"))
        workers.crash("a")
        await settle()
        workers.crash("a")
        await settle()
    assert len(escalated) == 1
    assert workers.trace[-1] == ("stop", "b")


async def test_shutdown_is_concurrent_under_the_budgets(autojump_clock: MockClock) -> None:
    async def slow_to_stop(seconds: float, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(seconds)

    before = trio.current_time()
    with trio.move_on_after(1):
        async with trio.open_nursery() as nursery:
            sup = await start_dynamic(nursery)
            for seconds in (2.0, 3.0, 2.5, 10.0):
                await sup.start_child(trio_otp.ChildSpec("s", slow_to_stop, args=(seconds,), shutdown=4))
    # All at once: the slowest within budget is 3 s, the 10 s one is cut at its 4 s budget.
    assert trio.current_time() - before == pytest.approx(1 + 4)
    assert supervised_task_names() == []


async def test_a_hundred_thousand_is_routine(autojump_clock: MockClock) -> None:
    count = 2_000  # the benchmark does 100,000; this checks nothing is quadratic-slow here
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        children = [await sup.start_child(trio_otp.ChildSpec(i, worker, args=(i,))) for i in range(count)]
        assert (await sup.count_children()).active == count
        for child in children[::2]:
            await sup.terminate_child(child)
        assert (await sup.count_children()).active == count // 2
        nursery.cancel_scope.cancel()
    assert supervised_task_names() == []


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="max_children"):
        DynamicSupervisor(max_children=-1)
    with pytest.raises(ValueError, match="max_restarts"):
        DynamicSupervisor(max_restarts=-1)
    assert DynamicSupervisor().max_children == math.inf


async def test_significant_children_are_refused(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        with pytest.raises(ValueError, match="no child can be significant"):
            await sup.start_child(
                trio_otp.ChildSpec("s", worker, args=(1,), restart=Restart.TEMPORARY, significant=True)
            )
        nursery.cancel_scope.cancel()


async def test_nested_under_a_supervisor(autojump_clock: MockClock) -> None:
    root = trio_otp.Supervisor([DynamicSupervisor(name="pool").child_spec("pool")])
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(root.run)
        [info] = await ref.which_children()
        assert isinstance(info.ref, trio_otp.DynamicSupervisorRef)
        child = await info.ref.start_child(trio_otp.ChildSpec("w", worker, args=(7,)))
        assert child.ref == 7
        nursery.cancel_scope.cancel()


async def test_start_children_starts_a_batch_concurrently(autojump_clock: MockClock) -> None:
    async def slow(n: int, *, task_status: trio.TaskStatus[int]) -> None:
        await trio.sleep(1)  # all of them at once: the batch takes 1 s, not 5
        task_status.started(n)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_children=5)
        before = trio.current_time()
        children = await sup.start_children(trio_otp.ChildSpec("s", slow, args=(n,)) for n in range(5))
        assert trio.current_time() - before == pytest.approx(1)
        assert [child.ref for child in children] == [0, 1, 2, 3, 4]
        with pytest.raises(trio_otp.MaxChildrenReached, match="would exceed"):
            await sup.start_children([trio_otp.ChildSpec("s", slow, args=(9,))])
        nursery.cancel_scope.cancel()


async def test_start_children_is_all_or_nothing(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    workers.fail_next_starts("b")
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        with pytest.raises(trio_otp.ChildStartError, match="child 'b'"):
            await sup.start_children([workers.spec("a"), workers.spec("b"), workers.spec("c")])
        assert await sup.which_children() == []
        assert ("stop", "a") in workers.trace
        assert ("stop", "c") in workers.trace
        nursery.cancel_scope.cancel()


async def test_concurrent_starts_do_not_queue_behind_a_slow_one(autojump_clock: MockClock) -> None:
    async def slow(seconds: float, *, task_status: trio.TaskStatus[float]) -> None:
        await trio.sleep(seconds)
        task_status.started(seconds)
        await trio.sleep_forever()

    finished: dict[float, float] = {}
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)

        async def start(seconds: float) -> None:
            await sup.start_child(trio_otp.ChildSpec("slow", slow, args=(seconds,)))
            finished[seconds] = trio.current_time()

        begin = trio.current_time()
        async with trio.open_nursery() as starters:
            starters.start_soon(start, 10.0)
            starters.start_soon(start, 1.0)
        # The quick start is not held up by the slow one (Elixir would finish it at 11 s).
        assert finished[1.0] - begin == pytest.approx(1)
        assert finished[10.0] - begin == pytest.approx(10)
        assert (await sup.count_children()).active == 2
        nursery.cancel_scope.cancel()


async def test_shutdown_during_a_start_fails_the_start_and_stops_the_child(autojump_clock: MockClock) -> None:
    stopped: list[str] = []

    async def slow(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await trio.sleep(10)
            task_status.started()
            await trio.sleep_forever()
        finally:
            stopped.append("slow")

    outcome: list[BaseException] = []
    async with trio.open_nursery() as outer:
        with trio.CancelScope() as supervisor_scope:
            async with trio.open_nursery() as nursery:
                sup = await start_dynamic(nursery)

                async def start() -> None:
                    try:
                        await sup.start_child(trio_otp.ChildSpec("slow", slow))
                    except trio_otp.SupervisorNotRunning as error:
                        outcome.append(error)

                outer.start_soon(start)
                await trio.sleep(1)
                supervisor_scope.cancel()  # the supervisor shuts down mid-start
        await settle()
    assert stopped == ["slow"]
    assert [type(error) for error in outcome] == [trio_otp.SupervisorNotRunning]
    assert "shutting down while the child was starting" in str(outcome[0])
    assert supervised_task_names() == []
    with pytest.raises(trio_otp.SupervisorNotRunning):
        await sup.start_child(trio_otp.ChildSpec("late", worker, args=(1,)))


async def test_a_child_that_crashes_right_after_starting_is_restarted(autojump_clock: MockClock) -> None:
    runs: list[int] = []

    async def flaky(*, task_status: trio.TaskStatus[int]) -> None:
        runs.append(len(runs))
        task_status.started(len(runs))
        if len(runs) == 1:
            raise ValueError("crashed before the starter even resumed")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        child = await sup.start_child(trio_otp.ChildSpec("flaky", flaky))
        await settle()
        assert runs == [0, 1]
        assert child.running
        assert child.ref == 2
        [info] = await sup.which_children()
        assert info.restarts == 1
        nursery.cancel_scope.cancel()


async def test_a_failed_restart_right_after_starting_keeps_being_retried(autojump_clock: MockClock) -> None:
    attempts: list[str] = []

    async def fragile(*, task_status: trio.TaskStatus[None]) -> None:
        attempts.append("start")
        if len(attempts) == 1:
            task_status.started()
            raise ValueError("crash at once")
        if len(attempts) == 2:
            raise ValueError("the restart fails too")  # retried through the mailbox
        task_status.started()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_restarts=5)
        child = await sup.start_child(trio_otp.ChildSpec("fragile", fragile))
        await settle()
        assert attempts == ["start"] * 3
        assert child.running
        nursery.cancel_scope.cancel()


async def test_extra_arguments_come_before_each_childs_own_and_survive_restarts(
    autojump_clock: MockClock,
) -> None:
    starts: list[tuple[object, ...]] = []

    async def member(pool: str, n: int, *, task_status: trio.TaskStatus[tuple[str, int]]) -> None:
        starts.append((pool, n))
        task_status.started((pool, n))
        await trio.sleep(1)
        raise RuntimeError("crash once a second")

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, extra_arguments=("db",), max_restarts=100)
        first, second = await sup.start_children([trio_otp.ChildSpec("m", member, args=(n,)) for n in (1, 2)])
        third = await sup.start_child(trio_otp.ChildSpec("m", member, args=(3,)))
        assert [first.ref, second.ref, third.ref] == [("db", 1), ("db", 2), ("db", 3)]
        await trio.sleep(1.5)  # each crashed once and was restarted with the same arguments
        assert sorted(starts) == sorted([("db", 1), ("db", 2), ("db", 3)] * 2)
        assert {info.ref for info in await sup.which_children()} == {("db", 1), ("db", 2), ("db", 3)}
        nursery.cancel_scope.cancel()
