"""The benchmark suite: every figure next to its raw-Trio baseline, measured in this run.

``python -m nox -s bench`` runs it (``python bench/suite.py [--quick] [--pools]
[--update-readme]`` by hand; ``--pools`` for the worker-pool rows only). Each figure is
the median of several repetitions, printed with its baseline and the ratio, then
written to ``bench/results/latest.json`` and ``latest.md``; ``--update-readme`` also
puts the table (with the load average) into README.md, between its ``bench-table``
markers. The figures for 100,000 processes are medians over fresh Python processes, one
per measurement. Machines here
are shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import json
import logging
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import outcome
import trio

import trio_otp
from trio_otp import _context  # only to check that no row leaves propagation on for the next

QUICK = "--quick" in sys.argv
UPDATE_README = "--update-readme" in sys.argv
README = pathlib.Path(__file__).parent.parent / "README.md"
README_BEGIN, README_END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
REPEATS = 3 if QUICK else 5
PROCESS_REPEATS = 3
N_CALLS = 5_000 if QUICK else 20_000
N_PROCESSES = 10_000 if QUICK else 100_000
N_RESTARTS = 100 if QUICK else 300


@attrs.frozen
class Row:
    workload: str
    figure: float
    baseline: float
    unit: str
    higher_is_better: bool
    target: str
    #: What the baseline does, so a reader can check it does the same work.
    baseline_is: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else math.nan


def paired(
    fn: Callable[..., Awaitable[float]], baseline: Callable[..., Awaitable[float]], *args: Any
) -> tuple[float, float]:
    """The medians of ``fn(*args)`` and ``baseline(*args)`` over REPEATS runs each, run by
    turns, so that drift on a shared machine (another job starting) hits both alike."""
    figures: list[float] = []
    baselines: list[float] = []
    for _ in range(REPEATS):
        figures.append(trio.run(fn, *args))
        baselines.append(trio.run(baseline, *args))
    if _context.active and "--pair" not in sys.argv:
        msg = f"{fn.__name__} turned context propagation on for every later row: add it to OWN_PROCESS_PAIRS"
        raise RuntimeError(msg)
    return statistics.median(figures), statistics.median(baselines)


# --- 1. call round trips ---------------------------------------------------------------


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request

    async def handle_cast(self, request: Any) -> None:
        if request == "crash":
            raise RuntimeError("crash")


def _abort(_: object) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.SUCCEEDED


class RawMailbox:
    """The floor: a deque mailbox and a parked server task woken with reschedule."""

    def __init__(self) -> None:
        self.items: deque[tuple[Any, trio.lowlevel.Task | None]] = deque()
        self.parked: trio.lowlevel.Task | None = None

    def send(self, request: Any, caller: trio.lowlevel.Task | None) -> None:
        self.items.append((request, caller))
        task = self.parked
        if task is not None:
            self.parked = None
            trio.lowlevel.reschedule(task)

    async def receive(self) -> tuple[Any, trio.lowlevel.Task | None]:
        while not self.items:
            self.parked = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(_abort)
        return self.items.popleft()

    async def serve(self) -> None:
        """Reply to every request with the request itself."""
        while True:
            request, caller = await self.receive()
            assert caller is not None
            trio.lowlevel.reschedule(caller, outcome.Value(request))

    async def call(self, request: Any) -> Any:
        self.send(request, trio.lowlevel.current_task())
        return await trio.lowlevel.wait_task_rescheduled(_abort)


async def raw_call_rate(n: int) -> float:
    """The floor: a deque mailbox, parked tasks woken with reschedule."""
    raw = RawMailbox()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw.serve)
        await trio.lowlevel.checkpoint()
        me = trio.lowlevel.current_task()
        start = time.perf_counter()
        for i in range(n):  # the call inlined: the floor should carry no extra frame
            raw.send(i, me)
            assert await trio.lowlevel.wait_task_rescheduled(_abort) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def raw_checked_call(raw: RawMailbox, request: Any) -> Any:
    """A call as any Trio API must make one, at the least: a coroutine that finds its
    task and, being a checkpoint, checks for cancellation before it sends anything."""
    task = trio.lowlevel.current_task()
    await trio.lowlevel.checkpoint_if_cancelled()
    raw.send(request, task)
    return await trio.lowlevel.wait_task_rescheduled(_abort)


async def raw_api_call_rate(n: int) -> float:
    """The floor of a call API: the deque mailbox reached through raw_checked_call."""
    raw = RawMailbox()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw.serve)
        await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        for i in range(n):
            assert await raw_checked_call(raw, i) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


_RAW_NAMES: trio.lowlevel.RunVar[dict[str, RawMailbox]] = trio.lowlevel.RunVar("bench_raw_names")


async def raw_api_call_by_name(name: str, request: Any) -> Any:
    """raw_checked_call by a name of this run (names are per run: a RunVar's dict)."""
    raw = _RAW_NAMES.get()[name]
    task = trio.lowlevel.current_task()
    await trio.lowlevel.checkpoint_if_cancelled()
    raw.send(request, task)
    return await trio.lowlevel.wait_task_rescheduled(_abort)


async def raw_api_call_by_name_rate(n: int) -> float:
    _RAW_NAMES.set({"echo": RawMailbox()})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_RAW_NAMES.get()["echo"].serve)
        await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        for i in range(n):
            assert await raw_api_call_by_name("echo", i) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def channel_call_rate(n: int) -> float:
    req_send, req_recv = trio.open_memory_channel[int](0)
    rep_send, rep_recv = trio.open_memory_channel[int](0)

    async def server() -> None:
        async for request in req_recv:
            await rep_send.send(request)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        start = time.perf_counter()
        for i in range(n):
            await req_send.send(i)
            await rep_recv.receive()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


