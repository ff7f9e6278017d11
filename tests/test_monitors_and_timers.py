"""Monitors (told once when a server ends, and why), timers, and the idle timeout."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import settle


class Boom(Exception):
    pass


@attrs.define
class Inbox(trio_otp.GenServer[str, list[Any]]):
    """Keeps every message; 'crash' and 'stop' do what they say."""

    messages: list[Any] = attrs.field(factory=list)

    async def handle_call(self, request: str, caller: trio_otp.Caller[list[Any]]) -> Any:
        if request == "crash":
            raise Boom("crash")
        if request == "stop":
            return trio_otp.Stop(reply=[])
        return self.messages

    async def handle_info(self, message: Any) -> None:
        self.messages.append(message)


async def test_monitor_tells_once_when_and_why(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Inbox)
        watcher_state = Inbox()
        watcher = await trio_otp.start_server(nursery, lambda: watcher_state)
        watch = trio_otp.monitor(target, notify=watcher)
        awaited: list[trio_otp.Down] = []

        async def wait_for_it() -> None:
            awaited.append(await watch.wait())

        nursery.start_soon(wait_for_it)
        await target.call("stop")
        await settle()
        [down] = awaited
        assert down.target is target
        assert down.reason is None  # a normal exit
        assert not down.already_ended
        assert await watcher.call("messages?") == [down]  # delivered as a message, once
        assert watch.demonitor() is False  # already fired
        await watcher.stop()


async def test_monitor_reports_the_crash(autojump_clock: MockClock) -> None:
    with pytest.RaisesGroup(Boom):
        async with trio.open_nursery() as nursery:
            target = await trio_otp.start_server(nursery, Inbox)
            watch = trio_otp.monitor(target)
            with pytest.raises(trio_otp.ServerExited):
                await target.call("crash")
    assert watch.down is not None
    assert isinstance(watch.down.reason, Boom)


async def test_monitor_on_an_ended_server_fires_at_once(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Inbox)
        await target.stop()
    watch = trio_otp.monitor(target)
    down = await watch.wait()
    assert down.already_ended


async def test_demonitor_before_the_end(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Inbox)
        watcher = await trio_otp.start_server(nursery, Inbox)
        watch = trio_otp.monitor(target, notify=watcher)
        assert watch.demonitor() is True
        await target.stop()
        assert watch.down is None
        assert await watcher.call("messages?") == []
        with pytest.raises(RuntimeError, match="removed before"):
            await watch.wait()
        await watcher.stop()


async def test_many_monitors_each_fire_exactly_once(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Inbox)
        watcher_state = Inbox()
        watcher = await trio_otp.start_server(nursery, lambda: watcher_state)
        watches = [trio_otp.monitor(target, notify=watcher) for _ in range(50)]
        for watch in watches[::3]:
            watch.demonitor()
        await target.stop()
        await settle()
        expected = [w for i, w in enumerate(watches) if i % 3]
        assert [down.monitor for down in watcher_state.messages] == expected
        await watcher.stop()


async def test_send_after_and_cancel(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        state = Inbox()
        inbox = await trio_otp.start_server(nursery, lambda: state, name="inbox")
        start = trio.current_time()
        trio_otp.send_after(2, inbox, "two")
        cancelled = trio_otp.send_after(1, inbox, "never")
        trio_otp.send_after(3, "inbox", "by name")
        assert cancelled.cancel() is True
        assert cancelled.cancel() is False
        await trio.sleep(2.5)
        assert state.messages == ["two"]
        await trio.sleep(1)
        assert state.messages == ["two", "by name"]
        assert trio.current_time() - start == pytest.approx(3.5)
        await inbox.stop()


async def test_timers_die_with_their_destination(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        inbox = await trio_otp.start_server(nursery, Inbox)
        timer = trio_otp.send_after(5, inbox, "late")
        await inbox.stop()
        assert timer.done
        assert timer.cancel() is False
        with pytest.raises(trio_otp.ServerNotRunning):
            trio_otp.send_after(1, inbox, "to the dead")
        await trio.sleep(10)  # nothing fires, nothing breaks


async def test_idle_timeout(autojump_clock: MockClock) -> None:
    @attrs.define
    class Sleepy(trio_otp.GenServer[str, str]):
        idle_timeout: float | None = 10.0
        idled_at: list[float] = attrs.field(factory=list)

        async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
            return request

        async def handle_info(self, message: Any) -> None:
            assert message == trio_otp.IdleTimeout(10.0)
            self.idled_at.append(trio.current_time())

    state = Sleepy()
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: state)
        start = trio.current_time()
        await trio.sleep(6)
        await ref.call("keeps it busy")  # resets the idle clock
        await trio.sleep(12)
        assert [t - start for t in state.idled_at] == [pytest.approx(16.0)]
        await ref.stop()


async def test_send_interval_repeats_without_drift_until_cancelled(autojump_clock: MockClock) -> None:
    arrivals: list[float] = []

    class Clocked(Inbox):
        async def handle_info(self, message: Any) -> None:
            arrivals.append(trio.current_time())
            await trio.sleep(0.3)  # slow handling does not push the next ticks later

    async with trio.open_nursery() as nursery:
        inbox = await trio_otp.start_server(nursery, Clocked)
        start = trio.current_time()
        ticker = trio_otp.send_interval(1, inbox, "tick")
        assert ticker.period == 1.0
        await trio.sleep(3.5)
        assert [round(at - start, 6) for at in arrivals] == [1.0, 2.0, 3.0]
        assert ticker.deadline == start + 4
        assert not ticker.done
        assert ticker.cancel() is True
        assert ticker.done
        assert ticker.cancel() is False
        await trio.sleep(5)
        assert len(arrivals) == 3
        await inbox.stop()


async def test_send_interval_to_a_server_ends_with_it(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        state = Inbox()
        inbox = await trio_otp.start_server(nursery, lambda: state)
        ticker = trio_otp.send_interval(1, inbox, "tick")
        await trio.sleep(2.5)
        await inbox.stop()
        assert ticker.done
        assert state.messages == ["tick", "tick"]
        with pytest.raises(trio_otp.ServerNotRunning):
            trio_otp.send_interval(1, inbox, "to the dead")
        await trio.sleep(5)  # nothing fires, nothing breaks


async def test_send_interval_by_name_looks_up_each_time_and_ends_with_its_caller(
    autojump_clock: MockClock,
) -> None:
    state = Inbox()
    made: list[trio_otp.Timer] = []

    async def scheduler(*, task_status: trio.TaskStatus[None]) -> None:
        made.append(trio_otp.send_interval(1, "late inbox", "tick"))
        task_status.started()
        await trio.sleep(9.5)  # the timer lives as long as this task

    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler)
        await trio.sleep(2.5)  # ticks at 1 and 2 found nobody: dropped, the timer goes on
        assert not made[0].done
        inbox = await trio_otp.start_server(nursery, lambda: state, name="late inbox")
        await trio.sleep(2)  # ticks at 3 and 4
        assert state.messages == ["tick", "tick"]
        await trio.sleep(6)  # the scheduler ends at 9.5: its timer goes with it
        assert made[0].done
        assert state.messages == ["tick"] * 7  # 3, 4, ..., 9; none at 10 or after
        await trio.sleep(5)
        assert state.messages == ["tick"] * 7
        await inbox.stop()


# -- monitors of tasks and supervisors --


async def test_monitor_a_task_tells_how_it_ended(autojump_clock: MockClock) -> None:
    async def returns() -> int:
        await trio.sleep(1)
        return 1

    async def crashes() -> None:
        await trio.sleep(1)
        raise Boom("task")

    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        watcher_state = Inbox()
        watcher = await trio_otp.start_server(nursery, lambda: watcher_state)
        normal = trio_otp.monitor(await tasks.spawn(returns), notify=watcher)
        crashed = trio_otp.monitor(await tasks.spawn(crashes))
        stopped_handle = await tasks.spawn(trio.sleep_forever)
        stopped = trio_otp.monitor(stopped_handle)
        removed = trio_otp.monitor(await tasks.spawn(crashes))
        assert removed.demonitor() is True
        await stopped_handle.shutdown()
        assert (await normal.wait()).reason is None
        assert isinstance((await crashed.wait()).reason, Boom)
        assert isinstance((await stopped.wait()).reason, trio_otp.Shutdown)
        assert removed.down is None
        assert await watcher.call("messages?") == [normal.down]  # told as a message too
        late = trio_otp.monitor(stopped_handle)  # it has ended: at once, as OTP's noproc
        assert late.down is not None
        assert late.down.already_ended
        assert isinstance(late.down.reason, trio_otp.Shutdown)
        nursery.cancel_scope.cancel()


async def test_monitor_a_transient_task_fires_when_it_ends_for_good(autojump_clock: MockClock) -> None:
    runs = 0

    async def flaky() -> str:
        nonlocal runs
        runs += 1
        await trio.sleep(1)
        if runs < 3:
            raise Boom(runs)
        return "done"

    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        watch = trio_otp.monitor(await tasks.start_child(flaky, restart=trio_otp.Restart.TRANSIENT))
        down = await watch.wait()
        assert runs == 3
        assert down.reason is None
        assert trio.current_time() == 3.0
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("kind", ["supervisor", "dynamic", "tasks"])
async def test_monitor_a_supervisor_of_any_kind(autojump_clock: MockClock, kind: str) -> None:
    definition: Any = {
        "supervisor": trio_otp.Supervisor([], name="watched"),
        "dynamic": trio_otp.DynamicSupervisor(name="watched"),
        "tasks": trio_otp.TaskSupervisor(name="watched"),
    }[kind]
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(definition.run)
        by_ref = trio_otp.monitor(sup)
        by_name = trio_otp.monitor("watched")
        assert by_name.target is sup
        await sup.stop()
        assert (await by_ref.wait()).reason is None  # stop() without a reason: normal
        assert by_name.down is not None
        assert by_name.down.reason is None
        again = trio_otp.monitor(sup)
        assert again.down is not None
        assert again.down.already_ended


async def test_monitor_a_supervisor_that_escalates_or_is_cancelled(autojump_clock: MockClock) -> None:
    async def crash(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        raise Boom("child")

    escalating = trio_otp.Supervisor([trio_otp.ChildSpec("c", crash)], max_restarts=1)
    with pytest.RaisesGroup(trio_otp.RestartIntensityExceeded):
        async with trio.open_nursery() as nursery:
            watch = trio_otp.monitor(await nursery.start(escalating.run))
    assert isinstance(watch.down, trio_otp.Down)
    assert isinstance(watch.down.reason, trio_otp.RestartIntensityExceeded)

    async with trio.open_nursery() as nursery:
        inner = trio.CancelScope()

        async def run_cancellable(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
            with inner:
                await trio_otp.Supervisor([]).run(task_status=task_status)

        cancelled = trio_otp.monitor(await nursery.start(run_cancellable))
        inner.cancel()
        down = await cancelled.wait()
        assert isinstance(down.reason, trio_otp.Shutdown)
