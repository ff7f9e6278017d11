"""Small helpers shared by the private modules."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import attrs

T = TypeVar("T")


class NoPublicConstructor(type):
    """Metaclass for handles that only trio_otp itself creates.

    Calling the class raises :exc:`TypeError`; the runtime uses ``_create``.
    A supervisor reference is only meaningful for a supervisor that is running,
    so users get one from :meth:`Supervisor.run` and never build one.
    """

    def __call__(cls, *args: object, **kwargs: object) -> NoReturn:
        msg = f"{cls.__module__}.{cls.__qualname__} has no public constructor"
        raise TypeError(msg)

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc,no-any-return]


def safe_repr(value: object) -> str:
    """``repr(value)``, or a stand-in if that raises: reports and error messages describe
    values that user code made, and a broken ``__repr__`` must not break the report."""
    try:
        return repr(value)
    except Exception as error:
        return _stand_in(value, "repr", error)


def safe_str(value: object) -> str:
    """``str(value)``, or a stand-in if that raises (see :func:`safe_repr`)."""
    try:
        return str(value)
    except Exception as error:
        return _stand_in(value, "str", error)


def _stand_in(value: object, what: str, error: Exception) -> str:
    return (
        f"<{type(value).__qualname__} object at {id(value):#x}: its {what}() raised {type(error).__name__}>"
    )


def describe(value: object) -> str:
    """``repr`` of a value with its type, for error messages about bad input."""
    return f"{safe_repr(value)} (of type {type(value).__name__})"


def name_validator(owner: str) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator for a definition's ``name``: None, or any hashable value (a
    ``Via`` is one)."""

    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        try:
            hash(value)
        except TypeError:
            rule = "must be hashable (a str, int, tuple, Via, ...) or None"
            msg = f"{owner}.{attribute.name} {rule}, got {describe(value)}"
            raise TypeError(msg) from None
        from ._names import Partition  # noqa: PLC0415 - _names imports this module

        if isinstance(value, Partition):
            msg = (
                f"{owner}.{attribute.name} cannot be a Partition, which routes to a running "
                f"partition rather than naming a process; got {safe_repr(value)}"
            )
            raise TypeError(msg)

    return check


def enum_validator(
    owner: str, enum_type: type[enum.Enum]
) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator whose error names the field and lists every accepted member."""
    choices = ", ".join(f"{enum_type.__name__}.{member.name}" for member in enum_type)

    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, enum_type):
            msg = f"{owner}.{attribute.name} must be one of {choices}; got {describe(value)}"
            raise TypeError(msg)

    return check
