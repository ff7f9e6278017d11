"""The counter as a typed GenServer, supervised and found by name."""

from __future__ import annotations

import attrs
import trio

import trio_otp

Request = tuple[str, int]


@attrs.define
class Counter(trio_otp.GenServer[Request, int]):
    total: int = 0
    history: list[Request] = attrs.field(factory=list[Request])  # typed, for pyright --strict

    async def handle_call(self, request: Request, caller: trio_otp.Caller[int]) -> int:
        op, amount = request
        if op == "add":
            self.total += amount
        elif op == "remove":
            if amount > self.total:
                raise ValueError(f"cannot remove {amount} from {self.total}")
            self.total -= amount
        else:
            raise ValueError(f"unknown operation {op!r}")
        self.history.append(request)
        return self.total

    async def handle_cast(self, request: object) -> None:
        if request == "reset":
            self.total = 0


def counter() -> trio_otp.ServerRef[Request, int]:
    ref: trio_otp.ServerRef[Request, int] | None = trio_otp.whereis(
        "counter", trio_otp.ServerRef[Request, int]
    )
    assert ref is not None
    return ref


async def restarted(old: trio_otp.ServerRef[Request, int]) -> trio_otp.ServerRef[Request, int]:
    """The counter's next run, once its supervisor has started it (within a second)."""
    with trio.fail_after(1):
        while True:
            ref = trio_otp.whereis("counter", trio_otp.ServerRef[Request, int])
            if ref is not None and ref is not old:
                return ref
            await trio.sleep(0.01)


async def main() -> None:
    tree = trio_otp.Supervisor([trio_otp.server_spec("counter", Counter, name="counter")], max_restarts=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        first = counter()
        assert await first.call(("add", 5)) == 5
        try:
            await first.call(("remove", 10))  # crashes the server...
        except trio_otp.ServerExited as error:
            print("call failed:", error)
        await restarted(first)  # ...its supervisor restarts it, with a fresh total
        assert await counter().call(("add", 1)) == 1
        counter().cast("reset")
        print("total after reset:", await counter().call(("add", 0)))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
