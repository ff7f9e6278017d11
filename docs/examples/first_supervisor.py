"""A worker that crashes now and then, kept alive by a supervisor."""

from __future__ import annotations

import trio

import trio_otp

runs = 0


async def flaky_worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    global runs
    runs += 1
    task_status.started()  # ready: the supervisor may start the next child
    await trio.sleep(1)
    if runs < 3:
        raise RuntimeError(f"crash number {runs}")
    # The third run finishes its work and returns: a normal exit.


async def main() -> None:
    supervisor = trio_otp.Supervisor(
        [trio_otp.ChildSpec("worker", flaky_worker, restart=trio_otp.Restart.TRANSIENT)],
        max_restarts=3,
        max_seconds=10,
    )
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(supervisor.run)
        await trio.sleep(5)
        [info] = await ref.which_children()
        print(f"{info.id} ran {runs} times and is now {info.state.value}")
        assert (runs, info.state) == (3, trio_otp.ChildState.STOPPED)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
