"""An application with an observer, run as a program for tests/test_observer*.py.

``python tests/observed_app.py ADDRESS`` runs it with ``observer=ADDRESS`` (a socket
path, or ``tcp:HOST:PORT``). It prints ``listening ADDRESS`` when the observer listens
(the port the system chose, for port 0), then ``ready`` once the tree is in the state
the tests look at: ``flaky`` crashed once and was restarted, and the ``inventory``
server is stuck in a call with two casts waiting behind it.
"""

from __future__ import annotations

import functools
import logging
import sys

import trio

import trio_otp

crashes = 0


class Inventory(trio_otp.GenServer[str, int]):
    def __init__(self) -> None:
        self.stock = {"pens": 3}
        self.token = "s3cret"

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        if request == "reorder":
            await trio.sleep_forever()  # a slow supplier: stuck here
        return self.stock.get(request, 0)

    async def handle_cast(self, request: str) -> None:
        self.stock[request] = self.stock.get(request, 0) + 1

    def format_status(self) -> object:
        return {"stock": self.stock, "token": "<redacted>"}


async def flaky(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    global crashes  # noqa: PLW0603 - one crash per program run
    task_status.started()
    if crashes == 0:
        crashes += 1
        raise ValueError("flaky start")
    await trio.sleep_forever()


async def clerk(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(trio_otp.call, "inventory", "reorder", timeout=None))
        await trio.sleep(0.05)
        trio_otp.cast("inventory", "ink")
        trio_otp.cast("inventory", "paper")
        await trio.sleep(0.05)
        print("ready", flush=True)
        task_status.started()


class PrintAddress(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "otp_report", None) == "observer_listening":
            print("listening", getattr(record, "address", None), flush=True)


def main() -> int:
    logger = logging.getLogger("trio_otp")
    logger.setLevel(logging.INFO)
    logger.addHandler(PrintAddress())
    storage = trio_otp.Supervisor(
        [trio_otp.server_spec("inventory", Inventory, name="inventory"), trio_otp.ChildSpec("flaky", flaky)],
        name="storage",
    )
    tree = trio_otp.Supervisor(
        [storage.child_spec("storage"), trio_otp.ChildSpec("clerk", clerk)], name="shop"
    )
    address = sys.argv[1]
    observer: str | trio_otp.ObserverEndpoint = address
    if address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        observer = trio_otp.ObserverEndpoint(port=int(port), host=host)
    return trio_otp.run_application(tree, observer=observer)


if __name__ == "__main__":
    sys.exit(main())
