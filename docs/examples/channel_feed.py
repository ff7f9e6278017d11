"""Channels in and out of a server: a producer that speaks Trio channels feeds a server
with a bounded mailbox, and is held back to the server's pace."""

from __future__ import annotations

import attrs
import trio

import trio_otp


@attrs.define
class Averager(trio_otp.GenServer[str, float]):
    total: float = 0.0
    count: int = 0

    async def handle_info(self, message: object) -> None:
        if isinstance(message, trio_otp.ChannelClosed):
            print(f"stream ended after {self.count} readings, mean {self.total / self.count:.1f}")
        elif isinstance(message, float):
            await trio.sleep(0.1)  # slower than the producer
            self.total += message
            self.count += 1


async def sensor(out: trio.abc.SendChannel[float]) -> None:
    """Library-style code: it only knows that it writes to a channel."""
    async with out:
        for reading in [20.0, 21.5, 19.0, 22.5]:
            await out.send(reading)


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Averager, mailbox_size=1)

        # 1. Any ReceiveChannel, fed in: each item is a handle_info, then ChannelClosed.
        send, receive = trio.open_memory_channel[float](0)
        async with trio.open_nursery() as feeding:
            feeding.start_soon(trio_otp.feed, server, receive)
            await sensor(send)

        # 2. The mailbox itself, handed out as a trio.abc.SendChannel.
        await sensor(trio_otp.mailbox_channel(server))
        await trio.sleep(1)
        print(f"{server.alive=}, after {(await trio_otp.get_state(server)).count} readings")
        await server.stop()


if __name__ == "__main__":
    trio.run(main)
