"""Restart intensity: how many restarts a supervisor allows within a time window.

The arithmetic is kept apart from the supervisor, with the clock injected, so it can be
checked against a model without an event loop.

How the window is counted
-------------------------
Erlang/OTP stamps every restart with whole seconds of ``erlang:monotonic_time(1)`` and
keeps a restart stamped ``R`` while ``R >= Now - Period``. Because the second
boundaries fall at an arbitrary phase, OTP's effective window is anywhere between
``Period`` and ``Period + 1`` seconds wide. That is an artefact of OTP's clock API,
not a design goal.

trio_otp uses an **exact** window on Trio's clock instead: a restart at time ``t`` still
counts at time ``t'`` if and only if ``t' - t <= max_seconds``. This agrees with OTP
whenever two restarts are at most ``max_seconds`` apart (always counted) or at least
``max_seconds + 1`` apart (never counted), keeps OTP's inclusive boundary, and is
deterministic under :class:`trio.testing.MockClock`.

Like OTP, the check comes *before* the restart: every restart decision adds one entry,
and the decision that would make the entries in the window exceed ``max_restarts`` is
refused, so ``max_restarts=N`` allows N restarts and the (N+1)-th request escalates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ._util import describe


def validate_max_restarts(max_restarts: object) -> int:
    """Return ``max_restarts`` if it is a whole number >= 0, else raise ValueError/TypeError."""
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
        msg = f"max_restarts must be a whole number >= 0, got {describe(max_restarts)}"
        raise TypeError(msg)
    if max_restarts < 0:
        msg = f"max_restarts must be >= 0 (0 means the first restart request escalates), got {max_restarts}"
        raise ValueError(msg)
    return max_restarts


def validate_max_seconds(max_seconds: object) -> float:
    """Return ``max_seconds`` as a float if it is a finite number > 0, else raise."""
    if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)):
        msg = f"max_seconds must be a number of seconds > 0, got {describe(max_seconds)}"
        raise TypeError(msg)
    if not 0 < max_seconds < float("inf"):
        msg = f"max_seconds must be a finite number of seconds > 0, got {max_seconds!r}"
        raise ValueError(msg)
    return float(max_seconds)


class RestartIntensity:
    """Counts restart decisions in a sliding window of ``max_seconds``.

    Args:
      max_restarts: how many restarts the window may hold (>= 0).
      max_seconds: the window's width in seconds (> 0, finite).
      clock: returns the current time in seconds; the supervisor passes
        :func:`trio.current_time`.

    Raises:
      TypeError, ValueError: at construction, for values outside those ranges.
    """

    __slots__ = ("_clock", "_restarts", "max_restarts", "max_seconds")

    def __init__(self, max_restarts: int, max_seconds: float, clock: Callable[[], float]) -> None:
        self.max_restarts: int = validate_max_restarts(max_restarts)
        self.max_seconds: float = validate_max_seconds(max_seconds)
        self._clock = clock
        # Oldest first. A supervisor that is still allowed to restart holds at most
        # max_restarts entries, so this never grows past max_restarts + 1.
        self._restarts: deque[float] = deque()

    def add_restart(self) -> bool:
        """Record one restart decision now; return whether the restart may go ahead.

        ``False`` means the intensity is exceeded and the supervisor must escalate.
        """
        now = self._clock()
        restarts = self._forget_expired(now)
        restarts.append(now)
        return len(restarts) <= self.max_restarts

    def restarts_in_window(self) -> int:
        """How many recorded restarts still fall inside the window now."""
        return len(self._forget_expired(self._clock()))

    def _forget_expired(self, now: float) -> deque[float]:
        # Time only moves forward, so a restart that has left the window never counts
        # again: dropping it keeps both methods O(1) amortised, however large
        # max_restarts is.
        threshold = now - self.max_seconds
        restarts = self._restarts
        while restarts and restarts[0] < threshold:
            restarts.popleft()
        return restarts
