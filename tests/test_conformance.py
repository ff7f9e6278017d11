"""Property-based conformance: random trees and crash schedules, real supervisor vs model.

Each example builds the same tree twice, once from trio_otp and once in
``otp_model.Model``, plays the same timed schedule on both under ``MockClock``, and
requires the traces to be equal event for event: which children start and stop, in what
order, when a supervisor escalates or shuts down, and what each runtime API call returns.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trio_otp
from trio_otp import AutoShutdown, Restart, RestartStrategy

from .harness import supervised_task_names
from .otp_model import Model, Path, SupSpec, TraceEvent, WorkerSpec
from .strategies import schedules, supervisors

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

EXAMPLES = int(os.environ.get("TRIO_OTP_CONFORMANCE_EXAMPLES", "300"))
conformance = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)


class Crash(Exception):
    pass


class StartFailure(Exception):
    pass


def _is_cancellation(error: BaseException) -> bool:
    if isinstance(error, trio.Cancelled):
        return True
    return isinstance(error, BaseExceptionGroup) and error.split(trio.Cancelled)[1] is None


class _RecordingStatus(trio.TaskStatus[trio_otp.SupervisorRef]):
    def __init__(self, driver: Driver, path: Path, inner: trio.TaskStatus[Any]) -> None:
        self.driver, self.path, self.inner = driver, path, inner

    def started(self, value: Any = None) -> None:
        self.driver.sups[self.path] = value
        self.inner.started(value)


@attrs.define
class Driver:
    """Runs a model tree as real trio_otp supervisors whose workers obey commands."""

    trace: list[TraceEvent] = attrs.field(factory=list)
    workers: dict[Path, trio.MemorySendChannel[str]] = attrs.field(factory=dict)
    sups: dict[Path, trio_otp.SupervisorRef] = attrs.field(factory=dict)
    fail_starts: dict[Path, int] = attrs.field(factory=dict)
    ignore_starts: dict[Path, int] = attrs.field(factory=dict)

    def child_spec(self, spec: WorkerSpec | SupSpec, path: Path) -> trio_otp.ChildSpec:
        if isinstance(spec, WorkerSpec):
            shutdown = {"brutal_kill": trio_otp.BRUTAL_KILL, "budget": 5.0, "infinity": trio_otp.INFINITY}
            return trio_otp.ChildSpec(
                spec.id,
                self.worker,
                args=(path,),
                restart=Restart(spec.restart),
                significant=spec.significant,
                shutdown=shutdown[spec.shutdown],
            )
        return trio_otp.ChildSpec(
            spec.id,
            self.supervisor,
            args=(spec, path),
            type=trio_otp.ChildType.SUPERVISOR,
            restart=Restart(spec.restart),
            significant=spec.significant,
        )

    async def worker(self, path: Path, *, task_status: trio.TaskStatus[None]) -> type[trio_otp.Ignore] | None:
        self.trace.append(("start", path))
        if self.fail_starts.get(path, 0) > 0:
            self.fail_starts[path] -= 1
            raise StartFailure(path)
        if self.ignore_starts.get(path, 0) > 0:
            self.ignore_starts[path] -= 1
            return trio_otp.Ignore
        send, receive = trio.open_memory_channel[str](math.inf)
        self.workers[path] = send
        task_status.started()
        try:
            command = await receive.receive()
        except trio.Cancelled:
            self.trace.append(("stop", path))
            raise
        finally:
            if self.workers.get(path) is send:
                del self.workers[path]
        if command == "crash":
            raise Crash(path)
        if command == "shutdown":
            raise trio_otp.Shutdown(path)
        return None

    async def supervisor(self, spec: SupSpec, path: Path, *, task_status: trio.TaskStatus[Any]) -> None:
        self.trace.append(("start", path))
        definition = trio_otp.Supervisor(
            [self.child_spec(child, (*path, child.id)) for child in spec.children],
            strategy=RestartStrategy(spec.strategy),
            max_restarts=spec.max_restarts,
            max_seconds=spec.max_seconds,
            auto_shutdown=AutoShutdown(spec.auto_shutdown),
            name="/".join(path),
        )
        try:
            await definition.run(task_status=_RecordingStatus(self, path, task_status))
        except trio_otp.RestartIntensityExceeded:
            self.trace.append(("escalate", path))
            raise
        except BaseException as error:
            if _is_cancellation(error):
                self.trace.append(("stop", path))
            raise
        else:
            self.trace.append(("auto_shutdown", path))
        finally:
            self.sups.pop(path, None)

    async def play(self, event: tuple[object, ...]) -> None:
        kind = event[0]
        if kind == "exit":
            _, path, how = event
            control = self.workers.get(path)  # type: ignore[arg-type]
            if control is not None:
                control.send_nowait(str(how))
        elif kind == "fail_starts":
            _, path, count = event
            self.fail_starts[path] = count  # type: ignore[index,assignment]
        elif kind == "ignore_starts":
            _, path, count = event
            self.ignore_starts[path] = count  # type: ignore[index,assignment]
        else:
            _, sup_path, operation, child_id = event
            ref = self.sups.get(sup_path)  # type: ignore[arg-type]
            if ref is None:
                outcome = "SupervisorNotRunning"
            else:
                try:
                    await getattr(ref, str(operation))(child_id)
                    outcome = "ok"
                except trio_otp.SupervisorError as error:
                    outcome = type(error).__name__
            self.trace.append(("api", sup_path, operation, child_id, outcome))


def model_play(model: Model, event: tuple[object, ...]) -> None:
    kind = event[0]
    if kind == "exit":
        model.exit(event[1], event[2])  # type: ignore[arg-type]
    elif kind == "fail_starts":
        model.fail_starts[event[1]] = event[2]  # type: ignore[index,assignment]
    elif kind == "ignore_starts":
        model.ignore_starts[event[1]] = event[2]  # type: ignore[index,assignment]
    else:
        model.api(event[1], str(event[2]), str(event[3]))  # type: ignore[arg-type]


def run_both(tree: SupSpec, schedule: list[tuple[float, tuple[object, ...]]]) -> tuple[Model, Driver, str]:
    driver = Driver()
    model = Model(tree)
    real_outcome = "running"

    async def main() -> None:
        nonlocal real_outcome
        model.now = trio.current_time()
        model.boot()
        async with trio.open_nursery() as nursery:
            done = trio.Event()

            async def root(*, task_status: trio.TaskStatus[Any]) -> None:
                nonlocal real_outcome
                try:
                    await driver.supervisor(tree, ("root",), task_status=task_status)
                    real_outcome = "returned"
                except trio_otp.RestartIntensityExceeded:
                    real_outcome = "escalated"
                except trio_otp.ChildStartError:
                    real_outcome = "start_failed"
                finally:
                    done.set()

            try:
                await nursery.start(root)
            except trio_otp.ChildStartError:
                real_outcome = "start_failed"
                return
            for delay, event in schedule:
                await trio.sleep(delay)
                if done.is_set():
                    break
                model.now = trio.current_time()
                model_play(model, event)
                await driver.play(event)
                await trio.testing.wait_all_tasks_blocked()
            if not done.is_set():
                model.shut_down()
                nursery.cancel_scope.cancel()
        # Property 4: nothing of the tree outlives the root.
        assert supervised_task_names() == []

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return model, driver, real_outcome


@conformance
@given(data=st.data())
def test_trace_equals_the_model(data: st.DataObject) -> None:
    """Property 1 (and 2, 4): event for event, trio_otp does what OTP's rules say."""
    tree = data.draw(supervisors(), label="tree")
    schedule = data.draw(schedules(tree), label="schedule")
    model, driver, real_outcome = run_both(tree, schedule)
    assert driver.trace == model.trace
    expected = model.root_outcome if model.root_outcome != "running" else "running"
    assert real_outcome == expected


