"""Start N GenServers under a DynamicSupervisor, then shut them all down, against N bare
Trio tasks parked on an event, in the same process. Prints time and resident memory per
process and the ratios. ``python bench/dynamic_supervisor.py [N]`` (default 100,000)."""

from __future__ import annotations

import gc
import sys
import time

import trio

import trio_otp


class Idle(trio_otp.GenServer[int, int]):
    async def handle_call(self, request: int, caller: trio_otp.Caller[int]) -> int:
        return request


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0


async def bare_tasks(n: int) -> tuple[float, float, float]:
    event = trio.Event()
    async with trio.open_nursery() as nursery:
        gc.collect()
        base, start = rss_bytes(), time.perf_counter()
        for _ in range(n):
            nursery.start_soon(event.wait)
        await trio.lowlevel.checkpoint()
        started, memory = time.perf_counter() - start, rss_bytes() - base
        stop = time.perf_counter()
        event.set()
    return started / n, memory / n, time.perf_counter() - stop


async def gen_servers(n: int) -> tuple[float, float, float]:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.DynamicSupervisor().run)
        spec = trio_otp.server_spec("idle", Idle)
        gc.collect()
        base, start = rss_bytes(), time.perf_counter()
        for _ in range(n):
            await supervisor.start_child(spec)
        started, memory = time.perf_counter() - start, rss_bytes() - base
        stop = time.perf_counter()
        nursery.cancel_scope.cancel()
    return started / n, memory / n, time.perf_counter() - stop


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    bare = trio.run(bare_tasks, n)
    servers = trio.run(gen_servers, n)
    print(f"{n:,} processes{'':22} {'start/each':>11} {'memory/each':>12} {'stop all':>9}")
    for label, (each, memory, stop) in (
        ("bare Trio tasks on an event", bare),
        ("GenServers, DynamicSupervisor", servers),
    ):
        print(f"{label:38} {each * 1e6:9.1f}us {memory:10.0f} B {stop:8.2f}s")
    ratios = (servers[0] / bare[0], servers[1] / max(bare[1], 1), servers[2] / bare[2])
    print(f"{'ratio':38} {ratios[0]:10.2f}x {ratios[1]:11.2f}x {ratios[2]:8.2f}x")


if __name__ == "__main__":
    main()
