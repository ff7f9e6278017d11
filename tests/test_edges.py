"""The edges: cancelling a start, budgets of whole subtrees, lateness reported on time,
and mistakes (a bad argument, a hostile ``__repr__``) that must never harm a running tree.

Each test here failed on the main of 2026-11-24 (issue 13 names the item).
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from trio.testing import MockClock

import trio_otp
from trio_otp import BRUTAL_KILL, Supervisor
from trio_otp.testing import exit_child, settle

from .harness import start_supervisor


class Crash(Exception):
    pass


async def parked(*, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await trio.sleep_forever()


async def never_ready(*, task_status: trio.TaskStatus[None]) -> None:
    await trio.sleep_forever()


async def slow_start(seconds: float, *, task_status: trio.TaskStatus[None]) -> None:
    await trio.sleep(seconds)
    task_status.started()
    await trio.sleep_forever()


@attrs.define
class Cleaner:
    """Children whose cleanup takes ``seconds``; records when each finished or was cut."""

    log: list[tuple[str, str, float]] = attrs.Factory(list)

    async def run(self, name: str, seconds: float, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope() as scope:
                await trio.sleep(seconds)
            how = "cut" if scope.cancelled_caught else "done"
            self.log.append((how, name, trio.current_time()))

    def spec(self, name: str, seconds: float, **options: Any) -> trio_otp.ChildSpec:
        return trio_otp.ChildSpec(name, self.run, args=(name, seconds), **options)


# --- item 6: a DynamicSupervisor start can be cancelled by its caller ---------------------


async def test_a_slow_dynamic_start_gives_way_to_its_callers_cancellation(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        begun = trio.current_time()
        with trio.move_on_after(1) as scope:
            await pool.start_child(trio_otp.ChildSpec("slow", slow_start, args=(5,)))
        assert scope.cancelled_caught
        assert trio.current_time() - begun == pytest.approx(1)
        assert await pool.count_children() == trio_otp.ChildCounts(0, 0, 0, 0)  # undone, not left running
        nursery.cancel_scope.cancel()


async def test_a_child_that_never_becomes_ready_does_not_hold_its_caller(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        with trio.move_on_after(2) as scope:
            await pool.start_children([trio_otp.ChildSpec("stuck", never_ready)] * 3)
        assert scope.cancelled_caught
        assert trio.current_time() == pytest.approx(2)
        assert await pool.which_children() == []
        # The supervisor is unharmed and takes new children.
        child = await pool.start_child(trio_otp.ChildSpec("ok", parked))
        assert child.running
        nursery.cancel_scope.cancel()


async def test_undoing_a_start_does_not_wait_behind_a_restart_that_hangs(autojump_clock: MockClock) -> None:
    """The supervisor's loop is stuck waiting for a restart to become ready; a caller that
    gives up on its own start must not be stuck behind it."""
    runs: list[int] = []

    async def flaky(*, task_status: trio.TaskStatus[None]) -> None:
        runs.append(1)
        if len(runs) > 1:
            await trio.sleep_forever()  # the restart never becomes ready
        task_status.started()
        await trio.sleep(0.1)
        raise Crash("once")

    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        await pool.start_child(trio_otp.ChildSpec("flaky", flaky))
        await trio.sleep(0.5)
        with trio.move_on_after(1):
            await pool.start_child(trio_otp.ChildSpec("slow", slow_start, args=(10,)))
        assert trio.current_time() == pytest.approx(1.5)
        nursery.cancel_scope.cancel()


async def test_a_child_starting_siblings_while_its_supervisor_shuts_down_does_not_deadlock(
    autojump_clock: MockClock,
) -> None:
    pools: list[trio_otp.DynamicSupervisorRef] = []

    async def starter(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            await pools[0].start_child(trio_otp.ChildSpec("slow", slow_start, args=(10,)))

    async with trio.open_nursery() as nursery:
        pools.append(await nursery.start(trio_otp.DynamicSupervisor().run))
        await pools[0].start_child(trio_otp.ChildSpec("starter", starter))
        await trio.sleep(1)  # the starter is waiting for its sibling to be ready
        nursery.cancel_scope.cancel()
    assert trio.current_time() == pytest.approx(1)


async def test_a_request_during_the_shutdown_is_refused_at_once(autojump_clock: MockClock) -> None:
    """A child that asks its own supervisor something while being stopped gets an answer
    now, instead of waiting for a loop that waits for it."""
    answers: list[str] = []
    refs: list[trio_otp.SupervisorRef] = []

    async def asks_in_cleanup(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                try:
                    await refs[0].which_children()
                except trio_otp.SupervisorNotRunning:
                    answers.append("not running")

    async with trio.open_nursery() as nursery:
        refs.append(await start_supervisor(nursery, [trio_otp.ChildSpec("a", asks_in_cleanup, shutdown=30)]))
        nursery.cancel_scope.cancel()
    assert answers == ["not running"]
    assert trio.current_time() == 0


async def test_children_being_undone_still_count_against_max_children(autojump_clock: MockClock) -> None:
    cleaner = Cleaner()

    async def slow_to_start_slow_to_stop(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await trio.sleep_forever()  # never ready
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(3)

    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor(max_children=1).run)

        async def gives_up() -> None:
            with trio.move_on_after(0.5):
                await pool.start_child(trio_otp.ChildSpec("a", slow_to_start_slow_to_stop))

        nursery.start_soon(gives_up)
        await trio.sleep(1)  # "a" is being stopped again, for 3 s
        with pytest.raises(trio_otp.MaxChildrenReached):
            await pool.start_child(cleaner.spec("b", 0))
        await trio.sleep(3)
        await pool.start_child(cleaner.spec("b", 0))  # room again
        nursery.cancel_scope.cancel()


async def test_an_undone_start_returns_only_once_its_child_has_ended(autojump_clock: MockClock) -> None:
    """Also when the supervisor's own shutdown got to the child first."""
    for _ in range(10):  # Trio may run the supervisor or the caller first
        ended, returned = await _undo_beside_a_shutdown()
        assert ended
        assert returned
        assert returned[0] >= ended[0]


