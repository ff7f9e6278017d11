"""A busy supervision tree, run as a program, for the real-signal stress tests.

``python tests/busy_tree.py MODE VARIANT SEED`` builds a tree in which every low-level
protocol of trio_otp is in use all the time: children crash in loops (one_for_one and
one_for_all), servers are hammered by callers (calls with and without timeouts, casts,
calls that crash the server, stops), timers and monitors fire, registry entries come and
go, a DynamicSupervisor and a TaskSupervisor start and stop children, and some cleanups
take time. ``test_signals.py`` sends it real SIGINTs (and SIGTERMs) at random moments.

MODE is ``trio-run`` (``trio.run(tree.run)``: the signal arrives as KeyboardInterrupt)
or ``application`` (``trio_otp.run_application(tree)``). VARIANT is ``steady``,
``escalate`` (the root gives up on its own after a while) or ``auto-shutdown`` (a
significant child ends the root after a while), so that signals also land while the
root is already shutting down.

The program prints ``booting`` as soon as its first child starts, then, when it ends,
one line ``RESULT {json}`` that says how it ended and whether the root's children had
all stopped, in reverse start order.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sys
import traceback
from collections.abc import Hashable
from typing import Any

import attrs
import trio

import trio_otp

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

MODE, VARIANT, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(SEED)

#: ("start" | "stop", id, how) for the root's own children, in the order they happened.
root_events: list[tuple[str, str, str]] = []
#: Whether "booting" was printed (a list, so that no global statement is needed).
booted: list[bool] = []


class Crash(Exception):
    pass


class _Discard(logging.Handler):
    """Formats every record (so report building runs) and throws it away."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def _how(error: BaseException | None) -> str:
    if error is None:
        return "returned"
    if isinstance(error, KeyboardInterrupt) or (
        isinstance(error, BaseExceptionGroup) and error.subgroup(KeyboardInterrupt) is not None
    ):
        return "interrupted"
    if isinstance(error, trio.Cancelled) or (
        isinstance(error, BaseExceptionGroup) and error.split(trio.Cancelled)[1] is None
    ):
        return "cancelled"
    return type(error).__name__


@trio.lowlevel.disable_ki_protection
async def _unprotected(start: Any, args: tuple[Any, ...], task_status: Any) -> None:
    await start(*args, task_status=task_status)


def root_child(child_id: str, start: Any, *args: Any, **options: Any) -> trio_otp.ChildSpec:
    """A child of the root that records when it starts and when it ends, and how.

    The recording is KI-protected (the child itself is not, through ``_unprotected``):
    an interrupt that skipped a record would be a failure of this program, not of the
    tree under test."""

    @trio.lowlevel.enable_ki_protection
    async def recorded(*, task_status: trio.TaskStatus[Any]) -> None:
        if not booted:
            booted.append(True)
            print("booting", flush=True)
        error: BaseException | None = None
        try:
            root_events.append(("start", child_id, ""))
            await _unprotected(start, args, task_status)
        except BaseException as exc:
            error = exc
            raise
        finally:
            root_events.append(("stop", child_id, _how(error)))

    return trio_otp.ChildSpec(child_id, recorded, **options)


# --- workers ---------------------------------------------------------------------------


async def crash_looper(period: float, *, task_status: trio.TaskStatus[None]) -> None:
    try:
        if rng.random() < 0.1:
            await trio.sleep(period)  # a slow start now and then
        task_status.started()
        await trio.sleep(rng.random() * period)
        raise Crash("crash loop")
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(0.001)


async def slow_cleanup(*, task_status: trio.TaskStatus[None]) -> None:
    try:
        task_status.started()
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(0.05)


async def slow_start(*, task_status: trio.TaskStatus[None]) -> None:
    await trio.sleep(rng.random() * 0.1)
    task_status.started()
    await trio.sleep_forever()


