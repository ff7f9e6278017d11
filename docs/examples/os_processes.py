"""Two real programs under a supervisor: the worker crashes once and is restarted, the
tree stops them in reverse order, and the worker's own child dies with its group."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
from collections.abc import Callable

import trio

import trio_otp

# A "database" that says when it is ready, and flushes on SIGTERM.
DATABASE = """
import signal, sys, time
def stop(*_):
    print("flushed, bye", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready to serve", flush=True)
while True:
    time.sleep(1)
"""

# A worker that starts a helper of its own, and crashes on its first run.
WORKER = """
sleep 60 &
echo $! > "$STATE/helper"
if [ -e "$STATE/crashed" ]; then echo "steady now"; wait; fi
touch "$STATE/crashed"
rm "$STATE/helper"
echo "cannot reach the queue" >&2
exit 1
"""


seen: list[str] = []


def show(name: str) -> Callable[[str, str], None]:
    def on_output(stream: str, line: str) -> None:
        seen.append(line)
        print(f"[{name} {stream}] {line}")

    return on_output


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = pathlib.Path(f"/proc/{pid}/stat")  # Linux: a zombie nobody reaped is gone too
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


async def supervise(state: str) -> None:
    tree = trio_otp.Supervisor(
        [
            trio_otp.os_process_spec(
                "database",
                [sys.executable, "-c", DATABASE],
                ready=trio_otp.ReadyOnOutput("ready to serve"),
                on_output=show("database"),
            ),
            trio_otp.os_process_spec(
                "worker",
                ["sh", "-c", WORKER],
                env={**os.environ, "STATE": state},
                on_output=show("worker"),
            ),
        ],
        max_restarts=3,
        max_seconds=10,
    )
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(tree.run)
        while True:  # until the worker runs for the second time
            worker = (await supervisor.which_children())[0]
            if "steady now" in seen:
                break
            await trio.sleep(0.05)
        print(f"the worker was restarted {worker.restarts} time")
        helper = int((pathlib.Path(state) / "helper").read_text())
        nursery.cancel_scope.cancel()  # stop the tree: worker first, then database
    print("tree stopped; the worker's helper is gone:", gone(helper))


def run_example() -> None:
    with tempfile.TemporaryDirectory() as state:
        trio.run(supervise, state)


if __name__ == "__main__":
    run_example()
