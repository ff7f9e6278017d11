"""OpenTelemetry for trio_otp: lifecycle events as metrics, calls as spans.

``trio_otp.otel.instrument()`` attaches an events handler (see :mod:`trio_otp.events`)
that records, through the OpenTelemetry API:

- ``trio_otp.child.restarts``, a counter: ``trio_otp.supervisor``, ``trio_otp.child_id``,
  ``trio_otp.strategy``;
- ``trio_otp.child.crashes``, a counter: ``trio_otp.supervisor``, ``trio_otp.child_id``,
  ``error.type``;
- ``trio_otp.supervisor.escalations``, a counter, with the same attributes;
- ``trio_otp.call.duration``, a histogram in seconds: ``trio_otp.server``,
  ``trio_otp.outcome`` (``reply``, or the exception's class name);

and, for every :meth:`trio_otp.ServerRef.call`, a span ``trio_otp call`` (kind CLIENT) in the
caller's trace: a child of the span current in the calling task, from the moment the
call was made to its reply, with status ERROR if it raised. It needs the ``otel`` extra
(``pip install 'trio_otp[otel]'``: ``opentelemetry-api``); OpenTelemetry is imported only
when :func:`instrument` or :func:`context_carrier` is called.

:func:`context_carrier` carries the caller's OpenTelemetry context into the server's
callbacks (see :func:`trio_otp.propagate_context`), so that the spans they open join
the caller's trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .._context import ContextCarrier
    from ..events import Attachment

__all__ = ["context_carrier", "instrument"]


def _load_adapter() -> Any:
    try:
        from . import _adapter  # noqa: PLC0415 - OpenTelemetry is optional
    except ModuleNotFoundError as missing:
        if missing.name is None or not missing.name.startswith("opentelemetry"):
            raise
        msg = "trio_otp.otel needs OpenTelemetry: pip install 'trio_otp[otel]'"
        raise ModuleNotFoundError(msg, name=missing.name) from missing
    return _adapter


def context_carrier() -> ContextCarrier:
    """OpenTelemetry's current context as a :class:`~trio_otp.ContextCarrier`: with
    ``trio_otp.propagate_context(trio_otp.otel.context_carrier())``, a server's callbacks
    run in the context of the task that called or cast, so the spans they open are
    children of the caller's span and the trace goes on across the GenServer hop. Not a
    checkpoint.

    Raises:
      ModuleNotFoundError: OpenTelemetry is not installed (the ``otel`` extra).
    """
    carrier: ContextCarrier = _load_adapter().ContextCarrier()
    return carrier


def instrument(
    *,
    meter_provider: object | None = None,
    tracer_provider: object | None = None,
    spans: bool = True,
) -> Attachment:
    """Record trio_otp's lifecycle events as OpenTelemetry metrics and calls as spans.

    ``meter_provider`` and ``tracer_provider`` are OpenTelemetry providers (by default the
    global ones, as the API's ``get_meter`` and ``get_tracer`` take them); ``spans=False``
    records metrics only. Attached as :func:`trio_otp.events.attach` attaches: inside a
    Trio run for that run only, outside any run for every run. Returns the
    :class:`~trio_otp.events.Attachment`: call it, or leave its ``with`` block, to stop.
    Not a checkpoint.

    While it is attached, every call measures its duration (that is what the events
    handler sees): about the cost of any attached events handler.

    Raises:
      ModuleNotFoundError: OpenTelemetry is not installed (the ``otel`` extra).
      TypeError: ``spans`` is not a bool.
    """
    given = cast("object", spans)  # checked: callers may not be type-checked
    if not isinstance(given, bool):
        msg = f"instrument's spans must be a bool, got {given!r}"
        raise TypeError(msg)
    recorder = _load_adapter().Recorder(meter_provider, tracer_provider, spans=spans)
    from ..events import attach  # noqa: PLC0415

    return attach(recorder)
