"""WorkerPool on real worker processes, under real time.

MockClock cannot drive real processes (its autojump would fire every timeout while a
worker starts), so each test runs its own ``trio.run`` on the real clock, inside a
``fail_after`` that turns a hang into a failure; none asserts how fast anything was
(speed lives in ``bench/``). The jobs are in ``tests/worker_jobs.py``, importable by
name in the workers.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing

import trio_otp
from trio_otp import WorkerCrashed, WorkerPool, WorkerPoolRef

from . import worker_jobs as jobs
from .real_processes import gone, run, until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker pools are POSIX-only")

ROOT = pathlib.Path(__file__).parent.parent


async def cancel_once_started(scope: trio.CancelScope, mark: pathlib.Path) -> None:
    """Cancel ``scope`` once jobs.sleep_then_mark(..., mark) has started in its worker."""
    started = pathlib.Path(f"{mark}.started")
    await until(started.exists)
    scope.cancel()


async def start(nursery: trio.Nursery, pool: WorkerPool) -> WorkerPoolRef:
    ref: WorkerPoolRef = await nursery.start(pool.run)
    return ref


async def replaced(ref: WorkerPoolRef, old: int, count: int) -> list[int]:
    """The pool's pids once ``old`` is gone and ``count`` workers run again."""
    await until(lambda: old not in ref.worker_pids() and len(ref.worker_pids()) == count)
    return ref.worker_pids()


# -- jobs and their answers --


def test_a_job_returns_its_value_and_raises_its_exception_with_the_workers_traceback() -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(2))
            assert len(ref.worker_pids()) == 2
            assert await ref.run(jobs.add, 2, 3) == 5
            assert await ref.run(os.getpid) in ref.worker_pids()
            with pytest.raises(ValueError, match="bad input") as raised:
                await ref.run(jobs.fail, "bad input")
            [note] = raised.value.__notes__
            assert "raised in worker" in note
            assert "raise ValueError(message)" in note
            # The answers the parent cannot read, or the worker cannot send, are errors
            # of that call only; the worker goes on.
            pids = ref.worker_pids()
            with pytest.raises(pickle.UnpicklingError, match="raise_unpicklable"):
                await ref.run(jobs.raise_unpicklable)
            with pytest.raises(pickle.PicklingError, match="result cannot be pickled"):
                await ref.run(jobs.return_unpicklable)
            assert ref.worker_pids() == pids
            nursery.cancel_scope.cancel()

    run(test)


def test_many_callers_on_few_workers_each_get_their_own_answer_and_big_ones_arrive_whole() -> None:
    async def test() -> None:
        answers: dict[int, object] = {}

        async def caller(index: int) -> None:
            answers[index] = await ref.run(jobs.add, index, 1000)

        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(2))
            async with trio.open_nursery() as callers:
                for index in range(50):
                    callers.start_soon(caller, index)
            assert answers == {index: index + 1000 for index in range(50)}
            big = bytes(range(256)) * 40_000  # 10 MB each way, many pipe reads
            assert await ref.run(jobs.echo, big) == big
            nursery.cancel_scope.cancel()

    run(test)


def test_wrong_calls_fail_at_the_call_and_harm_nothing() -> None:
    async def work() -> None:
        pass

    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1))
            pids = ref.worker_pids()
            with pytest.raises(TypeError, match="must be a sync function, got <function"):
                await ref.run(work)  # type: ignore[arg-type,unused-coroutine]  # pyright: ignore[reportArgumentType]
            coroutine = work()
            with pytest.raises(TypeError, match=r"not run\(work\(x\)\)"):
                await ref.run(coroutine)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            with pytest.raises(TypeError, match=r"cannot be: .* importable by module and name"):
                await ref.run(lambda: 1)
            with pytest.raises(TypeError, match="cannot be"):
                await ref.run(jobs.add, 1, lambda: 1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            with pytest.raises(ValueError, match="run's timeout must be a number of seconds >= 0 or None"):
                await ref.run(jobs.add, 1, 2, timeout=-1)
            with pytest.raises(TypeError, match="has no public constructor"):
                WorkerPoolRef()  # type: ignore[call-arg]
            assert await ref.run(jobs.add, 1, 2) == 3
            assert ref.worker_pids() == pids
            nursery.cancel_scope.cancel()

    run(test)


def test_a_pool_is_found_by_name_and_its_name_is_one_of_the_namespace() -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, name="cpu"))
            found = trio_otp.whereis("cpu", WorkerPoolRef)
            assert found is ref
            assert await found.run(jobs.add, 1, 2) == 3
            assert "cpu" in repr(ref)
            with pytest.raises(trio_otp.NameTaken):
                await nursery.start(trio_otp.Supervisor([], name="cpu").run)
            assert [info.kind for info in trio_otp.processes()] == ["worker_pool", "worker"]
            assert (await ref.count_children()).active == 1
            await ref.stop()
            assert trio_otp.whereis("cpu") is None
            assert not ref.alive
            with pytest.raises(trio_otp.WorkerPoolNotRunning, match="is not running"):
                await ref.run(jobs.add, 1, 2)

    run(test)


