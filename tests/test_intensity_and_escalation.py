"""Restart intensity in a running supervisor, failed restarts, and escalation up a tree."""

from __future__ import annotations

import sys

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import Restart, RestartIntensityExceeded, RestartStrategy, Supervisor

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

from .harness import Crash, Harness, StartFailure, launch, settle, states


async def test_max_restarts_allowed_then_escalation_stops_the_rest_in_reverse(
    autojump_clock: MockClock, harness: Harness
) -> None:
    sup = Supervisor([harness.spec(name) for name in "abc"], max_restarts=2, max_seconds=5, name="s")
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, sup)
        for _ in range(2):
            harness.crash("b")
            await settle()
        assert harness.generation["b"] == 3
        harness.take_trace()
        harness.crash("b")  # the third request within 5 s: refused, before any restart
        await outcome.done.wait()
    assert harness.take_trace("start", "stop") == [("stop", "c"), ("stop", "a")]
    error = outcome.error
    assert isinstance(error, RestartIntensityExceeded)
    assert (error.supervisor, error.child_id, error.max_restarts, error.max_seconds) == ("'s'", "b", 2, 5.0)
    assert isinstance(error.__cause__, Crash)
    assert isinstance(error, trio_otp.Shutdown)  # a parent sees OTP's `shutdown` reason


async def test_zero_restarts_escalates_on_the_first_crash(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=0))
        harness.take_trace()
        harness.crash("a")
        await outcome.done.wait()
    assert harness.take_trace("start") == []
    assert isinstance(outcome.error, RestartIntensityExceeded)


@pytest.mark.parametrize(("gap", "escalates"), [(4.99, True), (5.0, True), (5.01, False)])
async def test_window_is_exact_and_inclusive(
    autojump_clock: MockClock, harness: Harness, gap: float, escalates: bool
) -> None:
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=1, max_seconds=5))
        harness.crash("a")
        await settle()
        await trio.sleep(gap)
        harness.crash("a")
        await settle()
        assert outcome.done.is_set() is escalates
        nursery.cancel_scope.cancel()


async def test_restarts_spread_out_never_escalate(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=3, max_seconds=10))
        for _ in range(50):
            harness.crash("a")
            await settle()
            await trio.sleep(3.4)  # at most 3 restarts in any 10 s window
        assert not outcome.done.is_set()
        assert harness.generation["a"] == 51
        nursery.cancel_scope.cancel()


async def test_the_cause_of_an_exception_group_is_not_unwrapped(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async def crashes_twice(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_crash, 1)
            nursery.start_soon(_crash, 2)

    with pytest.raises(RestartIntensityExceeded) as info:
        await Supervisor([trio_otp.ChildSpec("g", crashes_twice)], max_restarts=0).run()
    cause = info.value.__cause__
    assert isinstance(cause, BaseExceptionGroup)
    assert len(cause.exceptions) == 2


async def _crash(n: int) -> None:
    raise Crash(n)


async def test_failed_restart_is_retried_and_each_retry_counts(
    autojump_clock: MockClock, harness: Harness
) -> None:
    """With max_restarts=3: the crash (1), a failed start, a retry that fails (2), a
    retry that fails (3), the next retry is refused: escalation before a 4th attempt."""
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=3))
        harness.take_trace()
        harness.start_failures["a"] = 10
        harness.crash("a")
        await outcome.done.wait()
    assert harness.take_trace("start") == [("start", "a")] * 3
    assert isinstance(outcome.error, RestartIntensityExceeded)
    assert isinstance(outcome.error.__cause__, StartFailure)  # the last error, not the crash


async def test_one_failed_attempt_can_escalate_even_if_a_retry_would_work(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=1))
        harness.start_failures["a"] = 1
        harness.crash("a")
        await outcome.done.wait()
    assert isinstance(outcome.error, RestartIntensityExceeded)


async def test_a_retry_that_succeeds_ends_restarting(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=5))
        harness.start_failures["a"] = 2
        harness.crash("a")
        await settle()
        assert states(await ref.which_children()) == {"a": "running"}
        assert harness.generation["a"] == 2
        assert not outcome.done.is_set()
        nursery.cancel_scope.cancel()


async def test_requests_are_answered_between_retries(autojump_clock: MockClock, harness: Harness) -> None:
    """The retry goes through the mailbox, so a request sent meanwhile sees `restarting`."""
    async with trio.open_nursery() as nursery:
        ref, _ = await launch(nursery, Supervisor([harness.spec("a"), harness.spec("b")], max_restarts=50))
        harness.start_failures["a"] = 1000
        harness.start_delay["a"] = 1.0
        harness.crash("a")
        await settle()  # the supervisor is now waiting on a's first restart attempt
        # Queued while it waits: answered after that attempt fails, before the retry.
        assert states(await ref.which_children())["a"] == "restarting"
        counts = await ref.count_children()
        assert (counts.specs, counts.active) == (2, 1)
        with pytest.raises(trio_otp.ChildRestarting):
            await ref.restart_child("a")
        with pytest.raises(trio_otp.ChildRestarting):
            await ref.delete_child("a")
        with pytest.raises(trio_otp.ChildAlreadyPresent):
            await ref.start_child(harness.spec("a"))
        await ref.terminate_child("a")  # allowed: it ends the retries
        assert states(await ref.which_children())["a"] == "stopped"
        starts = harness.generation.get("a")
        await settle()
        assert harness.generation.get("a") == starts
        nursery.cancel_scope.cancel()


