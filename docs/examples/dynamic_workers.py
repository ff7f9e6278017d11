"""A pool of connection handlers started on demand, found by name, watched, and timed."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import attrs
import trio

import trio_otp


@attrs.define
class Session(trio_otp.GenServer[str, str]):
    user: str
    idle_timeout: float | None = 30.0  # an idle session ends itself

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return f"{self.user}: {request}"

    async def handle_info(self, message: Any) -> trio_otp.Stop[Any] | None:
        if isinstance(message, trio_otp.IdleTimeout) or message == "logout":
            return trio_otp.Stop()
        return None


async def main() -> None:
    sessions: trio_otp.Registry[Any] = trio_otp.Registry(name="sessions")
    tree = trio_otp.Supervisor(
        [
            # Named, so callers anywhere reach them, across restarts, without a ref.
            trio_otp.DynamicSupervisor(max_children=1000, name="pool").child_spec("pool"),
            trio_otp.TaskSupervisor(name="tasks").child_spec("tasks"),
        ],
        strategy=trio_otp.RestartStrategy.ONE_FOR_ONE,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)

        for user in ("ada", "grace"):  # one session per user, under the pool, by name
            name = trio_otp.Via(sessions, user)
            spec = trio_otp.server_spec(
                user, functools.partial(Session, user), name=name, restart=trio_otp.Restart.TRANSIENT
            )
            await trio_otp.start_child("pool", spec)
        print(await trio_otp.call(trio_otp.Via(sessions, "ada"), "hello"))

        grace = trio_otp.whereis(trio_otp.Via(sessions, "grace"))
        assert grace is not None
        watch = trio_otp.monitor(grace)
        trio_otp.send_after(5, grace, "logout")  # a timer
        down = await watch.wait()
        print("grace's session ended", "normally" if down.reason is None else down.reason)

        # Fan work out over the task supervisor, at most 2 at a time, results in order.
        async def lookup(n: int) -> int:
            await trio.sleep(1)
            return n * n

        tasks = trio_otp.whereis("tasks", trio_otp.TaskSupervisorRef)  # typed by the kind
        assert tasks is not None
        async with contextlib.aclosing(tasks.map(lookup, range(5), max_concurrency=2)) as results:
            print([square async for square in results])

        await trio.sleep(60)  # ada's session idles out after 30 s
        assert sessions.whereis("ada") is None
        print("ada's session timed out; the pool is empty:", await trio_otp.which_children("pool") == [])
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
