"""What a process leaves for Python's cyclic garbage collector: nothing, when a
supervised server crashes and is restarted (a crash's traceback, its frames and the
process that keeps the error as its exit reason make no reference cycle), nor when it is
stopped (cancelled) by its supervisor or its nursery. With 100,000 processes the
collector's walks are most of the time a crash storm, or a shutdown, costs."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

import trio_otp


class Crashing(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError("crash")
        return request

    async def handle_cast(self, request: Any) -> None:
        raise RuntimeError("crash")


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector paused (it would clear cycles behind the test's back), and the
    crash reports off (a handler's formatting is not the library's garbage)."""
    logging.disable(logging.CRITICAL)
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        logging.disable(logging.NOTSET)


def crashing_ref() -> trio_otp.ServerRef[Any, Any] | None:
    ref = trio_otp.whereis("crashing")
    assert ref is None or isinstance(ref, trio_otp.ServerRef)
    return ref


async def crash_and_wait(*, via_call: bool) -> None:
    old = crashing_ref()
    assert old is not None
    if via_call:
        with pytest.raises(trio_otp.ServerExited):
            await old.call("crash")
    else:
        old.cast("crash")
    while True:
        ref = crashing_ref()
        if ref is not None and ref is not old:
            assert await ref.call(1) == 1
            return
        await trio.lowlevel.checkpoint()


@pytest.mark.parametrize("via_call", [False, True], ids=["by_cast", "by_call"])
async def test_a_crash_and_its_restart_leave_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None, via_call: bool
) -> None:
    spec = trio_otp.server_spec("crashing", Crashing, name="crashing")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=100, max_seconds=1).run)
        await crash_and_wait(via_call=via_call)  # the first of everything (caches) before counting
        gc.collect()
        for _ in range(10):
            await crash_and_wait(via_call=via_call)
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"10 crashes left {unreachable} objects in reference cycles"


async def crash_in_a_second(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep(1)
    raise RuntimeError("crash")


@pytest.mark.parametrize("by", ["supervisor's loop", "exiting task"])
async def test_a_plain_function_childs_crash_and_restart_leave_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None, by: str
) -> None:
    """The crash's traceback holds the function's frame, whose task_status is the
    child's task: the task must not hold the error too (its supervisor's record does).
    A restart is decided by the exiting task itself when the loop is idle, by the loop
    otherwise (here: a second child keeps it busy with its own exits)."""
    specs = [trio_otp.ChildSpec("crashing", crash_in_a_second)]
    if by == "supervisor's loop":
        specs.append(trio_otp.ChildSpec("also crashing", crash_in_a_second))
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor(specs, max_restarts=1000, max_seconds=1).run)
        await trio.sleep(1.5)  # the first crash and restart (caches) before counting
        gc.collect()
        await trio.sleep(10)
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"10 crashes left {unreachable} objects in reference cycles"


async def test_a_temporary_plain_function_child_that_crashed_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None
) -> None:
    """Its supervisor forgets it, record and all: nothing overwrites the error later, so
    the ended task itself must not lead back to it (through its record or supervisor)."""
    spec = trio_otp.ChildSpec("crashing", crash_in_a_second, restart=trio_otp.Restart.TEMPORARY)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        await supervisor.start_child(spec)
        await trio.sleep(2)  # the first of everything (caches) before counting
        gc.collect()
        for _ in range(10):
            await supervisor.start_child(spec)
        await trio.sleep(2)
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"10 forgotten crashes left {unreachable} objects in reference cycles"


