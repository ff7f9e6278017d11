"""The OpenTelemetry adapter (the ``otel`` extra), read back through the SDK's in-memory
exporters."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
from trio.testing import MockClock

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import trio_otp
import trio_otp.otel
from trio_otp.testing import ScriptedWorkers, settle


class Slow(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        await trio.sleep(2)
        return request


class Telemetry:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.exporter = InMemorySpanExporter()
        self.tracers = TracerProvider()
        self.tracers.add_span_processor(SimpleSpanProcessor(self.exporter))

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(
                            (dict(point.attributes or {}), point) for point in metric.data.data_points
                        )
        return found


async def test_restarts_crashes_and_escalations_are_counted(autojump_clock: MockClock) -> None:
    telemetry = Telemetry()
    workers = ScriptedWorkers()
    tree = trio_otp.Supervisor([workers.spec("db")], name="shop", max_restarts=1)

    async def run_tree() -> None:
        with pytest.raises(trio_otp.RestartIntensityExceeded):
            await tree.run()

    with trio_otp.otel.instrument(meter_provider=telemetry.meters, tracer_provider=telemetry.tracers):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_tree)
            await settle()
            workers.crash("db", OSError("disk"))
            await settle()
            workers.crash("db", OSError("disk"))
    [(restart, restarts)] = telemetry.points("trio_otp.child.restarts")
    assert restart == {
        "trio_otp.supervisor": "'shop'",
        "trio_otp.child_id": "db",
        "trio_otp.strategy": "one_for_one",
    }
    assert restarts.value == 1
    [(crash, crashes)] = telemetry.points("trio_otp.child.crashes")
    assert crash == {"trio_otp.supervisor": "'shop'", "trio_otp.child_id": "db", "error.type": "OSError"}
    assert crashes.value == 2
    [(escalation, escalations)] = telemetry.points("trio_otp.supervisor.escalations")
    assert escalation["error.type"] == "OSError"
    assert escalations.value == 1


async def test_a_call_is_a_span_in_the_callers_trace_and_a_duration(autojump_clock: MockClock) -> None:
    telemetry = Telemetry()
    tracer = telemetry.tracers.get_tracer("the application")
    with trio_otp.otel.instrument(meter_provider=telemetry.meters, tracer_provider=telemetry.tracers):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Slow, name="slow")
            with tracer.start_as_current_span("handle request") as request_span:
                assert await ref.call("hi") == "hi"
                with pytest.raises(trio_otp.CallTimeout):
                    await ref.call("late", timeout=1)
            nursery.cancel_scope.cancel()
    spans = {
        span.name: span for span in telemetry.exporter.get_finished_spans() if span.name != "handle request"
    }
    calls = [span for span in telemetry.exporter.get_finished_spans() if span.name == "trio_otp call"]
    assert len(calls) == 2
    assert set(spans) == {"trio_otp call"}
    ok, failed = calls
    parent = request_span.get_span_context()
    for span in calls:
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == parent.span_id
        assert span.context.trace_id == parent.trace_id
        assert span.attributes is not None
        assert span.attributes["trio_otp.server"] == "Slow 'slow'"
        assert span.end_time is not None
        assert span.start_time is not None
    assert ok.end_time - ok.start_time == pytest.approx(2e9, rel=0.01)  # the virtual 2 s
    assert failed.end_time - failed.start_time == pytest.approx(1e9, rel=0.01)
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["trio_otp.outcome"] == "CallTimeout"
    durations = {
        attributes["trio_otp.outcome"]: point
        for attributes, point in telemetry.points("trio_otp.call.duration")
    }
    assert set(durations) == {"reply", "CallTimeout"}
    assert durations["reply"].count == 1
    assert durations["reply"].sum == pytest.approx(2.0)


async def test_metrics_only(autojump_clock: MockClock) -> None:
    telemetry = Telemetry()
    with trio_otp.otel.instrument(
        meter_provider=telemetry.meters, tracer_provider=telemetry.tracers, spans=False
    ):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Slow)
            await ref.call("hi")
            nursery.cancel_scope.cancel()
    assert telemetry.exporter.get_finished_spans() == ()
    [(_, point)] = telemetry.points("trio_otp.call.duration")
    assert point.count == 1


async def test_detached_it_records_nothing(autojump_clock: MockClock) -> None:
    telemetry = Telemetry()
    detach = trio_otp.otel.instrument(meter_provider=telemetry.meters, tracer_provider=telemetry.tracers)
    detach()
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Slow)
        await ref.call("hi")
        nursery.cancel_scope.cancel()
    assert telemetry.exporter.get_finished_spans() == ()
    assert telemetry.points("trio_otp.call.duration") == []


def test_a_bad_spans_flag() -> None:
    with pytest.raises(TypeError, match="instrument's spans must be a bool, got 'yes'"):
        trio_otp.otel.instrument(spans="yes")  # type: ignore[arg-type]


class Traced(trio_otp.GenServer[str, str]):
    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        with self.tracer.start_as_current_span("look up"):
            return request


async def test_with_the_context_carried_the_handlers_spans_join_the_callers_trace(
    autojump_clock: MockClock,
) -> None:
    telemetry = Telemetry()
    tracer = telemetry.tracers.get_tracer("the application")
    trio_otp.propagate_context(trio_otp.otel.context_carrier())
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, functools.partial(Traced, tracer))
        with tracer.start_as_current_span("handle request") as request_span:
            await ref.call("hi")
        trio_otp.propagate_context()
        await ref.call("untraced")
        nursery.cancel_scope.cancel()
    traced, untraced = [span for span in telemetry.exporter.get_finished_spans() if span.name == "look up"]
    parent = request_span.get_span_context()
    assert traced.parent is not None
    assert traced.parent.span_id == parent.span_id
    assert traced.context.trace_id == parent.trace_id
    assert untraced.parent is None  # the server's own context: a trace of its own
