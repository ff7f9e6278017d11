"""Waiting for a Ray ``ObjectRef`` from a Trio task, without asyncio, threads or polling.

How it works
------------
``ObjectRef.future()`` gives a :class:`concurrent.futures.Future` that Ray completes from
its core-worker thread when the object is ready (or failed). Its done-callback runs in
that thread, where nothing of Trio may be touched, so all it does is hand a wake-up to
the Trio run through the run's :class:`trio.lowlevel.TrioToken`
(``run_sync_soon``, Trio's one thread-safe entry point). The wake-up, back in the Trio
thread, reschedules the parked task. One future and one callback per wait; no thread per
call, no timer, no asyncio loop.

Cancellation
------------
A waiting task that is cancelled stops waiting at once (the abort always succeeds). The
remote call is *not* cancelled: it was sent, the actor runs it to completion, and its
result is dropped when it arrives (the late wake-up finds nobody waiting). That is what
a :class:`trio_otp.CallTimeout` means for a local server too. ``ray.cancel`` is not sent
because for a threaded actor it can only drop a call that has not started, and a caller
could not tell which happened.

A wake-up that arrives after the Trio run has ended is dropped
(:exc:`trio.RunFinishedError`).

KeyboardInterrupt
-----------------
The park and the wake-up are KI-protected (see ``trio_otp/_ki.py``): an interrupt cannot
land between the decision to reschedule and the rescheduling, nor leave a task that is
marked as waiting but is not.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, final

import trio

from .._ki import protected


@final
class _Waiter:
    """One wait: the parked task, and whether it is still waiting."""

    __slots__ = ("task", "token", "waiting")

    def __init__(self, task: trio.lowlevel.Task, token: trio.lowlevel.TrioToken) -> None:
        self.task = task
        self.token = token
        self.waiting = True

    def on_done(self, _future: concurrent.futures.Future[Any]) -> None:
        # Ray's core-worker thread (or the Trio thread, if the future was already done).
        try:
            self.token.run_sync_soon(self.wake)
        except trio.RunFinishedError:
            pass  # the run is over: nobody to wake

    @protected
    def wake(self) -> None:
        if self.waiting:
            self.waiting = False
            trio.lowlevel.reschedule(self.task)

    @protected
    def abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self.waiting = False
        return trio.lowlevel.Abort.SUCCEEDED


@protected
async def wait_object_ref(object_ref: Any) -> Any:
    """The value of a Ray ``ObjectRef``, waited for in the current Trio task. A checkpoint.

    Raises:
      trio.Cancelled: the wait was cancelled; the remote work goes on, its result dropped.
      Exception: what Ray raises for the object (``ray.get`` would raise the same):
        the task's own exception, ``ActorDiedError``, ``ActorUnavailableError``, ...
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    future: concurrent.futures.Future[Any] = object_ref.future()
    if not future.done():
        waiter = _Waiter(trio.lowlevel.current_task(), trio.lowlevel.current_trio_token())
        future.add_done_callback(waiter.on_done)
        await trio.lowlevel.wait_task_rescheduled(waiter.abort)
    else:
        await trio.lowlevel.cancel_shielded_checkpoint()
    return future.result()
