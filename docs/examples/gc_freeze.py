"""Many long-lived processes: freeze them out of the garbage collector once started."""

from __future__ import annotations

import gc

import trio

import trio_otp


class Session(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request


async def main() -> None:
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor(name="pool").run)
        spec = trio_otp.server_spec("session", Session)
        for _ in range(10):
            await pool.start_children([spec] * 1000)

        # Start-up is over: what exists now lives as long as the application. Frozen, the
        # cyclic collector's full collections no longer walk it.
        gc.collect()
        gc.freeze()
        print("frozen:", gc.get_freeze_count() > 10 * 1000)

        ...  # serve: restarts and new children are collected as usual

        # Before tearing a large tree down, give the objects back to the collector, so
        # that any reference cycles among them (your own) are collected too.
        gc.unfreeze()
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
