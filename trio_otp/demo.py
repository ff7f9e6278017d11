"""A guided tour of a supervision tree: ``python -m trio_otp.demo``.

The tree::

    root            one_for_one, at most 1 restart in 10 s
    └── counters    rest_for_one, at most 1 restart in 10 s
        ├── counter   holds a running total; add and remove numbers
        └── auditor   reads the counter; started after it, so it depends on it

The counter is a GenServer registered under the name "counter", so clients find the
restarted one. The demo sends commands to it and makes it crash on a schedule (by asking it
to remove more than it holds). You see the supervisor restart it, the rest_for_one
strategy restart the auditor with it, the ``counters`` supervisor give up and escalate
when crashes come too fast, ``root`` restart the whole subtree, and finally ``root``
give up too. It exits 0 within a few seconds.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import TextIO

import attrs
import trio

import trio_otp

STEP = 0.15  # seconds between scenes, so a person can follow along


@attrs.define
class Counter(trio_otp.GenServer[tuple[str, int], int]):
    """The classic first OTP server: a total that commands add to and remove from.

    Removing more than the total is a bug we do not handle: the counter crashes, and its
    supervisor starts a fresh one (with a fresh total: that is what "let it crash" costs).
    """

    out: TextIO
    total: int = 0

    async def init(self) -> None:
        print("    counter  | started, total = 0", file=self.out)

    async def handle_call(self, request: tuple[str, int], caller: trio_otp.Caller[int]) -> int:
        op, amount = request
        if op == "add":
            self.total += amount
        elif op == "remove":
            if amount > self.total:
                raise ValueError(f"cannot remove {amount} from a total of {self.total}")
            self.total -= amount
        return self.total

    def format_status(self) -> object:
        return {"total": self.total}  # what crash reports show: not the output stream


async def auditor(out: TextIO, *, task_status: trio.TaskStatus[None]) -> None:
    counter = trio_otp.whereis("counter", trio_otp.ServerRef[tuple[str, int], int])
    assert counter is not None  # started before us: rest_for_one's promise
    total = await counter.call(("add", 0))
    print(f"    auditor  | started; it depends on the counter, whose total is {total}", file=out)
    task_status.started()
    await trio.sleep_forever()


async def ask(op: str, amount: int) -> int:
    """Call whichever counter runs under the name "counter" now."""
    counter: trio_otp.ServerRef[tuple[str, int], int] | None = trio_otp.whereis(
        "counter", trio_otp.ServerRef[tuple[str, int], int]
    )
    if counter is None:
        raise trio_otp.ServerNotRunning("no server is registered as 'counter'")
    return await counter.call((op, amount))


class _Narrator(logging.Handler):
    """Prints the supervisors' reports as one line each, without tracebacks."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(logging.INFO)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        print(f"  * {record.getMessage()}", file=self.out)


async def main(out: TextIO = sys.stdout) -> int:
    subtree = trio_otp.Supervisor(
        [
            trio_otp.server_spec("counter", functools.partial(Counter, out), name="counter"),
            trio_otp.ChildSpec("auditor", auditor, args=(out,)),
        ],
        strategy=trio_otp.RestartStrategy.REST_FOR_ONE,
        max_restarts=1,
        max_seconds=10,
        name="counters",
    )
    root = trio_otp.Supervisor([subtree.child_spec("counters")], max_restarts=1, max_seconds=10, name="root")

    logger = logging.getLogger("trio_otp")
    narrator = _Narrator(out)
    logger.addHandler(narrator)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def say(text: str) -> None:
        print(f"\n{text}", file=out)

    escalated: list[trio_otp.RestartIntensityExceeded] = []

    async def run_root(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
        try:
            await root.run(task_status=task_status)
        except trio_otp.RestartIntensityExceeded as error:
            escalated.append(error)

    try:
        async with trio.open_nursery() as nursery:
            say("Starting the tree: root -> counters (rest_for_one) -> [counter, auditor]")
            root_ref: trio_otp.SupervisorRef = await nursery.start(run_root)

            async def show_tree(title: str) -> None:
                say(title)
                tree = trio_otp.format_tree(await trio_otp.snapshot(root_ref))
                print("\n".join(f"    {line}" for line in tree.splitlines()), file=out)

            await show_tree("The tree (trio_otp.format_tree(await trio_otp.snapshot(root))):")
            say("Scene 1. Normal work: add 5, add 3, remove 2.")
            for op, amount in (("add", 5), ("add", 3), ("remove", 2)):
                total = await ask(op, amount)
                print(f"    client   | {op} {amount} -> total {total}", file=out)

            crashes = [
                "Scene 2. Add 1, then remove 100: the counter crashes. 'counters' restarts it, and by\n"
                "rest_for_one also the auditor started after it. Restart 1 of 1 allowed.",
                "Scene 3. Crash again within 10 s: 'counters' has used its one restart, so it\n"
                "stops its children and escalates. 'root' treats that as its child crashing\n"
                "and restarts the whole subtree. Restart 1 of 1 for root.",
                "Scene 4. A crash in the fresh subtree: its own, new restart history allows it.",
                "Scene 5. One more: 'counters' escalates again, and now 'root' has no restart\n"
                "left either. It stops everything and gives up: the crash reaches the top.",
            ]
            for number, scene in enumerate(crashes):
                if number == len(crashes) - 1:
                    await show_tree("The tree before the last crash (see the restart counts):")
                await trio.sleep(STEP)
                say(scene)
                await ask("add", 1)
                try:
                    await ask("remove", 100)
                except trio_otp.ServerExited as exited:
                    print(f"    client   | remove 100 -> {exited}", file=out)
                await trio.sleep(STEP)
                try:
                    print(f"    client   | the new counter's total is {await ask('add', 0)}", file=out)
                except trio_otp.ServerNotRunning:
                    print("    client   | no counter is running any more", file=out)
                    break
    finally:
        logger.removeHandler(narrator)
        logger.setLevel(old_level)
        logger.propagate = old_propagate

    [error] = escalated
    say("The tree is down. The chain of exits, top first:")
    cause: BaseException | None = error
    depth = 0
    while cause is not None:
        print(f"    {'  ' * depth}{type(cause).__name__}: {cause}", file=out)
        cause, depth = cause.__cause__, depth + 1
    say(
        "In a real application the program would now exit non-zero and be restarted by\n"
        "its own supervisor (systemd, Kubernetes): supervision all the way up."
    )
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main))