async def test_one_for_all_retry_is_a_whole_new_group_restart(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        sup = Supervisor(
            [harness.spec(n) for n in "abc"], strategy=RestartStrategy.ONE_FOR_ALL, max_restarts=5
        )
        ref, _ = await launch(nursery, sup)
        harness.take_trace()
        harness.start_failures["b"] = 1
        harness.crash("c")
        await settle()
        assert harness.take_trace("start", "stop") == [
            ("stop", "b"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),  # fails; c is not started; retry from scratch
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
        ]
        assert states(await ref.which_children()) == dict.fromkeys("abc", "running")
        nursery.cancel_scope.cancel()


async def test_rest_for_one_retry_starts_from_the_failed_child(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        sup = Supervisor(
            [harness.spec(n) for n in "abcd"], strategy=RestartStrategy.REST_FOR_ONE, max_restarts=5
        )
        await launch(nursery, sup)
        harness.take_trace()
        harness.start_failures["c"] = 1
        harness.crash("b")
        await settle()
        assert harness.take_trace("start", "stop") == [
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            ("start", "c"),  # fails
            ("start", "c"),
            ("start", "d"),
        ]
        nursery.cancel_scope.cancel()


async def test_escalation_chain_takes_product_of_intensities(
    autojump_clock: MockClock, harness: Harness
) -> None:
    """Child supervisor with intensity 1 under a parent with intensity 1: (1+1)*(1+1) = 4
    leaf crashes bring the root down."""
    inner = Supervisor([harness.spec("leaf")], max_restarts=1, max_seconds=60, name="inner")
    root = Supervisor([inner.child_spec("inner")], max_restarts=1, max_seconds=60, name="root")
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, root)
        for crash in range(1, 5):
            assert not outcome.done.is_set(), crash
            harness.crash("leaf")
            await settle()
        assert outcome.done.is_set()
    error = outcome.error
    assert isinstance(error, RestartIntensityExceeded)
    assert error.child_id == "inner"
    assert isinstance(error.__cause__, RestartIntensityExceeded)
    assert error.__cause__.child_id == "leaf"
    assert isinstance(error.__cause__.__cause__, Crash)


async def test_restarted_child_supervisor_starts_with_empty_history(
    autojump_clock: MockClock, harness: Harness
) -> None:
    inner = Supervisor([harness.spec("leaf")], max_restarts=2, max_seconds=60)
    root = Supervisor([inner.child_spec("inner")], max_restarts=5, max_seconds=60)
    async with trio.open_nursery() as nursery:
        ref, _ = await launch(nursery, root)
        for _ in range(3):  # the third escalates inner; the root restarts it
            harness.crash("leaf")
            await settle()
        [info] = await ref.which_children()
        for _ in range(2):  # a fresh inner allows two more
            harness.crash("leaf")
            await settle()
        [again] = await ref.which_children()
        assert again.ref is info.ref
        nursery.cancel_scope.cancel()


async def test_transient_child_supervisor_that_escalated_stays_down(
    autojump_clock: MockClock, harness: Harness
) -> None:
    inner = Supervisor([harness.spec("leaf")], max_restarts=0)
    root = Supervisor([inner.child_spec("inner", restart=Restart.TRANSIENT), harness.spec("other")])
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, root)
        harness.crash("leaf")
        await settle()
        assert states(await ref.which_children()) == {"inner": "stopped", "other": "running"}
        assert not outcome.done.is_set()
        await ref.restart_child("inner")  # the spec is kept
        assert states(await ref.which_children())["inner"] == "running"
        nursery.cancel_scope.cancel()


async def test_permanent_child_supervisor_that_escalated_is_restarted_and_counted(
    autojump_clock: MockClock, harness: Harness
) -> None:
    inner = Supervisor([harness.spec("leaf")], max_restarts=0)
    root = Supervisor([inner.child_spec("inner")], max_restarts=0, name="root")
    async with trio.open_nursery() as nursery:
        _, outcome = await launch(nursery, root)
        harness.crash("leaf")
        await outcome.done.wait()  # the root's intensity 0 refuses restarting inner
    assert isinstance(outcome.error, RestartIntensityExceeded)
    assert outcome.error.child_id == "inner"