async def crash_the_first_time(
    crashed: list[bool], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    task_status.started()
    if not crashed:
        crashed.append(True)
        await trio.sleep(1)
        raise RuntimeError("crash")
    await trio.sleep_forever()


@pytest.mark.parametrize("ending", ["stopped with a reason", "escalated", "stopped after a child crashed"])
async def test_a_supervisor_that_ends_with_an_error_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None, ending: str
) -> None:
    """The error it ends with is raised from its run, so that frame must not name the
    state that records it; and a nested supervisor's children that crashed must not lead
    back through the child it runs as."""

    async def one_supervisor(parent: trio_otp.DynamicSupervisorRef) -> None:
        if ending == "escalated":
            child = trio_otp.ChildSpec("crashing", crash_in_a_second)
            nested = trio_otp.Supervisor([child], max_restarts=0, max_seconds=5)
        else:
            nested = trio_otp.Supervisor([trio_otp.ChildSpec("crashing", crash_the_first_time, args=([],))])
        started = await parent.start_child(nested.child_spec("nested", restart=trio_otp.Restart.TEMPORARY))
        await trio.sleep(3)  # a crash, and its restart or the escalation
        if ending == "stopped with a reason":
            assert started.ref is not None
            await started.ref.stop(RuntimeError("why"))
        elif ending == "stopped after a child crashed":
            await parent.terminate_child(started)

    async with trio.open_nursery() as nursery:
        parent = await nursery.start(trio_otp.DynamicSupervisor().run)
        await one_supervisor(parent)  # the caches' first use
        gc.collect()
        for _ in range(5):
            await one_supervisor(parent)
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"5 supervisors' ends left {unreachable} objects in reference cycles"


class Idle(trio_otp.GenServer[Any, Any]):
    pass


class IdleMachine(trio_otp.StateMachine[str, None, Any, Any]):
    async def init(self) -> trio_otp.NextState[str, None]:
        return trio_otp.NextState("idle", None)


SPECS = {
    "server": lambda: trio_otp.server_spec("idle", Idle),
    "state_machine": lambda: trio_otp.state_machine_spec("idle", IdleMachine),
}


@pytest.mark.parametrize("kind", list(SPECS))
async def test_a_process_its_supervisor_stops_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None, kind: str
) -> None:
    """A stop is a cancellation, raised through the behaviour's loop: its traceback
    holds the loop's frame, which must not hold the Cancelled in turn (it did: 37
    objects per server, the whole server, left for the collector at each stop)."""
    spec = SPECS[kind]()
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        await supervisor.terminate_child(await supervisor.start_child(spec))  # caches, first
        children = await supervisor.start_children([spec] * 10)
        gc.collect()
        for child in children:
            await supervisor.terminate_child(child)
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"10 stops left {unreachable} objects in reference cycles"


async def cycles_left_by_cancelling(start: Callable[[trio.Nursery], Awaitable[object]], times: int) -> int:
    """Start something with ``start`` in a nursery and cancel the nursery: once for the
    caches' first use, then ``times`` together; how many objects that last teardown
    left in reference cycles."""
    async with trio.open_nursery() as nursery:
        await start(nursery)
        nursery.cancel_scope.cancel()
    gc.collect()
    async with trio.open_nursery() as nursery:
        for _ in range(times):
            await start(nursery)
        nursery.cancel_scope.cancel()
    return gc.collect()


@pytest.mark.parametrize("kind", ["server", "state_machine"])
async def test_a_process_whose_nursery_is_cancelled_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None, kind: str
) -> None:
    async def start(nursery: trio.Nursery) -> object:
        if kind == "server":
            return await trio_otp.start_server(nursery, Idle)
        return await trio_otp.start_state_machine(nursery, IdleMachine)

    unreachable = await cycles_left_by_cancelling(start, 10)
    assert unreachable == 0, f"10 cancelled servers left {unreachable} objects in reference cycles"


async def test_a_supervision_tree_torn_down_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None
) -> None:
    """Each supervisor's end: the exception it ends with holds its frame in its
    traceback, its ref holds its state (a record of every child), and the child it runs
    as holds its ref; none of them may point back."""

    def tree() -> trio_otp.Supervisor:
        workers = trio_otp.Supervisor(
            [trio_otp.server_spec("server", Idle), trio_otp.agent_spec("agent", lambda: 0)]
        )
        return trio_otp.Supervisor(
            [
                workers.child_spec("workers"),
                trio_otp.DynamicSupervisor().child_spec("dynamic"),
                trio_otp.TaskSupervisor().child_spec("tasks"),
            ]
        )

    async def start(nursery: trio.Nursery) -> object:
        return await nursery.start(tree().run)

    unreachable = await cycles_left_by_cancelling(start, 3)
    assert unreachable == 0, f"3 trees torn down left {unreachable} objects in reference cycles"


