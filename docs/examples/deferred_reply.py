"""A deferred reply: the server answers later, from another task, and stays free meanwhile."""

from __future__ import annotations

import attrs
import trio

import trio_otp


@attrs.define
class SlowLookup(trio_otp.GenServer[str, str]):
    nursery: trio.Nursery

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str | trio_otp.NoReply:
        if request == "ping":
            return "pong"
        self.nursery.start_soon(self.look_up, request, caller)
        return trio_otp.NO_REPLY  # the caller keeps waiting; we take the next message

    async def look_up(self, key: str, caller: trio_otp.Caller[str]) -> None:
        await trio.sleep(1)  # a slow backend
        caller.reply(f"value of {key}")


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, lambda: SlowLookup(nursery))
        async with trio.open_nursery() as clients:
            clients.start_soon(server.call, "slow-key")
            await trio.sleep(0.1)
            print(await server.call("ping"))  # answered while the lookup is pending
        print(await server.call("other-key"))
        await server.stop()


if __name__ == "__main__":
    trio.run(main)
