"""Tutorial step 4: inside a bigger tree, crashes that come too fast escalate."""

from __future__ import annotations

import trio
import trio.lowlevel
from tutorial_2_gen_server import Counter

import trio_otp


async def reporter(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    while True:
        await trio.sleep(1)
        try:
            print("report: total is", await trio_otp.call("counter", ("add", 0)))
        except trio_otp.ServerError:
            pass  # the counter is being restarted


async def main() -> None:
    counting = trio_otp.Supervisor(
        [trio_otp.server_spec("counter", Counter, name="counter"), trio_otp.ChildSpec("reporter", reporter)],
        strategy=trio_otp.RestartStrategy.REST_FOR_ONE,  # the reporter depends on the counter
        max_restarts=1,
        max_seconds=10,
        name="counting",
    )
    root = trio_otp.Supervisor([counting.child_spec("counting")], max_restarts=1, max_seconds=10, name="root")
    async with trio.open_nursery() as nursery:
        outcome: list[BaseException] = []

        async def run_root(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
            try:
                await root.run(task_status=task_status)
            except trio_otp.RestartIntensityExceeded as error:
                outcome.append(error)

        ref = await nursery.start(run_root)
        for _ in range(4):  # (1 + 1) * (1 + 1) crashes bring the root down
            await trio.sleep(1.5)
            print(trio_otp.format_tree(await trio_otp.snapshot(ref)))
            try:
                await trio_otp.call("counter", ("remove", 1))
            except trio_otp.ServerExited:
                print("crash!")
            await trio.lowlevel.checkpoint()
    print("the root gave up:", outcome[0])


if __name__ == "__main__":
    trio.run(main)
