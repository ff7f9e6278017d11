"""Start order, failed starts, and what each restart type does on each kind of exit."""

from __future__ import annotations

import logging

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import Restart, Supervisor

from .harness import Crash, Harness, StartFailure, launch, settle, start_supervisor, states


async def test_children_start_in_order_each_ready_before_the_next(
    autojump_clock: MockClock, harness: Harness
) -> None:
    harness.start_delay["a"] = 1.0  # a takes a second to get ready; b must wait for it
    async with trio.open_nursery() as nursery:
        await start_supervisor(nursery, [harness.spec("a"), harness.spec("b"), harness.spec("c")])
        assert harness.take_trace() == [
            ("start", "a"),
            ("ready", "a"),
            ("start", "b"),
            ("ready", "b"),
            ("start", "c"),
            ("ready", "c"),
        ]
        nursery.cancel_scope.cancel()


async def test_run_reports_a_ref_only_once_all_children_are_ready(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a"), harness.spec("b")])
        assert states(await ref.which_children()) == {"a": "running", "b": "running"}
        assert [info.ref for info in await ref.which_children()] == [("b", 1), ("a", 1)]
        nursery.cancel_scope.cancel()


async def test_failed_start_stops_earlier_children_in_reverse_and_names_the_child(
    autojump_clock: MockClock, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.start_failures["c"] = 1
    specs = [harness.spec(name) for name in "abcd"]
    with pytest.raises(trio_otp.ChildStartError, match="child 'c' of supervisor 'tree' failed") as info:
        await Supervisor(specs, name="tree").run()
    assert isinstance(info.value.__cause__, StartFailure)
    assert info.value.child_id == "c"
    assert harness.take_trace("start", "stop") == [
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("stop", "b"),
        ("stop", "a"),
    ]  # d was never started
    assert any(getattr(r, "otp_report", None) == "start_error" for r in caplog.records)


async def test_returning_without_started_is_a_start_failure(autojump_clock: MockClock) -> None:
    async def forgetful(*, task_status: trio.TaskStatus[None]) -> None:
        return

    with pytest.raises(trio_otp.ChildStartError, match=r"returned without calling task_status\.started"):
        await Supervisor([trio_otp.ChildSpec("f", forgetful)]).run()


async def test_nested_supervisor_failing_to_start_fails_its_parent(
    autojump_clock: MockClock, harness: Harness
) -> None:
    harness.start_failures["leaf"] = 1
    inner = Supervisor([harness.spec("leaf")])
    with pytest.raises(trio_otp.ChildStartError, match="child 'inner'") as info:
        await Supervisor([harness.spec("a"), inner.child_spec("inner")], name="outer").run()
    assert isinstance(info.value.__cause__, trio_otp.ChildStartError)
    assert isinstance(info.value.__cause__.__cause__, StartFailure)
    assert harness.take_trace("stop") == [("stop", "a")]


@pytest.mark.parametrize(
    ("restart", "how", "restarted", "kept"),
    [
        (Restart.PERMANENT, "normal", True, True),
        (Restart.PERMANENT, "shutdown", True, True),
        (Restart.PERMANENT, "crash", True, True),
        (Restart.TRANSIENT, "normal", False, True),
        (Restart.TRANSIENT, "shutdown", False, True),
        (Restart.TRANSIENT, "crash", True, True),
        (Restart.TEMPORARY, "normal", False, False),
        (Restart.TEMPORARY, "shutdown", False, False),
        (Restart.TEMPORARY, "crash", False, False),
    ],
)
async def test_restart_type_table(  # noqa: PLR0917 - parametrized
    autojump_clock: MockClock, harness: Harness, restart: Restart, how: str, restarted: bool, kept: bool
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a", restart=restart), harness.spec("b")])
        harness.take_trace()
        {"normal": harness.exit_normally, "shutdown": harness.exit_shutdown, "crash": harness.crash}[how]("a")
        await settle()
        assert (("start", "a") in harness.trace) is restarted
        assert ("stop", "b") not in harness.trace  # one_for_one: the sibling is untouched
        children = states(await ref.which_children())
        if not kept:
            assert "a" not in children
        else:
            assert children["a"] == ("running" if restarted else "stopped")
        nursery.cancel_scope.cancel()


async def test_group_of_shutdowns_is_a_shutdown_exit(autojump_clock: MockClock, harness: Harness) -> None:
    async def splits(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        async with trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(_raise_shutdown)

    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [trio_otp.ChildSpec("g", splits, restart=Restart.TRANSIENT)])
        await settle()
        assert states(await ref.which_children()) == {"g": "stopped"}
        nursery.cancel_scope.cancel()


async def test_group_with_a_crash_inside_is_a_crash(autojump_clock: MockClock, harness: Harness) -> None:
    runs = 0

    async def mixed(*, task_status: trio.TaskStatus[None]) -> None:
        nonlocal runs
        runs += 1
        task_status.started()
        if runs > 1:
            await trio.sleep_forever()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_raise_shutdown)
            nursery.start_soon(_raise_crash)

    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [trio_otp.ChildSpec("m", mixed, restart=Restart.TRANSIENT)])
        await settle()
        assert runs == 2
        assert states(await ref.which_children()) == {"m": "running"}
        nursery.cancel_scope.cancel()


async def _raise_shutdown() -> None:
    raise trio_otp.Shutdown("done")


async def _raise_crash() -> None:
    raise Crash("boom")


async def test_crashes_are_logged_as_errors_with_structured_fields(
    autojump_clock: MockClock, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async with trio.open_nursery() as nursery:
        await start_supervisor(nursery, [harness.spec("a")], name="root", max_restarts=5)
        harness.crash("a")
        await settle()
        nursery.cancel_scope.cancel()
    [record] = [r for r in caplog.records if getattr(r, "otp_report", None) == "child_terminated"]
    assert record.levelno == logging.ERROR
    assert record.supervisor == "'root'"  # type: ignore[attr-defined]
    assert record.child_id == "a"  # type: ignore[attr-defined]
    assert "Crash('a')" in record.reason  # type: ignore[attr-defined]
    assert record.exc_info is not None


async def test_exit_from_a_replaced_child_is_ignored(autojump_clock: MockClock, harness: Harness) -> None:
    """A child that crashes while being stopped by a group restart is not restarted twice."""
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(
            nursery,
            Supervisor(
                [harness.spec("a"), harness.spec("b")],
                strategy=trio_otp.RestartStrategy.ONE_FOR_ALL,
                max_restarts=10,
            ),
        )
        harness.take_trace()
        harness.crash("a")
        harness.crash("b")  # b's crash is queued behind a's; the group restart replaces b
        await settle()
        assert harness.take_trace("start") == [("start", "a"), ("start", "b")]
        assert states(await ref.which_children()) == {"a": "running", "b": "running"}
        assert not outcome.done.is_set()
        nursery.cancel_scope.cancel()
