"""Races and corners of stop, exit and KILL that a hostile review of issue 14's first
version found: each failed then."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import KILL, ChildSpec, Restart, Shutdown, Supervisor
from trio_otp.testing import settle


async def slow_cleanup(seconds: float = 1, *, task_status: trio.TaskStatus[None]) -> None:
    """Runs until stopped, then cleans up for ``seconds`` within its budget."""
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(seconds)


async def worker(value: object = None, *, task_status: trio.TaskStatus[Any]) -> None:
    task_status.started(value)
    await trio.sleep_forever()


class Notes(trio_otp.GenServer[Any, Any]):
    def __init__(self, notes: list[object]) -> None:
        self.notes = notes

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request

    async def handle_cast(self, request: Any) -> None:
        async with trio.open_nursery() as nursery:  # work in a nursery of its own
            nursery.start_soon(trio.sleep_forever)

    async def terminate(self, reason: BaseException | None) -> None:
        self.notes.append(("terminate", reason))


# 1. stop(timeout=...) does not bound the wait when the mailbox is busy -------------


async def test_stop_timeout_bounds_the_whole_call_even_when_the_supervisor_is_busy(
    autojump_clock: MockClock,
) -> None:
    async def slow_start(*, task_status: trio.TaskStatus[None]) -> None:
        await trio.sleep(100)
        task_status.started()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([], name="root").run)
        nursery.start_soon(root.start_child, ChildSpec("slow", slow_start))
        await settle()
        before = trio.current_time()
        with pytest.raises(trio_otp.SupervisorTimeout):
            await root.stop(timeout=1)
        assert trio.current_time() - before <= 1  # took 100 s
        nursery.cancel_scope.cancel()


# 2. A named supervisor is found (alive) while it starts its children: a child that
#    reaches it by name in its start waits for ever ------------------------------------


async def test_a_child_calling_its_named_supervisor_during_its_start_does_not_hang(
    autojump_clock: MockClock,
) -> None:
    async def asks_its_supervisor(*, task_status: trio.TaskStatus[None]) -> None:
        await trio_otp.which_children("app")
        task_status.started()
        await trio.sleep_forever()

    def refused(error: BaseException) -> bool:
        cause = getattr(error, "reason", None)  # not __cause__: trio < 0.34 clears it in start()
        return isinstance(cause, trio_otp.SupervisorError) and "could only deadlock" in str(cause)

    with trio.fail_after(60), pytest.RaisesGroup(pytest.RaisesExc(trio_otp.ChildStartError, check=refused)):
        async with trio.open_nursery() as nursery:
            await nursery.start(Supervisor([ChildSpec("c", asks_its_supervisor)], name="app").run)


# 3. KILL after a graceful exit: the end reads the first reason, not Killed ---------


async def test_kill_after_a_graceful_exit_reads_killed(autojump_clock: MockClock) -> None:
    errors: list[object] = []
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        child = await pool.start_child(ChildSpec("c", slow_cleanup, args=(10,), restart=Restart.TRANSIENT))
        record = child._child  # the supervisor's record keeps the exit it handled
        trio_otp.exit(child, None)  # normal: a transient child would not be restarted
        await trio.sleep(1)
        trio_otp.exit(child, KILL)  # a kill: a crash, Killed
        await settle()
        errors.append(record.last_error)
        assert isinstance(record.last_error, trio_otp.Killed), record.last_error
        nursery.cancel_scope.cancel()


# 4. A GenServer exited while its callback runs a nursery: terminate gets Shutdown
#    rather than the reason, and KILL does not skip terminate ------------------------


async def test_exit_reason_reaches_terminate_even_when_the_callback_has_a_nursery(
    autojump_clock: MockClock,
) -> None:
    notes: list[object] = []
    reason = RuntimeError("from outside")
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([trio_otp.server_spec("s", lambda: Notes(notes), name="s")]).run)
        ref = trio_otp.whereis("s", trio_otp.ServerRef)
        assert ref is not None
        monitor = trio_otp.monitor(ref)
        ref.cast("work")
        await settle()
        trio_otp.exit("s", reason)
        down = await monitor.wait()
        nursery.cancel_scope.cancel()
    assert notes[0] == ("terminate", reason)
    assert down.reason is reason


async def test_kill_skips_terminate_even_when_the_callback_has_a_nursery(autojump_clock: MockClock) -> None:
    notes: list[object] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([trio_otp.server_spec("s", lambda: Notes(notes), name="s")]).run)
        ref = trio_otp.whereis("s", trio_otp.ServerRef)
        assert ref is not None
        monitor = trio_otp.monitor(ref)
        ref.cast("work")
        await settle()
        trio_otp.exit("s", KILL)
        down = await monitor.wait()
        assert notes == [], notes  # (its restarted successor terminates at the shutdown)
        nursery.cancel_scope.cancel()
    assert isinstance(down.reason, trio_otp.Killed), down.reason


# 5. exit with a BaseException that is not an Exception ----------------------------


async def test_exit_with_keyboard_interrupt_is_refused_or_raises(autojump_clock: MockClock) -> None:
    """exit accepts any BaseException; KeyboardInterrupt as a reason is recorded as the
    child's error but never raised, so the supervisor 'restarts' a child whose error is a
    KeyboardInterrupt, where every other path lets an interrupt go up the tree."""
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([ChildSpec("c", worker)]).run)
        [info] = await root.which_children()
        with pytest.raises(TypeError, match="no exit reason"):
            trio_otp.exit(info, KeyboardInterrupt())  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="no exit reason"):
            await root.stop(KeyboardInterrupt())  # type: ignore[arg-type]
        assert (await root.which_children())[0].restarts == 0
        nursery.cancel_scope.cancel()


# 6. An exit then a group restart / shutdown: a spurious 'raised while stopping' ----


async def test_an_exit_absorbed_by_a_shutdown_is_not_logged_as_raised_while_stopping(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(
            Supervisor([ChildSpec("a", slow_cleanup), ChildSpec("b", worker)], name="root").run
        )
        [_b, a] = await root.which_children()
        trio_otp.exit(a, RuntimeError("reason"))
        await root.stop()
    assert not [r for r in caplog.records if "raised while stopping" in r.getMessage()], [
        r.getMessage() for r in caplog.records
    ]


# 7. stop() twice concurrently: the second gets SupervisorNotRunning -----------------


async def test_two_concurrent_stops_both_return(autojump_clock: MockClock) -> None:
    results: list[object] = []
    async with trio.open_nursery() as nursery:
        root = await nursery.start(Supervisor([ChildSpec("a", worker)]).run)

        async def stop() -> None:
            try:
                await root.stop()
                results.append("ok")
            except trio_otp.SupervisorNotRunning as error:
                results.append(error)

        nursery.start_soon(stop)
        nursery.start_soon(stop)
    assert results == ["ok", "ok"], results


# 8. exit() of a TaskSupervisor task: the handle reads "cancelled", not the reason --


async def test_an_exited_task_handle_reports_the_exit_reason(autojump_clock: MockClock) -> None:
    reason = RuntimeError("stop that")
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(trio.sleep_forever)
        trio_otp.exit(handle, reason)
        with pytest.raises(trio_otp.TaskFailed) as failed:
            await handle.result()
        nursery.cancel_scope.cancel()
    assert not failed.value.cancelled, str(failed.value)
    assert failed.value.__cause__ is reason, (str(failed.value), failed.value.__cause__)


# 9. KILL of a child supervisor cuts its children's cleanup too ---------------------


async def test_kill_of_a_child_supervisor_cuts_the_grandchildrens_cleanup(autojump_clock: MockClock) -> None:
    notes: list[str] = []

    async def slow_cleanup(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(1)
                notes.append("cleaned up")

    inner = Supervisor([ChildSpec("g", slow_cleanup)], name="inner")
    async with trio.open_nursery() as nursery:
        await nursery.start(Supervisor([inner.child_spec("inner")]).run)
        before = trio.current_time()
        trio_otp.exit("inner", KILL)
        await settle()
        assert trio.current_time() == before
        assert notes == []
        assert trio_otp.whereis("inner") is not None
        nursery.cancel_scope.cancel()


# 10. exit during a GenServer's init: Down reads Shutdown, not the reason ------------


async def test_an_exit_during_init_reads_the_reason_in_down(autojump_clock: MockClock) -> None:
    class SlowInit(trio_otp.GenServer[Any, Any]):
        async def init(self) -> None:
            await trio.sleep(10)

    downs: list[object] = []
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)

        async def kill_it() -> None:
            await trio.sleep(1)
            ref = trio_otp.whereis("slow", trio_otp.ServerRef)
            assert ref is not None, "not found during init"
            monitor = trio_otp.monitor(ref)
            trio_otp.exit("slow", KILL)
            downs.append((await monitor.wait()).reason)

        nursery.start_soon(kill_it)
        with pytest.raises(trio_otp.ChildStartError):
            await pool.start_child(trio_otp.server_spec("slow", SlowInit, name="slow"))
        await settle()
        nursery.cancel_scope.cancel()
    assert isinstance(downs[0], trio_otp.Killed), downs


# 11. NameTaken for a child supervisor: a ChildStartError naming the clash -----------


async def test_name_taken_by_a_child_supervisor_is_a_child_start_error(autojump_clock: MockClock) -> None:
    a = Supervisor([], name="x")
    with pytest.RaisesGroup(
        pytest.RaisesExc(
            trio_otp.ChildStartError,
            check=lambda e: isinstance(getattr(e, "reason", None), trio_otp.NameTaken),
        )
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(Supervisor([a.child_spec("a"), a.child_spec("b")]).run)


# 12. stop() of a supervisor from its own child --------------------------------------


async def test_stop_from_a_child_of_the_same_supervisor_ends_the_tree(autojump_clock: MockClock) -> None:
    async def stops_its_supervisor(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(1)
        ref = trio_otp.whereis("root", trio_otp.SupervisorRef)
        assert ref is not None
        await ref.stop(RuntimeError("from inside"))

    with trio.fail_after(100):
        with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="from inside")):
            async with trio.open_nursery() as nursery:
                await nursery.start(Supervisor([ChildSpec("c", stops_its_supervisor)], name="root").run)


# 13. stop of a TaskSupervisor and of a DynamicSupervisor by a parent ---------------


async def test_stop_of_a_transient_child_supervisor_is_not_restarted(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(
            Supervisor(
                [
                    trio_otp.TaskSupervisor(name="tasks").child_spec("tasks", restart=Restart.TRANSIENT),
                    trio_otp.DynamicSupervisor(name="pool").child_spec("pool", restart=Restart.TRANSIENT),
                ]
            ).run
        )
        tasks = trio_otp.whereis("tasks", trio_otp.TaskSupervisorRef)
        pool = trio_otp.whereis("pool", trio_otp.DynamicSupervisorRef)
        assert tasks is not None
        assert pool is not None
        await tasks.stop()
        await pool.stop(Shutdown("bye"))
        await settle()
        assert [i.state for i in await root.which_children()] == [trio_otp.ChildState.STOPPED] * 2
        nursery.cancel_scope.cancel()


# 14. An exit that lands while a child is already ending by itself (a crash in its
#     cleanup) replaces the crash: a normal exit swallows it, unlogged ---------------


async def test_a_normal_exit_does_not_swallow_a_crash_already_under_way(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def crashes_slowly(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep(1)
            raise ValueError("the real crash")
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        root = await nursery.start(
            Supervisor([ChildSpec("c", crashes_slowly, restart=Restart.TRANSIENT)], max_restarts=5).run
        )
        [info] = await root.which_children()
        await trio.sleep(1.5)  # it has crashed and is in its cleanup
        trio_otp.exit(info, None)
        await trio.sleep(1)
        [after] = await root.which_children()
        nursery.cancel_scope.cancel()
    crash_logged = any("the real crash" in r.getMessage() for r in caplog.records)
    assert after.restarts == 1 or crash_logged, (after, [r.getMessage() for r in caplog.records])


async def test_a_stop_that_loses_the_race_still_waits_for_the_end(autojump_clock: MockClock) -> None:
    """The second of two stops raises at once, while the first run still holds the name:
    'stop, then start it again under its name' fails with NameTaken."""

    definition = Supervisor([ChildSpec("a", slow_cleanup)], name="app")
    async with trio.open_nursery() as nursery:
        root = await nursery.start(definition.run)
        nursery.start_soon(root.stop)
        await settle()  # the first stop is under way
        try:
            await root.stop()
        except trio_otp.SupervisorNotRunning:
            pass  # returned at once, while the supervisor is still stopping
        assert trio.current_time() >= 1, "the second stop() returned before the supervisor ended"
        await nursery.start(definition.run)  # NameTaken: the first run is still ending
        nursery.cancel_scope.cancel()


# 16. whereis(name, ServerRef[Req, Rep]) type-checks under pyright strict (the only
#     way to a fully known type) but raises TypeError at run time ------------------


async def test_whereis_accepts_a_parameterised_ref_class(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        await trio_otp.start_server(nursery, lambda: Notes([]), name="n")
        ref = trio_otp.whereis("n", trio_otp.ServerRef[Any, Any])
        assert ref is not None
        nursery.cancel_scope.cancel()
