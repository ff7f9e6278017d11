"""Tutorial step 3: a supervisor restarts the counter when it crashes."""

from __future__ import annotations

import trio
from tutorial_2_gen_server import Counter  # the step before

import trio_otp


async def main() -> None:
    tree = trio_otp.Supervisor([trio_otp.server_spec("counter", Counter, name="counter")], max_restarts=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        print(await trio_otp.call("counter", ("add", 5)))  # 5
        try:
            await trio_otp.call("counter", ("remove", 100))  # a bug: the counter crashes
        except trio_otp.ServerExited as error:
            print("the call failed:", error.reason)
        await trio.sleep(0.1)  # give the supervisor a moment to restart it
        print(await trio_otp.call("counter", ("add", 1)))  # 1: a fresh counter, same name
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
