"""Actor classes for the Ray tests (importable by Ray's workers, which unpickle them by
reference), and the Ray start-up settings the tests share."""

from __future__ import annotations

import os
import pathlib
import time

#: A small fixed resource set: the machine is shared, and each actor is a process.
RAY_INIT = {
    "num_cpus": 2,
    "object_store_memory": 80 * 1024 * 1024,
    "include_dashboard": False,
    "log_to_driver": False,
}
#: Health checks every 200 ms, dead after 3 misses: a node loss is detected in about a second.
FAST_HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 200,
    "health_check_timeout_ms": 200,
    "health_check_failure_threshold": 3,
}
#: Actors take no CPU, so that the tests' few actors always fit.
NO_CPU = {"num_cpus": 0}


class Counter:
    """State that a restart loses."""

    def __init__(self, start: int = 0, marker: str | None = None) -> None:
        self.value = start
        self.marker = marker

    def add(self, amount: int) -> int:
        self.value += amount
        return self.value

    def pid(self) -> int:
        return os.getpid()

    def node_id(self) -> str:
        import ray  # noqa: PLC0415 - only in the worker

        return str(ray.get_runtime_context().get_node_id())

    def crash(self) -> None:
        os._exit(3)

    def fail(self) -> None:
        msg = "method failed"
        raise ValueError(msg)

    def sleep(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    def finish(self, shutdown: bool = False) -> None:
        from trio_otp.ray import end_actor  # noqa: PLC0415 - only in the worker

        end_actor(shutdown=shutdown)

    def terminate(self) -> None:
        if self.marker is not None:
            pathlib.Path(self.marker).write_text("terminated")


class SlowToStop(Counter):
    """A terminate() that takes longer than any shutdown budget in the tests."""

    def terminate(self) -> None:
        time.sleep(60)


class BrokenConstructor:
    def __init__(self) -> None:
        msg = "no"
        raise RuntimeError(msg)
