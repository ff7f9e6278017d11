"""KeyboardInterrupt at any line: real SIGINTs raised at chosen points of a running tree.

A trace function counts the line events of a run and, at the chosen one, raises a real
SIGINT with :func:`signal.raise_signal`. Python runs the signal handler right there, in
the frame being traced, so Trio decides exactly as it would for a Ctrl-C arriving at that
moment: KeyboardInterrupt raised in that line if the frame is unprotected, delivered to
the main task at its next checkpoint if it is KI-protected. Whatever the line, the run
must end with one KeyboardInterrupt, the tree stopped in order, within its budgets.

The trials run on virtual time, in a Python of their own (this file run as a program):
a run that hung would never return, so :func:`faulthandler.dump_traceback_later` ends
that process with its traceback, and the test reports which trial hung and where.
"""

from __future__ import annotations

import faulthandler
import functools
import inspect
import json
import linecache
import logging
import math
import os
import pathlib
import signal
import subprocess
import sys
import types
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import trio_otp

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

#: Injection points per scenario in the regular suite; ``nox -s signals`` runs more.
POINTS = int(os.environ.get("TRIO_OTP_INTERRUPT_POINTS", "40"))


@attrs.define
class LineInterrupt:
    """Raises SIGINT at the ``at``-th line event of the frames ``where`` selects, once,
    counting only while ``armed`` (and only lines numbered ``line``, if given)."""

    at: int
    where: Callable[[types.CodeType], bool] = lambda _code: True
    line: int | None = None
    armed: bool = True
    seen: int = 0
    fired: bool = False
    #: Where it fired: file, line and function, for the report.
    place: str = ""
    #: Set when Trio's run is over (its ``after_run``): see :class:`EndOfRun`.
    over: bool = False

    def global_trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if self.fired or self.over or not self.where(frame.f_code):
            return None
        return self.local_trace

    def local_trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        if event != "line" or self.fired or self.over or not self.armed:
            return self.local_trace
        if self.line is not None and frame.f_lineno != self.line:
            return self.local_trace
        if _opens_or_closes_a_block(frame):
            return self.local_trace
        self.seen += 1
        if self.seen == self.at:
            self.fired = True
            code = frame.f_code
            self.place = f"{os.path.basename(code.co_filename)}:{frame.f_lineno} in {code.co_name}"
            sys.settrace(None)
            signal.raise_signal(signal.SIGINT)  # the handler runs here, in this frame
            return None
        return self.local_trace


def _opens_or_closes_a_block(frame: types.FrameType) -> bool:
    """A ``with`` or ``try`` line, where an exception raised by a trace function is not
    what a real signal would do. Python reports a ``with`` line on the way in and again on
    the way out, before ``__exit__`` runs, but CPython checks for signals neither between a
    block's end and its ``__exit__`` nor just before ``__enter__``. And an exception raised
    from the trace function at a ``try:`` line escapes the enclosing ``async with`` without
    its ``__aexit__`` (plain Trio then reports "Nursery stack corrupted"), where a real
    signal there would go through it. Failures there are no program's to meet."""
    text = linecache.getline(frame.f_code.co_filename, frame.f_lineno).lstrip()
    return text.startswith(("with ", "async with ", "try:"))


def line_of(function: Callable[..., Any], text: str, after: int = 0) -> int:
    """The number of the line ``after`` lines below the one of ``function`` holding ``text``."""
    source, first = inspect.getsourcelines(function)
    for offset, line in enumerate(source):
        if text in line:
            return first + offset + after
    msg = f"{text!r} is not in {function.__qualname__}"
    raise LookupError(msg)


@contextmanager
def hang_guard(seconds: float = 60) -> Iterator[None]:
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@attrs.frozen
class Ending:
    error: BaseException | None
    #: Virtual seconds from the start of the run to its end.
    seconds: float


class EndOfRun(trio.abc.Instrument):
    """Stops the interrupt once Trio's run is over. What runs after ``after_run`` (a
    coroutine finalised as Trio drops its tasks, say) runs after Trio has put back
    Python's own SIGINT handler, and an interrupt there lands in Trio's own teardown,
    between its closing the run and its forgetting it, so that the next ``trio.run`` in
    the process would refuse to start: no program's to meet, and not a tree's."""

    def __init__(self, interrupt: LineInterrupt) -> None:
        self.interrupt = interrupt

    def after_run(self) -> None:
        self.interrupt.over = True


