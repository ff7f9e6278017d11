"""Exits sent from outside (``trio_otp.exit``, OTP's ``exit/2``) and the real kill: the
restart table applied to the reason, no cleanup for a kill, every kind of child."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import KILL, ChildSpec, Restart, Shutdown, Supervisor
from trio_otp.testing import exit_child, settle


class Recorder(trio_otp.GenServer[Any, Any]):
    """A server that notes its inits and the reasons its terminate got."""

    def __init__(self, notes: list[object]) -> None:
        self.notes = notes

    async def init(self) -> None:
        self.notes.append("init")

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request

    async def terminate(self, reason: BaseException | None) -> None:
        await trio.sleep(0.5)  # inside the cleanup scope: needs its budget
        self.notes.append(("terminate", reason))


def recorder_spec(notes: list[object], **options: Any) -> ChildSpec:
    return trio_otp.server_spec("rec", lambda: Recorder(notes), name="rec", **options)


async def cleans_up_for_a_second(notes: list[object], *, task_status: trio.TaskStatus[None]) -> None:
    notes.append("start")
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(1)
            notes.append("cleaned up")


@pytest.mark.parametrize(
    ("restart", "reason", "restarted"),
    [
        (Restart.PERMANENT, None, True),
        (Restart.PERMANENT, Shutdown("bye"), True),
        (Restart.TRANSIENT, None, False),
        (Restart.TRANSIENT, Shutdown("bye"), False),
        (Restart.TRANSIENT, RuntimeError("bad"), True),
        (Restart.TRANSIENT, KILL, True),
        (Restart.TEMPORARY, RuntimeError("bad"), False),
    ],
)
async def test_an_exit_goes_through_the_restart_table(
    autojump_clock: MockClock, restart: Restart, reason: Any, restarted: bool
) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([recorder_spec(notes, restart=restart)]).run)
        trio_otp.exit("rec", reason)
        await trio.sleep(1)  # its terminate takes 0.5 s (none for KILL)
        assert (trio_otp.whereis("rec") is not None) == restarted
        assert notes.count("init") == (2 if restarted else 1)
        kept = [] if restart is Restart.TEMPORARY else [0]
        assert [info.restarts for info in await root.which_children()] == ([1] if restarted else kept)
        nursery.cancel_scope.cancel()


async def test_a_gen_server_terminates_with_the_exit_reason_and_its_monitors_see_it(
    autojump_clock: MockClock,
) -> None:
    notes: list[object] = []
    reason = RuntimeError("from outside")
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([recorder_spec(notes)]).run)
        first = trio_otp.whereis("rec", trio_otp.ServerRef)
        assert first is not None
        monitor = trio_otp.monitor(first)
        trio_otp.exit(first, reason)
        down = await monitor.wait()
        assert down.reason is reason
        assert ("terminate", reason) in notes
        nursery.cancel_scope.cancel()


async def test_kill_restarts_at_once_without_the_cleanup(autojump_clock: MockClock) -> None:
    """The issue's case: a kill of a child with a 1 s cleanup restarts it at once."""
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([ChildSpec("c", cleans_up_for_a_second, args=(notes,))]).run)
        before = trio.current_time()
        [info] = await root.which_children()
        trio_otp.exit(info, KILL)  # a plain function child: reached through its listing
        await settle()
        assert trio.current_time() == before
        assert notes == ["start", "start"]
        [again] = await root.which_children()
        assert again.restarts == 1
        nursery.cancel_scope.cancel()


async def test_kill_skips_a_gen_servers_terminate_and_reads_killed(autojump_clock: MockClock) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([recorder_spec(notes)]).run)
        first = trio_otp.whereis("rec", trio_otp.ServerRef)
        assert first is not None
        monitor = trio_otp.monitor(first)
        before = trio.current_time()
        trio_otp.exit("rec", KILL)
        down = await monitor.wait()
        assert isinstance(down.reason, trio_otp.Killed)
        assert trio.current_time() == before
        await settle()
        assert notes == ["init", "init"]  # no terminate, and restarted
        nursery.cancel_scope.cancel()


async def test_a_graceful_exit_gets_the_childs_budget(autojump_clock: MockClock) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        child = await pool.start_child(
            ChildSpec("c", cleans_up_for_a_second, args=(notes,), restart=Restart.TRANSIENT)
        )
        trio_otp.exit(child, Shutdown("enough"))
        await trio.sleep(0.5)
        assert child.running  # still in its cleanup: the supervisor has not heard yet
        await trio.sleep(1)
        assert notes == ["start", "cleaned up"]
        assert not child.running
        assert await pool.which_children() == []
        nursery.cancel_scope.cancel()


