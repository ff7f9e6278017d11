"""Round trips per second: GenServer.call against raw Trio request/reply floors.

Run with ``python -m nox -s bench`` (or ``python bench/call_roundtrip.py``). Prints each
figure next to the raw-Trio floor measured in the same process, and the ratio; the
median of several repetitions, because machines are shared and noisy.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from typing import Any

import outcome
import trio

import trio_otp

N = 20_000
REPEATS = 7


async def raw_deque_reschedule(n: int) -> float:
    """The floor: a deque mailbox and parked tasks woken with reschedule."""
    mailbox: deque[tuple[Any, trio.lowlevel.Task]] = deque()
    parked: list[trio.lowlevel.Task | None] = [None]

    async def server() -> None:
        while True:
            while not mailbox:
                parked[0] = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.SUCCEEDED)
            request, caller = mailbox.popleft()
            trio.lowlevel.reschedule(caller, outcome.Value(request))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        await trio.lowlevel.checkpoint()
        me = trio.lowlevel.current_task()
        start = time.perf_counter()
        for i in range(n):
            mailbox.append((i, me))
            task = parked[0]
            if task is not None:
                parked[0] = None
                trio.lowlevel.reschedule(task)
            reply = await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.SUCCEEDED)
            assert reply == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def raw_memory_channels(n: int) -> float:
    """Request over one memory channel, reply over a second, both unbuffered."""
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


class Echo(trio_otp.GenServer[int, int]):
    async def handle_call(self, request: int, caller: trio_otp.Caller[int]) -> int:
        return request


async def gen_server_call(n: int, call_timeout: float | None) -> float:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Echo)
        start = time.perf_counter()
        for i in range(n):
            reply = await ref.call(i, timeout=call_timeout)
            assert reply == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


def median_rate(fn: Any, *args: Any) -> float:
    return statistics.median(trio.run(fn, N, *args) for _ in range(REPEATS))


def main() -> None:
    floor = median_rate(raw_deque_reschedule)
    channels = median_rate(raw_memory_channels)
    call_default = median_rate(gen_server_call, trio_otp.DEFAULT_CALL_TIMEOUT)
    call_none = median_rate(gen_server_call, None)
    print(f"{'workload':44} {'round trips/s':>14} {'vs floor':>9}")
    for label, rate in (
        ("raw Trio: deque + reschedule (the floor)", floor),
        ("raw Trio: two memory channels", channels),
        ("GenServer.call, timeout=5 (default)", call_default),
        ("GenServer.call, timeout=None", call_none),
    ):
        print(f"{label:44} {rate:14,.0f} {rate / floor:9.2f}x")


if __name__ == "__main__":
    main()
