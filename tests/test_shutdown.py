"""Stopping children: budgets, brutal kill, infinity, outside cancellation, Ctrl-C, no leaks."""

from __future__ import annotations

import signal
import sys

import pytest
import trio
import trio.lowlevel
import trio.testing
from trio.testing import MockClock

import trio_otp
from trio_otp import BRUTAL_KILL, INFINITY, Supervisor

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

from .harness import Harness, all_task_names, launch, settle, start_supervisor


async def test_outside_cancellation_stops_children_in_reverse_order(
    autojump_clock: MockClock, harness: Harness
) -> None:
    with trio.move_on_after(1):
        await Supervisor([harness.spec(n) for n in "abcd"]).run()
    assert harness.take_trace("stop") == [("stop", "d"), ("stop", "c"), ("stop", "b"), ("stop", "a")]


async def test_outside_cancellation_never_restarts(autojump_clock: MockClock, harness: Harness) -> None:
    with trio.move_on_after(1):
        await Supervisor([harness.spec("a")], max_restarts=100).run()
    assert harness.generation["a"] == 1


async def test_each_child_gets_its_budget_even_when_cancelled(
    autojump_clock: MockClock, harness: Harness
) -> None:
    harness.cleanup_time.update(a=2.0, b=3.0)
    specs = [harness.spec("a", shutdown=5), harness.spec("b", shutdown=5)]
    start = trio.current_time()
    with trio.move_on_after(1):
        await Supervisor(specs).run()
    # One at a time, reverse order: b's 3 s cleanup, then a's 2 s.
    assert harness.cleanup_finished == ["b", "a"]
    assert trio.current_time() - start == pytest.approx(1 + 3 + 2)


async def test_cleanup_past_the_budget_is_cut_short(
    autojump_clock: MockClock, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.cleanup_time["a"] = 10.0
    start = trio.current_time()
    with trio.move_on_after(1):
        await Supervisor([harness.spec("a", shutdown=2)]).run()
    assert harness.cleanup_finished == []
    assert trio.current_time() - start == pytest.approx(1 + 2)
    assert [r.otp_report for r in caplog.records] == ["shutdown_error"]  # type: ignore[attr-defined]


async def test_brutal_kill_gives_cleanup_no_time(autojump_clock: MockClock, harness: Harness) -> None:
    harness.cleanup_time["a"] = 1.0
    start = trio.current_time()
    with trio.move_on_after(1):
        await Supervisor([harness.spec("a", shutdown=BRUTAL_KILL)]).run()
    assert harness.cleanup_finished == []
    assert trio.current_time() - start == pytest.approx(1)


async def test_infinity_waits_for_cleanup(autojump_clock: MockClock, harness: Harness) -> None:
    harness.cleanup_time["a"] = 3600.0
    with trio.move_on_after(1):
        await Supervisor([harness.spec("a", shutdown=INFINITY)]).run()
    assert harness.cleanup_finished == ["a"]


async def test_nested_supervisors_stop_depth_first(autojump_clock: MockClock, harness: Harness) -> None:
    inner = Supervisor([harness.spec("x"), harness.spec("y")])
    with trio.move_on_after(1):
        await Supervisor([harness.spec("a"), inner.child_spec("inner"), harness.spec("b")]).run()
    assert harness.take_trace("stop") == [("stop", "b"), ("stop", "y"), ("stop", "x"), ("stop", "a")]


async def test_a_stopped_child_sees_a_cancel_reason_naming_the_supervisor(autojump_clock: MockClock) -> None:
    seen: list[str] = []

    async def child(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        except trio.Cancelled as cancelled:
            seen.append(str(cancelled))
            raise

    with trio.move_on_after(1):
        await Supervisor([trio_otp.ChildSpec("c", child)], name="sup").run()
    [message] = seen
    assert "supervisor 'sup' is stopping child 'c'" in message


async def test_cleanup_scope_outside_a_supervisor_is_a_plain_shield(autojump_clock: MockClock) -> None:
    with trio.CancelScope() as outer:
        outer.cancel()
        with trio_otp.cleanup_scope() as scope:
            await trio.lowlevel.checkpoint()  # shielded: no Cancelled
        assert scope.shield


async def test_cleanup_scope_entered_before_the_stop_gets_the_deadline(autojump_clock: MockClock) -> None:
    finished: list[str] = []

    async def critical(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        with trio_otp.cleanup_scope():
            await trio.sleep(100)  # a long critical section: the stop cuts it at 2 s
            finished.append("critical")

    start = trio.current_time()
    with trio.move_on_after(1):
        await Supervisor([trio_otp.ChildSpec("c", critical, shutdown=2)]).run()
    assert finished == []
    assert trio.current_time() - start == pytest.approx(3)


async def test_nothing_of_the_tree_runs_after_run_returns(
    autojump_clock: MockClock, harness: Harness
) -> None:
    inner = Supervisor([harness.spec("x")], max_restarts=0)
    root = Supervisor([harness.spec("a"), inner.child_spec("inner"), harness.spec("b")], max_restarts=0)
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, root)
        assert "trio_otp child 'x'" in all_task_names()
        harness.crash("x")
        await outcome.done.wait()
        assert not [name for name in all_task_names() if name.startswith("trio_otp child")]
    assert harness.take_trace("stop") == [("stop", "b"), ("stop", "a")]


async def test_keyboard_interrupt_in_a_child_shuts_the_tree_down(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async def interrupted(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        raise KeyboardInterrupt

    specs = [harness.spec("a"), trio_otp.ChildSpec("k", interrupted), harness.spec("b")]
    with pytest.raises(KeyboardInterrupt):  # one, not a group: as any interrupted program
        await Supervisor(specs, max_restarts=100).run()
    assert harness.take_trace("start", "stop") == [
        ("start", "a"),
        ("start", "b"),
        ("stop", "b"),
        ("stop", "a"),
    ]


def test_ctrl_c_shuts_the_tree_down_in_order() -> None:
    """A real SIGINT, delivered by trio to the main task, stops the tree in order."""
    harness = Harness()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await start_supervisor(nursery, [harness.spec(n) for n in "abc"], max_restarts=100)
            signal.raise_signal(signal.SIGINT)
            await trio.sleep_forever()

    with pytest.raises(BaseException) as info:  # noqa: PT011 - trio decides the grouping
        trio.run(main)
    error = info.value
    if isinstance(error, BaseExceptionGroup):
        assert error.subgroup(KeyboardInterrupt) is not None
    else:
        assert isinstance(error, KeyboardInterrupt)
    assert harness.take_trace("stop") == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert harness.generation == dict.fromkeys("abc", 1)


async def test_terminate_child_uses_the_budget(autojump_clock: MockClock, harness: Harness) -> None:
    harness.cleanup_time["a"] = 1.5
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a", shutdown=5)])
        start = trio.current_time()
        await ref.terminate_child("a")
        assert trio.current_time() - start == pytest.approx(1.5)
        assert harness.cleanup_finished == ["a"]
        nursery.cancel_scope.cancel()


async def test_supervisor_is_busy_while_stopping_a_child(autojump_clock: MockClock, harness: Harness) -> None:
    """OTP's supervisor handles nothing else while it waits for a child to stop."""
    harness.cleanup_time["a"] = 4.0
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a"), harness.spec("b")])
        nursery.start_soon(ref.terminate_child, "a")
        await settle()
        start = trio.current_time()
        await ref.which_children()
        assert trio.current_time() - start == pytest.approx(4.0)
        nursery.cancel_scope.cancel()
