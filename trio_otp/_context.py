"""Context propagation through call and cast: the caller's context variables, in the handler.

A server's callbacks run in the server's task, whose context is the one it was started
in, so a request id or a trace that the caller had set is not there when ``handle_call``
runs: a trace breaks at every GenServer hop. :func:`propagate_context` names what should
cross it. From then on, in that Trio run, each call and cast captures the named values in
the calling task (one ``ContextVar.get`` each), and the server's loop sets them in its own
task just before it handles that message, and resets them before the next one; a message
that carries none (an info message, a system message, a call from before) sees the
server's own values. So ``handle_call``, ``handle_cast`` and the ``handle_continue`` steps
they ask for all see the caller's values. A variable the caller has not set is left as
the server has it.

What is carried need not be a ``ContextVar``: a :class:`ContextCarrier` captures,
enters and exits any context of its own (``trio_otp.otel.context_carrier()`` does
OpenTelemetry's).

Cost
----
Off (nothing was ever propagated in this process): one module-attribute test per call or
cast and one per message handled. Once a run has turned it on, ``active`` stays set for
the rest of the process, even after ``propagate_context()`` with nothing or the end of
the run: a server may still hold a caller's values from its last message, and only the
loop's next ``enter`` takes them out. Then each call and cast pays a ``RunVar`` read (and
a ``get`` per carrier), and each message handled a ``ContextVar`` read (and a ``set``
and a reset per carrier it carries).
"""

from __future__ import annotations

import contextvars
import typing
from typing import Any, Protocol, cast, runtime_checkable

import trio

from ._util import describe

#: Whether any run of this process has propagated anything (see the module docstring):
#: read on every call, cast and message, so it is a plain module attribute.
active: bool = False

_MISSING: Any = object()
_carriers: trio.lowlevel.RunVar[tuple[ContextCarrier, ...]] = trio.lowlevel.RunVar(
    "trio_otp_context_carriers"
)
# In a server's task: what the message being handled entered, to exit before the next.
_entered: contextvars.ContextVar[list[tuple[ContextCarrier, object]] | None] = contextvars.ContextVar(
    "trio_otp_entered_context", default=None
)


@runtime_checkable
class ContextCarrier(Protocol):
    """Something :func:`propagate_context` carries from caller to handler besides a plain
    ``ContextVar``: ``capture`` runs in the calling task, ``enter`` in the server's task
    before the message is handled (returning a token), ``exit`` with that token before
    the next message. None of them may await; ``capture`` returning ``None`` carries
    nothing. ``capture`` runs inside the call's or cast's KI-protected bookkeeping, so
    it must be quick: a Ctrl-C during it lands at the next checkpoint."""

    def capture(self) -> object: ...

    def enter(self, value: Any) -> object: ...

    def exit(self, token: Any) -> None: ...


class _VariableCarrier:
    __slots__ = ("variable",)

    def __init__(self, variable: contextvars.ContextVar[Any]) -> None:
        self.variable = variable

    def capture(self) -> object:
        value = self.variable.get(_MISSING)
        return None if value is _MISSING else _Boxed(value)

    def enter(self, value: Any) -> object:
        return self.variable.set(value.value)

    def exit(self, token: Any) -> None:
        self.variable.reset(token)


class _Boxed:
    """A variable's value, boxed so that ``None`` can be carried too."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def propagate_context(*carriers: contextvars.ContextVar[Any] | ContextCarrier) -> None:
    """From now on in this Trio run, carry the values of ``carriers`` (context variables,
    or :class:`ContextCarrier` objects) from the task that calls or casts to the server
    (a GenServer or a StateMachine) that handles the message. Replaces what an earlier
    call named; with no argument, turns propagation off. Not a checkpoint. See :ref:`context-propagation`.

    Raises:
      RuntimeError: called outside a Trio run.
      TypeError: a carrier that is neither a ``ContextVar`` nor a ``ContextCarrier``.
    """
    global active  # noqa: PLW0603 - the module's one switch
    if not trio.lowlevel.in_trio_run():
        msg = "propagate_context sets what the calls of one Trio run carry; call it inside trio.run"
        raise RuntimeError(msg)
    checked: list[ContextCarrier] = []
    for carrier in carriers:
        given = cast("object", carrier)  # checked: callers may not be type-checked
        if isinstance(given, contextvars.ContextVar):
            checked.append(_VariableCarrier(cast("contextvars.ContextVar[Any]", given)))  # type: ignore[redundant-cast]  # for pyright
        elif isinstance(given, ContextCarrier):
            checked.append(given)
        else:
            msg = (
                "propagate_context takes contextvars.ContextVar objects or ContextCarriers "
                f"(with capture, enter and exit), got {describe(given)}"
            )
            raise TypeError(msg)
    _carriers.set(tuple(checked))
    if checked:
        active = True


def capture() -> list[tuple[ContextCarrier, object]] | None:
    """In the calling task, when ``active``: what the message carries (or ``None``)."""
    try:
        carriers = _carriers.get()
    except LookupError:
        return None
    captured: list[tuple[ContextCarrier, object]] = []
    for carrier in carriers:
        value = carrier.capture()
        if value is not None:
            captured.append((carrier, value))
    return captured or None


def enter(item: object) -> None:
    """In a server's task, when ``active``, before it handles ``item``: exit what the last
    message entered, enter what ``item`` carries."""
    entered = _entered.get()
    if entered:
        for carrier, token in reversed(entered):
            carrier.exit(token)
        _entered.set(None)
    carried: list[tuple[ContextCarrier, object]] | None
    if type(item) is tuple:  # a cast: (request, carried)
        carried = typing.cast("list[tuple[ContextCarrier, object]] | None", item[1])
    else:  # a Caller, or an item that carries nothing
        carried = getattr(item, "_context", None)
    if carried:
        _entered.set([(carrier, carrier.enter(value)) for carrier, value in carried])
