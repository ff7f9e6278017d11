"""Lifecycle events for metrics: ``trio_otp.events.attach(handler)``. See ``Event``."""

from ._events import Event as Event
from ._events import attach as attach

__all__ = ["Event", "attach"]
