"""Tutorial step 3: a supervisor restarts the counter when it crashes."""

from __future__ import annotations

import trio
from tutorial_2_gen_server import Counter  # the step before

import trio_otp
from trio_otp.testing import settle


async def main() -> None:
    tree = trio_otp.Supervisor(
        [trio_otp.server_spec("counter", Counter, name="counter")],
        max_restarts=3,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        print(await trio_otp.call("counter", ("add", 5)))
        first = trio_otp.whereis("counter")
        watch = trio_otp.monitor("counter")
        try:
            await trio_otp.call("counter", ("remove", 100))  # the same bug
        except trio_otp.ServerExited as error:
            print("the call failed:", repr(error.reason))
        down = await watch.wait()
        print("the monitor saw it end:", repr(down.reason))
        await settle()  # until the supervisor has done what the crash calls for
        print("a new counter under the name:", trio_otp.whereis("counter") is not first)
        print(await trio_otp.call("counter", ("add", 1)))  # a fresh total
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
