"""The benchmark suite: every figure next to its raw-Trio baseline, measured in this run.

``python -m nox -s bench`` runs it (``python bench/suite.py [--quick]`` by hand). Each
figure is the median of several repetitions, printed with its baseline and the ratio,
then written to ``bench/results/latest.json`` and ``latest.md``. The figures for 100,000
processes are medians over fresh Python processes, one per measurement. Machines here
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

QUICK = "--quick" in sys.argv
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

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else math.nan


def paired(
    fn: Callable[..., Awaitable[float]], baseline: Callable[..., Awaitable[float]], *args: Any
) -> list[float]:
    """The medians of ``fn(*args)`` and ``baseline(*args)`` over REPEATS runs each, run by
    turns, so that drift on a shared machine (another job starting) hits both alike."""
    figures: list[float] = []
    baselines: list[float] = []
    for _ in range(REPEATS):
        figures.append(trio.run(fn, *args))
        baselines.append(trio.run(baseline, *args))
    return [statistics.median(figures), statistics.median(baselines)]


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


async def gen_server_call_rate(n: int) -> float:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        start = time.perf_counter()
        for i in range(n):
            assert await ref.call(i) == i
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


# --- 2. cast throughput -----------------------------------------------------------------


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


async def gen_server_cast_rate(n: int) -> float:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Sink)
        start = time.perf_counter()
        for i in range(n):
            ref.cast(i)
        assert await ref.call(0, timeout=None) == n  # the call queues behind every cast
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


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


async def raw_many_callers_one_server(callers: int, calls_each: int) -> float:
    raw = RawMailbox()
    answered = 0

    async def caller() -> None:
        nonlocal answered
        for i in range(calls_each):
            assert await raw.call(i) == i
            answered += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw.serve)
        await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        async with trio.open_nursery() as callers_nursery:
            for _ in range(callers):
                callers_nursery.start_soon(caller)
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return answered / elapsed


async def raw_many_servers_own_caller(servers: int, calls_each: int) -> float:
    """The floor's server, 1,000 times over, each with its own caller."""
    answered = 0
    ready: list[None] = []
    go = trio.Event()

    async def pair() -> None:
        nonlocal answered
        raw = RawMailbox()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(raw.serve)
            await trio.lowlevel.checkpoint()
            ready.append(None)
            await go.wait()  # every server is up before the clock starts, as for trio_otp
            for i in range(calls_each):
                assert await raw.call(i) == i
                answered += 1
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as pairs:
        for _ in range(servers):
            pairs.start_soon(pair)
        while len(ready) < servers:
            await trio.lowlevel.checkpoint()
        start = time.perf_counter()
        go.set()
    elapsed = time.perf_counter() - start
    assert answered == servers * calls_each
    return answered / elapsed


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


async def bare_processes(n: int) -> tuple[float, float, float]:
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        gc.collect()
        base, start = _rss(), time.perf_counter()
        for _ in range(n):
            nursery.start_soon(event.wait)
        await _all_parked(event, n)
        started, memory = time.perf_counter() - start, _rss() - base
        stop = time.perf_counter()
        event.set()
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


async def traced_memory(n: int, kind: str) -> float:
    """Python heap bytes per process, by tracemalloc: steadier than RSS, which moves with
    the allocator's arenas from run to run (bare tasks have measured 1.0 to 1.9 KB)."""
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        spec = trio_otp.server_spec("idle", Echo)
        gc.collect()
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
        event.set()
        nursery.cancel_scope.cancel()
    return used / n