def _leaf_tree(i1: int, i2: int) -> SupSpec:
    inner = SupSpec("inner", (WorkerSpec("leaf"),), max_restarts=i1, max_seconds=60.0)
    return SupSpec("root", (inner,), max_restarts=i2, max_seconds=60.0)


@settings(max_examples=30, deadline=None)
@given(i1=st.integers(0, 3), i2=st.integers(0, 3))
def test_escalation_chain_takes_the_product_of_intensities(i1: int, i2: int) -> None:
    """Property 3: a leaf under intensities I1 then I2 brings the root down on exactly
    the (I1+1)*(I2+1)-th crash within the windows."""
    crashes = (i1 + 1) * (i2 + 1)
    schedule = [(0.0, ("exit", ("root", "inner", "leaf"), "crash"))] * (crashes + 2)
    model, driver, outcome = run_both(_leaf_tree(i1, i2), schedule)
    assert outcome == "escalated"
    assert driver.trace == model.trace
    leaf_starts = sum(1 for event in driver.trace if event == ("start", ("root", "inner", "leaf")))
    assert leaf_starts == crashes  # the first start plus a restart for every crash but the last


@pytest.mark.parametrize("steps", [[0.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
def test_known_schedule_agrees(steps: list[float]) -> None:
    """A fixed example, so a failure here is readable without hypothesis."""
    tree = SupSpec(
        "root",
        (WorkerSpec("a"), WorkerSpec("b", restart="transient"), WorkerSpec("c", restart="temporary")),
        strategy="rest_for_one",
        max_restarts=2,
        max_seconds=1.0,
    )
    schedule = [(step, ("exit", ("root", "a"), "crash")) for step in steps]
    model, driver, _ = run_both(tree, schedule)
    assert driver.trace == model.trace


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
def test_known_ignore_schedule_agrees(strategy: str) -> None:
    """Starts that return ignore (OTP's {ok, undefined}): a restart leaves the child
    stopped, restart_child reports it, and a later restart_child starts it."""
    tree = SupSpec("root", (WorkerSpec("a"), WorkerSpec("b")), strategy=strategy, max_restarts=3)  # type: ignore[arg-type]
    schedule: list[tuple[float, tuple[object, ...]]] = [
        (0.0, ("ignore_starts", ("root", "a"), 2)),
        (0.0, ("exit", ("root", "a"), "crash")),
        (0.0, ("api", ("root",), "restart_child", "a")),
        (0.0, ("api", ("root",), "restart_child", "a")),
    ]
    model, driver, _ = run_both(tree, schedule)
    assert driver.trace == model.trace
    outcomes = [event[-1] for event in model.trace if event[0] == "api"]
    assert outcomes == ["ChildIgnored", "ok"]
