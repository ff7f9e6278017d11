"""Tools for testing your own supervision trees: crash injection, scripted workers,
random crash schedules, event capture, and virtual time.

Run tests on ``trio.testing.MockClock(autojump_threshold=0)`` (pytest-trio's
``autojump_clock`` fixture): a restart window of minutes then takes no real time, and the
outcome never depends on how busy the machine is. :func:`settle` is the step that lets a
supervisor finish reacting before the test looks.

:func:`crash_schedules` needs hypothesis (``pip install trio_otp[testing]``); nothing
else here imports it. For pytest fixtures built on these (``start_tree``, ``settle``,
``exit_child``, ``captured_events``), see :mod:`trio_otp.pytest_plugin`.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Generator, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio
import trio.testing

from ._checks import check_instance, check_seconds, check_whole_number
from ._child import ChildTask
from ._child_spec import ChildSpec
from ._dynamic_supervisor import DynamicChild, DynamicSupervisorRef
from ._events import Event, attach
from ._exceptions import ChildNotFound, Shutdown, SupervisorNotRunning
from ._exit_signal import ExitMode, check_exit_signal_reason, signal_for
from ._supervisor import SupervisorRef
from ._util import describe

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "Crash",
    "EventLog",
    "ScheduledExit",
    "ScriptedWorkers",
    "capture_events",
    "crash_schedules",
    "exit_child",
    "play_schedule",
    "settle",
]


class Crash(Exception):
    """The default error of an injected crash."""


async def settle() -> None:
    """Wait until every task is blocked: supervisors have handled everything they were
    told, restarts included. A checkpoint; takes no virtual time."""
    await trio.testing.wait_all_tasks_blocked()


async def exit_child(
    supervisor: SupervisorRef | DynamicSupervisorRef,
    child: Hashable | DynamicChild,
    reason: Exception | ExitMode | None = None,
) -> None:
    """End a running child as if it had ended by itself with ``reason``, and wait until
    its supervisor has dealt with that: :func:`trio_otp.exit` on the child, for any
    child, however it is written, then a wait for the supervisor's decision.

    ``child`` is a child id for a :class:`~trio_otp.Supervisor`, the
    :class:`~trio_otp.DynamicChild` that ``start_child`` returned for a
    :class:`~trio_otp.DynamicSupervisor`. ``None`` is a normal exit, a
    :class:`~trio_otp.Shutdown` a shutdown exit, :data:`~trio_otp.KILL` a kill (no
    cleanup; it exits with :class:`~trio_otp.Killed`), anything else a crash. The child is
    stopped with its own shutdown policy, then its supervisor applies its usual rules
    (restart type, strategy, intensity) to that exit. Returns once the supervisor has
    done so (restarted the child, or decided not to). A checkpoint.

    Raises:
      ChildNotFound: no child with that id (or that handle) is running.
      SupervisorNotRunning: the supervisor has ended.
      TypeError: a bad ``supervisor``, ``child`` or ``reason`` (checked before the
        request is sent).
    """
    check_instance(
        supervisor,
        (SupervisorRef, DynamicSupervisorRef),
        "exit_child's supervisor",
        "a SupervisorRef or a DynamicSupervisorRef",
    )
    check_exit_signal_reason(reason, "exit_child's reason")
    if isinstance(supervisor, DynamicSupervisorRef):
        check_instance(
            child, DynamicChild, "exit_child's child", "the DynamicChild that start_child returned"
        )
        assert isinstance(child, DynamicChild)
        if not supervisor.alive:
            msg = f"supervisor {supervisor._state.label} is not running"
            raise SupervisorNotRunning(msg)
        task = child._child.task if child._child in supervisor._state.children else None
        if task is None:
            msg = f"{child!r} is not a running child of {supervisor!r}"
            raise ChildNotFound(msg)
        task.exit(signal_for(task, reason))
    else:
        task = await supervisor._request(functools.partial(_exit_in_the_loop, child_id=child, reason=reason))
    with trio.CancelScope(shield=True):  # the exit is under way: see it through
        await task.wait_finished()
        # Answered after the exit it queued (and after a restart it began is ready).
        with contextlib.suppress(SupervisorNotRunning):
            await supervisor.count_children()


async def _exit_in_the_loop(state: Any, child_id: Hashable, reason: Exception | ExitMode | None) -> ChildTask:
    """In the control loop, so that the child cannot be replaced between finding and exit."""
    task: ChildTask = await state.running_task(child_id)
    task.exit(signal_for(task, reason))
    return task


@attrs.define
class ScriptedWorkers:
    """Workers for test trees that record what happens to them and exit on command.

    ``spec(id)`` builds a child spec. Each run of that child appends to ``trace``:
    ``("start", id)`` when started (also a start that fails), ``("stop", id)`` when its
    supervisor stops it. The test then makes the current run exit with :meth:`crash`,
    :meth:`exit_normally` or :meth:`exit_shutdown`, or arms start failures with
    :meth:`fail_next_starts`. Commands to a child that is not running are ignored.
    """

    trace: list[tuple[str, Hashable]] = attrs.field(factory=list[tuple[str, Hashable]])
    _controls: dict[Hashable, trio.MemorySendChannel[BaseException | None]] = attrs.field(
        factory=dict[Hashable, trio.MemorySendChannel[BaseException | None]]
    )
    _start_failures: dict[Hashable, int] = attrs.field(factory=dict[Hashable, int])

    def spec(self, id: Hashable, **options: Any) -> ChildSpec:  # noqa: A002
        """A :class:`~trio_otp.ChildSpec` for a scripted worker; ``options`` as ChildSpec's."""
        return ChildSpec(id, self._run, args=(id,), **options)

    def running(self, id: Hashable) -> bool:  # noqa: A002
        return id in self._controls

    def crash(self, id: Hashable, error: BaseException | None = None) -> None:  # noqa: A002
        """Make the current run of ``id`` raise ``error`` (by default a :exc:`Crash`)."""
        self._send(id, error if error is not None else Crash(id))

    def exit_normally(self, id: Hashable) -> None:  # noqa: A002
        """Make the current run of ``id`` return, a normal exit."""
        self._send(id, None)

    def exit_shutdown(self, id: Hashable) -> None:  # noqa: A002
        """Make the current run of ``id`` raise :exc:`~trio_otp.Shutdown`."""
        self._send(id, Shutdown(id))

    def fail_next_starts(self, id: Hashable, count: int = 1) -> None:  # noqa: A002
        """The next ``count`` starts of ``id`` raise :class:`Crash` before ``started()``."""
        self._start_failures[id] = count

    def _send(self, id: Hashable, outcome: BaseException | None) -> None:  # noqa: A002
        control = self._controls.get(id)
        if control is not None:
            control.send_nowait(outcome)

    async def _run(self, id: Hashable, *, task_status: trio.TaskStatus[None]) -> None:  # noqa: A002
        self.trace.append(("start", id))
        if self._start_failures.get(id, 0) > 0:
            self._start_failures[id] -= 1
            raise Crash(f"{id!r} failed to start, as scripted")
        send, receive = trio.open_memory_channel[BaseException | None](math.inf)
        self._controls[id] = send
        task_status.started()
        try:
            outcome = await receive.receive()
        except trio.Cancelled:
            self.trace.append(("stop", id))
            raise
        finally:
            if self._controls.get(id) is send:
                del self._controls[id]
        if outcome is not None:
            raise outcome


