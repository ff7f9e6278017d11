"""Jobs for tests/test_worker_pool.py: module-level functions, so that a worker process
can import them by name."""

from __future__ import annotations

import faulthandler
import os
import pathlib
import signal
import time


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


def exit_with(status: int) -> None:
    os._exit(status)


def kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)


def segfault() -> None:
    faulthandler.disable()  # no traceback dump on the test's stderr
    faulthandler._sigsegv()  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]


def exit_cleanly() -> None:
    raise SystemExit(0)


def sleep_then_mark(seconds: float, path: str) -> None:
    """Write ``path.started``, sleep, and write ``path`` in a finally block: proof that a
    stopped job unwound (stopping it before it starts proves nothing)."""
    try:
        # Inside the try: the test may see the file, and stop the job, while it is written.
        pathlib.Path(path + ".started").write_text("started")
        time.sleep(seconds)
    finally:
        pathlib.Path(path).write_text("unwound")


def ignore_interrupts(seconds: float) -> None:
    """A job that refuses to stop: it swallows KeyboardInterrupt until ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.01)
        except KeyboardInterrupt:
            pass


def sleep_and_return(seconds: float, value: object) -> object:
    time.sleep(seconds)
    return value


class Unpicklable(Exception):
    """An exception the parent cannot rebuild: its __init__ needs two arguments."""

    def __init__(self, a: object, b: object) -> None:
        super().__init__(f"{a} {b}")


def raise_unpicklable() -> None:
    raise Unpicklable(1, 2)


def return_unpicklable() -> object:
    return lambda: None


def echo(value: object) -> object:
    return value
