"""Page-view counters sharded over four servers: each page's count lives in the one
partition its key routes to, so the four serialise only their own share of the work."""

from __future__ import annotations

import functools

import attrs
import trio

import trio_otp


@attrs.define
class Counters(trio_otp.GenServer[str, int]):
    shard: int
    views: dict[str, int] = attrs.field(factory=dict[str, int])

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        self.views[request] = self.views.get(request, 0) + 1
        return self.views[request]


async def main() -> None:
    spec = trio_otp.server_spec("counters", functools.partial(Counters, 0))
    counters = trio_otp.PartitionSupervisor(
        spec,
        name="counters",
        partitions=4,
        # Each partition's arguments: here, a factory that knows its shard number.
        with_arguments=lambda args, shard: (functools.partial(Counters, shard), *args[1:]),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(counters.run)
        for page in [1, 2, 5, 1, 6, 1, 2]:  # page ids: whole numbers route to id % 4
            await trio_otp.call(trio_otp.Partition("counters", page), f"/page/{page}")
        for shard in range(4):  # what each partition holds (sys:get_state, through the route)
            state = await trio_otp.get_state(trio_otp.Partition("counters", shard))
            print(f"shard {state.shard}: {sorted(state.views.items())}")
        nursery.cancel_scope.cancel()
