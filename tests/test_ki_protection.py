"""What is KI-protected and what is not: trio_otp's bookkeeping is, the user's code never.

A Ctrl-C must still break an infinite loop in a child, however the child's start function
is written, and trio_otp must never change the protection that Trio or any other code
put on its own functions. ``trio.lowlevel.currently_ki_protected()`` tells, from inside.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Awaitable, Callable
from typing import Any
from unittest import mock

import pytest
import trio
from trio.testing import MockClock

import trio_otp

from .harness import settle


def protected_here() -> bool:
    return trio.lowlevel.currently_ki_protected()


class Worker:
    def __init__(self, seen: list[bool]) -> None:
        self.seen = seen

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        self.seen.append(protected_here())
        task_status.started()
        await trio.sleep_forever()

    async def __call__(self, *, task_status: trio.TaskStatus[None]) -> None:
        await self.run(task_status=task_status)


def start_shapes(seen: list[bool]) -> dict[str, Callable[..., Awaitable[Any]]]:
    """A start function written every way a user might."""

    async def plain(*, task_status: trio.TaskStatus[None]) -> None:
        seen.append(protected_here())
        task_status.started()
        await trio.sleep_forever()

    async def with_arg(label: str, *, task_status: trio.TaskStatus[None]) -> None:
        await plain(task_status=task_status)

    def returns_a_coroutine(*, task_status: trio.TaskStatus[None]) -> Awaitable[None]:
        return plain(task_status=task_status)

    async def side_effect(*, task_status: trio.TaskStatus[None]) -> None:
        await plain(task_status=task_status)

    return {
        "async def": plain,
        "partial": functools.partial(with_arg, "x"),
        "bound method": Worker(seen).run,
        "callable object": Worker(seen),
        "sync function returning a coroutine": returns_a_coroutine,
        "AsyncMock": mock.AsyncMock(side_effect=side_effect),
    }


@pytest.mark.parametrize("shape", list(start_shapes([])))
async def test_a_childs_own_code_is_never_ki_protected(autojump_clock: MockClock, shape: str) -> None:
    seen: list[bool] = []
    start = start_shapes(seen)[shape]
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(trio_otp.DynamicSupervisor().run)
        await pool.start_child(trio_otp.ChildSpec("c", start))
        await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("s", start)]).run)
        nursery.cancel_scope.cancel()
    assert seen == [False, False]


@pytest.mark.parametrize("shape", ["async def", "partial", "bound method", "AsyncMock"])
async def test_a_supervised_tasks_code_is_never_ki_protected(autojump_clock: MockClock, shape: str) -> None:
    seen: list[bool] = []

    async def work(x: int) -> int:
        seen.append(protected_here())
        return x

    class Holder:
        async def work(self, x: int) -> int:
            return await work(x)

    function: Callable[..., Awaitable[int]] = {
        "async def": work,
        "partial": functools.partial(work),
        "bound method": Holder().work,
        "AsyncMock": mock.AsyncMock(side_effect=work),
    }[shape]
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        handle = await tasks.spawn(function, 1)
        assert await handle.result() == 1
        async for _ in tasks.map(function, [2, 3]):
            pass
        # Through the per-item deadline's frame, the nolink stream and a transient task.
        async for _ in tasks.map_nolink(function, [4], timeout=5):
            pass
        transient = await tasks.start_child(function, 5, restart=trio_otp.Restart.TRANSIENT)
        assert await transient.result() == 5
        nursery.cancel_scope.cancel()
    assert seen == [False] * 5


class Callbacks(trio_otp.GenServer[Any, Any]):
    def __init__(self, seen: list[tuple[str, bool]]) -> None:
        self.seen = seen

    async def init(self) -> None:
        self.seen.append(("init", protected_here()))

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        self.seen.append(("call", protected_here()))
        return request

    async def handle_cast(self, request: Any) -> None:
        self.seen.append(("cast", protected_here()))

    async def terminate(self, reason: BaseException | None) -> None:
        self.seen.append(("terminate", protected_here()))


async def test_a_servers_callbacks_are_never_ki_protected(autojump_clock: MockClock) -> None:
    seen: list[tuple[str, bool]] = []
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: Callbacks(seen))
        await ref.call("x")
        ref.cast("y")
        await settle()
        await ref.stop()
    assert seen == [("init", False), ("call", False), ("cast", False), ("terminate", False)]


async def test_the_bookkeeping_is_ki_protected(autojump_clock: MockClock) -> None:
    """Listeners run inside the registry's protected bookkeeping (as the docs say)."""
    seen: list[bool] = []
    registry: trio_otp.Registry[int] = trio_otp.Registry(
        listeners=(lambda _event: seen.append(protected_here()),)
    )
    registry.register("k", 1)
    registry.unregister("k")
    assert seen == [True, True]


