"""trio_otp under anyio: its trio backend works; asyncio gets a clear error at the first
entry point, not an AttributeError from inside Trio."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import trio

import trio_otp

anyio = pytest.importorskip("anyio")  # a test dependency, not installed by tests_oldest


class Echo(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request


def _worker_tree() -> trio_otp.Supervisor:
    async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    return trio_otp.Supervisor([trio_otp.ChildSpec("w", worker)])


ENTRY_POINTS: dict[str, Callable[[], Awaitable[object]]] = {
    "Supervisor.run": lambda: _worker_tree().run(),
    "DynamicSupervisor.run": lambda: trio_otp.DynamicSupervisor().run(),
    "TaskSupervisor.run": lambda: trio_otp.TaskSupervisor().run(),
    "trio_otp.serve": lambda: trio_otp.serve(Echo),
    "trio_otp.serve_application": lambda: trio_otp.serve_application(_worker_tree()),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_under_anyio_asyncio_each_entry_point_names_the_backend(entry: str) -> None:
    async def main() -> None:
        await ENTRY_POINTS[entry]()

    with pytest.raises(RuntimeError, match=rf"{entry} needs Trio, but is running under asyncio") as caught:
        anyio.run(main, backend="asyncio")
    assert "backend='trio'" in str(caught.value)


def test_under_plain_asyncio_start_server_names_the_backend() -> None:
    async def main() -> None:
        await trio_otp.start_server(None, Echo)  # type: ignore[arg-type]

    with pytest.raises(RuntimeError, match=r"trio_otp.start_server needs Trio, but is running under asyncio"):
        asyncio.run(main())


def test_under_anyio_trio_backend_a_tree_runs() -> None:
    async def main() -> str:
        async with trio.open_nursery() as nursery:
            root = await nursery.start(_worker_tree().run)
            server = await trio_otp.start_server(nursery, Echo)
            reply = await server.call("hello")
            assert [info.id for info in await root.which_children()] == ["w"]
            nursery.cancel_scope.cancel()
        return reply

    assert anyio.run(main, backend="trio") == "hello"