@attrs.define
class Store(trio_otp.GenServer[Any, Any]):
    """A server that answers, defers, crashes on request, and keeps timers and monitors."""

    index: int
    value: int = 0
    waiting: list[trio_otp.Caller[Any]] = attrs.Factory(list)
    group: trio_otp.Registry[Any] | None = None

    async def init(self) -> None:
        if self.group is not None:
            self.group.register("stores", self.index)
        trio_otp.send_after(rng.random() * 0.01, trio_otp.whereis(f"store{self.index}"), "tick")

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise Crash("asked to crash")
        if request == "defer":
            self.waiting.append(caller)
            if len(self.waiting) > 3:
                for waiting in self.waiting:
                    waiting.reply(self.value)
                self.waiting.clear()
            return trio_otp.NO_REPLY
        if request == "slow":
            await trio.sleep(0.002)
        self.value += 1
        return self.value

    async def handle_cast(self, request: Any) -> None:
        if request == "crash" and rng.random() < 0.2:
            raise Crash("cast crash")
        self.value += 1

    async def handle_info(self, message: Any) -> None:
        if message == "tick":
            me = trio_otp.whereis(f"store{self.index}")
            if me is not None:
                trio_otp.send_after(rng.random() * 0.01, me, "tick")
                other = trio_otp.whereis(f"store{(self.index + 1) % 3}")
                if other is not None and other is not me:
                    trio_otp.monitor(other, notify=me)

    async def terminate(self, reason: BaseException | None) -> None:
        await trio.sleep(0.001)


async def hammer(group: trio_otp.Registry[Any], *, task_status: trio.TaskStatus[None]) -> None:
    """Calls, casts, deferred calls, stops, request ids (alone and in collections) and
    multi_calls against the stores, from several tasks."""
    task_status.started()

    async def one_caller(index: int) -> None:
        while True:
            name = f"store{rng.randrange(3)}"
            choice = rng.random()
            try:
                if choice < 0.5:
                    await trio_otp.call(name, "inc", timeout=0.05)
                elif choice < 0.6:
                    await trio_otp.call(name, "defer", timeout=None if index else 0.02)
                elif choice < 0.65:
                    await trio_otp.call(name, "crash", timeout=None)
                elif choice < 0.75:
                    trio_otp.cast(name, "crash")
                    await trio.lowlevel.checkpoint()
                elif choice < 0.8:
                    with trio.move_on_after(0.001):
                        await trio_otp.call(name, "slow", timeout=None)
                elif choice < 0.82:
                    ref = trio_otp.whereis(name)
                    if ref is not None:
                        await ref.stop(trio_otp.Shutdown("hammer"), timeout=0.1)
                elif choice < 0.86:
                    await trio_otp.multi_call(group, "stores", "slow", timeout=0.01)
                elif choice < 0.9:
                    collection = trio_otp.RequestIdCollection[int]()
                    for label in range(3):
                        ref = trio_otp.whereis(f"store{label}")
                        if ref is not None:
                            collection.add(ref.send_request("defer" if label else "inc"), label)
                    while collection:
                        await collection.receive_response(timeout=0.005)
                else:
                    ref = trio_otp.whereis(name)
                    if ref is not None:
                        ref.send("hello")
                    await trio.lowlevel.checkpoint()
            except (trio_otp.ServerError, TimeoutError):
                await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        for index in range(4):
            nursery.start_soon(one_caller, index)


async def dynamic_churn(pool: trio_otp.DynamicSupervisor, *, task_status: trio.TaskStatus[None]) -> None:
    """A DynamicSupervisor whose children come and go, started by a neighbour task."""
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(pool.run)
        task_status.started()
        handles: list[trio_otp.DynamicChild] = []
        while True:
            choice = rng.random()
            try:
                if choice < 0.4:
                    spec = trio_otp.ChildSpec("d", crash_looper, args=(0.01,))
                    handles.append(await ref.start_child(spec))
                elif choice < 0.5:
                    specs = [trio_otp.ChildSpec("b", slow_start) for _ in range(3)]
                    with trio.move_on_after(0.05):
                        handles.extend(await ref.start_children(specs))
                elif handles:
                    await ref.terminate_child(handles.pop(rng.randrange(len(handles))))
            except trio_otp.SupervisorError:
                pass
            await trio.sleep(0.001)


async def task_churn(tasks: trio_otp.TaskSupervisor, *, task_status: trio.TaskStatus[None]) -> None:
    """A TaskSupervisor running maps and awaited tasks, some of which fail."""
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(tasks.run)
        task_status.started()

        async def work(x: int) -> int:
            await trio.sleep(rng.random() * 0.002)
            if x % 7 == 0:
                raise Crash(x)
            return x

        while True:
            try:
                async for _ in ref.map(work, range(1, 9), max_concurrency=3):
                    pass
                handle = await ref.spawn(work, 2)
                await handle.result(timeout=0.01)
            except (trio_otp.TaskFailed, trio_otp.TaskTimeout, trio_otp.SupervisorError):
                await trio.lowlevel.checkpoint()