def test_the_supervisor_functions_take_a_pools_name_and_refuse_to_change_its_slots() -> None:
    async def parked() -> None:
        await trio.sleep_forever()

    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(2, name="cpu"))
            for target in ("cpu", ref):
                assert [info.id for info in await trio_otp.which_children(target)] == [
                    "worker 1",
                    "worker 0",
                ]
                counts = await trio_otp.count_children(target)
                assert (counts.specs, counts.active, counts.workers) == (2, 2, 2)
            # The slots are the pool's own business: no function changes them.
            changes: list[Callable[[], Any]] = [
                lambda: trio_otp.start_child("cpu", trio_otp.ChildSpec("x", parked)),
                lambda: trio_otp.terminate_child("cpu", "worker 0"),
                lambda: trio_otp.restart_child(ref, "worker 0"),
                lambda: trio_otp.delete_child(ref, "worker 0"),
            ]
            for change in changes:
                with pytest.raises(TypeError, match=r"is a WorkerPool, whose children are its worker slots"):
                    await change()
            assert len(ref.worker_pids()) == 2
            assert await ref.run(jobs.add, 1, 2) == 3
            nursery.cancel_scope.cancel()

    run(test)


def test_a_worker_slower_than_start_timeout_fails_the_pools_start() -> None:
    async def test() -> None:
        with pytest.raises(trio_otp.ChildStartError) as raised:
            await WorkerPool(1, start_timeout=0.001).run()
        reason = raised.value.reason
        assert isinstance(reason, TimeoutError)
        assert "was not ready within start_timeout=0.001 s" in str(reason)
        pid = int(str(reason).split("(process ")[1].split(")")[0])
        assert gone(pid)  # killed and reaped, not left behind

    run(test)


# -- worker deaths --

DEATHS = [
    pytest.param(jobs.exit_with, (3,), 3, None, "exited with status 3", id="os._exit"),
    pytest.param(jobs.exit_cleanly, (), 0, None, "exited with status 0", id="sys.exit"),
    pytest.param(jobs.kill_myself, (), -9, signal.SIGKILL, "was killed by SIGKILL (signal 9)", id="SIGKILL"),
    pytest.param(jobs.segfault, (), -11, signal.SIGSEGV, "was killed by SIGSEGV (signal 11)", id="segfault"),
]


@pytest.mark.parametrize(("job", "args", "returncode", "signal_", "says"), DEATHS)
def test_a_worker_that_dies_mid_job_fails_that_call_and_is_restarted(
    job: Callable[..., None],
    args: tuple[Any, ...],
    returncode: int,
    signal_: signal.Signals | None,
    says: str,
) -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, max_restarts=1, max_seconds=60))
            [pid] = ref.worker_pids()
            with pytest.raises(WorkerCrashed) as raised:
                await ref.run(job, *args)
            crash = raised.value
            assert f"process {pid}) {says} while running {job.__name__}" in str(crash)
            assert (crash.pid, crash.returncode, crash.signal) == (pid, returncode, signal_)
            assert gone(pid)
            assert await ref.run(jobs.add, 1, 2) == 3  # waits for the restarted worker
            assert ref.worker_pids() != [pid]
            nursery.cancel_scope.cancel()

    run(test)


