"""Tutorial step 4: inside a bigger tree, crashes that come too fast escalate."""

from __future__ import annotations

import trio
from tutorial_2_gen_server import Counter

import trio_otp
from trio_otp.testing import settle


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
    outcome: list[BaseException] = []

    async def run_root(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
        try:
            await root.run(task_status=task_status)
        except trio_otp.RestartIntensityExceeded as error:
            outcome.append(error)

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(run_root)
        await trio.sleep(1.5)  # the reporter reports once a second
        print(trio_otp.format_tree(await trio_otp.snapshot(ref)))
        for crash in range(1, 5):  # (1 + 1) * (1 + 1) crashes bring the root down
            try:
                await trio_otp.call("counter", ("remove", 1))
            except trio_otp.ServerExited:
                print(f"crash {crash}")
            await settle()  # until the supervisors have dealt with it
            if ref.alive:
                print(trio_otp.format_tree(await trio_otp.snapshot(ref)))
    print("the root gave up:", outcome[0])


if __name__ == "__main__":
    trio.run(main)
