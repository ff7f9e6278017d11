"""KeyboardInterrupt at any bytecode: how trio_otp's bookkeeping stays consistent.

The problem
-----------
Python raises :exc:`KeyboardInterrupt` in whatever frame happens to run when SIGINT
arrives. Trio's answer (``trio/_core/_ki.py``) is to mark frames: in a frame whose code
is KI-protected, the signal is not raised there but delivered later to the main task, at
a checkpoint. Trio protects its own scheduler and primitives that way; user code stays
unprotected, so that Ctrl-C can still break an infinite loop.

trio_otp has low-level protocols of its own that are just as fragile: a call puts its
:class:`Caller` in a mailbox and then parks; a server that parks records that it did; a
child's task records its readiness and its end; a timer joins a heap; a registry entry
lives in two indexes. An interrupt between two steps of one of these leaves a task that
will be rescheduled though it is not parked (a ``TrioInternalError``), or a supervisor
that waits for ever for a child whose end was never recorded.

What is protected
-----------------
* Every synchronous function that changes shared state in more than one step, so each
  runs to completion or not at all: mailbox append, park and wake-up, the Caller state
  machine, readiness and exit of a child, the timer heap, registry and monitor updates.
* Whole tasks that are trio_otp's own code: a supervisor's control loop (so it is never
  interrupted half way through a shutdown), a child's task around its start function.
* Never user code. Protection is decided by the innermost frame whose code is marked, so
  an unmarked user coroutine awaited from a protected frame would be protected too. A
  child's start function, and a supervised task's function, are therefore awaited
  through :func:`start_unprotected` and :func:`call_unprotected`, one small frame each
  that switches protection off again, so the user's frames and everything they call
  behave exactly as in plain Trio. (Marking the user's function unprotected instead
  would save that frame, some 230 bytes per plain-function child, but it would change
  the function for every other caller in the process, library functions included.)
  trio_otp's own start functions (a GenServer's ``serve``, the supervisors' ``run``)
  protect themselves and are awaited directly. The few user callbacks that run inside
  protected bookkeeping (event handlers, registry listeners, log handlers, a context
  carrier's ``capture`` in a call or cast) are short synchronous calls that the docs
  already require to be quick.

Interrupts that do land
-----------------------
An interrupt raised in user code inside a child ends that child's task like any other
exception that is not an ``Exception``: it is not an exit and causes no restart; it goes
up through the supervisor's nursery, which stops the tree in order. One delivered to the
main task at a checkpoint reaches :meth:`Supervisor.run` only in the nursery's exit,
where Trio records it and cancels the nursery; the control loop, a task of its own, then
shuts the tree down in order, undisturbed by further interrupts.

Protection itself costs nothing at run time: Trio looks it up (by code object) only when
a signal arrives. The unprotecting frame around user code is the one cost.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import trio

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

protected = trio.lowlevel.enable_ki_protection
unprotected = trio.lowlevel.disable_ki_protection

F = TypeVar("F", bound=Callable[..., Any])

# Start functions that are trio_otp's own and set their protection themselves (the
# supervisors' ``run``, the GenServer's ``serve``): a child's task calls them directly,
# without the unprotected frame that user code gets.
_self_protecting: set[types.CodeType] = set()


def self_protecting(function: F) -> F:
    """Mark a start function as trio_otp's own: it decides its KI protection itself."""
    _self_protecting.add(function.__code__)
    return function


def is_self_protecting(start: object) -> bool:
    """Whether ``start`` (a function or a bound method) was marked :func:`self_protecting`."""
    code = getattr(getattr(start, "__func__", start), "__code__", None)
    return code in _self_protecting


@unprotected
async def start_unprotected(
    start: Callable[..., Awaitable[Any]], args: tuple[Any, ...], task_status: object
) -> Any:
    """``await start(*args, task_status=task_status)`` with KI protection off: a user's
    start function, awaited from a child's protected task."""
    return await start(*args, task_status=task_status)


@unprotected
async def call_unprotected(function: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
    """``await function(*args)`` with KI protection off: a user's task function."""
    return await function(*args)


def first_interrupt(group: BaseExceptionGroup[BaseException]) -> KeyboardInterrupt | None:
    """The first KeyboardInterrupt in ``group`` if the group holds nothing else but
    ``Cancelled``; ``None`` otherwise, so that a group with any other error is never
    unwrapped.

    What leaves a supervisor's nursery is never an ``Exception`` (children's exceptions
    are exits), so a Ctrl-C shows as a group of one or more interrupts, perhaps with the
    ``Cancelled`` of a scope that was cancelled meanwhile. A program interrupted by
    Ctrl-C should end with KeyboardInterrupt itself, as any Python program does.
    """
    interrupts, rest = group.split(KeyboardInterrupt)
    if interrupts is None:
        return None
    if rest is not None and rest.split(trio.Cancelled)[1] is not None:
        return None
    for leaf in _leaves(interrupts):
        assert isinstance(leaf, KeyboardInterrupt)
        return leaf
    return None  # pragma: no cover - split never returns an empty group


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)  # pyright: ignore[reportUnknownArgumentType]
        else:
            yield error