def run_interrupted(main: Callable[[], Awaitable[object]], interrupt: LineInterrupt | None) -> Ending:
    """``trio.run(main)`` on virtual time with ``interrupt`` armed: how it ended."""
    clock = trio.testing.MockClock(autojump_threshold=0)
    error: BaseException | None = None
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any program
    try:
        with hang_guard():
            if interrupt is not None:
                sys.settrace(interrupt.global_trace)
            try:
                instruments = [] if interrupt is None else [EndOfRun(interrupt)]
                trio.run(main, clock=clock, instruments=instruments)
            except BaseException as raised:
                error = raised
            finally:
                sys.settrace(None)
    finally:
        signal.signal(signal.SIGINT, previous)
    return Ending(error, clock.current_time())


# --- a busy tree on virtual time ---------------------------------------------------------


class Crash(Exception):
    pass


@attrs.define
class Counter(trio_otp.GenServer[Any, Any]):
    value: int = 0
    waiting: list[trio_otp.Caller[Any]] = attrs.Factory(list)

    async def init(self) -> None:
        trio_otp.Registry(trio_otp.Keys.UNIQUE).register("me", self)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise Crash("asked to")
        if request == "defer":
            self.waiting.append(caller)
            if len(self.waiting) == 2:
                for waiting in self.waiting:
                    waiting.reply(self.value)
                self.waiting.clear()
            return trio_otp.NO_REPLY
        self.value += 1
        return self.value

    async def handle_cast(self, request: Any) -> None:
        self.value += 1

    async def handle_info(self, message: Any) -> None:
        self.value += 1

    async def terminate(self, reason: BaseException | None) -> None:
        await trio.sleep(0.01)


