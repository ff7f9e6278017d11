"""Fetching many pages at once: a bounded stream with a per-page deadline, where a page
that fails or is too slow is reported in its place instead of ending the stream."""

from __future__ import annotations

import contextlib

import trio

import trio_otp

DELAYS = {"/home": 0.5, "/slow": 30.0, "/about": 1.0, "/broken": 0.2}


async def fetch(path: str) -> str:
    await trio.sleep(DELAYS[path])  # a stand-in for the network
    if path == "/broken":
        raise ConnectionError(f"{path}: reset by peer")
    return f"{path}: 200"


async def main() -> None:
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)

        paths = list(DELAYS)
        # In input order; each page gets 5 s from its own start; failures come as TaskExit.
        pages = tasks.map_nolink(fetch, paths, max_concurrency=2, timeout=5, on_timeout="kill_task")
        async with contextlib.aclosing(pages) as results:
            index = 0
            async for result in results:
                if isinstance(result, trio_otp.TaskExit):
                    print(f"{paths[index]}: failed, {type(result.reason).__name__}")
                else:
                    print(result)
                index += 1
        print(f"all done at t={trio.current_time():g} s")

        # Handles: wait for some, and stop the one that takes too long.
        quick = await tasks.spawn(fetch, "/home")
        slow = await tasks.spawn(fetch, "/slow")
        print(await trio_otp.yield_many([quick, slow], timeout=2))
        print(await slow.shutdown())  # None: it was still running, and is now stopped
        nursery.cancel_scope.cancel()
