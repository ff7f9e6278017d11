"""Small helpers shared by the private modules."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

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


def describe(value: object) -> str:
    """``repr`` of a value with its type, for error messages about bad input."""
    return f"{value!r} (of type {type(value).__name__})"
