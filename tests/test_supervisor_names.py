"""Names for supervisors, and the supervisor API by name: one namespace with servers, a
name that follows a supervisor across its restarts, and ``SupervisorRef.stop``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import ChildSpec, Restart, Shutdown, Supervisor
from trio_otp.testing import settle


async def worker(value: object = None, *, task_status: trio.TaskStatus[Any]) -> None:
    task_status.started(value)
    await trio.sleep_forever()


async def slow_to_stop(order: list[str], me: str, *, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(1)
        order.append(me)


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request


# --- finding a supervisor by name -----------------------------------------------------


async def test_a_named_supervisor_is_found_by_name_and_its_api_takes_the_name(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Supervisor([ChildSpec("a", worker, args=("A",))], name="root").run)
        assert trio_otp.whereis("root") is ref
        assert trio_otp.whereis("root", trio_otp.SupervisorRef) is ref
        assert ref.name == "root"
        assert ref.alive
        assert await trio_otp.start_child("root", ChildSpec("b", worker, args=("B",))) == "B"
        assert [info.id for info in await trio_otp.which_children("root")] == ["b", "a"]
        assert (await trio_otp.count_children("root")).active == 2
        await trio_otp.terminate_child("root", "b")
        assert await trio_otp.restart_child("root", "b") == "B"
        await trio_otp.terminate_child("root", "b")
        await trio_otp.delete_child("root", "b")
        assert [info.id for info in await trio_otp.which_children(ref)] == ["a"]
        nursery.cancel_scope.cancel()
    assert trio_otp.whereis("root") is None


async def test_a_dynamic_supervisor_name_follows_it_across_restarts_by_its_parent(
    autojump_clock: MockClock,
) -> None:
    """The issue's case: a held ref names the run that ended; the name names the current one."""
    async with trio.open_nursery() as nursery:
        await nursery.start(
            Supervisor(
                [trio_otp.DynamicSupervisor(name="sessions").child_spec("sessions")],
                name="app",
                max_restarts=5,
            ).run
        )
        first = trio_otp.whereis("sessions", trio_otp.DynamicSupervisorRef)
        assert first is not None
        child = await trio_otp.start_child("sessions", ChildSpec("s", worker, args=(1,)))
        assert child.ref == 1
        trio_otp.exit(first, RuntimeError("boom"))
        await settle()
        second = trio_otp.whereis("sessions", trio_otp.DynamicSupervisorRef)
        assert second is not None
        assert second is not first
        assert not first.alive
        with pytest.raises(trio_otp.SupervisorNotRunning):
            await first.start_child(ChildSpec("s", worker))
        # Its children went with it (OTP: a restarted supervisor starts empty).
        assert await trio_otp.which_children("sessions") == []
        again = await trio_otp.start_child("sessions", ChildSpec("s", worker, args=(2,)))
        assert again.ref == 2
        assert [info.restarts for info in await trio_otp.which_children("app")] == [1]
        nursery.cancel_scope.cancel()


async def test_a_task_supervisor_by_name(autojump_clock: MockClock) -> None:
    async def double(x: int) -> int:
        return 2 * x

    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.TaskSupervisor(name="tasks").run)
        tasks = trio_otp.whereis("tasks", trio_otp.TaskSupervisorRef)
        assert tasks is not None
        assert tasks.name == "tasks"
        handle = await tasks.spawn(double, 21)
        assert await handle.result() == 42
        parked = await tasks.spawn(trio.sleep_forever)
        [info] = await trio_otp.which_children("tasks")
        assert info.ref is parked
        assert (await tasks.count_children()).active == 1
        nursery.cancel_scope.cancel()


async def test_via_names_a_supervisor_in_a_registry_of_your_own(autojump_clock: MockClock) -> None:
    registry: trio_otp.Registry[Any] = trio_otp.Registry()
    name = trio_otp.Via(registry, "pool")
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(trio_otp.DynamicSupervisor(name=name).run)
        assert trio_otp.whereis(name) is ref
        assert registry.whereis("pool") is ref
        assert trio_otp.whereis("pool") is None  # not in the default registry
        await trio_otp.start_child(name, ChildSpec("w", worker))
        assert "'pool'" in repr(ref)
        nursery.cancel_scope.cancel()


# --- one namespace, held until the end ----------------------------------------------


async def test_servers_and_supervisors_share_one_namespace(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Echo, name="x")
        with pytest.raises(trio_otp.NameTaken, match="already taken by <ServerRef Echo 'x'") as taken:
            await nursery.start(Supervisor([ChildSpec("a", worker)], name="x").run)
        assert taken.value.ref is server
        nursery.cancel_scope.cancel()


async def test_a_name_taken_stops_the_supervisor_before_any_child_starts(autojump_clock: MockClock) -> None:
    started: list[str] = []

    async def noted(*, task_status: trio.TaskStatus[None]) -> None:
        started.append("child")
        task_status.started()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([], name="pool").run)
        parent = Supervisor([Supervisor([ChildSpec("c", noted)], name="pool").child_spec("inner")])
        with pytest.raises(trio_otp.ChildStartError) as failed:
            await nursery.start(parent.run)
        assert isinstance(failed.value.reason, trio_otp.NameTaken)  # (trio < 0.34 drops __cause__ here)
        assert started == []
        nursery.cancel_scope.cancel()