async def ends_after(seconds: float, *, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await trio.sleep(seconds)


async def crashes_after(seconds: float, *, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await trio.sleep(seconds)
    raise Crash("the root's last straw")


def build_tree() -> trio_otp.Supervisor:
    group: trio_otp.Registry[Any] = trio_otp.Registry(trio_otp.Keys.DUPLICATE, name="stores")
    loops = trio_otp.Supervisor(
        [trio_otp.ChildSpec(f"loop{i}", crash_looper, args=(0.005,), shutdown=0.5) for i in range(3)],
        max_restarts=1_000_000,
        max_seconds=1,
        name="loops",
    )
    all_loops = trio_otp.Supervisor(
        [trio_otp.ChildSpec(f"all{i}", crash_looper, args=(0.02,)) for i in range(3)],
        strategy=trio_otp.RestartStrategy.ONE_FOR_ALL,
        max_restarts=1_000_000,
        max_seconds=1,
        name="all_loops",
    )
    stores = trio_otp.Supervisor(
        [
            trio_otp.server_spec(
                f"store{i}", lambda i=i: Store(i, group=group), name=f"store{i}", shutdown=0.5
            )
            for i in range(3)
        ],
        max_restarts=1_000_000,
        max_seconds=1,
        name="stores",
    )
    agent = trio_otp.agent_spec("agent", lambda: 0, name="agent")
    children = [
        root_child("slow_start", slow_start),
        root_child("loops", loops.run, type=trio_otp.ChildType.SUPERVISOR),
        root_child("stores", stores.run, type=trio_otp.ChildType.SUPERVISOR),
        root_child("hammer", hammer, group),
        root_child("all_loops", all_loops.run, type=trio_otp.ChildType.SUPERVISOR),
        root_child("dynamic", dynamic_churn, trio_otp.DynamicSupervisor(max_restarts=1_000_000, name="pool")),
        root_child("tasks", task_churn, trio_otp.TaskSupervisor(name="tasks")),
        root_child("agent", agent.start, *agent.args),
        root_child("slow_cleanup", slow_cleanup, shutdown=1.0),
    ]
    auto_shutdown = trio_otp.AutoShutdown.NEVER
    if VARIANT == "escalate":
        children.append(root_child("last_straw", crashes_after, rng.random() * 0.5))
    elif VARIANT == "auto-shutdown":
        children.append(
            root_child(
                "significant",
                ends_after,
                rng.random() * 0.5,
                restart=trio_otp.Restart.TRANSIENT,
                significant=True,
            )
        )
        auto_shutdown = trio_otp.AutoShutdown.ANY_SIGNIFICANT
    return trio_otp.Supervisor(
        children,
        max_restarts=0 if VARIANT == "escalate" else 1_000_000,
        max_seconds=1,
        auto_shutdown=auto_shutdown,
        name="root",
    )


def _leaves(error: BaseException) -> list[str]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [repr(error)]


def _order_problems() -> list[str]:
    """The root's children that the root stopped must have stopped in reverse start order."""
    problems = []
    running: list[str] = []
    stops: list[tuple[str, list[str]]] = []
    for kind, child_id, how in root_events:
        if kind == "start":
            running.append(child_id)
            continue
        expected_last = running[-1] if running else None
        if how == "cancelled" and child_id != expected_last:
            problems.append(f"{child_id} was stopped while {expected_last} (started later) still ran")
        if child_id in running:
            running.remove(child_id)
        stops.append((child_id, list(running)))
    if running:
        problems.append(f"still running at the end: {running}")
    return problems


def main() -> None:
    # Interruptible however we were started: a shell starts background jobs with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(handlers=[_Discard()], level=logging.INFO, force=True)
    tree = build_tree()
    outcome: str
    detail = ""
    status: int | None = None
    try:
        if MODE == "trio-run":
            trio.run(tree.run)
            outcome = "returned"
        else:
            # run_application puts back the handlers it found when it returns. A signal the
            # test sends just after (the tree had already ended by itself) would then end
            # this program before it printed its result, which no tree could prevent: such
            # late signals are ignored here, after the run, and only here.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            status = trio_otp.run_application(tree, report=open("/dev/null", "w"))  # noqa: SIM115
            outcome = f"status {status}"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    except trio_otp.RestartIntensityExceeded:
        outcome = "RestartIntensityExceeded"
    except BaseException as error:  # every other ending is what we report
        outcome = f"unexpected {type(error).__name__}"
        leaves = _leaves(error)
        detail = f"leaves: {leaves!r}\n" + "".join(traceback.format_exception(error))[-6000:]
    result: dict[str, Hashable | list[str]] = {
        "outcome": outcome,
        "order": _order_problems(),
        "detail": detail,
        "events": len(root_events),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