def test_a_worker_killed_while_idle_is_restarted() -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, max_restarts=1, max_seconds=60))
            [pid] = ref.worker_pids()
            os.kill(pid, signal.SIGKILL)
            await replaced(ref, pid, 1)
            assert await ref.run(jobs.add, 1, 2) == 3
            [slot] = await ref.which_children()
            assert (slot.id, slot.restarts) == ("worker 0", 1)
            nursery.cancel_scope.cancel()

    run(test)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux)")
def test_a_call_given_a_worker_that_died_idle_runs_on_its_replacement() -> None:
    # The worker is dead before Trio notices it (no checkpoint between the kill and the
    # call), so the call takes it from the idle ones: its job never reached the worker,
    # and must run elsewhere rather than fail with "killed while running add".
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, max_restarts=3, max_seconds=60))
            for _ in range(3):
                [pid] = ref.worker_pids()
                pidfd = os.pidfd_open(pid)
                os.kill(pid, signal.SIGKILL)
                # Until every thread of it has exited (its pipes are closed then), without
                # a checkpoint, so that the pool cannot see it first. Not gone(): the
                # main thread shows "Z" while the watchdog thread still holds the pipes.
                select.select([pidfd], [], [], 10)
                os.close(pidfd)
                assert await ref.run(jobs.add, 1, 2) == 3
            [slot] = await ref.which_children()
            assert slot.restarts == 3  # each death still counts as the crash it was
            nursery.cancel_scope.cancel()

    run(test)


def test_other_calls_are_served_while_a_worker_dies() -> None:
    async def test() -> None:
        results: list[object] = []

        async def long_job() -> None:
            results.append(await ref.run(jobs.sleep_and_return, 1.0, "long"))

        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(2, max_restarts=1, max_seconds=60))
            nursery.start_soon(long_job)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(WorkerCrashed):
                await ref.run(jobs.exit_with, 1)  # on the other, idle, worker
            assert await ref.run(jobs.add, 1, 2) == 3
            await until(lambda: bool(results))
            assert results == ["long"]
            nursery.cancel_scope.cancel()

    run(test)


def test_crashes_past_the_intensity_stop_the_pool_which_escalates() -> None:
    async def test() -> None:
        ended: list[BaseException] = []
        running: list[BaseException] = []

        async def pool_run(*, task_status: trio.TaskStatus[WorkerPoolRef]) -> None:
            try:
                await WorkerPool(2, max_restarts=1, max_seconds=60).run(task_status=task_status)
            except trio_otp.RestartIntensityExceeded as error:
                ended.append(error)

        async def long_job() -> None:
            try:
                await ref.run(jobs.sleep_and_return, 30.0, "never")
            except trio_otp.WorkerPoolNotRunning as error:
                running.append(error)

        async with trio.open_nursery() as nursery:
            ref = await nursery.start(pool_run)
            pids = ref.worker_pids()
            nursery.start_soon(long_job)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(WorkerCrashed):
                await ref.run(jobs.exit_with, 1)  # the first restart: allowed
            with pytest.raises(WorkerCrashed):
                await ref.run(jobs.exit_with, 2)  # the second: beyond max_restarts=1
        [escalation] = ended
        assert isinstance(escalation.__cause__, WorkerCrashed)
        assert "exited with status 2" in str(escalation.__cause__)
        [stopped] = running
        assert "stopped" in str(stopped)
        assert "sleep_and_return" in str(stopped)
        assert all(gone(pid) for pid in pids)
        assert not ref.alive

    run(test)


def test_a_pool_under_a_supervisor_escalates_and_is_restarted_and_found_again_by_name() -> None:
    async def test() -> None:
        pool = WorkerPool(1, name="cpu", max_restarts=0)
        async with trio.open_nursery() as nursery:
            root = await nursery.start(trio_otp.Supervisor([pool.child_spec("pool")], max_restarts=1).run)
            tree = trio_otp.format_tree(await trio_otp.snapshot(root))
            assert "pool  worker_pool  running\n    └── worker 0  worker  running" in tree
            first = trio_otp.whereis("cpu", WorkerPoolRef)
            assert first is not None
            with pytest.raises(WorkerCrashed):
                await first.run(jobs.exit_with, 1)
            await until(lambda: trio_otp.whereis("cpu") not in (None, first))
            second = trio_otp.whereis("cpu", WorkerPoolRef)
            assert second is not None
            assert await second.run(jobs.add, 1, 2) == 3
            nursery.cancel_scope.cancel()

    run(test)


