"""The actor trio_otp runs on Ray: it hosts an instance of the user's class.

It lives in the Ray worker process, one per actor. ``trio_otp.ray`` creates it as a
*threaded* actor with two concurrency groups: the default one (one thread, so the
user's methods run one at a time and in order, as in a plain Ray actor) and
``trio_otp`` for the supervisor's ``watch`` call, which stays pending for the actor's
whole life and so must not take the user's thread. When the actor dies, Ray fails the
pending ``watch`` call (``ActorDiedError``): that is how the supervisor learns of the
death without polling. ``watch`` returns only when the actor ends itself
(:func:`trio_otp.ray.end_actor`) or the supervisor's cooperative stop has run the user's
``terminate``, or a later ``watch`` (sent after the actor was unreachable) takes over.

This module does not import Ray: the worker imports it to unpickle the class.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

#: The concurrency group of the supervisor's own calls.
CONTROL_GROUP = "trio_otp"
#: Threads in it: the one pending ``watch`` (a new one releases the old), and the probes
#: sent while an actor is unavailable (each returns at once).
CONTROL_THREADS = 4

#: How the actor ended itself, as ``watch`` reports it.
NORMAL = "normal"
SHUTDOWN = "shutdown"
STOPPED = "stopped"  # the supervisor's cooperative stop ran
SUPERSEDED = "superseded"  # a later watch call took over (its caller no longer waits)

# The host in this worker process (a Ray actor has a process of its own).
_current: ActorHost | None = None


class ActorHost:
    """Holds the user's object; the driver calls :meth:`call` for its methods."""

    def __init__(self, cls: type[Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        global _current  # noqa: PLW0603 - one actor per worker process
        self._ended = threading.Condition()
        self._is_ended = False
        self._how = NORMAL
        self._watches = 0  # a new watch (after an unavailability) releases the old one
        self._end_after_call: str | None = None
        _current = self
        self._instance = cls(*args, **kwargs)

    def ready(self) -> None:
        """Returns once the constructor has (Ray runs it first)."""

    def ping(self) -> None:
        """A probe in the control group, while the actor is unavailable."""

    def call(self, method: str, args: tuple[Any, ...]) -> Any:
        try:
            return getattr(self._instance, method)(*args)
        finally:
            how, self._end_after_call = self._end_after_call, None
            if how is not None:
                self.end(how)

    def end_after_call(self, how: str) -> None:
        """:func:`trio_otp.ray.end_actor`: end once the method that asked returns."""
        self._end_after_call = how

    def watch(self) -> str:
        with self._ended:
            self._watches += 1
            mine = self._watches
            self._ended.notify_all()
            self._ended.wait_for(lambda: self._is_ended or self._watches != mine)
            return self._how if self._is_ended else SUPERSEDED

    def stop(self) -> None:
        """The supervisor's cooperative stop: run after the calls already queued, in the
        user's thread; calls ``terminate()`` if the class defines it."""
        try:
            terminate = getattr(self._instance, "terminate", None)
            if callable(terminate):
                terminate()
        finally:
            self.end(STOPPED)

    def end(self, how: str) -> None:
        with self._ended:
            if not self._is_ended:
                self._how = how
                self._is_ended = True
                self._ended.notify_all()


def current_host() -> ActorHost | None:
    return _current
