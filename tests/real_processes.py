"""Helpers for the tests that drive real OS processes under real time (MockClock's
autojump cannot: what they wait for happens in other processes)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Awaitable, Callable

import trio


def run(test: Callable[[], Awaitable[None]], limit: float = 20.0) -> None:
    """Run ``test`` in a Trio run of its own, failing it after ``limit`` seconds (for a
    whole test on a loaded machine; a healthy run takes well under one)."""

    async def bounded() -> None:
        with trio.fail_after(limit):
            await test()

    trio.run(bounded)


def gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs: reaped, or a zombie nobody has reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` every 10 ms: other processes cannot set a trio.Event."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.01)
