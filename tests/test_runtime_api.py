"""start_child, terminate_child, restart_child, delete_child, which_children, count_children."""

from __future__ import annotations

import math

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import ChildState, ChildType, Restart, Supervisor

from .harness import Harness, StartFailure, launch, settle, start_supervisor, states


async def test_start_child_goes_last_in_start_order_and_first_to_stop(
    autojump_clock: MockClock, harness: Harness
) -> None:
    with trio.move_on_after(10):
        async with trio.open_nursery() as nursery:
            ref = await start_supervisor(nursery, [harness.spec("a"), harness.spec("b")])
            assert await ref.start_child(harness.spec("new")) == ("new", 1)
            assert [info.id for info in await ref.which_children()] == ["new", "b", "a"]
            harness.take_trace()
    assert harness.take_trace("stop") == [("stop", "new"), ("stop", "b"), ("stop", "a")]


async def test_start_child_errors(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(
            nursery, [harness.spec("a"), harness.spec("b", restart=Restart.TRANSIENT)]
        )
        with pytest.raises(trio_otp.ChildAlreadyStarted) as started:
            await ref.start_child(harness.spec("a"))
        assert started.value.ref == ("a", 1)
        harness.exit_normally("b")
        await settle()
        with pytest.raises(trio_otp.ChildAlreadyPresent, match="restart_child or delete_child"):
            await ref.start_child(harness.spec("b"))
        harness.start_failures["c"] = 1
        with pytest.raises(trio_otp.ChildStartError, match="child 'c'") as failed:
            await ref.start_child(harness.spec("c"))
        assert isinstance(failed.value.__cause__, StartFailure)
        assert "c" not in states(await ref.which_children())  # a failed spec is not added
        with pytest.raises(TypeError, match="takes a ChildSpec"):
            await ref.start_child("c")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="auto_shutdown is NEVER"):
            await ref.start_child(harness.spec("s", restart=Restart.TRANSIENT, significant=True))
        nursery.cancel_scope.cancel()


async def test_terminate_child_keeps_the_spec_and_does_not_restart(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(
            nursery, Supervisor([harness.spec("a"), harness.spec("b")], max_restarts=0)
        )
        await ref.terminate_child("a")
        await ref.terminate_child("a")  # already stopped: fine
        await settle()
        assert states(await ref.which_children()) == {"a": "stopped", "b": "running"}
        assert not outcome.done.is_set()  # no restart was counted (intensity 0 would escalate)
        assert await ref.restart_child("a") == ("a", 2)  # not counted either
        assert not outcome.done.is_set()
        nursery.cancel_scope.cancel()


async def test_terminate_child_deletes_a_temporary_spec(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("t", restart=Restart.TEMPORARY)])
        await ref.terminate_child("t")
        assert await ref.which_children() == []
        nursery.cancel_scope.cancel()


async def test_restart_and_delete_child_errors(autojump_clock: MockClock, harness: Harness) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a")])
        for method in (ref.restart_child, ref.delete_child, ref.terminate_child, ref.get_childspec):
            with pytest.raises(trio_otp.ChildNotFound, match="no child with id 'zzz'"):
                await method("zzz")
        with pytest.raises(trio_otp.ChildNotFound):
            await ref.delete_child(["unhashable"])
        with pytest.raises(trio_otp.ChildRunning):
            await ref.restart_child("a")
        with pytest.raises(trio_otp.ChildRunning):
            await ref.delete_child("a")
        await ref.terminate_child("a")
        harness.start_failures["a"] = 1
        with pytest.raises(trio_otp.ChildStartError):
            await ref.restart_child("a")
        assert states(await ref.which_children()) == {"a": "stopped"}  # no retries
        await ref.delete_child("a")
        assert await ref.which_children() == []
        nursery.cancel_scope.cancel()


