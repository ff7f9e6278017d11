"""The raw fields of trio_otp's log records, next to the human message.

A record's message is for people ("supervisor 'shop': child 'db' raised
ValueError('disk')"); its ``extra`` fields are for machines, so they hold values, not
display strings: the supervisor's name as it was given (not ``"'shop'"``), the child id
as it is, the exception's type and message apart, and the supervisor path as a list a
log processor can index. The display strings stay too (``supervisor``, ``reason``), for
formatters that print fields as they are.
"""

from __future__ import annotations

from typing import Any

from ._processes import supervisor_label, supervisor_path
from ._util import safe_str


def error_type(error: BaseException) -> str:
    """The exception's class, importable spelling: ``ValueError``, ``trio_otp.Shutdown``."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def error_fields(error: BaseException | None) -> dict[str, object]:
    """``error_type`` and ``error_message`` (``None`` for an exit without an error)."""
    if error is None:
        return {"error_type": None, "error_message": None}
    return {"error_type": error_type(error), "error_message": safe_str(error)}


def supervisor_fields(state: Any) -> dict[str, object]:
    """The raw fields naming a supervisor: its ``supervisor_name`` (``None`` if it has
    none) and ``supervisor_path``, the names of the supervisors from the root down to it
    (each its name if that is a string, else its label)."""
    path = [*supervisor_path(state.owner), supervisor_label(state)]
    return {"supervisor_name": state.definition.name, "supervisor_path": path}