async def test_registry_predicates_and_update_functions_are_user_code(autojump_clock: MockClock) -> None:
    """They run before the registry changes, outside its protection; removals still tell
    listeners from inside it."""
    seen: list[tuple[str, bool]] = []
    registry: trio_otp.Registry[int] = trio_otp.Registry(
        listeners=(lambda event: seen.append((event.kind, protected_here())),)
    )
    registry.register("k", 1)

    def predicate(value: int) -> bool:
        seen.append(("predicate", protected_here()))
        return True

    def update(value: int) -> int:
        seen.append(("update", protected_here()))
        return value + 1

    registry.match("k", predicate)
    registry.select(lambda key, entry: predicate(entry.value))
    registry.update_value("k", update)
    registry.unregister_match("k", predicate)
    assert seen == [
        ("register", True),
        ("predicate", False),
        ("predicate", False),
        ("update", False),
        ("predicate", False),
        ("unregister", True),
    ]


def _trio_mark(function: Any) -> bool | None:
    """Trio's own record of a function's protection (a private table: tests only)."""
    from trio._core._ki import _CODE_KI_PROTECTION_STATUS_WMAP  # noqa: PLC0415

    code: types.CodeType = getattr(function, "__func__", function).__code__
    try:
        return _CODE_KI_PROTECTION_STATUS_WMAP[code]
    except KeyError:
        return None


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request


async def test_the_protection_of_library_functions_is_left_alone(autojump_clock: MockClock) -> None:
    """Running a protected library function as a child or a task must not unprotect it."""
    library = [trio.to_thread.run_sync, trio.MemorySendChannel.send, trio_otp.ServerRef.call]
    before = [_trio_mark(function) for function in library]
    send, receive = trio.open_memory_channel[int](10)
    async with trio.open_nursery() as nursery:
        tasks = await nursery.start(trio_otp.TaskSupervisor().run)
        ref = await trio_otp.start_server(nursery, Echo)
        for handle in [
            await tasks.spawn(trio.to_thread.run_sync, sum, [1, 2]),
            await tasks.spawn(send.send, 5),
            await tasks.spawn(ref.call, "hi"),
        ]:
            await handle.result(timeout=None)  # a thread takes real time, not virtual
        trio_otp.ChildSpec("serve", trio_otp.serve_application)
        nursery.cancel_scope.cancel()
    assert receive.receive_nowait() == 5
    assert [_trio_mark(function) for function in library] == before
    assert before == [True, True, True]
    assert _trio_mark(trio_otp.serve_application) is True


if sys.version_info >= (3, 12):

    async def test_a_marked_coroutine_function_is_not_trusted_either(autojump_clock: MockClock) -> None:
        seen: list[bool] = []

        async def body(*, task_status: trio.TaskStatus[None]) -> None:
            seen.append(protected_here())
            task_status.started()
            await trio.sleep_forever()

        def start(*, task_status: trio.TaskStatus[None]) -> Awaitable[None]:
            return body(task_status=task_status)

        import inspect  # noqa: PLC0415

        inspect.markcoroutinefunction(start)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("s", start)]).run)
            nursery.cancel_scope.cancel()
        assert seen == [False]