@attrs.define
class EventLog:
    """The :class:`trio_otp.events.Event`\\ s recorded by :func:`capture_events`, in the
    order they were emitted."""

    events: list[Event] = attrs.field(factory=list[Event])

    def names(self) -> list[str]:
        """The names of the recorded events, in order."""
        return [event.name for event in self.events]

    def named(self, name: str) -> list[Event]:
        """The recorded events called ``name``, in order."""
        return [event for event in self.events if event.name == name]

    def clear(self) -> None:
        """Forget what was recorded so far (recording goes on)."""
        self.events.clear()


@contextlib.contextmanager
def capture_events() -> Generator[EventLog, None, None]:
    """Record every :mod:`trio_otp.events` event emitted inside the ``with`` block.

    Inside a Trio run it records that run's events only, as :func:`trio_otp.events.attach`
    does, so a capture cannot outlive the test that made it. Not a checkpoint.
    """
    log = EventLog()
    with attach(log.events.append):
        yield log


@attrs.frozen
class ScheduledExit:
    """One step of a crash schedule: wait ``delay`` seconds, then end the child at
    ``path`` (child ids from the root supervisor down) with ``reason``."""

    delay: float
    path: tuple[Hashable, ...]
    reason: Exception | None


def crash_schedules(
    paths: Sequence[tuple[Hashable, ...]],
    *,
    time_steps: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 5.0, 6.0),
    max_events: int = 12,
    crashes_only: bool = False,
) -> SearchStrategy[list[ScheduledExit]]:
    """A hypothesis strategy for timed exits of the children at ``paths``.

    Include your restart windows' widths in ``time_steps`` to land on their edges. Exits
    are crashes, and unless ``crashes_only``, also normal and shutdown exits.

    Raises:
      ModuleNotFoundError: hypothesis is not installed; the message names the extra that
        brings it (``pip install trio_otp[testing]``).
      TypeError, ValueError: bad ``paths``, ``time_steps`` or ``max_events``.
    """
    paths = list(paths)
    if not paths:
        msg = "crash_schedules' paths must name at least one child (a tuple of ids from the root down)"
        raise ValueError(msg)
    for path in paths:
        if not isinstance(path, tuple) or not path:  # pyright: ignore[reportUnnecessaryIsInstance]
            msg = f"crash_schedules' paths must be non-empty tuples of child ids, got {describe(path)}"
            raise TypeError(msg)
    for seconds in time_steps:
        check_seconds(seconds, "each of crash_schedules' time_steps")
    check_whole_number(max_events, "crash_schedules' max_events", minimum=0)
    try:
        from hypothesis import strategies as st  # noqa: PLC0415 - hypothesis is optional
    except ModuleNotFoundError as error:
        if error.name is None or error.name.partition(".")[0] != "hypothesis":
            raise
        msg = (
            "trio_otp.testing.crash_schedules needs hypothesis, which is not installed: "
            "pip install trio_otp[testing]"
        )
        raise ModuleNotFoundError(msg, name=error.name) from error

    reasons = st.just("crash") if crashes_only else st.sampled_from(("crash", "crash", "normal", "shutdown"))

    def build(delay: float, path: tuple[Hashable, ...], how: str) -> ScheduledExit:
        reason: Exception | None = {"crash": Crash(path), "shutdown": Shutdown(path), "normal": None}[how]
        return ScheduledExit(delay, path, reason)

    step = st.builds(build, st.sampled_from(list(time_steps)), st.sampled_from(list(paths)), reasons)
    return st.lists(step, max_size=max_events)


async def play_schedule(root: SupervisorRef, schedule: Sequence[ScheduledExit]) -> None:
    """Play ``schedule`` against the tree under ``root``: each step waits its delay, then
    ends the child at its path if it is running then (steps naming a child that is not
    running are skipped, as they would be in a real system), then :func:`settle`\\ s.

    Returns early if the root supervisor ends.

    Raises:
      TypeError: ``root`` is not a :class:`~trio_otp.SupervisorRef`.
    """
    check_instance(root, SupervisorRef, "play_schedule's root", "a SupervisorRef")
    for step in schedule:
        await trio.sleep(step.delay)
        supervisor: SupervisorRef | None = root
        try:
            for child_id in step.path[:-1]:
                assert supervisor is not None
                found = {info.id: info.ref for info in await supervisor.which_children()}
                ref = found.get(child_id)
                supervisor = ref if isinstance(ref, SupervisorRef) else None
                if supervisor is None:
                    break
            if supervisor is not None:
                await exit_child(supervisor, step.path[-1], step.reason)
        except SupervisorNotRunning:
            if supervisor is root:
                return  # the whole tree has ended
        except ChildNotFound:
            pass  # not running at this moment
        await settle()
