"""Lifecycle events for metrics: ``trio_otp.events.attach(handler)``. See ``Event``.

A handler attached inside a Trio run sees that run's events and ends with it; one
attached outside any run sees every run's. ``attach`` returns an ``Attachment``: call it
or use it as a context manager to detach."""

from ._events import Attachment as Attachment
from ._events import Event as Event
from ._events import attach as attach

__all__ = ["Attachment", "Event", "attach"]

# Reprs and error messages say trio_otp.events.Event, where users import it from.
for _public in (Attachment, Event):
    _public.__module__ = __name__
del _public
