"""Escalation: a subtree that crashes too often is restarted by its parent, until the
parent gives up too."""

from __future__ import annotations

import trio

import trio_otp


async def always_crashes(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep(0.1)
    raise ConnectionError("database went away")


async def main() -> None:
    inner = trio_otp.Supervisor([trio_otp.ChildSpec("db", always_crashes)], max_restarts=1, max_seconds=5)
    root = trio_otp.Supervisor([inner.child_spec("storage")], max_restarts=1, max_seconds=5, name="root")
    try:
        await root.run()
    except trio_otp.RestartIntensityExceeded as error:
        # The chain of causes tells the whole story, top first.
        assert error.child_id == "storage"
        assert isinstance(error.__cause__, trio_otp.RestartIntensityExceeded)
        assert isinstance(error.__cause__.__cause__, ConnectionError)
        print(error)


if __name__ == "__main__":
    trio.run(main)
