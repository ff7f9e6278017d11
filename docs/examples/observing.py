"""Run an application with an observer, and read it as another program would: the live
tree as JSON, then one server's status as its format_status shows it."""

from __future__ import annotations

import functools
import os
import tempfile
from typing import Any

import trio

import trio_otp
from trio_otp.observer import fetch_snapshot, fetch_status


class Inventory(trio_otp.GenServer[str, int]):
    def __init__(self) -> None:
        self.stock = {"pens": 3}
        self.api_key = "s3cret"

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        return self.stock.get(request, 0)

    def format_status(self) -> object:
        return {"stock": self.stock, "api_key": "<redacted>"}  # what the observer shows


async def idle(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await trio.sleep_forever()


def show(node: dict[str, Any], depth: int = 0) -> None:
    restarts = f"  (restarted {node['restarts']}x)" if node["restarts"] else ""
    print(f"{'  ' * depth}{node['id']}  {node['kind']}  {node['state']}{restarts}")
    for child in node["children"]:
        show(child, depth + 1)


async def observe_shop() -> None:
    storage = trio_otp.Supervisor(
        [trio_otp.server_spec("inventory", Inventory, name="inventory"), trio_otp.ChildSpec("sync", idle)],
        name="storage",
    )
    tree = trio_otp.Supervisor([storage.child_spec("storage"), trio_otp.ChildSpec("web", idle)], name="shop")
    with tempfile.TemporaryDirectory() as directory:
        address = os.path.join(directory, "observer.sock")
        async with trio.open_nursery() as nursery:
            # What run_application(tree, observer=address) does, inside this program.
            await nursery.start(functools.partial(trio_otp.serve_application, tree, observer=address))

            # Another program (python -m trio_otp observe ADDRESS --json) reads it so:
            snapshot = await trio.to_thread.run_sync(fetch_snapshot, address)
            print("phase:", snapshot["phase"])
            show(snapshot["tree"])
            status = await trio.to_thread.run_sync(fetch_status, address, ["storage", "inventory"])
            print("inventory:", status["label"], "mailbox", status["mailbox"])
            print("state:", status["state"])
            nursery.cancel_scope.cancel()


def run_example() -> None:
    trio.run(observe_shop)  # real sockets, real time


if __name__ == "__main__":
    run_example()
