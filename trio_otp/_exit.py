"""How a child's ending is classified: normal, shutdown, or crash (OTP's exit reasons)."""

from __future__ import annotations

import enum
import sys

from ._exceptions import RestartIntensityExceeded, Shutdown
from ._util import safe_repr

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


class ExitKind(enum.Enum):
    """OTP's three families of exit reason, as Python expresses them."""

    #: The start function returned (OTP's ``normal``).
    NORMAL = "normal"
    #: It raised :class:`Shutdown`, or a group of nothing but (OTP's ``shutdown``, ``{shutdown, _}``).
    SHUTDOWN = "shutdown"
    #: It raised anything else (every other OTP reason, ``killed`` included).
    CRASH = "crash"


def exit_kind(error: BaseException | None) -> ExitKind:
    """Classify a child's ending; ``error`` is what it raised, ``None`` if it returned."""
    if error is None:
        return ExitKind.NORMAL
    if isinstance(error, Shutdown):
        return ExitKind.SHUTDOWN
    if isinstance(error, BaseExceptionGroup):
        _, rest = error.split(Shutdown)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if rest is None:
            return ExitKind.SHUTDOWN
    return ExitKind.CRASH


def describe_exit(error: BaseException | None) -> str:
    """A short phrase for reports: ``returned normally``, ``raised ValueError('x')``."""
    if error is None:
        return "returned normally"
    if isinstance(error, RestartIntensityExceeded):
        child = safe_repr(error.child_id)
        return f"escalated (RestartIntensityExceeded: too many restarts of its child {child})"
    return f"raised {safe_repr(error)}"
