"""A guided tour of a supervision tree: ``python -m trio_otp.demo``.

The tree::

    root            one_for_one, at most 1 restart in 10 s
    └── counters    rest_for_one, at most 1 restart in 10 s
        ├── counter   holds a running total; add and remove numbers
        └── auditor   reads the counter; started after it, so it depends on it

The demo sends commands to the counter and makes it crash on a schedule (by asking it
to remove more than it holds). You see the supervisor restart it, the rest_for_one
strategy restart the auditor with it, the ``counters`` supervisor give up and escalate
when crashes come too fast, ``root`` restart the whole subtree, and finally ``root``
give up too. It exits 0 within a few seconds.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import attrs
import trio

import trio_otp

STEP = 0.15  # seconds between scenes, so a person can follow along


@attrs.frozen
class Command:
    op: str
    amount: int
    reply: trio.MemorySendChannel[int]


CounterRef = trio.MemorySendChannel[Command]


async def counter(out: TextIO, *, task_status: trio.TaskStatus[CounterRef]) -> None:
    """The classic first OTP server: a total that commands add to and remove from.

    Removing more than the total is a bug we do not handle: the counter crashes, and its
    supervisor starts a fresh one (with a fresh total: that is what "let it crash" costs).
    """
    send, receive = trio.open_memory_channel[Command](16)
    total = 0
    print("    counter  | started, total = 0", file=out)
    task_status.started(send)
    async for command in receive:
        with command.reply:  # closed on the way out, so a crash cannot leave a client waiting
            if command.op == "add":
                total += command.amount
            elif command.op == "remove":
                if command.amount > total:
                    raise ValueError(f"cannot remove {command.amount} from a total of {total}")
                total -= command.amount
            command.reply.send_nowait(total)


async def auditor(out: TextIO, *, task_status: trio.TaskStatus[None]) -> None:
    print("    auditor  | started (it depends on the counter started before it)", file=out)
    task_status.started()
    await trio.sleep_forever()


async def ask(root: trio_otp.SupervisorRef, op: str, amount: int) -> int:
    """Send one command to whichever counter is running now, and wait for its reply."""
    [counters] = await root.which_children()
    assert isinstance(counters.ref, trio_otp.SupervisorRef)
    by_id = {info.id: info.ref for info in await counters.ref.which_children()}
    counter_ref = by_id["counter"]
    assert isinstance(counter_ref, trio.MemorySendChannel)
    reply_send, reply_receive = trio.open_memory_channel[int](1)
    try:
        await counter_ref.send(Command(op, amount, reply_send))
        return await reply_receive.receive()
    except (trio.BrokenResourceError, trio.EndOfChannel):
        return -1  # the counter died with our command: its supervisor has it in hand


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
            trio_otp.ChildSpec("counter", counter, args=(out,)),
            trio_otp.ChildSpec("auditor", auditor, args=(out,)),
        ],
        strategy=trio_otp.RestartStrategy.REST_FOR_ONE,
        max_restarts=1,
        max_seconds=10,
        name="counters",
    )
    root = trio_otp.Supervisor([subtree.child_spec("counters")], max_restarts=1, max_seconds=10, name="root")

    logger = logging.getLogger("trio_otp.supervisor")
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
            ref: trio_otp.SupervisorRef = await nursery.start(run_root)
            say("Scene 1. Normal work: add 5, add 3, remove 2.")
            for op, amount in (("add", 5), ("add", 3), ("remove", 2)):
                total = await ask(ref, op, amount)
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
            for scene in crashes:
                await trio.sleep(STEP)
                say(scene)
                await ask(ref, "add", 1)
                await ask(ref, "remove", 100)
                await trio.sleep(STEP)
                try:
                    print(f"    client   | after the crash the total is {await ask(ref, 'add', 0)}", file=out)
                except trio_otp.SupervisorNotRunning:
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
