"""trio_otp.testing: the kit users test their own trees with."""

from __future__ import annotations

import sys

import pytest
import trio
from hypothesis import given, settings
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import (
    Crash,
    ScheduledExit,
    ScriptedWorkers,
    capture_events,
    crash_schedules,
    exit_child,
    play_schedule,
    settle,
)

from .harness import launch, states


async def test_exit_child_crashes_any_child_and_the_supervisor_reacts(autojump_clock: MockClock) -> None:
    async def plain(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep_forever()

    sup = trio_otp.Supervisor([trio_otp.ChildSpec("p", plain)], max_restarts=1)
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, sup)
        await exit_child(ref, "p", Crash("injected"))  # restarted: 1 of 1
        assert states(await ref.which_children()) == {"p": "running"}
        await exit_child(ref, "p", Crash("again"))  # beyond the intensity
        await outcome.done.wait()
    assert isinstance(outcome.error, trio_otp.RestartIntensityExceeded)
    assert isinstance(outcome.error.__cause__, Crash)


async def test_exit_child_normal_and_shutdown_follow_the_restart_type(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    specs = [workers.spec("t", restart=trio_otp.Restart.TRANSIENT), workers.spec("p")]
    async with trio.open_nursery() as nursery:
        ref, _ = await launch(nursery, trio_otp.Supervisor(specs, max_restarts=5))
        await exit_child(ref, "t", trio_otp.Shutdown())
        await exit_child(ref, "p", None)
        assert states(await ref.which_children()) == {"t": "stopped", "p": "running"}
        with pytest.raises(trio_otp.ChildNotFound, match="not running"):
            await exit_child(ref, "t")
        nursery.cancel_scope.cancel()


async def test_scripted_workers(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        await launch(nursery, trio_otp.Supervisor([workers.spec("a"), workers.spec("b")], max_restarts=5))
        workers.fail_next_starts("a", 1)
        workers.crash("a")
        await settle()
        assert workers.trace == [("start", "a"), ("start", "b"), ("start", "a"), ("start", "a")]
        assert workers.running("a")
        workers.crash("nobody")  # ignored
        nursery.cancel_scope.cancel()
    assert workers.trace[-2:] == [("stop", "b"), ("stop", "a")]


@settings(max_examples=50, deadline=None)
@given(schedule=crash_schedules([("inner", "x"), ("y",)], time_steps=[0.0, 1.0, 10.0]))
def test_play_schedule_against_a_nested_tree(schedule: list[ScheduledExit]) -> None:
    workers = ScriptedWorkers()
    inner = trio_otp.Supervisor([workers.spec("x")], max_restarts=2, max_seconds=10)
    root = trio_otp.Supervisor([inner.child_spec("inner"), workers.spec("y")], max_restarts=2, max_seconds=10)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            ref, outcome = await launch(nursery, root)
            await play_schedule(ref, schedule)
            if not outcome.done.is_set():
                nursery.cancel_scope.cancel()
        # Whatever happened, nothing is left running and every exit was accounted for.
        assert not workers.running("x")
        assert not workers.running("y")
        assert outcome.error is None or isinstance(outcome.error, trio_otp.RestartIntensityExceeded)

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_crash_schedules_without_hypothesis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if hypothesis were not installed: a None entry makes its import fail.
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.setitem(sys.modules, "hypothesis.strategies", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install trio_otp\[testing\]") as caught:
        crash_schedules([("a",)])
    assert caught.value.name == "hypothesis"


async def test_capture_events_records_the_run_s_events_inside_the_block(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    with capture_events() as log:
        async with trio.open_nursery() as nursery:
            root = await nursery.start(trio_otp.Supervisor([workers.spec("a")]).run)
            await exit_child(root, "a", Crash("a"))
            nursery.cancel_scope.cancel()
    assert log.names()[:1] == ["child_started"]
    assert [event.metadata["child_id"] for event in log.named("child_restarted")] == ["a"]
    recorded = len(log.events)
    async with trio.open_nursery() as nursery:  # after the block: nothing more is recorded
        await nursery.start(trio_otp.Supervisor([workers.spec("b")]).run)
        nursery.cancel_scope.cancel()
    assert len(log.events) == recorded
    log.clear()
    assert log.events == []
