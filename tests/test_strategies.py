"""one_for_one, one_for_all and rest_for_one: who stops, who starts, and in what order."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from trio_otp import Restart, RestartIntensityExceeded, RestartStrategy, Supervisor

from .harness import Harness, launch, settle, start_supervisor, states

ONE_FOR_ALL = RestartStrategy.ONE_FOR_ALL
REST_FOR_ONE = RestartStrategy.REST_FOR_ONE


async def crash_and_trace(harness: Harness, specs: list, strategy: RestartStrategy, victim: str) -> list:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, specs, strategy=strategy, max_restarts=10)
        harness.take_trace()
        harness.crash(victim)
        await settle()
        trace = harness.take_trace("start", "stop")
        harness.trace.append(("children", tuple(sorted(states(await ref.which_children()).items()))))
        nursery.cancel_scope.cancel()
    return trace


async def test_one_for_one_restarts_only_the_child(autojump_clock: MockClock, harness: Harness) -> None:
    specs = [harness.spec(name) for name in "abc"]
    trace = await crash_and_trace(harness, specs, RestartStrategy.ONE_FOR_ONE, "b")
    assert trace == [("start", "b")]


async def test_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order(
    autojump_clock: MockClock, harness: Harness
) -> None:
    specs = [harness.spec(name) for name in "abcd"]
    trace = await crash_and_trace(harness, specs, ONE_FOR_ALL, "b")
    assert trace == [
        ("stop", "d"),
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]


async def test_rest_for_one_restarts_the_child_and_those_after_it(
    autojump_clock: MockClock, harness: Harness
) -> None:
    specs = [harness.spec(name) for name in "abcd"]
    trace = await crash_and_trace(harness, specs, REST_FOR_ONE, "b")
    assert trace == [("stop", "d"), ("stop", "c"), ("start", "b"), ("start", "c"), ("start", "d")]


async def test_temporary_bystanders_are_dropped_not_restarted(
    autojump_clock: MockClock, harness: Harness
) -> None:
    for strategy, victim in ((ONE_FOR_ALL, "c"), (REST_FOR_ONE, "a")):
        specs = [harness.spec("a"), harness.spec("t", restart=Restart.TEMPORARY), harness.spec("c")]
        trace = await crash_and_trace(harness, specs, strategy, victim)
        assert ("stop", "t") in trace
        assert ("start", "t") not in trace
        [children] = [event for event in harness.take_trace() if event[0] == "children"]
        assert children == ("children", (("a", "running"), ("c", "running")))


async def test_permanent_child_exiting_normally_still_restarts_the_group(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        await start_supervisor(nursery, [harness.spec("a"), harness.spec("b")], strategy=ONE_FOR_ALL)
        harness.take_trace()
        harness.exit_normally("a")
        await settle()
        assert harness.take_trace("start", "stop") == [("stop", "b"), ("start", "a"), ("start", "b")]
        nursery.cancel_scope.cancel()


async def test_transient_normal_exit_leaves_the_siblings_alone(
    autojump_clock: MockClock, harness: Harness
) -> None:
    for strategy in (ONE_FOR_ALL, REST_FOR_ONE):
        async with trio.open_nursery() as nursery:
            specs = [harness.spec("a", restart=Restart.TRANSIENT), harness.spec("b")]
            ref = await start_supervisor(nursery, specs, strategy=strategy)
            harness.take_trace()
            harness.exit_normally("a")
            await settle()
            assert harness.take_trace("start", "stop") == []
            assert states(await ref.which_children()) == {"a": "stopped", "b": "running"}
            nursery.cancel_scope.cancel()


async def test_one_for_all_starts_stopped_siblings_too(autojump_clock: MockClock, harness: Harness) -> None:
    """OTP's group restart starts every spec it keeps, including a transient child that
    had ended normally."""
    async with trio.open_nursery() as nursery:
        specs = [harness.spec("a", restart=Restart.TRANSIENT), harness.spec("b")]
        ref = await start_supervisor(nursery, specs, strategy=ONE_FOR_ALL)
        harness.exit_normally("a")
        await settle()
        harness.take_trace()
        harness.crash("b")
        await settle()
        assert harness.take_trace("start", "stop") == [("start", "a"), ("start", "b")]
        assert states(await ref.which_children()) == {"a": "running", "b": "running"}
        nursery.cancel_scope.cancel()


async def test_a_group_restart_counts_once(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        specs = [harness.spec(name) for name in "abcde"]
        ref, outcome = await launch(
            nursery, Supervisor(specs, strategy=ONE_FOR_ALL, max_restarts=2, max_seconds=60)
        )
        harness.crash("c")
        await settle()
        harness.crash("a")  # five children restarted twice: two restarts, not ten
        await settle()
        assert all(harness.generation[name] == 3 for name in "abcde")
        assert len(await ref.which_children()) == 5
        harness.crash("e")  # the third restart within the window escalates
        await outcome.done.wait()
        assert isinstance(outcome.error, RestartIntensityExceeded)
