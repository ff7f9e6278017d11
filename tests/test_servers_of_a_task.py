"""Which server a task is: a registry entry belongs to the server its task ran when it
registered, a task runs a serve nested in a callback until it ends, and every server
is listed once by processes(), however its task came to run it."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import _processes

from .harness import settle


@attrs.define
class Echo(trio_otp.GenServer[Any, Any]):
    tag: str = "echo"
    group: str | None = None
    registry: Any = None

    async def init(self) -> None:
        if self.group is not None:
            self.registry.register(self.group, None)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return self.tag


async def test_a_group_the_outer_server_joined_is_not_answered_by_a_nested_one(
    autojump_clock: MockClock,
) -> None:
    """Outer registers in 'outer-group'; while its callback runs a nested Inner, a
    multi_call to 'outer-group' goes to Outer (busy, so it times out), not to Inner."""
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)

    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def init(self) -> None:
            registry.register("outer-group", None)

        async def handle_cast(self, request: Any) -> None:
            await trio_otp.serve(lambda: Echo("inner"))

    async with trio.open_nursery() as nursery:
        outer = await trio_otp.start_server(nursery, Outer)
        outer.cast("nest")
        await settle()
        replies, bad = await trio_otp.multi_call(registry, "outer-group", "who", timeout=0.1)
        # Outer is busy in a callback: it should time out, not be answered by Inner.
        assert [r for _, r in replies] != ["inner"], (replies, bad)
        nursery.cancel_scope.cancel()


async def test_a_nested_servers_entry_that_outlives_it_is_not_the_outer_server(
    autojump_clock: MockClock,
) -> None:
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)

    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> None:
            await trio_otp.serve(lambda: Echo("inner", "inner-group", registry), start_timeout=None)

        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            return "outer"

    async with trio.open_nursery() as nursery:
        outer = await trio_otp.start_server(nursery, Outer)
        outer.cast("nest")
        await settle()
        [inner] = [p.ref for p in trio_otp.processes() if p.ref is not outer]
        await inner.stop()
        await settle()
        replies, bad = await trio_otp.multi_call(registry, "inner-group", "who", timeout=0.1)
        # Outer never joined inner-group, yet it is now a member of it.
        assert (replies, bad) == ([], []) or all(ref is not outer for ref, _ in replies + bad), (replies, bad)
        nursery.cancel_scope.cancel()


async def test_a_second_serve_in_a_childs_task_after_its_first_ended_is_listed(
    autojump_clock: MockClock,
) -> None:
    @attrs.define
    class Quick(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> trio_otp.Stop[Any]:
            return trio_otp.Stop()

    async def two(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await trio_otp.serve(Quick, task_status=task_status)
        await trio_otp.serve(lambda: Echo("second"))

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("w", two)]).run)
        [child] = await sup.which_children()
        child.ref.cast("stop")
        await settle()
        labels = [p.label for p in trio_otp.processes()]
        assert any("Echo" in label for label in labels), labels
        nursery.cancel_scope.cancel()


async def test_a_member_whose_server_ended_while_its_task_goes_on_is_not_running(
    autojump_clock: MockClock,
) -> None:
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)
    go = trio.Event()

    @attrs.define
    class Member(trio_otp.GenServer[Any, Any]):
        async def init(self) -> None:
            registry.register("g", None)

        async def handle_cast(self, request: Any) -> trio_otp.Stop[Any]:
            return trio_otp.Stop()

    async def member(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await trio_otp.serve(Member, task_status=task_status)
        await go.wait()  # some clean-up after the server ended

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(
            trio_otp.Supervisor([trio_otp.ChildSpec("m", member, restart=trio_otp.Restart.TEMPORARY)]).run
        )
        [child] = await sup.which_children()
        child.ref.cast("stop")
        await settle()
        replies, _bad = await trio_otp.multi_call(registry, "g", "x", timeout=0.1)  # TypeError?
        assert replies == []
        go.set()
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("how", ["crash", "stop", "ignore", "timeout", "cancel", "ki"])
async def test_a_nested_serve_that_fails_in_init_leaves_no_link(autojump_clock: MockClock, how: str) -> None:
    seen: list[object] = []

    @attrs.define
    class Bad(trio_otp.GenServer[Any, Any]):
        async def init(self) -> Any:
            if how == "crash":
                raise ValueError("x")
            if how == "stop":
                return trio_otp.Stop("no")
            if how == "ignore":
                return trio_otp.Ignore
            if how == "ki":
                raise KeyboardInterrupt
            if how == "cancel":
                raise trio.Cancelled._create()  # type: ignore[attr-defined]
            await trio.sleep_forever()
            return None

    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            try:
                await trio_otp.serve(Bad, start_timeout=1)
            except BaseException as e:
                seen.append(type(e).__name__)
            return (trio_otp.current_server(), self_ref[0]._process.inner)

    self_ref: list[Any] = []
    async with trio.open_nursery() as nursery:
        outer = await trio_otp.start_server(nursery, Outer)
        self_ref.append(outer)
        who, inner = await outer.call("go", timeout=10)
        assert who is outer, seen
        assert inner is None
        assert [p.ref for p in trio_otp.processes()] == [outer]
        assert len(_processes._table.get({})) == 1
        nursery.cancel_scope.cancel()


async def test_a_nested_server_under_a_supervisor_is_listed_once(autojump_clock: MockClock) -> None:
    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> None:
            await trio_otp.serve(lambda: Echo("inner"))

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(trio_otp.Supervisor([trio_otp.server_spec("o", Outer)]).run)
        [child] = await sup.which_children()
        child.ref.cast("nest")
        await settle()
        infos = trio_otp.processes()
        refs = [p.ref for p in infos]
        assert len(refs) == len(set(map(id, refs))) == 3, infos
        nursery.cancel_scope.cancel()


async def test_a_state_machine_nested_in_a_gen_server(autojump_clock: MockClock) -> None:
    seen: list[object] = []

    @attrs.define
    class SM(trio_otp.StateMachine[Any, Any, Any, Any]):
        async def init(self) -> Any:
            seen.append(trio_otp.current_server())
            return trio_otp.NextState("s", None)

        async def handle_event(self, event: Any, state: Any, data: Any) -> Any:
            if isinstance(event, trio_otp.CallEvent):
                event.caller.reply(trio_otp.current_server())
            return None

    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> None:
            await trio_otp.serve_state_machine(SM)
            seen.append(trio_otp.current_server())

    async with trio.open_nursery() as nursery:
        outer = await trio_otp.start_server(nursery, Outer)
        outer.cast("nest")
        await settle()
        [sm] = seen
        assert await sm.call("who") is sm
        await sm.stop()
        await settle()
        assert seen == [sm, outer]
        assert outer._process.inner is None
        assert len(_processes._table.get({})) == 1
        nursery.cancel_scope.cancel()


async def test_three_levels_of_nested_serve(autojump_clock: MockClock) -> None:
    seen: list[object] = []

    @attrs.define
    class Level(trio_otp.GenServer[Any, Any]):
        depth: int

        async def handle_cast(self, request: Any) -> None:
            seen.append(("in", self.depth, trio_otp.current_server()))
            if self.depth < 3:
                await trio_otp.serve(lambda: Level(self.depth + 1))
                seen.append(("back", self.depth, trio_otp.current_server()))

        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            return trio_otp.Stop(reply="bye")

    async with trio.open_nursery() as nursery:
        one = await trio_otp.start_server(nursery, lambda: Level(1))
        one.cast("go")
        await settle()
        [_, two] = [p.ref for p in trio_otp.processes()]
        two.cast("go")
        await settle()
        refs = [p.ref for p in trio_otp.processes()]
        assert len(refs) == 3
        three = refs[2]
        assert await three.call("stop") == "bye"
        await settle()
        assert seen[-1] == ("back", 2, two)
        assert await two.call("stop") == "bye"
        await settle()
        assert seen[-1] == ("back", 1, one)
        assert one._process.inner is None
        assert len(_processes._table.get({})) == 1
        nursery.cancel_scope.cancel()


@attrs.define
class Listed(trio_otp.GenServer[Any, Any]):
    pass


async def test_a_worker_that_serves_after_reporting_ready_is_listed(autojump_clock: MockClock) -> None:
    async def worker(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started("handle")
        await trio_otp.serve(Listed)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("w", worker)]).run)
        await settle()
        kinds = [(p.kind, p.label) for p in trio_otp.processes()]
        assert ("server", "Listed") in kinds, kinds
        nursery.cancel_scope.cancel()