async def _undo_beside_a_shutdown() -> tuple[list[float], list[float]]:
    ended: list[float] = []
    returned: list[float] = []

    async def never_ready_slow_stop(*, task_status: trio.TaskStatus[None]) -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(2)
            ended.append(trio.current_time())

    async def starter(pool: trio_otp.DynamicSupervisorRef) -> None:
        try:
            await pool.start_child(trio_otp.ChildSpec("c", never_ready_slow_stop))
        finally:
            returned.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        nursery.start_soon(starter, pool)
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    return ended, returned


async def test_cancelling_a_task_while_its_supervisor_shuts_down_is_quiet(autojump_clock: MockClock) -> None:
    outcome: list[BaseException] = []

    async def mapper(tasks: trio_otp.TaskSupervisorRef) -> None:
        async def slow(x: int) -> int:
            await trio.sleep(10)
            return x

        async for _ in tasks.map(slow, range(5)):
            pass

    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(mapper, tasks)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    try:
        await handle.result(timeout=0)
    except trio_otp.TaskFailed as failed:
        outcome.append(failed)
    assert outcome[0].cancelled  # type: ignore[attr-defined]
    assert outcome[0].__cause__ is None


# --- item 7: a nested supervisor's own shutdown policy bounds its whole subtree ----------


@pytest.mark.parametrize(("policy", "expected"), [(1.0, 1.0), (BRUTAL_KILL, 0.0)])
async def test_a_supervisor_childs_budget_bounds_its_subtree(
    autojump_clock: MockClock, policy: Any, expected: float
) -> None:
    cleaner = Cleaner()
    inner = Supervisor(
        [cleaner.spec("x", 3.0, shutdown=10), cleaner.spec("y", 3.0, shutdown=10)], name="inner"
    )
    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [inner.child_spec("inner", shutdown=policy)])
        begun = trio.current_time()
        await root.terminate_child("inner")
        assert trio.current_time() - begun == pytest.approx(expected)
        # In reverse order, each cut at the parent's deadline (y had used all of it).
        assert [(how, name) for how, name, _ in cleaner.log] == [("cut", "y"), ("cut", "x")]
        nursery.cancel_scope.cancel()


async def test_a_subtree_already_stopping_gets_its_ancestors_earlier_deadline(
    autojump_clock: MockClock,
) -> None:
    """A grandchild in the middle of a long stop is cut when its grandparent's budget ends."""
    cleaner = Cleaner()
    inner = Supervisor([cleaner.spec("x", 20.0, shutdown=30)], name="inner")
    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [inner.child_spec("inner", shutdown=2.0)])
        [info] = await root.which_children()
        inner_ref = info.ref
        assert isinstance(inner_ref, trio_otp.SupervisorRef)
        nursery.start_soon(inner_ref.terminate_child, "x")  # x begins a 30 s stop
        await trio.sleep(1)
        await root.terminate_child("inner")  # 2 s for all of it, from now
        assert trio.current_time() == pytest.approx(3)
        assert [(how, name) for how, name, _ in cleaner.log] == [("cut", "x")]
        nursery.cancel_scope.cancel()


