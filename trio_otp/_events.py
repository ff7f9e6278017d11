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
``supervisor_escalated`` ``{}``                       supervisor, child_id, error
``call_completed``     ``{"duration": seconds}``      server, request, outcome ("reply"/error)
====================== ============================== =========================================

Handlers run synchronously in the task that caused the event, so they must be quick
and must not block; one that raises is detached and logged, so a broken metrics hook
never takes an application down. When no handler is attached, emitting costs one
truthiness check (the call path measures its duration only while one is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._checks import check_callable

logger = logging.getLogger("trio_otp.events")


@attrs.frozen
class Event:
    """One lifecycle event."""

    name: str
    measurements: Mapping[str, float]
    metadata: Mapping[str, Any]


Handler = Callable[[Event], None]

_handlers: list[Handler] = []


def attach(handler: Handler) -> Callable[[], None]:
    """Call ``handler`` for every event from now on; returns a function that detaches it.

    Raises:
      TypeError: ``handler`` is not callable.
    """
    check_callable(handler, "an event handler", "a callable taking an Event")
    _handlers.append(handler)

    def detach() -> None:
        if handler in _handlers:
            _handlers.remove(handler)

    return detach


def attached() -> bool:
    return bool(_handlers)


def emit(name: str, measurements: Mapping[str, float], metadata: Mapping[str, Any]) -> None:
    if not _handlers:
        return
    event = Event(name, measurements, metadata)
    for handler in list(_handlers):
        try:
            handler(event)
        except Exception:
            _handlers.remove(handler)
            logger.exception("event handler %r raised and was detached", handler)
