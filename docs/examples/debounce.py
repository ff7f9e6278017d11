"""A returned Timeout: flush a batch once no new item came for 0.5 s, then wait quietly."""

from __future__ import annotations

import attrs
import trio

import trio_otp


@attrs.define
class Debouncer(trio_otp.GenServer[None, None]):
    batch: list[str] = attrs.field(factory=list[str])
    started: float = attrs.field(factory=trio.current_time)

    async def handle_cast(self, request: str) -> trio_otp.Timeout:
        self.batch.append(request)
        return trio_otp.Timeout(0.5)  # each new item pushes the flush back

    async def handle_info(self, message: object) -> None:
        if isinstance(message, trio_otp.IdleTimeout):
            print(f"{trio.current_time() - self.started:.1f}s: flush {self.batch}")
            self.batch.clear()
        # Returning None sets no new timeout: the server now waits for ever.


async def main() -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Debouncer)
        for word in ["a", "b", "c"]:
            server.cast(word)
            await trio.sleep(0.2)
        await trio.sleep(5)  # one flush, at 0.4 + 0.5 s, and no more
        server.cast("d")
        await trio.sleep(1)
        await server.stop()


if __name__ == "__main__":
    trio.run(main)
