"""A Ray actor under a trio_otp supervisor: Ray runs it, trio_otp restarts it.

Needs ``pip install 'trio_otp[ray]'``. It starts a small local Ray instance itself.
"""

# Ray is an optional extra, absent where the docs are type-checked.
# pyright: reportMissingImports=false, reportUnknownMemberType=false

from __future__ import annotations

import os

import ray
import trio

import trio_otp
from trio_otp.ray import ActorClient, actor_spec

#: The packages this example needs (tests/test_docs_examples.py skips it without them).
REQUIRES = ("ray",)


class Counter:
    """A plain class: trio_otp makes it a Ray actor (do not decorate it)."""

    def __init__(self, start: int) -> None:
        self.value = start

    def add(self, amount: int) -> int:
        self.value += amount
        return self.value

    def crash(self) -> None:
        os._exit(1)  # the worker process dies, as on a segfault


async def counter_under_a_supervisor() -> None:
    spec = actor_spec("counter", Counter, args=(100,), name="counter", options={"num_cpus": 0})
    counter = ActorClient("counter", Counter)  # follows the name across restarts
    supervisor = trio_otp.Supervisor([spec], max_restarts=3, max_seconds=60)
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(supervisor.run)
        print("add 1 ->", await counter.call(Counter.add, 1))
        print("add 1 ->", await counter.call(Counter.add, 1))
        try:
            await counter.call(Counter.crash)
        except trio_otp.ServerExited as exited:
            print("crash -> ServerExited, reason:", type(exited.reason).__name__)
        while counter.whereis() is None:  # noqa: ASYNC110 - the supervisor is starting a new actor
            await trio.sleep(0.05)
        print("after the restart, add 1 ->", await counter.call(Counter.add, 1))
        await ref.stop()
    print("stopped; the actor's process is gone")


def run_example() -> None:
    # A small fixed share of this machine; a real cluster would be ray.init(address=...).
    ray.init(num_cpus=1, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        trio.run(counter_under_a_supervisor)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    run_example()
