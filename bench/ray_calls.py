"""Remote calls to a supervised Ray actor against raw Ray, in the same run. Not a test.

``python -m nox -s ray`` runs it after the tests (``python bench/ray_calls.py [--quick]``
by hand, with Ray installed). Both sides wait through the same Trio bridge
(:func:`trio_otp.ray.wait_object_ref`), so the difference is what trio_otp adds: the
name lookup, the method check, the host's dispatch, the ``ServerExited`` mapping. The
baseline is a plain ``@ray.remote`` actor of the same class, called as
``await wait_object_ref(actor.add.remote(1))``. Medians of paired runs, by turns; the
load average is printed, since the machine is shared: read the ratios.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import ray
import trio

import trio_otp
from trio_otp.ray import ActorClient, actor_spec, wait_object_ref

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 5
N_SEQUENTIAL = 300 if QUICK else 1_000
N_CALLERS = 16
N_PER_CALLER = 30 if QUICK else 100


class Adder:
    def __init__(self) -> None:
        self.total = 0

    def add(self, amount: int) -> int:
        self.total += amount
        return self.total


Call = Callable[[], Awaitable[Any]]


async def sequential(call: Call) -> float:
    """Microseconds per call, one caller waiting for each reply."""
    began = time.perf_counter()
    for _ in range(N_SEQUENTIAL):
        await call()
    return (time.perf_counter() - began) / N_SEQUENTIAL * 1e6


async def concurrent(call: Call) -> float:
    """Calls per second with N_CALLERS Trio tasks calling at once."""

    async def caller() -> None:
        for _ in range(N_PER_CALLER):
            await call()

    began = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(N_CALLERS):
            nursery.start_soon(caller)
    return N_CALLERS * N_PER_CALLER / (time.perf_counter() - began)


async def paired(measure: Callable[[Call], Awaitable[float]], ours: Call, raw: Call) -> tuple[float, float]:
    mine, theirs = [], []
    for _ in range(REPEATS):
        mine.append(await measure(ours))
        theirs.append(await measure(raw))
    return statistics.median(mine), statistics.median(theirs)


async def main() -> None:
    raw_actor = ray.remote(Adder).options(num_cpus=0).remote()
    await wait_object_ref(raw_actor.add.remote(0))
    client = ActorClient("adder", Adder)

    async def ours() -> Any:
        return await client.call(Adder.add, 1)

    async def raw() -> Any:
        return await wait_object_ref(raw_actor.add.remote(1))

    spec = actor_spec("adder", Adder, name="adder", options={"num_cpus": 0})
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        for _ in range(50):  # warm both up
            await ours()
            await raw()
        rtt, raw_rtt = await paired(sequential, ours, raw)
        rate, raw_rate = await paired(concurrent, ours, raw)
        await supervisor.stop()
    ray.kill(raw_actor)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nRay remote calls, trio_otp.ray vs raw Ray through the same bridge (load average {load})")
    print(f"  round trip, 1 caller:   {rtt:8.0f} us   raw {raw_rtt:8.0f} us   ratio {rtt / raw_rtt:.2f}")
    print(
        f"  throughput, {N_CALLERS} callers: {rate:8.0f} /s   raw {raw_rate:8.0f} /s   "
        f"ratio {rate / raw_rate:.2f}"
    )


if __name__ == "__main__":
    ray.init(num_cpus=1, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        trio.run(main)
    finally:
        ray.shutdown()
