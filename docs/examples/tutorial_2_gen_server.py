"""Tutorial step 2: the same counter as a GenServer."""

from __future__ import annotations

import attrs
import trio

import trio_otp


@attrs.define
class Counter(trio_otp.GenServer[tuple[str, int], int]):
    total: int = 0

    async def handle_call(self, request: tuple[str, int], caller: trio_otp.Caller[int]) -> int:
        op, amount = request
        if op == "add":
            self.total += amount
        elif op == "remove":
            if amount > self.total:
                raise ValueError(f"cannot remove {amount} from {self.total}")
            self.total -= amount
        return self.total


async def main() -> None:
    try:
        async with trio.open_nursery() as nursery:
            counter = await trio_otp.start_server(nursery, Counter)
            print(await counter.call(("add", 5)))
            print(await counter.call(("remove", 2)))
            try:
                await counter.call(("remove", 100))  # a bug we chose not to handle
            except trio_otp.ServerExited as error:
                print("the call failed:", repr(error.reason))
            await trio.sleep_forever()  # cancelled: the crash reaches the nursery too
    except Exception as error:  # the nursery's ExceptionGroup, holding the ValueError
        print("the nursery ended with:", repr(error))


if __name__ == "__main__":
    trio.run(main)