async def test_exits_count_toward_the_restart_intensity(autojump_clock: MockClock) -> None:
    notes: list[object] = []

    async def exit_twice() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(Supervisor([recorder_spec(notes)], max_restarts=1).run)
            for _ in range(2):
                trio_otp.exit("rec", KILL)
                await settle()

    with pytest.RaisesGroup(trio_otp.RestartIntensityExceeded):
        await exit_twice()
    assert notes.count("init") == 2


async def test_an_exit_reaches_a_child_supervisor_and_its_whole_subtree(autojump_clock: MockClock) -> None:
    notes: list[object] = []
    inner = Supervisor([ChildSpec("c", cleans_up_for_a_second, args=(notes,))], name="inner")
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([inner.child_spec("inner")]).run)
        trio_otp.exit("inner", RuntimeError("subtree down"))
        await trio.sleep(1.5)
        assert notes == ["start", "cleaned up", "start"]
        assert trio_otp.whereis("inner") is not None
        nursery.cancel_scope.cancel()


async def test_an_exit_reaches_a_task_and_an_agent(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(trio.sleep_forever)
        trio_otp.exit(handle, RuntimeError("stop that"))
        with pytest.raises(trio_otp.TaskFailed):
            await handle.result()
        root = await nursery.start(Supervisor([trio_otp.agent_spec("agent", lambda: 1, name="agent")]).run)
        agent = trio_otp.agent("agent")
        await agent.update(lambda n: n + 1)
        trio_otp.exit(agent, KILL)
        await settle()
        assert await trio_otp.agent("agent").get() == 1  # restarted from its initial state
        assert [info.restarts for info in await root.which_children()] == [1]
        nursery.cancel_scope.cancel()


async def test_an_exit_during_the_start_fails_the_start_with_the_reason(autojump_clock: MockClock) -> None:
    async def slow_start(*, task_status: trio.TaskStatus[None]) -> None:
        await trio.sleep(10)
        task_status.started()

    reason = RuntimeError("not now")
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)

        async def exit_the_starting_child() -> None:
            await settle()
            [child] = list(pool._state.children)  # not listed by which_children until it is ready
            assert child.task is not None
            from trio_otp._child import ExitSignal  # noqa: PLC0415 - no public handle yet

            child.task.exit(ExitSignal(reason))

        nursery.start_soon(exit_the_starting_child)
        with pytest.raises(trio_otp.ChildStartError) as failed:
            await pool.start_child(ChildSpec("s", slow_start))
        assert failed.value.__cause__ is reason
        nursery.cancel_scope.cancel()


async def test_an_exit_sent_while_the_supervisor_stops_the_child_changes_nothing_but_a_kill_cuts_it_short(
    autojump_clock: MockClock,
) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        child = await pool.start_child(ChildSpec("c", cleans_up_for_a_second, args=(notes,)))
        [listed] = await pool.which_children()  # names this run even while it stops
        nursery.start_soon(pool.terminate_child, child)
        await trio.sleep(0.25)
        assert not child.running  # as its supervisor sees it: being stopped
        trio_otp.exit(listed, RuntimeError("ignored"))
        await trio.sleep(0.25)
        assert listed._task is not None
        assert not listed._task.finished
        trio_otp.exit(listed, KILL)
        await settle()
        assert listed._task.finished
        assert notes == ["start"]  # no "cleaned up": the kill cancelled it
        assert await pool.which_children() == []  # terminated, not restarted
        nursery.cancel_scope.cancel()


async def test_exit_child_reaches_a_dynamic_child_by_its_handle(autojump_clock: MockClock) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        child = await pool.start_child(ChildSpec("c", cleans_up_for_a_second, args=(notes,)))
        await exit_child(pool, child, RuntimeError("injected"))
        assert child.running  # restarted, and the handle names the new run
        assert notes == ["start", "cleaned up", "start"]
        other = await pool.start_child(ChildSpec("d", cleans_up_for_a_second, args=(notes,)))
        await pool.terminate_child(other)
        with pytest.raises(trio_otp.ChildNotFound):
            await exit_child(pool, other)
        nursery.cancel_scope.cancel()


async def test_exit_of_a_root_supervisor_or_an_ended_child_is_refused(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([], name="root").run)
        with pytest.raises(trio_otp.ChildNotFound, match="not a running supervised child"):
            trio_otp.exit(root, KILL)
        with pytest.raises(trio_otp.ChildNotFound, match="not a running supervised child"):
            trio_otp.exit("root", None)
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(trio.sleep, 0)
        await handle.result()
        with pytest.raises(trio_otp.ChildNotFound):
            trio_otp.exit(handle, KILL)
        nursery.cancel_scope.cancel()