# -- stopping jobs --


def test_a_cancelled_job_unwinds_and_its_worker_is_replaced_without_a_restart(tmp_path: pathlib.Path) -> None:
    mark = tmp_path / "mark"

    async def test() -> None:
        async with trio.open_nursery() as nursery:
            # No restart allowed: replacing a stopped job's worker must not count as one.
            ref = await start(nursery, WorkerPool(1, max_restarts=0, cancel_grace=10))
            [pid] = ref.worker_pids()
            with trio.CancelScope() as scope:
                nursery.start_soon(cancel_once_started, scope, mark)
                await ref.run(jobs.sleep_then_mark, 30.0, str(mark))
            assert scope.cancelled_caught
            assert mark.read_text() == "unwound"  # SIGINT: its finally block ran
            assert gone(pid)  # gone before the call returned
            await replaced(ref, pid, 1)
            assert await ref.run(jobs.add, 1, 2) == 3
            assert ref.alive
            nursery.cancel_scope.cancel()

    run(test)


def test_a_job_unwinds_even_if_the_pools_process_ignores_sigint(tmp_path: pathlib.Path) -> None:
    # nohup and some service managers start programs with SIGINT ignored, which exec keeps.
    mark = tmp_path / "mark"

    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, cancel_grace=10))
            with trio.CancelScope() as scope:
                nursery.start_soon(cancel_once_started, scope, mark)
                await ref.run(jobs.sleep_then_mark, 30.0, str(mark))
            assert mark.read_text() == "unwound"
            nursery.cancel_scope.cancel()

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run(test)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_job_that_ignores_sigint_is_killed_after_the_grace() -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, max_restarts=0, cancel_grace=0.2))
            [pid] = ref.worker_pids()
            with pytest.raises(trio_otp.JobTimeout, match=r"ignore_interrupts did not finish within 0.3 s"):
                await ref.run(jobs.ignore_interrupts, 60.0, timeout=0.3)
            assert gone(pid)
            await replaced(ref, pid, 1)
            assert ref.alive
            nursery.cancel_scope.cancel()

    run(test, limit=15)  # the job would take 60 s


def test_timed_out_jobs_cost_no_restart_and_the_wait_for_a_worker_counts() -> None:
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1, max_restarts=0, cancel_grace=0))
            for _ in range(3):
                await until(lambda: len(ref.worker_pids()) == 1)  # the replacement is up
                with pytest.raises(trio_otp.JobTimeout, match="did not finish"):
                    await ref.run(jobs.sleep_and_return, 30.0, None, timeout=0.1)
            assert ref.alive
            await until(lambda: len(ref.worker_pids()) == 1)
            nursery.start_soon(ref.run, jobs.sleep_and_return, 1.0, None)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio_otp.JobTimeout, match=r"no worker of pool .* was free within 0\.1 s"):
                await ref.run(jobs.add, 1, 2, timeout=0.1)
            assert await ref.run(jobs.add, 1, 2, timeout=10) == 3
            [slot] = await ref.which_children()
            assert slot.restarts == 0
            nursery.cancel_scope.cancel()

    run(test)


# -- stopping the pool --


def test_stopping_the_pool_refuses_waiting_calls_and_stops_running_jobs() -> None:
    async def test() -> None:
        errors: list[str] = []

        async def job(seconds: float) -> None:
            try:
                await ref.run(jobs.sleep_and_return, seconds, None)
            except trio_otp.WorkerPoolNotRunning as error:
                errors.append(str(error))

        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(1))
            [pid] = ref.worker_pids()
            nursery.start_soon(job, 30.0)  # runs
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(job, 0.0)  # waits for the only worker
            await trio.testing.wait_all_tasks_blocked()
            await ref.stop()
            assert gone(pid)
        assert len(errors) == 2
        assert any("while it ran sleep_and_return" in error for error in errors)
        assert any(error.endswith("is not running") for error in errors)

    run(test)


