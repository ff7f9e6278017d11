"""Calls as OpenTelemetry spans and lifecycle events as metrics (the otel extra), read
back here through the SDK's in-memory exporters; an application would configure an OTLP
exporter instead."""

from __future__ import annotations

import trio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import trio_otp
import trio_otp.otel

#: The packages this example needs (tests/test_docs_examples.py skips it without them).
REQUIRES = ("opentelemetry.sdk",)


class Prices(trio_otp.GenServer[str, float]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[float]) -> float:
        await trio.sleep(0.25)  # a slow lookup
        return 9.99


async def main() -> None:
    spans = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    tracer = tracers.get_tracer("shop")

    with trio_otp.otel.instrument(
        meter_provider=MeterProvider(metric_readers=[metrics]), tracer_provider=tracers
    ):
        async with trio.open_nursery() as nursery:
            prices = await trio_otp.start_server(nursery, Prices, name="prices")
            with tracer.start_as_current_span("checkout"):
                await prices.call("pens")
            nursery.cancel_scope.cancel()

    for span in spans.get_finished_spans():
        parent = "" if span.parent is None else " (child of checkout)"
        print(span.name, dict(span.attributes or {}), f"{span.kind.name}{parent}")
    data = metrics.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    print(metric.name, dict(point.attributes or {}), "sum", getattr(point, "sum", None))