async def test_which_and_count_children(autojump_clock: MockClock, harness: Harness) -> None:
    inner = Supervisor([harness.spec("x")])
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(
            nursery,
            [harness.spec("a"), inner.child_spec("inner"), harness.spec("b", restart=Restart.TRANSIENT)],
        )
        harness.exit_normally("b")
        await settle()
        infos = await ref.which_children()
        assert [(i.id, i.state, i.type) for i in infos] == [
            ("b", ChildState.STOPPED, ChildType.WORKER),
            ("inner", ChildState.RUNNING, ChildType.SUPERVISOR),
            ("a", ChildState.RUNNING, ChildType.WORKER),
        ]
        assert isinstance(infos[1].ref, trio_otp.SupervisorRef)
        assert infos[0].ref is None
        assert await ref.count_children() == trio_otp.ChildCounts(specs=3, active=2, supervisors=1, workers=2)
        nested = infos[1].ref
        assert [i.id for i in await nested.which_children()] == ["x"]
        assert (await ref.get_childspec("a")).id == "a"
        nursery.cancel_scope.cancel()


async def test_requests_to_a_stopped_supervisor_fail_clearly(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref, outcome = await launch(nursery, Supervisor([harness.spec("a")], max_restarts=0, name="gone"))
        harness.crash("a")
        await outcome.done.wait()
    with pytest.raises(trio_otp.SupervisorNotRunning, match="supervisor 'gone' is not running"):
        await ref.which_children()


async def test_a_request_pending_when_the_supervisor_stops_does_not_hang(
    autojump_clock: MockClock, harness: Harness
) -> None:
    harness.cleanup_time["a"] = 5.0
    errors: list[BaseException] = []

    async def ask(ref: trio_otp.SupervisorRef) -> None:
        try:
            await ref.count_children()
        except trio_otp.SupervisorNotRunning as error:
            errors.append(error)

    async with trio.open_nursery() as nursery:
        sup_scope = trio.CancelScope()

        async def run_sup(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
            with sup_scope:
                await Supervisor([harness.spec("a"), harness.spec("b")]).run(task_status=task_status)

        ref = await nursery.start(run_sup)
        nursery.start_soon(ref.terminate_child, "a")  # keeps the supervisor busy for 5 s
        await settle()
        nursery.start_soon(ask, ref)  # waits in the mailbox
        await settle()
        sup_scope.cancel()
    assert len(errors) == 1


async def test_a_child_may_call_its_own_supervisor(autojump_clock: MockClock) -> None:
    """A child that asks its supervisor to stop it is cancelled, not deadlocked."""
    box: list[trio_otp.SupervisorRef] = []

    async def suicidal(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        await box[0].terminate_child("me")

    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [trio_otp.ChildSpec("me", suicidal)])
        box.append(ref)
        await trio.sleep(2)
        assert states(await ref.which_children()) == {"me": "stopped"}
        nursery.cancel_scope.cancel()


async def test_requests_wait_while_a_restart_is_starting_its_child(autojump_clock: MockClock) -> None:
    # OTP's supervisor is busy while it restarts a child: a request sent meanwhile is
    # answered once the replacement is ready, and sees it running.
    runs: list[float] = []

    async def slow_restart(*, task_status: trio.TaskStatus[int]) -> None:
        runs.append(trio.current_time())
        if len(runs) > 1:
            await trio.sleep(5)  # the replacement takes 5 s to get ready
        task_status.started(len(runs))
        if len(runs) == 1:
            await trio.sleep(1)
            raise ValueError("crash once")  # while the supervisor is idle
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(Supervisor([trio_otp.ChildSpec("w", slow_restart)]).run)
        await trio.sleep(1.5)  # the child crashed at 1 s; its replacement is starting
        asked = trio.current_time()
        [info] = await sup.which_children()
        assert trio.current_time() - asked == pytest.approx(4.5)
        assert info.state is ChildState.RUNNING
        assert info.ref == 2
        assert info.restarts == 1
        nursery.cancel_scope.cancel()


async def test_shutdown_while_a_restart_is_starting_its_child(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []

    async def slow_restart(*, task_status: trio.TaskStatus[None]) -> None:
        events.append("start")
        try:
            if len(events) > 1:
                await trio.sleep(5)
            task_status.started()
            await trio.sleep(1 if len(events) == 1 else math.inf)
            raise ValueError("crash once")
        finally:
            events.append("end")

    with trio.move_on_after(2):  # the replacement is still starting when this fires
        await Supervisor([trio_otp.ChildSpec("w", slow_restart)]).run()
    assert events == ["start", "end", "start", "end"]
    assert "failed to start" not in caplog.text


async def test_ref_as_narrows_a_listed_ref_and_names_what_did_not_match(
    autojump_clock: MockClock, harness: Harness
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await start_supervisor(nursery, [harness.spec("a")])
        counter = await ref.start_child(trio_otp.server_spec("counter", trio_otp.GenServer[str, int]))
        await ref.terminate_child("a")
        infos = {info.id: info for info in await ref.which_children()}
        assert infos["counter"].ref_as(trio_otp.ServerRef) is counter
        # Type arguments are taken on trust: only the class can be checked at run time.
        assert infos["counter"].ref_as(trio_otp.ServerRef[str, int]) is counter
        assert infos["counter"].ref_as(object) is counter
        with pytest.raises(
            TypeError, match=r"child 'counter': expected a ref of type trio_otp\.SupervisorRef, got <"
        ):
            infos["counter"].ref_as(trio_otp.SupervisorRef)
        with pytest.raises(
            TypeError, match=r"child 'a': .* got None .*a child that is not running has no ref"
        ):
            infos["a"].ref_as(tuple)
        with pytest.raises(TypeError, match="ref_as takes a class"):
            infos["counter"].ref_as("ServerRef")  # type: ignore[arg-type]
        nursery.cancel_scope.cancel()


def test_child_spec_is_generic_at_run_time_and_unchanged_when_built() -> None:
    async def start(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started(1)

    plain = trio_otp.ChildSpec("w", start)
    typed = trio_otp.ChildSpec[int]("w", start)
    assert typed == plain
    assert type(typed) is trio_otp.ChildSpec
    assert repr(typed) == repr(plain)
    assert plain.shutdown == 5.0  # the default still follows the type


@pytest.mark.parametrize(
    "definition",
    [Supervisor([]), trio_otp.DynamicSupervisor(), trio_otp.TaskSupervisor()],
    ids=lambda definition: type(definition).__name__,
)
def test_supervisor_child_specs_take_the_same_options(definition: object) -> None:
    make = definition.child_spec  # type: ignore[attr-defined]
    spec = make("s")
    assert (spec.restart, spec.type, spec.shutdown, spec.significant) == (
        Restart.PERMANENT,
        ChildType.SUPERVISOR,
        trio_otp.INFINITY,
        False,
    )
    spec = make("s", restart=Restart.TRANSIENT, shutdown=2, significant=True)
    assert (spec.restart, spec.shutdown, spec.significant) == (Restart.TRANSIENT, 2.0, True)
    with pytest.raises(TypeError, match="restrat"):
        make("s", restrat=Restart.TRANSIENT)


async def test_a_request_whose_caller_gave_up_is_still_carried_out(autojump_clock: MockClock) -> None:
    # As in OTP, where the message is in the supervisor's mailbox once sent: the caller's
    # cancellation (or timeout) ends its wait, not the request.
    async def slow_start(*, task_status: trio.TaskStatus[str]) -> None:
        await trio.sleep(5)
        task_status.started("slow")
        await trio.sleep_forever()

    async def worker(*, task_status: trio.TaskStatus[str]) -> None:
        task_status.started("late")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(Supervisor([]).run)
        nursery.start_soon(sup.start_child, trio_otp.ChildSpec("slow", slow_start))
        await trio.sleep(1)  # the supervisor is starting "slow" until 5 s
        with trio.move_on_after(1) as waited:
            await sup.start_child(trio_otp.ChildSpec("late", worker))
        assert waited.cancelled_caught
        await trio.sleep(4)  # "slow" is ready at 5 s, then the abandoned request is handled
        # (which_children lists the newest first, as OTP)
        children = [(info.id, info.ref) for info in await sup.which_children()]
        assert children == [("late", "late"), ("slow", "slow")]
        nursery.cancel_scope.cancel()
