"""Significant children and auto_shutdown."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from trio_otp import AutoShutdown, Restart, RestartStrategy, Supervisor

from .harness import Harness, launch, settle, states

ANY = AutoShutdown.ANY_SIGNIFICANT
ALL = AutoShutdown.ALL_SIGNIFICANT


def significant(harness: Harness, id: str, restart: Restart = Restart.TRANSIENT):  # noqa: A002
    return harness.spec(id, restart=restart, significant=True)


async def test_any_significant_stops_the_supervisor_in_reverse_and_returns(
    autojump_clock: MockClock, harness: Harness
) -> None:
    specs = [harness.spec("a"), significant(harness, "s"), harness.spec("b")]
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor(specs, auto_shutdown=ANY))
        harness.take_trace()
        harness.exit_normally("s")
        await outcome.done.wait()
    assert outcome.error is None  # a normal return, not an escalation
    assert harness.take_trace("stop") == [("stop", "b"), ("stop", "a")]


async def test_all_significant_waits_for_the_last_one(autojump_clock: MockClock, harness: Harness) -> None:
    specs = [significant(harness, "s1"), significant(harness, "s2", Restart.TEMPORARY), harness.spec("w")]
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, Supervisor(specs, auto_shutdown=ALL))
        harness.exit_shutdown("s1")
        await settle()
        assert not outcome.done.is_set()
        assert states(await ref.which_children()) == {"s1": "stopped", "s2": "running", "w": "running"}
        harness.exit_normally("s2")
        await outcome.done.wait()
    assert outcome.error is None


async def test_a_significant_child_that_crashes_is_restarted_not_shut_down(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, Supervisor([significant(harness, "s")], auto_shutdown=ANY))
        harness.crash("s")
        await settle()
        assert not outcome.done.is_set()
        assert states(await ref.which_children()) == {"s": "running"}
        nursery.cancel_scope.cancel()


async def test_a_temporary_significant_child_that_crashes_triggers_it(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(
            nursery, Supervisor([significant(harness, "t", Restart.TEMPORARY)], auto_shutdown=ANY)
        )
        harness.crash("t")
        await outcome.done.wait()
    assert outcome.error is None


async def test_terminate_child_on_a_significant_child_does_not_trigger_it(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, Supervisor([significant(harness, "s")], auto_shutdown=ANY))
        await ref.terminate_child("s")
        await settle()
        assert not outcome.done.is_set()
        nursery.cancel_scope.cancel()


async def test_significant_bystander_in_a_group_restart_does_not_trigger_it(
    autojump_clock: MockClock, harness: Harness
) -> None:
    specs = [significant(harness, "s", Restart.TEMPORARY), harness.spec("a")]
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(
            nursery, Supervisor(specs, auto_shutdown=ANY, strategy=RestartStrategy.ONE_FOR_ALL)
        )
        harness.crash("a")
        await settle()
        assert not outcome.done.is_set()
        assert states(await ref.which_children()) == {"a": "running"}  # s dropped as a bystander
        nursery.cancel_scope.cancel()


async def test_auto_shutdown_of_a_transient_child_supervisor_leaves_it_down(
    autojump_clock: MockClock, harness: Harness
) -> None:
    inner = Supervisor([significant(harness, "s")], auto_shutdown=ANY)
    root = Supervisor([inner.child_spec("inner", restart=Restart.TRANSIENT)])
    async with trio.open_nursery() as nursery:
        ref, _ = await launch(nursery, root)
        harness.exit_normally("s")
        await settle()
        assert states(await ref.which_children()) == {"inner": "stopped"}
        nursery.cancel_scope.cancel()