async def caller(*, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    step = 0
    while True:
        step += 1
        try:
            await trio_otp.call("counter", "inc", timeout=1)
            trio_otp.cast("counter", "inc")
            if step % 3 == 0:
                await trio_otp.call("counter", "defer", timeout=None if step % 2 else 0.05)
            if step % 5 == 0:
                trio_otp.send_after(0.01, "counter", "tick")
                trio_otp.monitor("counter")
            if step % 7 == 0:
                await trio_otp.call("counter", "crash", timeout=None)
        except trio_otp.ServerError:
            pass
        await trio.sleep(0.01)


async def crash_loop(*, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    try:
        await trio.sleep(0.03)
        raise Crash("loop")
    finally:
        with trio_otp.cleanup_scope():
            await trio.sleep(0.005)


async def churn(pool: trio_otp.DynamicSupervisor, *, task_status: trio.TaskStatus[None]) -> None:
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(pool.run)
        task_status.started()
        while True:
            try:
                child = await ref.start_child(trio_otp.ChildSpec("c", crash_loop))
                await trio.sleep(0.02)
                await ref.terminate_child(child)
            except trio_otp.SupervisorError:
                await trio.sleep(0.01)


async def interrupts_itself(*, task_status: trio.TaskStatus[None]) -> None:
    """Ends every trial, should the chosen line never come: a Ctrl-C of its own."""
    task_status.started()
    await trio.sleep(1)
    raise KeyboardInterrupt


@attrs.define
class Recorder:
    events: list[tuple[str, str]] = attrs.Factory(list)

    def spec(self, child_id: str, start: Any, *args: Any, **options: Any) -> trio_otp.ChildSpec:
        async def recorded(*, task_status: trio.TaskStatus[Any]) -> None:
            how = "returned"
            try:
                self.events.append(("start", child_id))
                await start(*args, task_status=task_status)
            except BaseException as error:
                how = "interrupted" if _has_interrupt(error) else "stopped"
                raise
            finally:
                self.events.append((how, child_id))

        return trio_otp.ChildSpec(child_id, recorded, **options)

    def stopped_out_of_order(self) -> list[str]:
        running: list[str] = []
        problems = []
        for kind, child_id in self.events:
            if kind == "start":
                running.append(child_id)
                continue
            if kind == "stopped" and running and running[-1] != child_id:
                problems.append(f"{child_id} stopped before {running[-1]}")
            if child_id in running:
                running.remove(child_id)
        return problems + [f"{child_id} never ended" for child_id in running]


def _has_interrupt(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup(KeyboardInterrupt) is not None
    return isinstance(error, KeyboardInterrupt)


def busy_tree(recorder: Recorder) -> trio_otp.Supervisor:
    loops = trio_otp.Supervisor(
        [trio_otp.ChildSpec(f"loop{i}", crash_loop, shutdown=0.5) for i in range(2)],
        max_restarts=10_000,
        max_seconds=1,
        name="loops",
    )
    return trio_otp.Supervisor(
        [
            recorder.spec("counter", trio_otp.serve, Counter, "counter", 8, shutdown=0.5),
            recorder.spec("loops", loops.run, type=trio_otp.ChildType.SUPERVISOR),
            recorder.spec("caller", caller),
            recorder.spec("churn", churn, trio_otp.DynamicSupervisor(max_restarts=10_000)),
            recorder.spec("end", interrupts_itself),
        ],
        max_restarts=10_000,
        max_seconds=1,
        name="root",
    )


def count_lines(main: Callable[[], Awaitable[object]], where: Callable[[types.CodeType], bool]) -> int:
    """How many line events ``where`` selects in a run that nothing interrupts early."""
    probe = LineInterrupt(math.inf, where)  # type: ignore[arg-type]
    run_interrupted(main, probe)
    return probe.seen


def spread(total: int, points: int) -> list[int]:
    """``points`` injection points spread over ``1..total``, deterministically."""
    if total <= points:
        return list(range(1, total + 1))
    return sorted({1 + (total - 1) * i // (points - 1) for i in range(points)})


TRIO_OTP_DIR = os.path.dirname(trio_otp.__file__)
TRIO_DIR = os.path.dirname(trio.__file__)
#: This module's own bookkeeping, which judges the trial and is not under test.
HARNESS = {"recorded", "global_trace", "local_trace", "_has_interrupt"}


def in_trio_otp(code: types.CodeType) -> bool:
    return code.co_filename.startswith(TRIO_OTP_DIR)


def outside_trio_and_the_harness(code: types.CodeType) -> bool:
    """trio_otp and the user code of the busy tree (and what they call), not Trio itself:
    Trio's own frames are Trio's to protect (an interrupt inside ``nursery.start`` called
    from user code can leave a task that never runs, which no library above can mend)."""
    return not code.co_filename.startswith(TRIO_DIR) and code.co_name not in HARNESS


def judge(ending: Ending, recorder: Recorder) -> None:
    error = ending.error
    assert isinstance(error, KeyboardInterrupt), f"expected one KeyboardInterrupt, got {error!r}"
    assert not recorder.stopped_out_of_order()
    # The tree interrupts itself at 1 s at the latest; no budget in it exceeds 0.5 s.
    assert ending.seconds < 3, f"the shutdown took until {ending.seconds:g} s"


def where_for(kind: str) -> Callable[[types.CodeType], bool]:
    return in_trio_otp if kind == "trio_otp" else outside_trio_and_the_harness


def report(name: object, failure: str | None) -> None:
    print(json.dumps({"trial": name, "failure": failure}), flush=True)


def trying(name: object) -> None:
    print(json.dumps({"trying": name}), flush=True)


def sweep(kind: str, points: int) -> None:
    """Interrupts spread over every line event of the busy tree (or of trio_otp's code)."""
    where = where_for(kind)
    total = count_lines(busy_tree(Recorder()).run, where)
    for at in spread(total, points):
        name = f"line event {at} of {total}"
        trying(name)
        recorder = Recorder()
        interrupt = LineInterrupt(at, where)
        ending = run_interrupted(busy_tree(recorder).run, interrupt)
        try:
            judge(ending, recorder)
        except AssertionError as failure:
            report(f"{name} ({interrupt.place})", str(failure))
        else:
            report(name, None)


# --- interrupts at the places that broke before (issue 13, items 1 and 2) -------------------


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request


def only_interrupts(error: BaseException | None) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return error.split(KeyboardInterrupt)[1] is None
    return isinstance(error, KeyboardInterrupt)


def interrupted_only(main: Callable[[], Awaitable[object]], interrupt: LineInterrupt) -> str | None:
    """Run ``main`` with ``interrupt`` armed: what went wrong, if the interrupt never fired
    or the run ended with anything but KeyboardInterrupt."""
    ending = run_interrupted(main, interrupt)
    if not interrupt.fired:
        return "the interrupt never fired"
    if not only_interrupts(ending.error):
        return f"expected KeyboardInterrupt, got {ending.error!r}"
    return None


def between_queueing_and_parking() -> str | None:
    """Item 1: the Caller is in the mailbox, the caller has not parked yet."""
    from trio_otp._server_ref import ServerRef  # noqa: PLC0415 - the code to aim at

    call = ServerRef.call
    interrupt = LineInterrupt(
        1, lambda code: code is call.__code__, line=line_of(call, "mailbox.append(caller)", after=1)
    )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Echo)
            for _ in range(3):
                await ref.call("hello")
            nursery.cancel_scope.cancel()

    return interrupted_only(main, interrupt)


def between_taking_a_call_and_popping_it() -> str | None:
    """The server has made a call its current message but not yet taken it out of its
    mailbox: the call is owed an answer from both places, and gets exactly one. Its
    caller is shielded, outside the server's nursery, so only that answer can end it."""
    from trio_otp._gen_server import serve  # noqa: PLC0415 - the code to aim at

    interrupt = LineInterrupt(
        1, lambda code: code is serve.__code__, line=line_of(serve, "queued.popleft()"), armed=False
    )
    answers: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as outer, trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Echo)

            async def caller() -> None:
                with trio.CancelScope(shield=True):
                    try:
                        answers.append(await ref.call("hello", timeout=None))
                    except trio_otp.ServerExited:
                        answers.append("ServerExited")

            interrupt.armed = True
            outer.start_soon(caller)
            await trio.sleep_forever()

    failure = interrupted_only(main, interrupt)
    if failure is not None:
        return failure
    if answers != ["ServerExited"]:
        return f"the caller got {answers}, expected one ServerExited"
    return None


@attrs.define
class Gate(trio_otp.GenServer[Any, Any]):
    """Answers a call of "wait" once ``open`` is set, any other at once."""

    open: trio.Event = attrs.Factory(trio.Event)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "wait":
            await self.open.wait()
        return request


class GateMachine(trio_otp.StateMachine[str, None, Any, Any]):
    """Gate as a StateMachine."""

    def __init__(self) -> None:
        self.open = trio.Event()

    async def init(self) -> trio_otp.NextState[str, None]:
        return trio_otp.NextState("gate", None)

    async def handle_event(
        self, event: trio_otp.Event[Any, Any], state: str, data: None
    ) -> trio_otp.Transition[str, None]:
        assert isinstance(event, trio_otp.CallEvent)
        if event.request == "wait":
            await self.open.wait()
        return trio_otp.KeepState(None, trio_otp.ReplyTo(event.caller, event.request))


def between_popping_a_call_and_waking_a_sender(kind: str) -> str | None:
    """A bounded mailbox: the server (a GenServer or a StateMachine) has taken a call out
    of its full mailbox but not yet woken the sender waiting for room. Both callers are
    shielded, outside the server's nursery, so only the answers trio_otp owes them can
    end them."""
    from trio_otp._gen_server import serve  # noqa: PLC0415 - the code to aim at
    from trio_otp._state_machine import _Run  # noqa: PLC0415

    loop = serve if kind == "GenServer" else _Run.loop
    interrupt = LineInterrupt(
        1, lambda code: code is loop.__code__, line=line_of(loop, "if process.room:"), armed=False
    )
    answers: dict[str, str] = {}

    async def main() -> None:
        gate = Gate() if kind == "GenServer" else GateMachine()
        async with trio.open_nursery() as outer, trio.open_nursery() as nursery:
            if isinstance(gate, Gate):
                ref = await trio_otp.start_server(nursery, lambda: gate, mailbox_size=1)
            else:
                ref = await trio_otp.start_state_machine(nursery, lambda: gate, mailbox_size=1)
            ref.send_request("wait")  # the server is busy with this one

            async def caller(request: str) -> None:
                with trio.CancelScope(shield=True):
                    try:
                        answers[request] = await ref.call(request, timeout=None)
                    except (trio_otp.ServerExited, trio_otp.ServerNotRunning) as error:
                        answers[request] = type(error).__name__

            outer.start_soon(caller, "queued")
            await trio.testing.wait_all_tasks_blocked()
            outer.start_soon(caller, "waiting for room")
            await trio.testing.wait_all_tasks_blocked()
            interrupt.armed = True
            gate.open.set()
            await trio.sleep_forever()

    failure = interrupted_only(main, interrupt)
    if failure is not None:
        return failure
    expected = {"queued": "ServerExited", "waiting for room": "ServerNotRunning"}
    if answers != expected:
        return f"the callers got {answers}, expected {expected}"
    return None


def in_a_childs_exit(line: int) -> str | None:
    """Item 1: the ``line``-th line the child's task runs after its start function raised."""
    from trio_otp._child import ChildTask  # noqa: PLC0415 - the code to aim at

    interrupt = LineInterrupt(line, lambda code: code in _codes_of(ChildTask), armed=False)
    recorder = Recorder()

    async def crasher(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(0.1)
        interrupt.armed = True
        raise Crash("crash")

    tree = trio_otp.Supervisor(
        [
            recorder.spec("a", interrupts_itself),
            recorder.spec("crasher", crasher),
            recorder.spec("b", interrupts_itself),
        ],
        max_restarts=100,
    )
    ending = run_interrupted(tree.run, interrupt)
    try:
        judge(ending, recorder)
    except AssertionError as failure:
        return str(failure)
    return None


def _codes_of(cls: type) -> set[types.CodeType]:
    return {value.__code__ for value in vars(cls).values() if hasattr(value, "__code__")}


@attrs.define
class Slow:
    """A child that takes ``cleanup`` seconds (virtual) to clean up, within its budget."""

    cleanup: float
    cleaned: list[str] = attrs.Factory(list)

    async def run(self, name: str, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(self.cleanup)
                self.cleaned.append(name)


def deliver_to_main_task() -> None:
    """A SIGINT that arrives while the run loop, not user code, is running: Trio delivers
    it to the main task at its next checkpoint, shielded or not."""
    trio.lowlevel.current_trio_token().run_sync_soon(signal.raise_signal, signal.SIGINT)


def second_interrupt_during_the_shutdown() -> str | None:
    """Item 2: trio.run(tree.run), Ctrl-C, and another Ctrl-C while it shuts down."""
    slow = Slow(cleanup=1.0)

    async def interrupter(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(0.5)
        deliver_to_main_task()
        try:
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                await trio.sleep(0.2)  # the shutdown is under way: a second Ctrl-C
                deliver_to_main_task()

    tree = trio_otp.Supervisor(
        [
            trio_otp.ChildSpec("a", slow.run, args=("a",), shutdown=2.0),
            trio_otp.ChildSpec("b", slow.run, args=("b",), shutdown=2.0),
            trio_otp.ChildSpec("interrupter", interrupter),
        ]
    )
    ending = run_interrupted(tree.run, None)
    if not isinstance(ending.error, KeyboardInterrupt):
        return f"expected one KeyboardInterrupt, got {ending.error!r}"
    if slow.cleaned != ["b", "a"]:
        return f"the shutdown was cut short: cleaned up {slow.cleaned}"
    return None


def interrupt_while_the_root_gives_up(how: str) -> str | None:
    """Item 2: one Ctrl-C while the root is already shutting down on its own."""
    slow = Slow(cleanup=1.0)

    async def last_straw(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(0.5)
        if how == "escalation":
            raise Crash("the last straw")

    async def interrupter(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        await trio.sleep(0.75)  # the root is stopping a and b by then
        deliver_to_main_task()

    watcher = trio_otp.ChildSpec("interrupter", interrupter)
    tree = trio_otp.Supervisor(
        [
            trio_otp.ChildSpec("a", slow.run, args=("a",), shutdown=2.0),
            trio_otp.ChildSpec("b", slow.run, args=("b",), shutdown=2.0),
            trio_otp.ChildSpec(
                "last", last_straw, restart=trio_otp.Restart.TRANSIENT, significant=how == "auto-shutdown"
            ),
        ],
        max_restarts=0,
        auto_shutdown=trio_otp.AutoShutdown.ANY_SIGNIFICANT
        if how == "auto-shutdown"
        else trio_otp.AutoShutdown.NEVER,
    )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_run_spec, watcher)
            await tree.run()

    ending = run_interrupted(main, None)
    if not only_interrupts(ending.error):
        return f"expected KeyboardInterrupt, got {ending.error!r}"
    if slow.cleaned != ["b", "a"]:
        return f"the shutdown was cut short: cleaned up {slow.cleaned}"
    return None


@attrs.define
class CallInterrupt:
    """Raises SIGINT at the ``at``-th profile event (calls and returns, C functions too)
    inside a call of ``code``: the points between lines that a trace of lines misses,
    such as just after a C function returned inside ``__enter__``."""

    at: int
    code: types.CodeType
    depth: int = 0
    seen: int = 0
    fired: bool = False

    def profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if self.fired:
            return
        if frame.f_code is self.code and event == "call":
            self.depth += 1
        if self.depth:
            self.seen += 1
            if self.seen == self.at:
                self.fired = True
                sys.setprofile(None)
                signal.raise_signal(signal.SIGINT)
                return
        if frame.f_code is self.code and event == "return":
            self.depth -= 1


def inside_a_cleanup_scope(method: str, at: float, *, count: bool = False) -> str | int | None:
    """Ctrl-C at any point while a stopping child enters or leaves its cleanup scope (or,
    with ``count``, how many profile events there are to choose from)."""
    probe = trio_otp.cleanup_scope()
    code = getattr(type(probe), method).__code__
    interrupt = CallInterrupt(at, code)  # type: ignore[arg-type]
    recorder = Recorder()
    problems: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "corrupted" in record.getMessage() or (record.exc_info and record.exc_info[0] is RuntimeError):
                problems.append(record.getMessage())

    async def cleaner(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            sys.setprofile(interrupt.profile)
            try:
                with trio_otp.cleanup_scope():
                    await trio.sleep(0.5)
            finally:
                sys.setprofile(None)

    tree = trio_otp.Supervisor(
        [recorder.spec("cleaner", cleaner), recorder.spec("end", interrupts_itself)], max_restarts=5
    )
    watch = Watch()
    logging.getLogger("trio_otp").addHandler(watch)
    logging.disable(logging.NOTSET)
    try:
        ending = run_interrupted(tree.run, None)
    finally:
        logging.getLogger("trio_otp").removeHandler(watch)
        logging.disable(logging.CRITICAL)
    if count:
        return interrupt.seen
    if not interrupt.fired:
        return f"event {at} never came: the run made only {interrupt.seen}"
    try:
        judge(ending, recorder)
    except AssertionError as failure:
        problems.append(str(failure))
    return "; ".join(problems) or None


async def _run_spec(spec: trio_otp.ChildSpec) -> None:
    await spec.start(*spec.args, task_status=trio.TASK_STATUS_IGNORED)


TARGETED: dict[str, Callable[[], str | None]] = {
    "between queueing and parking": between_queueing_and_parking,
    "between taking a call and popping it": between_taking_a_call_and_popping_it,
    **{
        f"between a {kind} popping a call and waking a sender": functools.partial(
            between_popping_a_call_and_waking_a_sender, kind
        )
        for kind in ("GenServer", "StateMachine")
    },
    **{f"line {line} of a child's exit": functools.partial(in_a_childs_exit, line) for line in range(1, 9)},
    "a second Ctrl-C during the shutdown": second_interrupt_during_the_shutdown,
    "Ctrl-C while the root escalates": functools.partial(interrupt_while_the_root_gives_up, "escalation"),
    "Ctrl-C during an auto-shutdown": functools.partial(interrupt_while_the_root_gives_up, "auto-shutdown"),
}


def targeted() -> None:
    for name, trial in TARGETED.items():
        trying(name)
        report(name, trial())
    for method in ("__enter__", "__exit__"):
        # Every call and return inside it, however many this Python makes.
        total = inside_a_cleanup_scope(method, math.inf, count=True)
        assert isinstance(total, int)
        if total < 5:
            report(f"{method} of cleanup_scope", f"only {total} profile events: the probe is broken")
        for at in range(1, total + 1):
            name = f"event {at} of {total} of {method} of cleanup_scope"
            trying(name)
            result = inside_a_cleanup_scope(method, at)
            assert not isinstance(result, int)
            report(name, result)


# --- the tests: each trial set in a Python of its own --------------------------------


def run_program(*args: str) -> list[str]:
    """Run this file as a program; the failures it reports, hangs and deaths included."""
    root = pathlib.Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=1800, check=False
    )
    lines = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    results = [line for line in lines if "trial" in line]
    failures = [f"{line['trial']}: {line['failure']}" for line in results if line["failure"]]
    if process.returncode != 0:
        tried = [line["trying"] for line in lines if "trying" in line]
        last = tried[-1] if tried else "before any trial"
        failures.append(f"{last}: hung or died (status {process.returncode}): {process.stderr[-4000:]}")
    elif not results:
        failures.append(f"no trial ran: {process.stderr[-3000:]}")
    return failures


@pytest.mark.parametrize("kind", ["trio_otp", "anywhere"], ids=["trio_otp", "trio_otp-and-user-code"])
def test_an_interrupt_at_any_line_ends_the_tree_cleanly(kind: str) -> None:
    failures = run_program("sweep", kind, str(POINTS))
    assert not failures, "\n".join(failures)


def test_interrupts_where_trees_used_to_break() -> None:
    failures = run_program("targeted")
    assert not failures, "\n".join(failures)


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # crash reports of the busy tree, by the thousand
    if sys.argv[1] == "sweep":
        sweep(sys.argv[2], int(sys.argv[3]))
    else:
        targeted()
