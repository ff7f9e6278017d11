"""Checks of public arguments, shared by the modules that take them.

Each check raises at the call, before anything has happened, with a message that names
the argument, the rule and the value: ``TypeError`` for a value of the wrong type,
``ValueError`` for one of the right type outside the rule. Specs and definitions check
their fields the same way when they are built (attrs validators in their own modules).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from ._util import describe


def check_seconds(value: object, argument: str, *, rule: str = ">= 0") -> float:
    """A timeout or delay: a number of seconds >= 0 (``math.inf`` allowed), as a float.

    ``rule=" > 0"`` for the few arguments where 0 would make no sense (an idle timeout
    of 0 is a busy loop). ``None`` is the caller's business (it means "for ever" where it
    is allowed), so it is a TypeError here.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{argument} must be a number of seconds {rule}, got {describe(value)}"
        raise TypeError(msg)
    if value < 0 or (rule == "> 0" and value == 0) or (isinstance(value, float) and math.isnan(value)):
        msg = f"{argument} must be a number of seconds {rule}, got {value!r}"
        raise ValueError(msg)
    if isinstance(value, int) and value > sys.float_info.max:
        return math.inf  # an int too large for a float: longer than any run
    return float(value)


def check_timeout(value: object, argument: str = "timeout") -> float:
    """A timeout that may also be ``None`` (wait for ever); returns ``math.inf`` for it."""
    if value is None:
        return math.inf
    return check_seconds(value, argument, rule=">= 0 or None")


def check_callable(value: object, argument: str, what: str) -> None:
    if not callable(value):
        msg = f"{argument} must be {what}, got {describe(value)}"
        raise TypeError(msg)


def check_hashable(value: object, argument: str) -> None:
    try:
        hash(value)
    except TypeError:
        msg = f"{argument} must be hashable (a str, int, tuple, ...), got {describe(value)}"
        raise TypeError(msg) from None


def check_instance(value: object, kind: type[Any] | tuple[type[Any], ...], argument: str, what: str) -> None:
    if not isinstance(value, kind):
        msg = f"{argument} must be {what}, got {describe(value)}"
        raise TypeError(msg)


def check_whole_number(value: object, argument: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{argument} must be a whole number >= {minimum}, got {describe(value)}"
        raise TypeError(msg)
    if value < minimum:
        msg = f"{argument} must be a whole number >= {minimum}, got {value!r}"
        raise ValueError(msg)
    return value


def check_stop_reason(value: object, argument: str) -> None:
    """A supervisor's stop reason: ``None`` (normal) or an :class:`Exception` instance (an
    interrupt would leave the tree as one, not as the supervisor's exit)."""
    if value is not None and not isinstance(value, Exception):
        msg = (
            f"{argument} must be None (a normal exit) or an Exception instance (an interrupt such as "
            f"KeyboardInterrupt is no exit reason), got {describe(value)}"
        )
        raise TypeError(msg)


def check_exit_reason(value: object, argument: str) -> None:
    """An exit reason: ``None`` (normal) or an exception instance."""
    if value is not None and not isinstance(value, BaseException):
        msg = f"{argument} must be None (a normal exit) or an exception instance, got {describe(value)}"
        raise TypeError(msg)