# --- item 8: a child over its budget is reported at the deadline, not when it ends --------


async def test_a_child_past_its_budget_is_reported_at_the_deadline(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    release = trio.Event()
    reported_at: list[float] = []

    async def stubborn(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):  # out of the supervisor's reach
                await release.wait()

    class Clock(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "did not stop within its shutdown budget" in record.getMessage():
                reported_at.append(trio.current_time())

    handler = Clock()
    logging.getLogger("trio_otp.supervisor").addHandler(handler)
    try:
        async with trio.open_nursery() as nursery:
            root = await start_supervisor(nursery, [trio_otp.ChildSpec("stubborn", stubborn, shutdown=1.5)])
            nursery.start_soon(root.terminate_child, "stubborn")
            await trio.sleep(10)
            assert reported_at == [pytest.approx(1.5)]  # while it still runs
            release.set()
            await settle()
            nursery.cancel_scope.cancel()
    finally:
        logging.getLogger("trio_otp.supervisor").removeHandler(handler)


async def test_dynamic_children_past_their_budget_are_reported_at_the_deadline(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    release = trio.Event()

    async def stubborn(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await release.wait()

    async with trio.open_nursery() as outer, trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor(name="pool").run)
        await pool.start_child(trio_otp.ChildSpec("stubborn", stubborn, shutdown=2.0))
        nursery.cancel_scope.cancel()

        async def check() -> None:
            await trio.sleep(5)
            assert "did not stop within its shutdown budget" in caplog.text
            release.set()

        outer.start_soon(check)


async def test_a_brutally_killed_child_that_shields_itself_is_reported(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    release = trio.Event()

    async def stubborn(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await release.wait()

    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [trio_otp.ChildSpec("s", stubborn, shutdown=BRUTAL_KILL)])
        nursery.start_soon(root.terminate_child, "s")
        await trio.sleep(5)
        assert "is still running 1 s after a BRUTAL_KILL stop" in caplog.text
        release.set()
        await settle()
        nursery.cancel_scope.cancel()


async def test_a_report_comes_when_a_supervisor_above_ran_out_not_at_the_childs_own_deadline(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    release = trio.Event()
    reported_at: list[float] = []

    async def stubborn(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await release.wait()

    class Clock(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "child 'g'" in record.getMessage():
                reported_at.append(trio.current_time())

    inner = Supervisor([trio_otp.ChildSpec("g", stubborn, shutdown=10)], name="inner")
    handler = Clock()
    logging.getLogger("trio_otp.supervisor").addHandler(handler)
    try:
        async with trio.open_nursery() as nursery:
            root = await start_supervisor(nursery, [inner.child_spec("inner", shutdown=2.0)])
            [info] = await root.which_children()
            assert isinstance(info.ref, trio_otp.SupervisorRef)
            nursery.start_soon(info.ref.terminate_child, "g")  # g's own budget: 10 s
            await trio.sleep(1)
            nursery.start_soon(root.terminate_child, "inner")  # all of it within 2 s from now
            await trio.sleep(20)
            assert reported_at[0] == pytest.approx(3)
            release.set()
            await settle()
            nursery.cancel_scope.cancel()
    finally:
        logging.getLogger("trio_otp.supervisor").removeHandler(handler)


async def test_a_cleanup_scope_is_entered_once(autojump_clock: MockClock) -> None:
    scope = trio_otp.cleanup_scope()
    with scope:
        pass
    with pytest.raises(RuntimeError, match="can be entered only once"), scope:
        pass


async def test_timeouts_too_large_for_a_float_mean_for_ever(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        assert await ref.call("x", timeout=10**400) == "x"
        timer = trio_otp.send_after(10**400, ref, "never")
        assert not timer.done
        timer.cancel()
        await ref.stop()


# --- item 9: a request that raises goes back to its caller ------------------------------


async def test_terminating_something_that_is_not_a_dynamic_child_is_a_clear_error(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        child = await pool.start_child(trio_otp.ChildSpec("w", parked))
        with pytest.raises(
            TypeError, match="takes the DynamicChild that start_child returned, got 'some id'"
        ):
            await pool.terminate_child("some id")  # type: ignore[arg-type]
        assert child.running
        assert len(await pool.which_children()) == 1
        nursery.cancel_scope.cancel()


async def test_an_error_inside_a_request_goes_back_to_the_caller(autojump_clock: MockClock) -> None:
    async def broken(_state: object) -> None:
        raise AttributeError("a bug in a request")

    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [trio_otp.ChildSpec("a", parked)])
        with pytest.raises(AttributeError, match="a bug in a request"):
            await root._request(broken)
        assert [info.id for info in await root.which_children()] == ["a"]
        nursery.cancel_scope.cancel()


# --- item 10: a bad monitor is refused before anything is attached ----------------------


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise Crash("asked to")
        return request


async def test_monitor_refuses_a_notify_that_is_no_server(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        target = await trio_otp.start_server(nursery, Echo)
        good = trio_otp.monitor(target)
        with pytest.raises(TypeError, match="monitor's notify must be None or a ServerRef, got 'me'"):
            trio_otp.monitor(target, notify="me")  # type: ignore[arg-type]
        assert len(target._process.monitors or ()) == 1  # nothing half attached
        await target.stop()
        assert good.down is not None
        assert not target._process.monitors


# --- item 11: a hostile __repr__ or __str__ must not break the crash path ----------------


class Hostile(Exception):
    def __repr__(self) -> str:
        raise RuntimeError("repr refused")

    def __str__(self) -> str:
        raise RuntimeError("str refused")


async def test_a_child_crashing_with_a_hostile_exception_is_restarted(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []

    async def hostile(*, task_status: trio.TaskStatus[None]) -> None:
        runs.append(1)
        task_status.started()
        await trio.sleep(1)
        raise Hostile

    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [trio_otp.ChildSpec("h", hostile)], max_restarts=10)
        await trio.sleep(3.5)
        assert len(runs) == 4
        assert [info.id for info in await root.which_children()] == ["h"]
        nursery.cancel_scope.cancel()
    assert "its repr() raised RuntimeError" in caplog.text


class HostileServer(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        await trio.sleep(1)
        raise Hostile


async def test_a_server_crashing_with_a_hostile_exception_fails_its_callers(
    autojump_clock: MockClock,
) -> None:
    # Under a supervisor: in a bare Trio nursery such an exception breaks Trio itself
    # (trio 0.35 puts its repr in a cancel reason), which no library can help.
    reasons: list[object] = []

    async def call() -> None:
        try:
            await trio_otp.call("h", "x", timeout=None)
        except trio_otp.ServerExited as exited:
            reasons.append(type(exited.reason))

    async with trio.open_nursery() as nursery:
        root = await start_supervisor(
            nursery, [trio_otp.server_spec("h", HostileServer, name="h")], max_restarts=5
        )
        for _ in range(3):
            nursery.start_soon(call)
        await trio.sleep(1.5)
        assert reasons == [Hostile] * 3
        [info] = await root.which_children()
        assert info.restarts == 1
        nursery.cancel_scope.cancel()


# --- item 12: a server stopped during init reports a Shutdown --------------------------


class SlowInit(trio_otp.GenServer[Any, Any]):
    async def init(self) -> None:
        await trio.sleep(10)


async def test_a_server_stopped_in_init_reports_a_shutdown(autojump_clock: MockClock) -> None:
    down: list[trio_otp.Down] = []
    exited: list[BaseException | None] = []

    async def watch() -> None:
        await trio.sleep(1)
        ref = trio_otp.whereis("slow")
        assert ref is not None
        monitor = trio_otp.monitor(ref)
        try:
            await ref.call("hello", timeout=None)
        except trio_otp.ServerExited as error:
            exited.append(error.reason)
        down.append(await monitor.wait())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        with trio.move_on_after(2):
            await trio_otp.start_server(nursery, SlowInit, name="slow")
        await settle()
    assert isinstance(exited[0], trio_otp.Shutdown)
    assert isinstance(down[0].reason, trio_otp.Shutdown)


# --- items 13 and 14: stop() checks first, and a full mailbox cannot refuse it ----------


@pytest.mark.parametrize("timeout", [math.nan, "5", -1])
async def test_a_bad_stop_timeout_is_refused_before_the_stop(autojump_clock: MockClock, timeout: Any) -> None:  # noqa: ASYNC109
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        with pytest.raises((TypeError, ValueError), match="stop's timeout must be a number of seconds"):
            await ref.stop(timeout=timeout)
        await settle()
        assert ref.alive
        assert await ref.call("still here") == "still here"
        await ref.stop()


class Busy(trio_otp.GenServer[Any, Any]):
    async def handle_cast(self, request: Any) -> None:
        await trio.sleep(1)


async def test_a_busy_server_with_a_full_mailbox_can_still_be_stopped(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Busy, mailbox_size=2)
        ref.cast(1)
        await settle()
        ref.cast(2)
        ref.cast(3)
        with pytest.raises(trio_otp.MailboxFull):
            ref.cast(4)
        await ref.stop(timeout=None)
        assert not ref.alive
        assert trio.current_time() == pytest.approx(3)  # in order, behind the casts queued first


# --- item 15: idle_timeout and init's return value are checked -------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (math.nan, ValueError), ("5", TypeError), (True, TypeError), (0, ValueError)],
)
async def test_a_bad_idle_timeout_fails_the_start(autojump_clock: MockClock, value: Any, error: type) -> None:
    @attrs.define
    class Idle(trio_otp.GenServer[Any, Any]):
        idle_timeout: Any = value

    async with trio.open_nursery() as nursery:
        with pytest.raises(
            error, match=r"Idle.idle_timeout \(None or seconds\) must be a number of seconds > 0"
        ):
            await trio_otp.start_server(nursery, Idle)


async def test_an_idle_timeout_set_badly_by_a_callback_crashes_the_server_clearly(
    autojump_clock: MockClock,
) -> None:
    class Changes(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> None:
            self.idle_timeout = request

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match=r"Changes.idle_timeout \(None or seconds\)")):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Changes)
            ref.cast(-5)


async def test_init_returning_something_else_fails_the_start(autojump_clock: MockClock) -> None:
    class Odd(trio_otp.GenServer[Any, Any]):
        async def init(self) -> Any:
            return 42

    async with trio.open_nursery() as nursery:
        with pytest.raises(
            TypeError, match=r"Odd\.init returned 42; expected None, Continue, Timeout, Stop or Ignore"
        ):
            await trio_otp.start_server(nursery, Odd, name="odd")
        assert trio_otp.whereis("odd") is None


# --- item 16: registry keys that are not equal to themselves ----------------------------


async def test_a_key_that_is_not_equal_to_itself_is_refused(autojump_clock: MockClock) -> None:
    registry: trio_otp.Registry[int] = trio_otp.Registry()
    with pytest.raises(ValueError, match="must be equal to itself, got nan"):
        registry.register(math.nan, 1)
    with pytest.raises(TypeError, match="a registry key must be hashable"):
        registry.register(["a", "list"], 1)
    assert registry.count() == 0
    assert not registry._by_task


# --- item 17: exit_child checks its reason ----------------------------------------------


async def test_exit_child_refuses_a_reason_that_is_no_exception(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        root = await start_supervisor(nursery, [trio_otp.ChildSpec("a", parked)], max_restarts=0)
        with pytest.raises(
            TypeError, match=r"exit_child's reason must be None, an Exception instance or trio_otp\.KILL"
        ):
            await exit_child(root, "a", "boom")  # type: ignore[arg-type]
        assert [info.state for info in await root.which_children()] == [trio_otp.ChildState.RUNNING]
        nursery.cancel_scope.cancel()


# --- behaviour decided in issue 13 ----------------------------------------------------


class Terminating(trio_otp.GenServer[Any, Any]):
    async def terminate(self, reason: BaseException | None) -> None:
        await trio.sleep(1)


async def test_a_server_in_terminate_is_not_found_by_name_but_keeps_it(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Terminating, name="t")
        nursery.start_soon(ref.stop)
        await trio.sleep(0.5)  # in terminate
        assert trio_otp.whereis("t") is None
        with pytest.raises(trio_otp.ServerNotRunning, match="no running server is registered as 't'"):
            trio_otp.cast("t", "hello")
        with pytest.raises(trio_otp.NameTaken, match="still ending"):
            await trio_otp.start_server(nursery, Echo, name="t")  # not while the first finishes
        await trio.sleep(1)
        successor = await trio_otp.start_server(nursery, Echo, name="t")
        assert trio_otp.whereis("t") is successor
        nursery.cancel_scope.cancel()


def test_a_server_name_cannot_live_in_a_duplicate_registry() -> None:
    with pytest.raises(ValueError, match="must have unique keys"):
        trio_otp.Via(trio_otp.Registry(trio_otp.Keys.DUPLICATE), "x")
    with pytest.raises(TypeError, match=r"Via\.registry must be a trio_otp\.Registry"):
        trio_otp.Via({}, "x")  # type: ignore[arg-type]


def test_calling_from_a_thread_after_the_run_ended_says_so() -> None:
    refs: list[trio_otp.ServerRef[Any, Any]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            refs.append(await trio_otp.start_server(nursery, Echo))
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    errors: list[BaseException] = []

    def in_thread() -> None:
        for attempt in (lambda: refs[0].call_from_thread("x"), lambda: refs[0].cast_from_thread("x")):
            try:
                attempt()
            except BaseException as error:
                errors.append(error)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert [type(error) for error in errors] == [trio_otp.ServerNotRunning] * 2
    assert "its Trio run has ended" in str(errors[0])