Starter = Callable[[trio.Nursery], Awaitable[trio_otp.ServerRef[Any, Any]]]


async def echo_call_rate(start_echo: Starter, n: int) -> float:
    """Calls each answered with its request, one caller, on the server ``start_echo`` starts."""
    async with trio.open_nursery() as nursery:
        ref = await start_echo(nursery)
        start = time.perf_counter()
        for i in range(n):
            assert await ref.call(i) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def raw_call_by_name_rate(n: int) -> float:
    """The floor, looking its server up in a dict of names at every call (as a call by
    name looks it up in the registry)."""
    names = {"echo": RawMailbox()}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(names["echo"].serve)
        await trio.lowlevel.checkpoint()
        me = trio.lowlevel.current_task()
        start = time.perf_counter()
        for i in range(n):
            names["echo"].send(i, me)
            assert await trio.lowlevel.wait_task_rescheduled(_abort) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


# The observer: the same application, calls from one caller, with an observer endpoint
# polled by another process (a snapshot and a server's status, POLL_HZ times a second)
# against the same without one. The poller runs in its own process, as the terminal view
# does; what is measured is what answering it costs the application.
POLL_HZ = 20
POLLER = """
import sys, time
from trio_otp.observer import fetch_snapshot, fetch_status
address, period = sys.argv[1], 1 / float(sys.argv[2])
fetch_snapshot(address)
print("polling", flush=True)
while True:
    fetch_snapshot(address)
    fetch_status(address, ["echo"])
    time.sleep(period)
"""


def _observed_tree() -> trio_otp.Supervisor:
    workers = [trio_otp.ChildSpec(f"worker {i}", _parked_child) for i in range(20)]
    return trio_otp.Supervisor([trio_otp.server_spec("echo", Echo, name="echo"), *workers], name="bench")


