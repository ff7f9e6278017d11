"""The server's side of system messages (see ``_sys.py`` for the design): what sits in
the mailbox, and how the loop answers it between two callbacks.

Apart from ``_sys.py`` so that the GenServer module can import it while ``_sys.py``, the
public half, imports the GenServer module at the top: no import cycle, so a type
checker sees every signature whole.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import trio

from ._call_timer import system_clock_offset
from ._checks import check_seconds
from ._exceptions import ReplaceStateFailed
from ._util import describe, safe_repr

StateT = TypeVar("StateT")


def time_source() -> Callable[[], float]:
    """A clock that differs from the run's clock by a constant, as cheap as can be:
    :func:`time.perf_counter` under Trio's default clock (which is it plus an offset),
    :func:`trio.current_time` under any other (a MockClock, say)."""
    if system_clock_offset(trio.lowlevel.current_clock()) is not None:
        return time.perf_counter
    return trio.current_time


class SystemRequest:
    """A system message in a server's mailbox: ``function`` is None for get_state."""

    __slots__ = ("caller", "function")

    def __init__(self, function: Callable[[Any], Any] | None, caller: Any) -> None:  # a Caller
        self.function = function
        self.caller = caller


def handle_system(server: StateT, request: SystemRequest) -> StateT:
    """Answer a system request in the server's task; returns the state from now on."""
    function = request.function
    if function is None:
        request.caller.reply(server)
        return server
    idle_timeout = getattr(server, "idle_timeout", None)
    try:
        new = function(server)
        if inspect.isawaitable(new):
            close = getattr(new, "close", None)
            if close is not None:
                close()  # never to be awaited: no "never awaited" warning later
            msg = "replace_state's function must be a plain function, but it returned an awaitable"
            raise TypeError(msg)
        _check_new_state(server, new)
    except Exception as error:
        # The loop checks idle_timeout only when a callback changed it, so one the
        # function set in place before failing must not outlive the failure.
        with contextlib.suppress(Exception):
            if getattr(server, "idle_timeout", None) is not idle_timeout:
                object.__setattr__(server, "idle_timeout", idle_timeout)
        failure = ReplaceStateFailed(
            f"replace_state on server {type(server).__name__}: {safe_repr(error)}; the state was not "
            "replaced (changes the function made in place remain)"
        )
        failure.__cause__ = error
        request.caller._fail(failure)
        return server
    request.caller.reply(new)
    return cast("StateT", new)  # checked: the server's own class


def _check_new_state(server: object, new: object) -> None:
    if type(new) is not type(server):
        msg = (
            f"replace_state's function must return the new state, an instance of {type(server).__name__} "
            f"(the server's own class), got {describe(new)}"
        )
        raise TypeError(msg)
    idle_timeout = getattr(new, "idle_timeout", None)
    if idle_timeout is not None:
        check_seconds(idle_timeout, "the new state's idle_timeout (None or seconds)", rule="> 0")