# Each measurement of many processes runs in a process of its own: what earlier workloads
# left in the allocator's arenas moves RSS by more than the difference being measured.
# Kinds alternate within each repetition so that drift on a shared machine hits all alike.
PROCESS_KINDS: dict[str, Callable[[], Awaitable[tuple[float, ...]]]] = {
    "bare": lambda: bare_processes(N_PROCESSES),
    "started": lambda: started_processes(N_PROCESSES),
    "servers": lambda: gen_server_processes(N_PROCESSES),
    "batched": lambda: gen_server_processes(N_PROCESSES, 1000),
    "tenth": lambda: gen_server_processes(N_PROCESSES // 10, 1000),
    "heap bare": lambda: _one(traced_memory(N_PROCESSES // 10, "bare")),
    "heap servers": lambda: _one(traced_memory(N_PROCESSES // 10, "servers")),
}


async def _one(figure: Awaitable[float]) -> tuple[float]:
    return (await figure,)


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
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
            runs[kind].append(json.loads(done.stdout))
    medians = {}
    for kind, results in runs.items():
        medians[kind] = [statistics.median(figures) for figures in zip(*results, strict=True)]
    return medians


# --- 5. restart latency and 6. churn ----------------------------------------------------


async def restart_latencies(n: int) -> list[float]:
    """From a crash to the replacement answering a call by name."""
    spec = trio_otp.server_spec("echo", Echo, name="echo")
    latencies = []
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=10 * n, max_seconds=1).run)
        for _ in range(n):
            old = trio_otp.whereis("echo")
            assert old is not None
            start = time.perf_counter()
            old.cast("crash")
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


async def _raw_restart_latencies(n: int, *, into_new_task: bool) -> list[float]:
    """The same request/reply server, restarted by hand: in a loop inside the crashing task,
    or (``into_new_task``) by the crashing task spawning its replacement, as a supervisor
    does whose children each run in a task of their own."""
    current: list[RawMailbox] = []
    started = trio.Event()

    async def server() -> None:
        raw = RawMailbox()
        current.append(raw)
        started.set()
        while True:
            request, caller = await raw.receive()
            if request == "crash":
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
            old.send("crash", None)
            while current[-1] is old:
                await trio.lowlevel.checkpoint()
            await current[-1].call(0)
            latencies.append(time.perf_counter() - start)
        nursery.cancel_scope.cancel()
    return latencies


async def raw_restart_latencies(n: int) -> list[float]:
    """The target's baseline: a hand-written restart loop inside the crashing task."""
    return await _raw_restart_latencies(n, into_new_task=False)


async def raw_respawn_restart_latencies(n: int) -> list[float]:
    """Raw Trio restarting into a new task. For scale, not the target."""
    return await _raw_restart_latencies(n, into_new_task=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


RESTART_KINDS: dict[str, Callable[[int], Awaitable[list[float]]]] = {
    "trio_otp": restart_latencies,
    "loop": raw_restart_latencies,
    "new task": raw_respawn_restart_latencies,
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
                    "p99": percentile(latencies, 0.99) * 1e6,
                    "churn": len(latencies) / sum(latencies),
                }
            )
    return {
        kind: {figure: statistics.median(run[figure] for run in results) for figure in results[0]}
        for kind, results in runs.items()
    }


# --- the table ------------------------------------------------------------------------------


def run_suite() -> list[Row]:
    rows = [
        Row(
            "call round trips/s (1 caller, 1 server)",
            *paired(gen_server_call_rate, raw_call_rate, N_CALLS),
            "calls/s",
            True,
            ">= 0.7x deque+reschedule",
        ),
        Row(
            "  raw Trio, two memory channels (for scale)",
            *paired(channel_call_rate, raw_call_rate, N_CALLS),
            "calls/s",
            True,
            "",
        ),
        Row(
            f"calls/s, observer polled {POLL_HZ}x/s against none",
            *paired(observed_call_rate, unobserved_call_rate, N_CALLS * 10),
            "calls/s",
            True,
            ">= 0.95x no observer",
        ),
        Row(
            "calls/s, one ContextVar propagated against none",
            *paired(propagating_call_rate, plain_call_rate, N_CALLS),
            "calls/s",
            True,
            "",
        ),
        Row(
            "cast throughput",
            *paired(gen_server_cast_rate, raw_send_nowait_rate, N_CALLS * 5),
            "casts/s",
            True,
            ">= 0.8x send_nowait",
        ),
        Row(
            "1,000 callers on one server",
            *paired(many_callers_one_server, raw_many_callers_one_server, 1000, 20),
            "calls/s",
            True,
            "",
        ),
        Row(
            "1,000 servers, one caller each",
            *paired(many_servers_own_caller, raw_many_servers_own_caller, 1000, 20),
            "calls/s",
            True,
            "",
        ),
    ]
    fresh = process_measurements()
    bare, raw_started, servers = fresh["bare"], fresh["started"], fresh["servers"]
    batched, tenth = fresh["batched"], fresh["tenth"]
    rows += [
        Row(
            f"start {N_PROCESSES:,} GenServers one by one, time each",
            servers[0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "<= 2x bare",
        ),
        Row(
            "  raw Trio nursery.start one by one (for scale)",
            raw_started[0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "",
        ),
        Row(
            "  with start_children, 1,000 a batch",
            batched[0] * 1e6,
            bare[0] * 1e6,
            "us",
            False,
            "<= 2x bare",
        ),
        Row("  resident memory each", servers[1], bare[1], "bytes", False, "<= 2x bare"),
        Row("  raw Trio nursery.start, memory each (for scale)", raw_started[1], bare[1], "bytes", False, ""),
        Row(
            f"  Python heap each (tracemalloc, {N_PROCESSES // 10:,})",
            fresh["heap servers"][0],
            fresh["heap bare"][0],
            "bytes",
            False,
            "<= 2x bare",
        ),
        Row(f"  shut all {N_PROCESSES:,} down", servers[2], bare[2], "s", False, "linear in N"),
        Row(
            f"  shutdown time per server, {N_PROCESSES:,} against {N_PROCESSES // 10:,}",
            batched[2] / N_PROCESSES * 1e6,
            tenth[2] / (N_PROCESSES // 10) * 1e6,
            "us",
            False,
            "~1x = linear",
        ),
    ]
    restarts = restart_figures()
    ours, loop, new_task = restarts["trio_otp"], restarts["loop"], restarts["new task"]
    rows += [
        Row("restart latency, median", ours["median"], loop["median"], "us", False, "<= 1.5x restart loop"),
        Row(
            "  raw Trio restarting into a new task (for scale)",
            new_task["median"],
            loop["median"],
            "us",
            False,
            "",
        ),
        Row("  trio_otp against that new-task floor", ours["median"], new_task["median"], "us", False, ""),
        Row("restart latency, 99th percentile", ours["p99"], loop["p99"], "us", False, ""),
        Row("one_for_one churn: crashes absorbed", ours["churn"], loop["churn"], "crashes/s", True, ""),
    ]
    return rows


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| workload | trio_otp | raw Trio baseline | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.workload.strip()} | {row.figure:,.1f} {row.unit} | {row.baseline:,.1f} {row.unit} "
            f"| {row.ratio:.2f}x | {row.target} |"
        )
    return "\n".join(lines) + "\n"


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


if __name__ == "__main__":
    if "--measure" in sys.argv:
        measure_here(sys.argv[sys.argv.index("--measure") + 1])
    else:
        main()
