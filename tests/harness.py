"""A test harness: workers that record what happens to them and exit on command.

``Harness.spec("a")`` builds a child spec whose start function appends to
``harness.trace``: ``("start", id)`` when it is called, ``("ready", id)`` when it calls
``task_status.started()``, ``("stop", id)`` when the supervisor cancels it. The test then
makes the *current* run of a child exit with ``crash``, ``exit_normally`` or
``exit_shutdown`` and calls ``settle()`` to let the supervisor react.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import attrs
import trio
import trio.testing

import trio_otp


class Crash(Exception):
    """The error an injected crash raises."""


class StartFailure(Exception):
    """The error an injected start failure raises."""


async def settle() -> None:
    """Wait until every task is blocked: the supervisor has handled all it was told."""
    await trio.testing.wait_all_tasks_blocked()


@attrs.define
class Harness:
    trace: list[tuple[str, Hashable]] = attrs.field(factory=list)
    controls: dict[Hashable, trio.MemorySendChannel[str]] = attrs.field(factory=dict)
    start_failures: dict[Hashable, int] = attrs.field(factory=dict)
    start_delay: dict[Hashable, float] = attrs.field(factory=dict)
    cleanup_time: dict[Hashable, float] = attrs.field(factory=dict)
    cleanup_finished: list[Hashable] = attrs.field(factory=list)
    generation: dict[Hashable, int] = attrs.field(factory=dict)

    def spec(self, id: Hashable, **options: Any) -> trio_otp.ChildSpec:  # noqa: A002
        return trio_otp.ChildSpec(id, self.worker, args=(id,), **options)

    async def worker(self, id: Hashable, *, task_status: trio.TaskStatus[Any]) -> None:  # noqa: A002
        self.trace.append(("start", id))
        if self.start_delay.get(id):
            await trio.sleep(self.start_delay[id])
        if self.start_failures.get(id, 0) > 0:
            self.start_failures[id] -= 1
            raise StartFailure(id)
        send, receive = trio.open_memory_channel[str](math.inf)
        self.controls[id] = send
        self.generation[id] = self.generation.get(id, 0) + 1
        task_status.started((id, self.generation[id]))
        self.trace.append(("ready", id))
        try:
            command = await receive.receive()
        except trio.Cancelled:
            self.trace.append(("stop", id))
            if self.cleanup_time.get(id):
                with trio_otp.cleanup_scope():
                    await trio.sleep(self.cleanup_time[id])
                    self.cleanup_finished.append(id)
            raise
        self.trace.append((command, id))
        if command == "crash":
            raise Crash(id)
        if command == "shutdown":
            raise trio_otp.Shutdown(f"{id} asked to stop")
        assert command == "normal"

    def crash(self, id: Hashable) -> None:  # noqa: A002
        self.controls[id].send_nowait("crash")

    def exit_normally(self, id: Hashable) -> None:  # noqa: A002
        self.controls[id].send_nowait("normal")

    def exit_shutdown(self, id: Hashable) -> None:  # noqa: A002
        self.controls[id].send_nowait("shutdown")

    def take_trace(self, *kinds: str) -> list[tuple[str, Hashable]]:
        """Return the trace so far (only the given kinds, if any) and clear it."""
        events = [event for event in self.trace if not kinds or event[0] in kinds]
        self.trace.clear()
        return events


async def start_supervisor(
    nursery: trio.Nursery, children: list[trio_otp.ChildSpec], **flags: Any
) -> trio_otp.SupervisorRef:
    ref: trio_otp.SupervisorRef = await nursery.start(trio_otp.Supervisor(children, **flags).run)
    return ref


def states(infos: list[trio_otp.ChildInfo]) -> dict[Hashable, str]:
    return {info.id: info.state.value for info in infos}


@attrs.define
class Outcome:
    """How a supervisor run ended: ``error`` is what it raised, ``None`` if it returned."""

    done: trio.Event = attrs.field(factory=trio.Event)
    error: BaseException | None = None


async def launch(
    nursery: trio.Nursery, supervisor: trio_otp.Supervisor
) -> tuple[trio_otp.SupervisorRef, Outcome]:
    """Start ``supervisor`` in ``nursery``; its exit is caught into the returned Outcome."""
    outcome = Outcome()

    async def run(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
        try:
            await supervisor.run(task_status=task_status)
        except Exception as error:
            outcome.error = error
        finally:
            outcome.done.set()

    ref: trio_otp.SupervisorRef = await nursery.start(run)
    return ref, outcome


def all_task_names() -> list[str]:
    """The names of every task of the current Trio run."""
    names = []
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        assert task is not None
        names.append(task.name)
        pending.extend(child for nursery in task.child_nurseries for child in nursery.child_tasks)
    return names


def supervised_task_names() -> list[str]:
    """The tasks that run supervised children: none may outlive their supervisor."""
    return [name for name in all_task_names() if name.startswith("trio_otp child")]
