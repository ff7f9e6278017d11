"""Requests sent now and collected later, and calls to a group of servers.

Three price servers join a group in ``init`` (with :func:`trio_otp.current_server` they
know their own reference). A client sends one request to each, collects the answers as
they come, then asks the whole group at once with ``multi_call``.
"""

from __future__ import annotations

import functools

import attrs
import trio

import trio_otp


@attrs.define
class Quotes(trio_otp.GenServer[str, float]):
    shop: str
    delay: float
    group: trio_otp.Registry[str]
    news: list[str] = attrs.field(factory=list[str])

    async def init(self) -> None:
        self.group.register("quotes", self.shop)  # a member of the group, as its server

    async def handle_call(self, request: str, caller: trio_otp.Caller[float]) -> float:
        await trio.sleep(self.delay)  # a slow supplier
        return len(request) * (1.0 + self.delay)

    async def handle_cast(self, request: str) -> None:
        self.news.append(request)


async def main() -> None:
    group = trio_otp.Registry[str](trio_otp.Keys.DUPLICATE, name="shops")
    async with trio.open_nursery() as nursery:
        shops = {
            shop: await trio_otp.start_server(nursery, functools.partial(Quotes, shop, delay, group))
            for shop, delay in [("north", 3.0), ("south", 1.0), ("east", 9.0)]
        }

        # One request to each, then the replies as they come, within 5 s in all.
        collection = trio_otp.RequestIdCollection[str]()
        for shop, ref in shops.items():
            collection.add(ref.send_request("apples"), shop)
        try:
            while collection:
                answer, shop = await collection.wait_response(timeout=5)
                print(f"{shop} answered {answer.unwrap():.1f} at t={trio.current_time():.0f}")
        except trio_otp.CallTimeout:  # wait_response leaves the rest pending in the collection
            print("still waiting for:", [shop for _, shop in collection.to_list()])

        # The same, for the whole group at once: one overall timeout.
        replies, bad = await trio_otp.multi_call(group, "quotes", "pears", timeout=5)
        name = {ref: shop for shop, ref in shops.items()}
        print("replies:", [(name[ref], reply) for ref, reply in replies])
        print("bad:", [(name[ref], type(error).__name__) for ref, error in bad])

        print("refused:", trio_otp.abcast(group, "quotes", "prices go up on Monday"))
        await trio.sleep(10)  # let the casts be handled (east is still busy for a while)
        for shop, ref in shops.items():
            state = await trio_otp.get_state(ref)
            assert isinstance(state, Quotes)
            print(f"{shop} was told: {state.news}")
        nursery.cancel_scope.cancel()
