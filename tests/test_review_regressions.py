"""Regressions for bugs a code review found: each failed before its fix."""

from __future__ import annotations

import contextvars
import math
from typing import Any

import pytest
import trio
import trio.testing
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import settle


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request

    async def handle_cast(self, request: Any) -> None:
        raise ValueError("crashed first")


async def test_bad_delays_and_timeouts_fail_at_the_caller_not_in_a_system_task(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        with pytest.raises(ValueError, match="delay must be a number"):
            trio_otp.send_after(math.nan, ref, "x")
        with pytest.raises(TypeError, match=r"destination \(a ServerRef or a name\) must be hashable"):
            trio_otp.send_after(1, ["not", "a", "name"], "x")
        with pytest.raises(ValueError, match="timeout must be a number"):
            await ref.call("x", timeout=math.nan)
        trio_otp.send_after(1, ref, "fine")
        await trio.sleep(2)  # the run is alive and well
        assert await ref.call("still") == "still"
        await ref.stop()


async def test_a_raising_registry_listener_does_not_stop_clean_up(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def listener(event: trio_otp.RegistryEvent) -> None:
        if event.kind == "unregister" and event.key == "bad":
            raise RuntimeError("listener bug")

    registry: trio_otp.Registry[int] = trio_otp.Registry(listeners=(listener,))

    async def owner(key: str) -> None:
        registry.register(key, 1)
        await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner, "bad")
        nursery.start_soon(owner, "good")
    assert registry.count() == 0
    assert "listener bug" in caplog.text


async def test_cleanup_scope_of_a_server_started_elsewhere_ignores_the_starters_budget(
    autojump_clock: MockClock,
) -> None:
    finished: list[str] = []

    class Flusher(trio_otp.GenServer[Any, Any]):
        async def terminate(self, reason: BaseException | None) -> None:
            await trio.sleep(1)
            finished.append("flushed")

    async with trio.open_nursery() as app:
        box: list[trio_otp.ServerRef[Any, Any]] = []

        async def worker(*, task_status: trio.TaskStatus[None]) -> None:
            box.append(await trio_otp.start_server(app, Flusher))  # started in another nursery
            task_status.started()
            await trio.sleep_forever()

        spec = trio_otp.ChildSpec("w", worker, shutdown=trio_otp.BRUTAL_KILL)
        sup = await app.start(trio_otp.Supervisor([spec]).run)
        await sup.terminate_child("w")
        await box[0].stop()
        assert finished == ["flushed"]
        app.cancel_scope.cancel()


async def test_cancelled_dynamic_start_leaves_nothing_behind(autojump_clock: MockClock) -> None:
    async def slow(*, task_status: trio.TaskStatus[None]) -> None:
        await trio.sleep(1)
        task_status.started()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(trio_otp.DynamicSupervisor().run)
        with trio.move_on_after(0.5):
            await sup.start_child(trio_otp.ChildSpec("s", slow))
        await settle()
        assert await sup.which_children() == []
        nursery.cancel_scope.cancel()


async def test_monitor_during_terminate_waits_for_the_real_reason(autojump_clock: MockClock) -> None:
    class SlowEnd(Echo):
        async def terminate(self, reason: BaseException | None) -> None:
            await trio.sleep(1)

    with pytest.RaisesGroup(ValueError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, SlowEnd)
            ref.cast("crash")
            await trio.sleep(0.5)  # inside terminate
            late = trio_otp.monitor(ref)
            assert late.down is None
            down = await late.wait()
            assert isinstance(down.reason, ValueError)


async def test_stop_checks_its_reason_and_reports_a_different_exit(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        with pytest.raises(TypeError, match=r"reason must be None \(a normal exit\) or an exception"):
            await ref.stop("bye")  # type: ignore[arg-type]
        assert ref.alive
        await ref.stop()
    with pytest.RaisesGroup(ValueError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Echo)
            ref.cast("crash")  # queued before the stop, so the server ends with this crash
            with pytest.raises(trio_otp.ServerExited, match="crashed"):
                await ref.stop()


async def test_a_dead_watchers_monitors_are_dropped(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Echo)
        for _ in range(20):
            watcher = await trio_otp.start_server(nursery, Echo)
            trio_otp.monitor(target, notify=watcher)
            await watcher.stop()
        assert not target._process.monitors
        await target.stop()


async def test_keyboard_interrupt_before_started_is_not_an_assertion_error(autojump_clock: MockClock) -> None:
    async def interrupted(*, task_status: trio.TaskStatus[None]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await trio_otp.Supervisor([trio_otp.ChildSpec("k", interrupted)]).run()


_origin: contextvars.ContextVar[str] = contextvars.ContextVar("origin", default="<supervisor>")


async def test_children_never_inherit_the_starting_tasks_context(autojump_clock: MockClock) -> None:
    seen: list[str] = []

    async def child(*, task_status: trio.TaskStatus[None]) -> None:
        seen.append(_origin.get())
        _origin.set("set by the child")
        task_status.started()
        await trio.sleep(1)
        raise ValueError("crash")  # restarted from its own (exiting) task when idle

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(trio_otp.DynamicSupervisor(max_restarts=10).run)
        _origin.set("set by the caller")
        await sup.start_child(trio_otp.ChildSpec("c", child))
        await trio.sleep(2.5)
        nursery.cancel_scope.cancel()
    assert seen == ["<supervisor>"] * 3


async def test_a_refused_dynamic_start_is_still_a_checkpoint(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(trio_otp.DynamicSupervisor(max_children=0).run)
        with trio.testing.assert_checkpoints(), pytest.raises(trio_otp.MaxChildrenReached):
            await sup.start_child(trio_otp.ChildSpec("c", _parked))
        nursery.cancel_scope.cancel()


async def _parked(*, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await trio.sleep_forever()