async def _application_call_rate(n: int, observer: str | None) -> float:
    poller: subprocess.Popen[str] | None = None
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio_otp.serve_application, _observed_tree(), observer=observer)
        await nursery.start(serve)
        if observer is not None:
            poller = subprocess.Popen(  # noqa: ASYNC220 - once, before the measurement
                [sys.executable, "-c", POLLER, observer, str(POLL_HZ)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            stdout = poller.stdout
            assert stdout is not None
            assert await trio.to_thread.run_sync(stdout.readline) == "polling\n"
        ref = trio_otp.whereis("echo")
        assert isinstance(ref, trio_otp.ServerRef)
        start = time.perf_counter()
        for i in range(n):
            assert await ref.call(i) == i
        elapsed = time.perf_counter() - start
        if poller is not None:
            poller.kill()
            poller.communicate()
        nursery.cancel_scope.cancel()
    return n / elapsed


async def gen_server_call_by_name_rate(n: int) -> float:
    async with trio.open_nursery() as nursery:
        await trio_otp.start_server(nursery, Echo, name="echo")
        start = time.perf_counter()
        for i in range(n):
            assert await trio_otp.call("echo", i) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def gen_server_call_rate(n: int) -> float:
    return await echo_call_rate(lambda nursery: trio_otp.start_server(nursery, Echo), n)


async def observed_call_rate(n: int) -> float:
    path = f"/tmp/trio-otp-bench-{os.getpid()}.sock"
    return await _application_call_rate(n, path)


async def unobserved_call_rate(n: int) -> float:
    return await _application_call_rate(n, None)


# Context propagation, on (one ContextVar carried into each call) against off, in the
# same process. Off costs one attribute test per call and per message, which the call
# round-trip row above includes.
_REQUEST_ID: contextvars.ContextVar[int] = contextvars.ContextVar("bench_request_id")


async def propagating_call_rate(n: int) -> float:
    trio_otp.propagate_context(_REQUEST_ID)
    _REQUEST_ID.set(1)
    return await gen_server_call_rate(n)


async def plain_call_rate(n: int) -> float:
    trio_otp.propagate_context()
    return await gen_server_call_rate(n)


# Pairs that change process-wide state run in a process of their own: propagation, once a
# run has turned it on, stays on for the rest of the process (see trio_otp._context), and
# every row measured after it would pay for it (the cast row fell from 0.45x to 0.20x).
OWN_PROCESS_PAIRS: dict[str, Callable[[], tuple[float, float]]] = {
    "propagation": lambda: paired(propagating_call_rate, plain_call_rate, N_CALLS),
}


def paired_in_own_process(name: str) -> tuple[float, float]:
    """``OWN_PROCESS_PAIRS[name]`` measured in a fresh Python process."""
    argv = [sys.executable, __file__, "--pair", name] + (["--quick"] if QUICK else [])
    figure, baseline = json.loads(run_child(argv))
    return figure, baseline


def run_child(argv: list[str]) -> str:
    """The standard output of this suite run as ``argv``.

    Raises:
      RuntimeError: the run failed; the message holds its standard error.
    """
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"{' '.join(argv[1:])} failed (status {done.returncode}):\n{done.stderr}"
        raise RuntimeError(msg)
    return done.stdout


# --- 2. cast throughput -----------------------------------------------------------------

# How many messages trio_otp's server handles in a row before it yields to other tasks
# (a fairness bound); the batched raw baseline drains its mailbox the same way.
SERVER_BATCH = 64


async def raw_batched_cast_rate(n: int) -> float:
    """The floor for casts: the deque mailbox drained as trio_otp's server drains its
    own, a checkpoint after every SERVER_BATCH messages handled in a row and a park only
    when the mailbox is empty; then one call that queues behind every cast."""
    mailbox = RawMailbox()
    count = 0

    async def serve() -> None:
        nonlocal count
        handled = 0
        items = mailbox.items
        while True:
            if items:
                handled += 1
                if handled >= SERVER_BATCH:
                    handled = 0
                    await trio.lowlevel.checkpoint()
            else:
                handled = 0
            while not items:  # the wait inlined, as trio_otp's server inlines its own
                mailbox.parked = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(_abort)
            _, caller = items.popleft()
            if caller is None:
                count += 1
            else:
                trio.lowlevel.reschedule(caller, outcome.Value(count))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        await trio.lowlevel.checkpoint()
        me = trio.lowlevel.current_task()
        start = time.perf_counter()
        for i in range(n):
            mailbox.send(i, None)
        mailbox.send(0, me)
        assert await trio.lowlevel.wait_task_rescheduled(_abort) == n
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def raw_send_nowait_rate(n: int) -> float:
    send, receive = trio.open_memory_channel[int](math.inf)
    done = trio.Event()

    async def consumer() -> None:
        count = 0
        async for _ in receive:
            count += 1
            if count == n:
                done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        start = time.perf_counter()
        for i in range(n):
            send.send_nowait(i)
        await done.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


class Sink(trio_otp.GenServer[int, int]):
    def __init__(self) -> None:
        self.count = 0

    async def handle_cast(self, request: object) -> None:
        self.count += 1

    async def handle_call(self, request: int, caller: trio_otp.Caller[int]) -> int:
        return self.count


async def counted_cast_rate(start_sink: Starter, n: int) -> float:
    """Casts that the server ``start_sink`` starts counts, then a call for the count."""
    async with trio.open_nursery() as nursery:
        ref = await start_sink(nursery)
        start = time.perf_counter()
        for i in range(n):
            ref.cast(i)
        assert await ref.call(0, timeout=None) == n  # the call queues behind every cast
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def gen_server_cast_rate(n: int) -> float:
    return await counted_cast_rate(lambda nursery: trio_otp.start_server(nursery, Sink), n)


# --- 2b. a StateMachine against a GenServer doing the same work ----------------------------


class CountingMachine(trio_otp.StateMachine[str, int, int, int]):
    """Echo's and Sink's work as events, in one state: a call gets its request back (a
    call of 0, the count of casts so far, as Sink answers), a cast counts."""

    async def init(self) -> trio_otp.NextState[str, int]:
        return trio_otp.NextState("counting", 0)

    async def handle_event(
        self, event: trio_otp.Event[int, int], state: str, data: int
    ) -> trio_otp.Transition[str, int]:
        if type(event) is trio_otp.CastEvent:
            return trio_otp.KeepState(data + 1)
        if isinstance(event, trio_otp.CallEvent):
            return trio_otp.KeepState(data, trio_otp.ReplyTo(event.caller, event.request or data))
        return None


async def state_machine_call_rate(n: int) -> float:
    return await echo_call_rate(lambda nursery: trio_otp.start_state_machine(nursery, CountingMachine), n)


async def state_machine_cast_rate(n: int) -> float:
    return await counted_cast_rate(lambda nursery: trio_otp.start_state_machine(nursery, CountingMachine), n)


# --- 3. many callers --------------------------------------------------------------------


async def many_callers_one_server(callers: int, calls_each: int) -> float:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        answered = 0

        async def caller() -> None:
            nonlocal answered
            for i in range(calls_each):
                assert await ref.call(i) == i
                answered += 1

        start = time.perf_counter()
        async with trio.open_nursery() as callers_nursery:
            for _ in range(callers):
                callers_nursery.start_soon(caller)
        elapsed = time.perf_counter() - start
        assert answered == callers * calls_each  # no call lost
        nursery.cancel_scope.cancel()
    return answered / elapsed


async def raw_many_callers_one_server(callers: int, calls_each: int, *, checked: bool = False) -> float:
    """The floor, each call inlined, or made through raw_checked_call if ``checked``."""
    raw = RawMailbox()
    answered = 0

    async def caller() -> None:
        nonlocal answered
        me = trio.lowlevel.current_task()
        for i in range(calls_each):
            if checked:
                assert await raw_checked_call(raw, i) == i
            else:  # the call inlined, as in raw_call_rate
                raw.send(i, me)
                assert await trio.lowlevel.wait_task_rescheduled(_abort) == i
            answered += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw.serve)
        await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        async with trio.open_nursery() as callers_nursery:
            for _ in range(callers):
                callers_nursery.start_soon(caller)
        elapsed = time.perf_counter() - start
        assert answered == callers * calls_each
        nursery.cancel_scope.cancel()
    return answered / elapsed


async def raw_api_many_callers_one_server(callers: int, calls_each: int) -> float:
    return await raw_many_callers_one_server(callers, calls_each, checked=True)


async def raw_many_servers_own_caller(servers: int, calls_each: int, *, checked: bool = False) -> float:
    """The floor's server, 1,000 times over, each with its own caller: built as the
    trio_otp side is (every server running in one nursery before the clock starts, the
    callers in a nursery of their own, the clock stopped when the last caller is done;
    the servers are torn down after), and each call inlined, or made through
    raw_checked_call if ``checked``."""
    answered = 0

    async def caller(raw: RawMailbox) -> None:
        nonlocal answered
        me = trio.lowlevel.current_task()
        for i in range(calls_each):
            if checked:
                assert await raw_checked_call(raw, i) == i
            else:
                raw.send(i, me)
                assert await trio.lowlevel.wait_task_rescheduled(_abort) == i
            answered += 1

    async with trio.open_nursery() as nursery:
        mailboxes = [RawMailbox() for _ in range(servers)]
        for raw in mailboxes:
            nursery.start_soon(raw.serve)
        while any(raw.parked is None for raw in mailboxes):  # every server up and parked
            await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        async with trio.open_nursery() as callers_nursery:
            for raw in mailboxes:
                callers_nursery.start_soon(caller, raw)
        elapsed = time.perf_counter() - start
        assert answered == servers * calls_each
        nursery.cancel_scope.cancel()
    return answered / elapsed


async def raw_api_many_servers_own_caller(servers: int, calls_each: int) -> float:
    return await raw_many_servers_own_caller(servers, calls_each, checked=True)


async def many_servers_own_caller(servers: int, calls_each: int) -> float:
    async with trio.open_nursery() as nursery:
        refs = [await trio_otp.start_server(nursery, Echo) for _ in range(servers)]
        answered = 0

        async def caller(ref: trio_otp.ServerRef[Any, Any]) -> None:
            nonlocal answered
            for i in range(calls_each):
                assert await ref.call(i) == i
                answered += 1

        start = time.perf_counter()
        async with trio.open_nursery() as callers_nursery:
            for ref in refs:
                callers_nursery.start_soon(caller, ref)
        elapsed = time.perf_counter() - start
        assert answered == servers * calls_each
        nursery.cancel_scope.cancel()
    return answered / elapsed


# --- 4. 100,000 processes ---------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0


async def _all_parked(event: trio.Event, n: int) -> None:
    """Wait until ``n`` tasks have run and parked on ``event``. One checkpoint is not
    enough: Trio may run this task before the new ones in the same batch, and a task that
    has not yet run has not yet allocated its frames (half the runs measured ~1.1 KB and
    ~10 us per task that way, instead of ~1.9 KB and ~16 us)."""
    while event.statistics().tasks_waiting < n:
        await trio.lowlevel.checkpoint()


async def bare_processes(n: int, *, cancelled: bool = False) -> tuple[float, float, float]:
    """Bare tasks parked on an event: released with ``Event.set`` (they return), or
    (``cancelled``) cancelled with their nursery, as a supervisor stops its children."""
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        gc.collect()
        base, start = _rss(), time.perf_counter()
        for _ in range(n):
            nursery.start_soon(event.wait)
        await _all_parked(event, n)
        started, memory = time.perf_counter() - start, _rss() - base
        stop = time.perf_counter()
        if cancelled:
            nursery.cancel_scope.cancel()
        else:
            event.set()
    return started / n, memory / n, time.perf_counter() - stop


async def scoped_processes(n: int) -> tuple[float, float, float]:
    """What a supervisor's design costs at the floor: bare tasks, each in a shielded
    cancel scope of its own (as every supervised child is, so that the supervisor decides
    the stop order and budgets), started with start_soon and cancelled one by one."""
    event = trio.Event()
    scopes: list[trio.CancelScope] = []

    async def scoped() -> None:
        with trio.CancelScope(shield=True) as scope:
            scopes.append(scope)
            await event.wait()

    async with trio.open_nursery() as nursery:
        gc.collect()
        base, start = _rss(), time.perf_counter()
        for _ in range(n):
            nursery.start_soon(scoped)
        await _all_parked(event, n)
        started, memory = time.perf_counter() - start, _rss() - base
        stop = time.perf_counter()
        for scope in scopes:
            scope.cancel()
    return started / n, memory / n, time.perf_counter() - stop


async def _parked_child(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


async def started_processes(n: int) -> tuple[float, float, float]:
    """Raw Trio's own start_link: ``nursery.start`` of a task that reports ready and parks."""
    async with trio.open_nursery() as nursery:
        gc.collect()
        base, start = _rss(), time.perf_counter()
        for _ in range(n):
            await nursery.start(_parked_child)
        started, memory = time.perf_counter() - start, _rss() - base
        stop = time.perf_counter()
        nursery.cancel_scope.cancel()
    return started / n, memory / n, time.perf_counter() - stop


async def gen_server_processes(n: int, batch: int = 1) -> tuple[float, float, float]:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        spec = trio_otp.server_spec("idle", Echo)
        gc.collect()
        base, start = _rss(), time.perf_counter()
        if batch == 1:
            for _ in range(n):
                await supervisor.start_child(spec)
        else:
            for _ in range(0, n, batch):
                await supervisor.start_children([spec] * batch)
        started, memory = time.perf_counter() - start, _rss() - base
        stop = time.perf_counter()
        nursery.cancel_scope.cancel()
    return started / n, memory / n, time.perf_counter() - stop


async def traced_memory(n: int, kind: str) -> tuple[float, float]:
    """Python heap bytes per process, by tracemalloc (steadier than RSS, which moves with
    the allocator's arenas from run to run: bare tasks have measured 1.0 to 1.9 KB), and
    the objects per process that Python's cyclic garbage collector tracks (what its full
    collections walk: with 100,000 processes alive they dominate the time)."""
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        spec = trio_otp.server_spec("idle", Echo)
        gc.collect()
        tracked = len(gc.get_objects())
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        if kind == "bare":
            for _ in range(n):
                nursery.start_soon(event.wait)
            await _all_parked(event, n)
        else:
            for _ in range(0, n, 1000):
                await supervisor.start_children([spec] * 1000)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        tracked = len(gc.get_objects()) - tracked
        event.set()
        nursery.cancel_scope.cancel()
    return used / n, tracked / n


# Each measurement of many processes runs in a process of its own: what earlier workloads
# left in the allocator's arenas moves RSS by more than the difference being measured.
# Kinds alternate within each repetition so that drift on a shared machine hits all alike.
PROCESS_KINDS: dict[str, Callable[[], Awaitable[tuple[float, ...]]]] = {
    "bare": lambda: bare_processes(N_PROCESSES),
    "cancelled": lambda: bare_processes(N_PROCESSES, cancelled=True),
    "cancelled tenth": lambda: bare_processes(N_PROCESSES // 10, cancelled=True),
    "scoped": lambda: scoped_processes(N_PROCESSES),
    "started": lambda: started_processes(N_PROCESSES),
    "servers": lambda: gen_server_processes(N_PROCESSES),
    "batched": lambda: gen_server_processes(N_PROCESSES, 1000),
    "tenth": lambda: gen_server_processes(N_PROCESSES // 10, 1000),
    "heap bare": lambda: traced_memory(N_PROCESSES // 10, "bare"),
    "heap servers": lambda: traced_memory(N_PROCESSES // 10, "servers"),
}


def measure_here(kind: str) -> None:
    """The child process's side: one measurement, printed as JSON."""
    logging.disable(logging.CRITICAL)
    print(json.dumps(trio.run(PROCESS_KINDS[kind])))


def process_measurements() -> dict[str, list[float]]:
    """Per kind, the median of each figure over PROCESS_REPEATS fresh processes."""
    runs: dict[str, list[list[float]]] = {kind: [] for kind in PROCESS_KINDS}
    for _ in range(PROCESS_REPEATS):
        for kind in PROCESS_KINDS:
            argv = [sys.executable, __file__, "--measure", kind] + (["--quick"] if QUICK else [])
            runs[kind].append(json.loads(run_child(argv)))
    medians = {}
    for kind, results in runs.items():
        medians[kind] = [statistics.median(figures) for figures in zip(*results, strict=True)]
    return medians


# --- 5. restart latency and 6. churn ----------------------------------------------------


class Crashable(Echo):
    """Echo that crashes on the request "crash", by call as by cast (as the raw server)."""

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError("crash")
        return request


class RawServerExited(Exception):
    """What the raw baselines' caller gets when the server crashes on its call."""


async def _crash(ref: trio_otp.ServerRef[Any, Any], *, via_call: bool) -> None:
    if via_call:
        try:
            await ref.call("crash")
        except trio_otp.ServerExited:
            return
        raise AssertionError("the call that crashed the server returned")
    ref.cast("crash")


async def _restart_latencies(n: int, *, via_call: bool) -> list[float]:
    """From a crash to the replacement answering a call by name. The crash comes by a
    cast, or (``via_call``) by a call whose handler raises: its caller gets ServerExited
    first, then looks for the replacement."""
    spec = trio_otp.server_spec("echo", Crashable, name="echo")
    latencies = []
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=10 * n, max_seconds=1).run)
        for _ in range(n):
            old = trio_otp.whereis("echo")
            assert old is not None
            start = time.perf_counter()
            await _crash(old, via_call=via_call)
            while True:
                ref = trio_otp.whereis("echo")
                if ref is not None and ref is not old:
                    try:
                        await ref.call(0)
                        break
                    except trio_otp.ServerError:
                        pass
                await trio.lowlevel.checkpoint()
            latencies.append(time.perf_counter() - start)
        nursery.cancel_scope.cancel()
    return latencies


async def restart_latencies(n: int) -> list[float]:
    return await _restart_latencies(n, via_call=False)


async def restart_latencies_via_call(n: int) -> list[float]:
    return await _restart_latencies(n, via_call=True)


async def _raw_restart_latencies(n: int, *, into_new_task: bool, via_call: bool = False) -> list[float]:
    """The same request/reply server, restarted by hand: in a loop inside the crashing task,
    or (``into_new_task``) by the crashing task spawning its replacement, as a supervisor
    does whose children each run in a task of their own. A crash by a call
    (``via_call``) fails that caller with an exception first, as trio_otp's server fails
    the call it crashed on."""
    current: list[RawMailbox] = []
    started = trio.Event()

    async def server() -> None:
        raw = RawMailbox()
        current.append(raw)
        started.set()
        while True:
            request, caller = await raw.receive()
            if request == "crash":
                if caller is not None:
                    trio.lowlevel.reschedule(caller, outcome.Error(RawServerExited("crash")))
                raise RuntimeError("crash")
            assert caller is not None
            trio.lowlevel.reschedule(caller, outcome.Value(request))

    async def restart_in_task() -> None:
        while True:
            try:
                await server()
            except RuntimeError:
                continue

    async def restart_in_new_task() -> None:
        try:
            await server()
        except RuntimeError:
            nursery.start_soon(restart_in_new_task)

    latencies = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(restart_in_new_task if into_new_task else restart_in_task)
        await started.wait()
        for _ in range(n):
            old = current[-1]
            start = time.perf_counter()
            if via_call:
                try:
                    await old.call("crash")
                except RawServerExited:
                    pass
            else:
                old.send("crash", None)
            while current[-1] is old:
                await trio.lowlevel.checkpoint()
            await current[-1].call(0)
            latencies.append(time.perf_counter() - start)
        nursery.cancel_scope.cancel()
    return latencies


async def raw_restart_latencies(n: int) -> list[float]:
    """A hand-written restart loop inside the crashing task (one round fewer: for scale)."""
    return await _raw_restart_latencies(n, into_new_task=False)


async def raw_respawn_restart_latencies(n: int) -> list[float]:
    """The floor: raw Trio restarting into a new task, as a supervisor's child does."""
    return await _raw_restart_latencies(n, into_new_task=True)


async def raw_respawn_restart_latencies_via_call(n: int) -> list[float]:
    return await _raw_restart_latencies(n, into_new_task=True, via_call=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


RESTART_KINDS: dict[str, Callable[[int], Awaitable[list[float]]]] = {
    "trio_otp": restart_latencies,
    "new task": raw_respawn_restart_latencies,
    "trio_otp call": restart_latencies_via_call,
    "new task call": raw_respawn_restart_latencies_via_call,
    "loop": raw_restart_latencies,
}


def restart_figures() -> dict[str, dict[str, float]]:
    """Per kind: median and 99th-percentile latency and crashes absorbed per second, each
    the median over REPEATS runs, the kinds run by turns."""
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in RESTART_KINDS}
    for _ in range(REPEATS):
        for kind, fn in RESTART_KINDS.items():
            latencies = trio.run(fn, N_RESTARTS)
            runs[kind].append(
                {
                    "median": statistics.median(latencies) * 1e6,
                    "p90": percentile(latencies, 0.90) * 1e6,
                    "p99": percentile(latencies, 0.99) * 1e6,
                    "churn": len(latencies) / sum(latencies),
                }
            )
    return {
        kind: {figure: statistics.median(run[figure] for run in results) for figure in results[0]}
        for kind, results in runs.items()
    }


# --- the table ------------------------------------------------------------------------------


# --- 4. worker pools: CPU work on other cores ---------------------------------------------

N_POOL_CALLS = 300 if QUICK else 2_000
SPIN = 300_000  # about 15-30 ms of pure Python on this kind of machine


def _pool_jobs() -> Any:
    # suite.py's directory is on sys.path (it runs as a script), and the workers get the
    # pool's sys.path: so they can import pool_jobs by name.
    import pool_jobs  # noqa: PLC0415

    return pool_jobs


async def pool_cpu_stream(jobs: int) -> float:
    """Jobs/s of a stream of CPU-bound jobs on a pool of os.cpu_count() workers, fed by as
    many callers (the pool's start is not timed)."""
    work = _pool_jobs()
    cores = os.cpu_count() or 1
    async with trio.open_nursery() as nursery:
        pool: trio_otp.WorkerPoolRef = await nursery.start(trio_otp.WorkerPool(cores).run)
        await pool.run(work.spin, 10)
        queue = iter(range(jobs))

        async def caller() -> None:
            for _ in queue:
                await pool.run(work.spin, SPIN)

        start = time.perf_counter()
        async with trio.open_nursery() as callers:
            for _ in range(cores):
                callers.start_soon(caller)
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return jobs / elapsed


async def one_process_cpu_stream(jobs: int) -> float:
    """The same jobs, one after another in this process."""
    work = _pool_jobs()
    start = time.perf_counter()
    for _ in range(jobs):
        work.spin(SPIN)
    return jobs / (time.perf_counter() - start)


async def pool_tiny_job_latency(n: int) -> float:
    """Microseconds per tiny job through WorkerPoolRef.run, one call at a time."""
    work = _pool_jobs()
    async with trio.open_nursery() as nursery:
        pool: trio_otp.WorkerPoolRef = await nursery.start(trio_otp.WorkerPool(os.cpu_count() or 1).run)
        await pool.run(work.tiny)
        start = time.perf_counter()
        for _ in range(n):
            await pool.run(work.tiny)
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed / n * 1e6


async def trio_parallel_tiny_job_latency(n: int) -> float:
    """The same through trio_parallel.run_sync (its default context, workers warmed up)."""
    import trio_parallel  # noqa: PLC0415 - optional: the bench session installs it

    work = _pool_jobs()
    await trio_parallel.run_sync(work.tiny)
    start = time.perf_counter()
    for _ in range(n):
        await trio_parallel.run_sync(work.tiny)
    return (time.perf_counter() - start) / n * 1e6


async def to_thread_tiny_job_latency(n: int) -> float:
    """The same through trio.to_thread.run_sync: no other process, the floor of a hop."""
    work = _pool_jobs()
    await trio.to_thread.run_sync(work.tiny)
    start = time.perf_counter()
    for _ in range(n):
        await trio.to_thread.run_sync(work.tiny)
    return (time.perf_counter() - start) / n * 1e6


def _have_trio_parallel() -> bool:
    try:
        import trio_parallel  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def pool_rows() -> list[Row]:
    cores = os.cpu_count() or 1
    to_thread = "the same tiny job, one call at a time, through trio.to_thread.run_sync: a thread, no process"
    jobs = 4 * cores if QUICK else 16 * cores
    pool, alone = paired(pool_cpu_stream, one_process_cpu_stream, jobs)
    ours, thread = paired(pool_tiny_job_latency, to_thread_tiny_job_latency, N_POOL_CALLS)
    rows = [
        Row(
            f"CPU-bound job stream, pool of {cores} workers vs one process",
            pool,
            alone,
            "jobs/s",
            True,
            f"speedup up to {cores}x ({cores} cores)",
            "the same CPU-bound jobs run one after another in this process, no pool",
        ),
        Row(
            "tiny job round trip, WorkerPoolRef.run vs to_thread",
            ours,
            thread,
            "us",
            False,
            "",
            to_thread,
        ),
    ]
    if _have_trio_parallel():
        theirs_job = trio_parallel_tiny_job_latency
        theirs, thread_again = paired(theirs_job, to_thread_tiny_job_latency, N_POOL_CALLS)
        # Measured against each other by turns too, not across the two pairs above.
        ours_again, theirs_again = paired(pool_tiny_job_latency, theirs_job, N_POOL_CALLS)
        rows += [
            Row(
                "  trio_parallel.run_sync vs to_thread (for scale)",
                theirs,
                thread_again,
                "us",
                False,
                "",
                to_thread,
            ),
            Row(
                "  WorkerPoolRef.run against trio_parallel.run_sync",
                ours_again,
                theirs_again,
                "us",
                False,
                "<= 1.5x",
                "the same tiny job, one call at a time, through trio_parallel.run_sync (its default "
                "context, workers warmed up)",
            ),
        ]
    else:
        print("trio-parallel is not installed: its row is left out (nox -s bench installs it)")
    return rows


def run_suite() -> list[Row]:
    if "--pools" in sys.argv:  # only the worker-pool rows
        return pool_rows()
    floor = "deque mailbox, parked server woken with reschedule, call inlined"
    rows = [
        Row(
            "call round trips/s (1 caller, 1 server, default timeout)",
            *paired(gen_server_call_rate, raw_call_rate, N_CALLS),
            "calls/s",
            True,
            ">= 0.85x",
            floor,
        ),
        Row(
            "  call by name",
            *paired(gen_server_call_by_name_rate, raw_call_by_name_rate, N_CALLS),
            "calls/s",
            True,
            ">= 0.8x",
            floor + ", server looked up in a dict at each call",
        ),
        Row(
            "  against the floor of a call API (for scale: what bounds the ratio)",
            *paired(gen_server_call_rate, raw_api_call_rate, N_CALLS),
            "calls/s",
            True,
            "",
            "the same mailbox reached through an async function that looks up its task and "
            "checks for cancellation before sending, as a checkpoint must",
        ),
        Row(
            "  by name, against that floor with names per run (for scale)",
            *paired(gen_server_call_by_name_rate, raw_api_call_by_name_rate, N_CALLS),
            "calls/s",
            True,
            "",
            "that floor, the mailbox looked up at each call in a dict held by a RunVar",
        ),
        Row(
            "  raw Trio, two memory channels (for scale)",
            *paired(channel_call_rate, raw_call_rate, N_CALLS),
            "calls/s",
            True,
            "",
            floor,
        ),
        Row(
            f"calls/s, observer polled {POLL_HZ}x/s against none",
            *paired(observed_call_rate, unobserved_call_rate, N_CALLS * 10),
            "calls/s",
            True,
            ">= 0.95x no observer",
            "the same application (an echo server and 20 parked children under serve_application), "
            "the same calls, no observer endpoint and no poller",
        ),
        Row(
            "calls/s, one ContextVar propagated against none",
            *paired_in_own_process("propagation"),
            "calls/s",
            True,
            "",
            "the same echo calls after propagate_context() given nothing (on in this process, carrying "
            "nothing; both in a process of their own, as on stays on)",
        ),
        Row(
            "cast throughput",
            *paired(gen_server_cast_rate, raw_batched_cast_rate, N_CALLS * 5),
            "casts/s",
            True,
            ">= 0.5x",
            f"deque mailbox drained as trio_otp's: a checkpoint per {SERVER_BATCH} messages, "
            "then one call queued behind the casts",
        ),
        Row(
            "  against a memory channel, one message per step (old baseline, flatters)",
            *paired(gen_server_cast_rate, raw_send_nowait_rate, N_CALLS * 5),
            "casts/s",
            True,
            "",
            "send_nowait; the consumer yields after every message",
        ),
        Row(
            "StateMachine call round trips/s, against a GenServer",
            *paired(state_machine_call_rate, gen_server_call_rate, N_CALLS),
            "calls/s",
            True,
            ">= 0.6x GenServer",
            "a GenServer doing the same work: an echo call, a counting cast",
        ),
        Row(
            "StateMachine cast (event) throughput, against a GenServer",
            *paired(state_machine_cast_rate, gen_server_cast_rate, N_CALLS * 5),
            "casts/s",
            True,
            ">= 0.5x GenServer",
            "a GenServer doing the same work: an echo call, a counting cast",
        ),
        Row(
            "1,000 callers on one server",
            *paired(many_callers_one_server, raw_many_callers_one_server, 1000, 20),
            "calls/s",
            True,
            ">= 0.8x",
            floor + "; clock stops when the last caller is done",
        ),
        Row(
            "1,000 servers, one caller each",
            *paired(many_servers_own_caller, raw_many_servers_own_caller, 1000, 20),
            "calls/s",
            True,
            ">= 0.8x",
            "1,000 floor servers up before the clock, callers in their own nursery; clock stops "
            "when the last caller is done (servers torn down after)",
        ),
        Row(
            "1,000 callers, against the floor of a call API (for scale)",
            *paired(many_callers_one_server, raw_api_many_callers_one_server, 1000, 20),
            "calls/s",
            True,
            "",
            "the 1,000 callers' floor, each call made through an async function that looks up its "
            "task and checks for cancellation before sending, as a checkpoint must",
        ),
        Row(
            "1,000 servers, against the floor of a call API (for scale)",
            *paired(many_servers_own_caller, raw_api_many_servers_own_caller, 1000, 20),
            "calls/s",
            True,
            "",
            "the 1,000 servers' floor, each call made through that async function",
        ),
    ]
    fresh = process_measurements()
    bare, raw_started, servers = fresh["bare"], fresh["started"], fresh["servers"]
    batched, tenth = fresh["batched"], fresh["tenth"]
    cancelled, cancelled_tenth = fresh["cancelled"], fresh["cancelled tenth"]
    bare_task = "bare start_soon of a task that parks on an Event"
    started_task = "nursery.start of a task that reports ready and parks"
    tenth_n = N_PROCESSES // 10
    rows += [
        Row(
            f"start {N_PROCESSES:,} GenServers with start_children, 1,000 a batch",
            batched[0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "<= 1.5x",
            bare_task,
        ),
        Row(
            "  one by one with start_child",
            servers[0] * 1e6,
            raw_started[0] * 1e6,
            "us",
            False,
            "<= 1.1x",
            started_task + ", one by one",
        ),
        Row(
            "  start plus teardown, one by one (whichever phase the collector's full passes fall in)",
            servers[0] * N_PROCESSES + servers[2],
            raw_started[0] * N_PROCESSES + raw_started[2],
            "s",
            False,
            "",
            started_task + ", one by one, then cancelled with their nursery",
        ),
        Row(
            "  raw Trio nursery.start one by one (for scale)",
            raw_started[0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "",
            bare_task,
        ),
        Row(
            "  bare tasks each in a shielded scope of their own (for scale: the design's floor)",
            fresh["scoped"][0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "",
            bare_task,
        ),
        Row(
            f"  start time per server, {N_PROCESSES:,} against {tenth_n:,} (batched, GC on)",
            batched[0] * 1e6,
            tenth[0] * 1e6,
            "us",
            False,
            "<= 1.15x",
            f"trio_otp itself at {tenth_n:,}",
        ),
        Row("  resident memory each", servers[1], bare[1], "bytes", False, "<= 2x", bare_task),
        Row(
            "  raw Trio nursery.start, memory each (for scale)",
            raw_started[1],
            bare[1],
            "bytes",
            False,
            "",
            bare_task,
        ),
        Row(
            f"  Python heap each (tracemalloc, {tenth_n:,})",
            fresh["heap servers"][0],
            fresh["heap bare"][0],
            "bytes",
            False,
            "<= 2x",
            bare_task,
        ),
        Row(
            f"  GC-tracked objects each ({tenth_n:,})",
            fresh["heap servers"][1],
            fresh["heap bare"][1],
            "objects",
            False,
            "",
            bare_task,
        ),
        Row(
            f"teardown of {N_PROCESSES:,} (batched start)",
            batched[2],
            cancelled[2],
            "s",
            False,
            "<= 1.5x",
            "the bare tasks cancelled with their nursery",
        ),
        Row(
            "  bare tasks each in a shielded scope, cancelled one by one (for scale: the design's floor)",
            fresh["scoped"][2],
            cancelled[2],
            "s",
            False,
            "",
            "the bare tasks cancelled with their nursery",
        ),
        Row(
            "  against bare tasks released with Event.set (old baseline, flatters)",
            batched[2],
            bare[2],
            "s",
            False,
            "",
            "Event.set: the bare tasks return without a Cancelled",
        ),
        Row(
            f"  teardown time per server, {N_PROCESSES:,} against {tenth_n:,} (GC on)",
            batched[2] / N_PROCESSES * 1e6,
            tenth[2] / tenth_n * 1e6,
            "us",
            False,
            "<= 1.15x",
            f"trio_otp itself at {tenth_n:,}",
        ),
        Row(
            f"  cancelled bare tasks, per task, {N_PROCESSES:,} against {tenth_n:,} (for scale)",
            cancelled[2] / N_PROCESSES * 1e6,
            cancelled_tenth[2] / tenth_n * 1e6,
            "us",
            False,
            "",
            f"the same at {tenth_n:,}",
        ),
    ]
    restarts = restart_figures()
    ours, new_task = restarts["trio_otp"], restarts["new task"]
    ours_call, new_task_call = restarts["trio_otp call"], restarts["new task call"]
    loop = restarts["loop"]
    respawn = "raw server that raises, its task spawning a new one; replacement found and called"
    respawn_call = respawn + "; the crashing call fails its caller first"
    rows += [
        Row(
            "restart latency (crash by cast), median",
            ours["median"],
            new_task["median"],
            "us",
            False,
            "<= 1.5x",
            respawn,
        ),
        Row("  90th percentile", ours["p90"], new_task["p90"], "us", False, "", respawn),
        Row("  99th percentile", ours["p99"], new_task["p99"], "us", False, "<= 2x", respawn),
        Row(
            "restart latency (crash by a call; caller gets ServerExited), median",
            ours_call["median"],
            new_task_call["median"],
            "us",
            False,
            "<= 1.5x",
            respawn_call,
        ),
        Row("  90th percentile", ours_call["p90"], new_task_call["p90"], "us", False, "", respawn_call),
        Row("  99th percentile", ours_call["p99"], new_task_call["p99"], "us", False, "<= 2x", respawn_call),
        Row(
            "  raw Trio restarting inside the crashing task (for scale)",
            loop["median"],
            new_task["median"],
            "us",
            False,
            "",
            respawn,
        ),
        Row(
            "one_for_one churn: crashes absorbed (by cast)",
            ours["churn"],
            new_task["churn"],
            "crashes/s",
            True,
            "",
            respawn,
        ),
    ]
    rows += pool_rows()
    return rows


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| workload | trio_otp | raw Trio baseline | ratio | target | the baseline does the same work as |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.workload.strip()} | {row.figure:,.1f} {row.unit} | {row.baseline:,.1f} {row.unit} "
            f"| {row.ratio:.2f}x | {row.target} | {row.baseline_is} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    """Replace what lies between README.md's bench-table markers with ``table``."""
    text = README.read_text()
    if README_BEGIN not in text or README_END not in text:
        msg = f"README.md has no {README_BEGIN} ... {README_END} block to put the table in"
        raise SystemExit(msg)
    before, rest = text.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    README.write_text(f"{before}{README_BEGIN}\n{table}{README_END}{after}")
    print(f"README.md: table updated from this run ({'quick' if QUICK else 'full'})")


def _load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    # Crash reports are switched off: the hand-written restart loop logs nothing, and
    # formatting a traceback costs more than the restart itself.
    logging.disable(logging.CRITICAL)
    load_before = _load_average()
    rows = run_suite()
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, trio {trio.__version__}, trio_otp {trio_otp.__version__}"
        f"{' (quick)' if QUICK else ''}; medians of {REPEATS} runs "
        f"({PROCESS_REPEATS} fresh processes each for the {N_PROCESSES:,}-process rows); "
        f"load average {load_before} before, {_load_average()} after (1, 5, 15 min; "
        f"{os.cpu_count()} cores): under load every ratio drifts toward 1."
    )
    table = markdown(rows, header)
    print(table)
    results = pathlib.Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(table)
    (results / "latest.json").write_text(
        json.dumps(
            {"header": header, "rows": [{**attrs.asdict(row), "ratio": row.ratio} for row in rows]}, indent=2
        )
    )
    if UPDATE_README:
        update_readme(table)


if __name__ == "__main__":
    if "--measure" in sys.argv:
        measure_here(sys.argv[sys.argv.index("--measure") + 1])
    elif "--pair" in sys.argv:
        logging.disable(logging.CRITICAL)
        print(json.dumps(OWN_PROCESS_PAIRS[sys.argv[sys.argv.index("--pair") + 1]]()))
    else:
        main()
