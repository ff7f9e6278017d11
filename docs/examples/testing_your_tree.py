"""A property test of your own tree: random crash schedules never leave it half-running."""

from __future__ import annotations

import sys

import trio
import trio.testing
from hypothesis import given, settings

import trio_otp
from trio_otp.testing import ScheduledExit, crash_schedules, play_schedule, settle

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


async def cache(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


async def api(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


def my_tree() -> trio_otp.Supervisor:
    # The API depends on the cache, so rest_for_one: a cache crash restarts both.
    return trio_otp.Supervisor(
        [trio_otp.ChildSpec("cache", cache), trio_otp.ChildSpec("api", api)],
        strategy=trio_otp.RestartStrategy.REST_FOR_ONE,
        max_restarts=3,
        max_seconds=10,
    )


@settings(max_examples=50, deadline=None)
@given(schedule=crash_schedules([("cache",), ("api",)], time_steps=[0.0, 1.0, 10.0], crashes_only=True))
def test_tree_is_whole_or_gone(schedule: list[ScheduledExit]) -> None:
    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            ref = await nursery.start(my_tree().run)
            try:
                await play_schedule(ref, schedule)
                await settle()
                states = {info.id: info.state for info in await ref.which_children()}
                # Whatever crashed, the tree is whole again: both children running.
                assert states == {"cache": trio_otp.ChildState.RUNNING, "api": trio_otp.ChildState.RUNNING}
            except trio_otp.SupervisorNotRunning:
                pass  # or it gave up, which is allowed too
            nursery.cancel_scope.cancel()

    try:
        trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    except BaseExceptionGroup as group:
        # Giving up is the only way the tree may end.
        if group.split(trio_otp.RestartIntensityExceeded)[1] is not None:
            raise


def run_example() -> None:
    test_tree_is_whole_or_gone()
    print("50 random crash schedules: the tree was always whole, or had given up")


if __name__ == "__main__":
    run_example()