async def test_a_stopping_supervisor_is_not_found_but_keeps_its_name_until_it_ends(
    autojump_clock: MockClock,
) -> None:
    order: list[str] = []
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Supervisor([ChildSpec("a", slow_to_stop, args=(order, "a"))], name="s").run)
        nursery.start_soon(ref.stop)
        await trio.sleep(0.5)  # the child is in its 1 s cleanup
        assert not ref.alive
        assert trio_otp.whereis("s") is None
        with pytest.raises(trio_otp.SupervisorNotRunning):
            await trio_otp.which_children("s")
        with pytest.raises(trio_otp.NameTaken, match="still ending"):
            await nursery.start(Supervisor([], name="s").run)
        await trio.sleep(1)
        assert order == ["a"]
        again = await nursery.start(Supervisor([], name="s").run)
        assert trio_otp.whereis("s") is again
        nursery.cancel_scope.cancel()


async def test_an_unnamed_child_supervisor_is_reported_by_its_child_id(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        raise RuntimeError("boom")

    caplog.set_level(logging.ERROR, logger="trio_otp.supervisor")
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([Supervisor([ChildSpec("c", crash)]).child_spec("inner")]).run)
        [info] = await root.which_children()
        assert repr(info.ref) == "<SupervisorRef 'inner' (running)>"
        assert info.ref.name is None
        assert trio_otp.whereis("inner") is None  # a label, not a name
        await trio.sleep(1.5)
        assert any(
            "supervisor 'inner': child 'c' raised RuntimeError" in r.getMessage() for r in caplog.records
        )
        nursery.cancel_scope.cancel()


# --- stopping a supervisor from outside -----------------------------------------------


async def test_stop_stops_the_children_in_reverse_order_and_run_returns(autojump_clock: MockClock) -> None:
    order: list[str] = []
    specs = [ChildSpec(c, slow_to_stop, args=(order, c)) for c in "abc"]
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(Supervisor(specs).run)
        before = trio.current_time()
        await ref.stop()
        assert order == ["c", "b", "a"]
        assert trio.current_time() - before == pytest.approx(3)
        assert not ref.alive
        with pytest.raises(trio_otp.SupervisorNotRunning):
            await ref.stop()


async def test_stop_without_a_reason_lets_run_return(autojump_clock: MockClock) -> None:
    ended: list[str] = []

    async def run_it(ref_out: list[trio_otp.SupervisorRef]) -> None:
        await Supervisor([ChildSpec("a", worker)]).run(task_status=_Collect(ref_out))
        ended.append("returned")

    refs: list[trio_otp.SupervisorRef] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_it, refs)
        await settle()
        await refs[0].stop()
        await settle()
    assert ended == ["returned"]


class _Collect(trio.TaskStatus[Any]):
    def __init__(self, into: list[Any]) -> None:
        self.into = into

    def started(self, value: Any = None) -> None:
        self.into.append(value)


@pytest.mark.parametrize(
    ("restart", "reason", "restarted"),
    [
        (Restart.PERMANENT, None, True),
        (Restart.TRANSIENT, None, False),
        (Restart.TRANSIENT, Shutdown("bye"), False),
        (Restart.TRANSIENT, RuntimeError("bad"), True),
        (Restart.TEMPORARY, RuntimeError("bad"), False),
    ],
)
async def test_the_parent_sees_the_stop_reason_as_any_child_exit(
    autojump_clock: MockClock, restart: Restart, reason: BaseException | None, restarted: bool
) -> None:
    inner = Supervisor([ChildSpec("w", worker)], name="inner")
    async with trio.open_nursery() as nursery:
        root = await nursery.start(
            Supervisor([inner.child_spec("inner", restart=restart)], max_restarts=3).run
        )
        first = trio_otp.whereis("inner", trio_otp.SupervisorRef)
        assert first is not None
        await first.stop(reason)
        await settle()
        again = trio_otp.whereis("inner", trio_otp.SupervisorRef)
        infos = await root.which_children()
        if restarted:
            assert again is not None
            assert again is not first
            assert [info.restarts for info in infos] == [1]
        else:
            assert again is None
            assert [info.state for info in infos] == (
                [] if restart is Restart.TEMPORARY else [trio_otp.ChildState.STOPPED]
            )
        nursery.cancel_scope.cancel()


async def test_stop_of_a_root_with_a_crash_reason_raises_it_from_run(autojump_clock: MockClock) -> None:
    reason = RuntimeError("taken down")
    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, check=lambda error: error is reason)):
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(Supervisor([ChildSpec("a", worker)]).run)
            await ref.stop(reason)


async def test_a_stop_that_takes_longer_than_its_timeout_raises_and_goes_on(
    autojump_clock: MockClock,
) -> None:
    order: list[str] = []
    spec = ChildSpec("a", slow_to_stop, args=(order, "a"), shutdown=trio_otp.INFINITY)
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(trio_otp.DynamicSupervisor().run)
        await ref.start_child(spec)
        with pytest.raises(trio_otp.SupervisorTimeout, match=r"did not stop within 0\.25 s"):
            await ref.stop(timeout=0.25)
        assert order == []
        await trio.sleep(1)
        assert order == ["a"]


async def test_a_task_supervisor_stops_with_its_tasks(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(trio.sleep_forever)
        await tasks.stop()
        assert not tasks.alive
        with pytest.raises(trio_otp.TaskFailed, match="cancelled"):
            await handle.result()
