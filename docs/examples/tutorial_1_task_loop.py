"""Tutorial step 1: the counter as a bare Trio task looping over a channel."""

from __future__ import annotations

import trio

# A request: an operation, an amount, and where to send the new total.
Request = tuple[str, int, trio.MemorySendChannel[int]]


async def counter(requests: trio.MemoryReceiveChannel[Request]) -> None:
    total = 0
    async for op, amount, reply in requests:
        if op == "add":
            total += amount
        elif op == "remove":
            total -= amount
        reply.send_nowait(total)


async def ask(requests: trio.MemorySendChannel[Request], op: str, amount: int) -> int:
    reply_send, reply_receive = trio.open_memory_channel[int](1)
    await requests.send((op, amount, reply_send))
    return await reply_receive.receive()


async def main() -> None:
    send, receive = trio.open_memory_channel[Request](0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(counter, receive)
        print(await ask(send, "add", 5))
        print(await ask(send, "remove", 2))
        await send.aclose()  # the loop ends when the channel closes


if __name__ == "__main__":
    trio.run(main)
