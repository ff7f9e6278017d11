"""Lifecycle events for metrics and tracing, without touching application code.

Attach a handler with :func:`attach`; every event is an :class:`Event` with a ``name``,
numeric ``measurements`` and descriptive ``metadata`` (Elixir's ``:telemetry`` shape):

====================== ============================== =========================================
name                   measurements                   metadata
====================== ============================== =========================================
``child_started``      ``{}``                         supervisor, child_id, ref
``child_stopped``      ``{}``                         supervisor, child_id, reason (why)
``child_exited``       ``{}``                         supervisor, child_id, kind, error
``child_restarted``    ``{"restarts": n}``            supervisor, child_id, strategy
``child_ignored``      ``{}``                         supervisor, child_id
``supervisor_escalated`` ``{}``                       supervisor, child_id, error
``call_completed``     ``{"duration": seconds}``      server, request, outcome ("reply"/error)
====================== ============================== =========================================

Handlers run synchronously in the task that caused the event, so they must be quick
and must not block; one that raises is detached and logged, so a broken metrics hook
never takes an application down. When no handler is attached, emitting costs one
truthiness check (the call path measures its duration only while one is).

Where a handler lives
---------------------

A handler attached inside a Trio run (from any task of it) belongs to that run: it sees
that run's events only, and it is gone when the run ends, detached or not. A handler
attached outside any run (at import time, before ``trio.run``) belongs to the process:
it sees the events of every run until it is detached. So a test that attaches a handler
cannot leak it into the next test, which is a new run; and an application's metrics hook
set up at start-up keeps working across runs.

``attach`` returns an ``Attachment``: call it to detach (as before), or use it as a
context manager, which detaches on exit.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Mapping
from typing import Any, final

import attrs
import trio

from ._checks import check_callable

logger = logging.getLogger("trio_otp.events")


@attrs.frozen
class Event:
    """One lifecycle event."""

    name: str
    measurements: Mapping[str, float]
    metadata: Mapping[str, Any]


Handler = Callable[[Event], None]

# Handlers attached outside any run: every run's events.
_process_handlers: list[Handler] = []
# Handlers attached inside a run: that run's events; the list ends with the run.
_run_handlers: trio.lowlevel.RunVar[list[Handler]] = trio.lowlevel.RunVar("trio_otp_event_handlers")
# How many handlers attached inside some run are not yet detached. While it is 0 (no test
# or run ever attached one), emitting skips the RunVar look-up. A run that ends without
# detaching leaves it above 0: its handlers are gone with the run, and emitting then only
# costs that look-up, which finds the new run's empty list.
_attached_in_runs: int = 0


def _current_run_handlers() -> list[Handler] | None:
    try:
        return _run_handlers.get()
    except LookupError:
        return None
    except RuntimeError:  # not in a Trio run
        return None


@final
class Attachment:
    """What :func:`attach` returns: call it, or leave its ``with`` block, to detach the
    handler. Detaching twice, or after the run it was attached in has ended, does nothing."""

    __slots__ = ("_handler", "_handlers", "_in_run")

    def __init__(
        self, handler: Callable[[Event], None], handlers: list[Callable[[Event], None]], in_run: bool
    ) -> None:
        self._handler = handler
        self._handlers = handlers
        self._in_run = in_run

    def __call__(self) -> None:
        global _attached_in_runs  # noqa: PLW0603 - the module's one counter
        if self._handler in self._handlers:
            self._handlers.remove(self._handler)
            if self._in_run:
                _attached_in_runs -= 1

    def __enter__(self) -> Attachment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self()


def attach(handler: Handler) -> Attachment:
    """Call ``handler`` for every event from now on: of the current Trio run only when
    called inside one (the handler ends with the run), of every run when called outside
    any. Returns an :class:`Attachment` that detaches it when called or, used as a context
    manager, at the end of the ``with`` block. Not a checkpoint.

    Raises:
      TypeError: ``handler`` is not callable.
    """
    global _attached_in_runs  # noqa: PLW0603 - the module's one counter
    check_callable(handler, "an event handler", "a callable taking an Event")
    if trio.lowlevel.in_trio_run():
        handlers = _current_run_handlers()
        if handlers is None:
            handlers = list[Handler]()
            _run_handlers.set(handlers)
        handlers.append(handler)
        _attached_in_runs += 1
        return Attachment(handler, handlers, in_run=True)
    _process_handlers.append(handler)
    return Attachment(handler, _process_handlers, in_run=False)


def attached() -> bool:
    """Whether any handler would see a ``call_completed`` event emitted now (the call
    path measures durations only then; lifecycle-only handlers do not count)."""
    if _process_handlers:
        return True
    return _attached_in_runs > 0 and bool(_current_run_handlers())


# Handlers of the current run that see every event but ``call_completed`` (the observer's
# crash log): attaching one must not make every call measure and emit its duration.
_lifecycle_handlers: trio.lowlevel.RunVar[list[Handler]] = trio.lowlevel.RunVar(
    "trio_otp_lifecycle_event_handlers"
)
_lifecycle_in_runs = 0


def attach_lifecycle(handler: Handler) -> _LifecycleAttachment:
    """Inside a Trio run: call ``handler`` for every event of this run except
    ``call_completed``. Private: trio_otp's own observer uses it."""
    global _lifecycle_in_runs  # noqa: PLW0603 - the module's other counter
    try:
        handlers = _lifecycle_handlers.get()
    except LookupError:
        handlers = list[Handler]()
        _lifecycle_handlers.set(handlers)
    handlers.append(handler)
    _lifecycle_in_runs += 1
    return _LifecycleAttachment(handler, handlers)


@final
class _LifecycleAttachment:
    __slots__ = ("_handler", "_handlers")

    def __init__(self, handler: Handler, handlers: list[Handler]) -> None:
        self._handler = handler
        self._handlers = handlers

    def __call__(self) -> None:
        global _lifecycle_in_runs  # noqa: PLW0603 - the module's other counter
        if self._handler in self._handlers:
            self._handlers.remove(self._handler)
            _lifecycle_in_runs -= 1

    def __enter__(self) -> _LifecycleAttachment:
        return self

    def __exit__(self, *_: object) -> None:
        self()


def _current_lifecycle_handlers() -> list[Handler]:
    try:
        return _lifecycle_handlers.get()
    except (LookupError, RuntimeError):
        return []


def emit(name: str, measurements: Mapping[str, float], metadata: Mapping[str, Any]) -> None:
    if not _process_handlers and _attached_in_runs == 0 and _lifecycle_in_runs == 0:
        return
    run_handlers = _current_run_handlers() if _attached_in_runs else None
    lifecycle = _current_lifecycle_handlers() if _lifecycle_in_runs and name != "call_completed" else []
    if not _process_handlers and not run_handlers and not lifecycle:
        return
    event = Event(name, measurements, metadata)
    for handlers in (_process_handlers, run_handlers or [], lifecycle):
        for handler in list(handlers):
            try:
                handler(event)
            except Exception:
                if handlers is lifecycle:
                    _LifecycleAttachment(handler, handlers)()
                else:
                    Attachment(handler, handlers, in_run=handlers is not _process_handlers)()
                logger.exception("event handler %r raised and was detached", handler)
