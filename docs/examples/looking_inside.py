"""Look inside a running system: read and replace a server's state, see what a stuck
server is doing, and list every process of the run."""

from __future__ import annotations

import functools

import attrs
import trio

import trio_otp


@attrs.define
class Inventory(trio_otp.GenServer[str, int]):
    stock: dict[str, int] = attrs.field(factory=dict[str, int])
    supplier: trio.Event = attrs.field(factory=trio.Event)

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        if request == "reorder":
            await self.supplier.wait()  # a slow supplier: this call is stuck for a while
        return self.stock.get(request, 0)

    async def handle_cast(self, request: tuple[str, int]) -> None:
        item, count = request
        self.stock[item] = self.stock.get(item, 0) + count

    def format_status(self) -> object:
        return {"items": len(self.stock)}  # what get_status and crash reports show


def restocked(state: Inventory) -> Inventory:
    return attrs.evolve(state, stock={**state.stock, "pens": 100})


def broken(state: Inventory) -> Inventory:
    raise KeyError("pencils")


async def main() -> None:
    tree = trio_otp.Supervisor([trio_otp.server_spec("inventory", Inventory, name="inventory")], name="shop")
    async with trio.open_nursery() as nursery:
        shop = await nursery.start(tree.run)
        trio_otp.cast("inventory", ("pens", 3))

        # sys:get_state and sys:replace_state: system messages, answered between callbacks.
        state = await trio_otp.get_state("inventory")
        print("state:", state.stock)
        state = await trio_otp.replace_state("inventory", restocked)
        print("replaced:", state.stock)
        try:
            await trio_otp.replace_state("inventory", broken)
        except trio_otp.ReplaceStateFailed as error:
            print("refused:", repr(error.__cause__), "- still", (await trio_otp.get_state("inventory")).stock)

        # A stuck call: get_state would wait behind it, get_status reads it at once.
        nursery.start_soon(functools.partial(trio_otp.call, "inventory", "reorder", timeout=None))
        await trio.sleep(1)
        trio_otp.cast("inventory", ("ink", 1))  # waits behind the stuck call
        await trio.sleep(1.5)
        status = trio_otp.get_status("inventory")
        print(
            f"{status.label}: handling {status.message} for {status.handling_for} s, "
            f"{status.mailbox} waiting, state {status.state}, restarts {status.restarts}, "
            f"under {' / '.join(status.supervisors)}"
        )
        try:
            await trio_otp.get_state("inventory", timeout=1)
        except trio_otp.CallTimeout as error:
            print("get_state:", error)  # it stays queued, as a timed-out call does

        # Every process of the run, for a health endpoint; and the tree with the same facts.
        for info in trio_otp.processes():
            print(f"  {info.kind:<10} {info.label:<18} parent={info.parent} mailbox={info.mailbox}")
        print(trio_otp.format_tree(await trio_otp.snapshot(shop, id="shop")))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
