"""Cleanup that needs to await runs in cleanup_scope(), bounded by the shutdown budget."""

from __future__ import annotations

import trio

import trio_otp

flushed: list[str] = []


async def buffered_writer(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():  # shielded, until the 2 s budget runs out
            await trio.sleep(0.5)  # e.g. flush a buffer to a socket
            flushed.append("buffer")


async def main() -> None:
    spec = trio_otp.ChildSpec("writer", buffered_writer, shutdown=2.0)
    with trio.move_on_after(1):  # cancelling the supervisor stops the tree in order
        await trio_otp.Supervisor([spec]).run()
    assert flushed == ["buffer"]
    print("flushed before stopping")


if __name__ == "__main__":
    trio.run(main)
