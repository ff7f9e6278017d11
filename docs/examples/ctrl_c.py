"""Ctrl-C stops the tree in reverse order, each child within its budget, and the program
ends with one KeyboardInterrupt."""

from __future__ import annotations

import signal

import trio

import trio_otp


async def worker(name: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        with trio_otp.cleanup_scope():  # shielded, within the 5 s budget
            await trio.sleep(1)  # say goodbye to a peer, flush a buffer
            print(f"{name} cleaned up")


async def user(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep(3)
    signal.raise_signal(signal.SIGINT)  # what pressing Ctrl-C does


async def main() -> None:
    tree = trio_otp.Supervisor(
        [
            trio_otp.ChildSpec("database", worker, args=("database",)),
            trio_otp.ChildSpec("web", worker, args=("web",)),
            trio_otp.ChildSpec("user", user),
        ]
    )
    try:
        await tree.run()  # as trio.run(tree.run) would run it
    except KeyboardInterrupt:
        print("KeyboardInterrupt, once everything had stopped")


if __name__ == "__main__":
    trio.run(main)
