"""The OpenTelemetry side of :func:`trio_otp.otel.instrument` (imports OpenTelemetry).

The events arrive after the fact: ``call_completed`` is emitted in the calling task when
the reply has arrived, with the call's duration on Trio's clock. So a call's span is made
then, with its start put back by that duration on the wall clock, in the calling task's
OpenTelemetry context, which makes it a child of whatever span the caller had open.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._log_fields import error_type
from .._version import __version__
from ..events import Event


def _text(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


class Recorder:
    """The events handler :func:`instrument` attaches."""

    def __init__(self, meter_provider: Any, tracer_provider: Any, *, spans: bool) -> None:
        meter = metrics.get_meter("trio_otp", __version__, meter_provider=meter_provider)
        self.restarts = meter.create_counter(
            "trio_otp.child.restarts", unit="{restart}", description="Children restarted by their supervisor"
        )
        self.crashes = meter.create_counter(
            "trio_otp.child.crashes", unit="{crash}", description="Children that ended by raising"
        )
        self.escalations = meter.create_counter(
            "trio_otp.supervisor.escalations",
            unit="{escalation}",
            description="Supervisors that gave up: restart intensity exceeded",
        )
        self.call_duration = meter.create_histogram(
            "trio_otp.call.duration", unit="s", description="GenServer calls, from the call to its reply"
        )
        self.tracer = (
            trace.get_tracer("trio_otp", __version__, tracer_provider=tracer_provider) if spans else None
        )

    def __call__(self, event: Event) -> None:
        name, metadata = event.name, event.metadata
        if name == "call_completed":
            self.call(event)
        elif name == "child_restarted":
            self.restarts.add(
                1,
                {
                    "trio_otp.supervisor": _text(metadata["supervisor"]),
                    "trio_otp.child_id": _text(metadata["child_id"]),
                    "trio_otp.strategy": _text(metadata["strategy"]),
                },
            )
        elif name == "child_exited" and metadata.get("kind") == "crash":
            self.crashes.add(1, self.failure(metadata))
        elif name == "supervisor_escalated":
            self.escalations.add(1, self.failure(metadata))

    @staticmethod
    def failure(metadata: Any) -> dict[str, str]:
        error = metadata.get("error")
        return {
            "trio_otp.supervisor": _text(metadata["supervisor"]),
            "trio_otp.child_id": _text(metadata["child_id"]),
            "error.type": error_type(error) if isinstance(error, BaseException) else "none",
        }

    def call(self, event: Event) -> None:
        duration = float(event.measurements["duration"])
        server = _text(event.metadata["server"])
        outcome = _text(event.metadata["outcome"])
        self.call_duration.record(duration, {"trio_otp.server": server, "trio_otp.outcome": outcome})
        if self.tracer is None:
            return
        end = time.time_ns()
        span = self.tracer.start_span(
            "trio_otp call",
            kind=SpanKind.CLIENT,
            start_time=end - int(duration * 1e9),
            attributes={"trio_otp.server": server, "trio_otp.outcome": outcome},
        )
        if outcome != "reply":
            span.set_status(Status(StatusCode.ERROR, outcome))
            span.set_attribute("error.type", outcome)
        span.end(end_time=end)


class ContextCarrier:
    """OpenTelemetry's current context, for :func:`trio_otp.propagate_context`."""

    def capture(self) -> object:
        return otel_context.get_current()

    def enter(self, value: Any) -> object:
        return otel_context.attach(value)

    def exit(self, token: Any) -> None:
        otel_context.detach(token)
