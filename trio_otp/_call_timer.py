"""Call timeouts without a cancel scope per call.

Why not ``move_on_after``
-------------------------
A Trio cancel scope with a deadline costs about as much as a whole request/reply between
two tasks (entering one registers its deadline, leaving unregisters it), and nearly every
call has a timeout (OTP's default is 5 s) that nearly never fires. So a scope per call
would make the common case pay for the rare one.

How it works instead
--------------------
One system task per Trio run keeps a heap of ``(deadline, seq, caller)`` for the timed
calls and sleeps, in one cancel scope, until the earliest deadline it knows of. Starting
a call pushes an entry (no wake-up: with equal timeouts a new deadline is never earlier
than the one being slept towards); only a deadline earlier than that moves the scope's
deadline. When it wakes it fails the calls that are still waiting with a timeout and goes
back to sleep until the next deadline, so in a steady stream of calls it wakes about once
per timeout period, however many calls there were.

Finished calls stay in the heap until they reach its top; to bound memory the heap is
rebuilt from the live entries whenever it holds more than twice as many as there are live
calls (plus a constant), which keeps each call O(log n) amortised.

Deadlines are exact on Trio's clock, so ``MockClock`` tests see a timeout at exactly
``timeout`` seconds.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from typing import Protocol

import trio

from ._ki import protected

logger = logging.getLogger("trio_otp.timers")


class TimedCall(Protocol):
    """What the timer needs of a call: whether it still waits, and how to fail it."""

    @property
    def done(self) -> bool: ...

    def _time_out(self) -> None: ...


def system_clock_offset(clock: trio.abc.Clock) -> float | None:
    """The offset of Trio's default clock, whose ``current_time()`` is ``offset +
    time.perf_counter()`` (read once: the clock is frozen); None for any other clock (a
    MockClock, a subclass), or if Trio ever moves it, which only costs a Python frame."""
    kind = type(clock)
    if kind.__name__ == "SystemClock" and kind.__module__ == "trio._core._run":
        offset: object = getattr(clock, "offset", None)
        return offset if isinstance(offset, float) else None
    return None


class CallTimer:
    __slots__ = ("_scope", "heap", "live", "next_deadline", "now", "offset", "seq")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, TimedCall]] = []
        self.seq: int = 0
        # The run's clock, read with one call instead of trio.current_time()'s three.
        clock = trio.lowlevel.current_clock()
        self.now: Callable[[], float] = clock.current_time
        # Under Trio's own SystemClock (its current_time is ``offset + perf_counter()``),
        # its offset: a call reads the clock as that sum itself, without a Python frame.
        self.offset: float | None = system_clock_offset(clock)
        self._scope = trio.CancelScope()  # replaced each time the task goes to sleep
        self.live: int = 0  # timed calls that have not ended (a Caller's end counts it down itself)
        # The scope's deadline, as a plain attribute: a property read per call is not free.
        self.next_deadline: float = math.inf

    @protected
    def add(self, call: TimedCall, deadline: float) -> None:
        """Watch ``call`` until ``deadline``. The call must call :meth:`finished` once
        when it ends for any reason, and not before it is ``done`` (or its entry has left
        the heap): while no call is live, the heap's entries are all dropped.

        ``ServerRef.call`` makes these same steps inline, then calls :meth:`adjust` in
        the rare case that needs it."""
        heap = self.heap
        if not self.live:
            # Every entry is of a call that has ended: drop them all at once (one call
            # at a time, the usual case, never has the heap rebuilt).
            heap.clear()
        seq = self.seq = self.seq + 1
        heapq.heappush(heap, (deadline, seq, call))
        live = self.live = self.live + 1
        if deadline < self.next_deadline or len(heap) > 2 * live + 64:
            self.adjust(deadline)

    @protected
    def adjust(self, deadline: float) -> None:
        """After an entry for ``deadline`` joined the heap: wake up earlier if it is the
        earliest (setting the scope's deadline re-registers it, so only then), and
        rebuild the heap from the live entries if it holds too many ended ones."""
        if deadline < self.next_deadline:
            self._scope.deadline = self.next_deadline = deadline
        heap = self.heap
        if len(heap) > 2 * self.live + 64:
            self.heap = [entry for entry in heap if not entry[2].done]
            heapq.heapify(self.heap)

    @protected
    def finished(self) -> None:
        self.live -= 1

    async def run(self) -> None:
        while True:
            heap = self.heap
            with trio.CancelScope(deadline=heap[0][0] if heap else math.inf) as scope:
                self._scope = scope
                self.next_deadline = scope.deadline
                await trio.sleep_forever()
            now = trio.current_time()
            heap = self.heap
            while heap and (heap[0][0] <= now or heap[0][2].done):
                _, _, call = heapq.heappop(heap)
                if not call.done:
                    try:
                        call._time_out()
                    except Exception:  # a system task that raises would end the whole run
                        logger.exception("trio_otp: a timer failed when it fired: %r", call)


_timer: trio.lowlevel.RunVar[CallTimer] = trio.lowlevel.RunVar("trio_otp_call_timer")


def call_timer() -> CallTimer:
    """This run's timer, started on first use."""
    try:
        return _timer.get()
    except LookupError:
        timer = CallTimer()
        _timer.set(timer)
        trio.lowlevel.spawn_system_task(timer.run, name="trio_otp call timeouts")
        return timer