async def stubborn_job(ref: WorkerPoolRef) -> None:
    try:
        await ref.run(jobs.ignore_interrupts, 60.0)
    except trio_otp.WorkerPoolNotRunning:
        pass


def test_the_pool_stops_within_its_shutdown_budget_even_if_jobs_refuse_to() -> None:
    async def test() -> None:
        # A 30 s grace would let the jobs linger; the pool's 0.5 s budget cuts it short.
        pool = WorkerPool(2, name="cpu", cancel_grace=30)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(trio_otp.Supervisor([pool.child_spec("pool", shutdown=0.5)]).run)
                ref = trio_otp.whereis("cpu", WorkerPoolRef)
                assert ref is not None
                pids = ref.worker_pids()
                for _ in pids:
                    nursery.start_soon(stubborn_job, ref)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        assert all(gone(pid) for pid in pids)

    run(test)


def test_stopping_the_pool_kills_all_stubborn_jobs_after_one_grace_not_one_per_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every worker gets SIGINT at once, so every one is due its SIGKILL at the same
    # moment: stopping the slots one by one must not add up their graces (4 x 2 s).
    async def test() -> None:
        async with trio.open_nursery() as nursery:
            ref = await start(nursery, WorkerPool(4, cancel_grace=2))
            pids = ref.worker_pids()
            for _ in pids:
                nursery.start_soon(stubborn_job, ref)
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(0.2)  # the jobs run, and swallow SIGINT
            with trio.fail_after(6):
                await ref.stop()
            assert all(gone(pid) for pid in pids)

    run(test)
    # Killing a stubborn job at the grace is the pool doing its job, not a slot late to stop.
    assert not [r for r in caplog.records if "did not stop within its shutdown budget" in r.getMessage()]


# -- the owner's death --

OWNER = """
import sys, time, trio, trio_otp

async def main():
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(trio_otp.WorkerPool(2).run)
        for _ in range(2):
            nursery.start_soon(ref.run, time.sleep, 60)
        await trio.testing.wait_all_tasks_blocked()
        print(*ref.worker_pids(), flush=True)
        await trio.sleep_forever()

import trio.testing
trio.run(main)
"""


def test_no_worker_outlives_a_sigkilled_owner_for_the_rest_of_its_job() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, env=env) as owner:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2
        assert not any(gone(pid) for pid in pids)
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10  # the jobs would run 60 s
        while not all(gone(pid) for pid in pids):
            assert time.monotonic() < deadline, "a worker outlived its owner"
            time.sleep(0.02)


CTRL_C_OWNER = """
import os, sys, trio, trio_otp
from tests import worker_jobs

async def main():
    pool = trio_otp.WorkerPool(2, name="cpu", cancel_grace=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([pool.child_spec("cpu")]).run)
        ref = trio_otp.whereis("cpu", trio_otp.WorkerPoolRef)
        for index in range(2):
            nursery.start_soon(ref.run, worker_jobs.sleep_then_mark, 60, sys.argv[1] + str(index))
        while not all(os.path.exists(f"{sys.argv[1]}{index}.started") for index in range(2)):
            await trio.sleep(0.01)
        print(*ref.worker_pids(), flush=True)
        await trio.sleep_forever()

trio.run(main)
"""


def test_ctrl_c_at_the_terminal_stops_the_tree_which_stops_the_jobs(tmp_path: pathlib.Path) -> None:
    # A terminal's Ctrl-C is a SIGINT to its foreground process group: the owner's. The
    # workers are in sessions of their own, so only the pool stops them, as it stops jobs.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    mark = str(tmp_path / "mark")
    command = [sys.executable, "-c", CTRL_C_OWNER, mark]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    ) as owner:
        assert owner.stdout is not None
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(pids) == 2
        os.killpg(owner.pid, signal.SIGINT)
        try:
            _, stderr = owner.communicate(timeout=15)  # the jobs would run 60 s
        finally:
            owner.kill()
    assert "KeyboardInterrupt" in stderr
    assert all(gone(pid) for pid in pids)  # reaped by the pool before it returned
    assert [pathlib.Path(mark + str(index)).read_text() for index in range(2)] == ["unwound", "unwound"]