async def test_a_monitor_that_fired_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None
) -> None:
    """A Down names its monitor, so the monitor keeps only what the Down is made of: had
    it kept the Down, the two (and the ended server they name) would be a cycle."""
    notified: list[object] = []

    class Watcher(trio_otp.GenServer[Any, Any]):
        async def handle_info(self, message: object) -> None:
            notified.append(message)

    async def watch_one_end(
        supervisor: trio_otp.DynamicSupervisorRef, watcher: trio_otp.ServerRef[Any, Any]
    ) -> None:
        spec = trio_otp.server_spec("idle", Idle, restart=trio_otp.Restart.TEMPORARY)
        ref = (await supervisor.start_child(spec)).ref
        assert ref is not None
        watch = trio_otp.monitor(ref, notify=watcher)
        trio_otp.exit(ref, RuntimeError("gone"))
        down = await watch.wait()
        assert down == watch.down
        assert down.monitor is watch
        assert str(down.reason) == "gone"
        await wait_all_tasks_blocked()  # the watcher has handled its notice

    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        watcher = await trio_otp.start_server(nursery, Watcher)
        await watch_one_end(supervisor, watcher)  # the caches' first use
        gc.collect()
        for _ in range(10):
            await watch_one_end(supervisor, watcher)
        assert len(notified) == 11
        notified.clear()
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"10 monitored ends left {unreachable} objects in reference cycles"


async def test_a_task_spawned_and_awaited_leaves_no_reference_cycles(
    autojump_clock: MockClock, collector_off: None
) -> None:
    """A task's spec holds its handle (its arguments) and the handle held the child, so
    every task of a TaskSupervisor was a cycle of 9 objects until a collection."""

    async def answer(value: int) -> int:
        return value

    async def wait_a_little() -> int:
        await trio.sleep(1)
        return 2

    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        assert await (await tasks.spawn(answer, 1)).result() == 1  # the caches' first use
        gc.collect()
        for value in range(10):
            assert await (await tasks.spawn(answer, value)).result() == value  # ended before spawn returned
            assert await (await tasks.spawn(wait_a_little)).result() == 2  # ended after
        unreachable = gc.collect()
        nursery.cancel_scope.cancel()
    assert unreachable == 0, f"20 tasks left {unreachable} objects in reference cycles"


async def test_a_crash_report_keeps_the_locals_of_the_users_frames(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Only trio_otp's own loop frame is cleared (that is what breaks the cycle above):
    the callback's frames keep their locals for post-mortem tools (pdb.post_mortem,
    traceback's capture_locals, error trackers)."""
    spec = trio_otp.server_spec("crashing", Crashing, name="crashing")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=100, max_seconds=1).run)
        await crash_and_wait(via_call=False)
        nursery.cancel_scope.cancel()
    [error] = [r.exc_info[1] for r in caplog.records if r.exc_info and r.exc_info[1]]
    frames = {}
    traceback = error.__traceback__
    while traceback is not None:
        frames[traceback.tb_frame.f_code.co_name] = traceback.tb_frame.f_locals
        traceback = traceback.tb_next
    assert frames["handle_cast"]["request"] == "crash"
    assert isinstance(frames["handle_cast"]["self"], Crashing)
    assert frames["serve"] == {}


async def test_queued_casts_of_plain_values_are_nothing_for_the_collector_to_walk(
    autojump_clock: MockClock,
) -> None:
    """A cast waits in the mailbox as a plain tuple, which the collector stops tracking
    when the request holds no containers: 10,000 casts queued behind a busy server add
    no object to the collector's walks (an object of a class of ours would add one each)."""
    release = trio.Event()

    class Busy(trio_otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            await release.wait()
            return request

        async def handle_cast(self, request: Any) -> None:
            pass

    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Busy)
        nursery.start_soon(partial(ref.call, "hold", timeout=None))
        await wait_all_tasks_blocked()
        gc.collect()
        before = len(gc.get_objects())
        for index in range(10_000):
            ref.cast(("item", index))
        gc.collect()
        assert len(gc.get_objects()) - before < 1_000  # a few hundred are the interpreter's
        release.set()
        nursery.cancel_scope.cancel()
