"""Registry: unique names, duplicate groups, removal with the owner, listeners, dispatch."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import Keys, Registry
from trio_otp.testing import settle


async def test_unique_keys(autojump_clock: MockClock) -> None:
    registry: Registry[str] = Registry(name="names")
    registry.register("a", "first")
    assert registry.whereis("a") == "first"
    [entry] = registry.lookup("a")
    assert entry.owner is trio.lowlevel.current_task()
    with pytest.raises(trio_otp.AlreadyRegistered, match="'a' is already registered in registry 'names'"):
        registry.register("a", "second")
    registry.unregister("a")
    assert registry.whereis("a") is None
    assert registry.lookup("a") == []


async def test_entries_go_when_their_task_ends(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry(Keys.DUPLICATE)

    async def member(n: int, crash: bool) -> None:
        registry.register("group", n)
        await trio.sleep(n)
        if crash:
            raise RuntimeError(n)

    with pytest.RaisesGroup(RuntimeError):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(member, 1, False)
            nursery.start_soon(member, 2, True)
            nursery.start_soon(member, 3, False)
            await settle()
            assert sorted(entry.value for entry in registry.lookup("group")) == [1, 2, 3]
            await trio.sleep(1.5)
            assert sorted(entry.value for entry in registry.lookup("group")) == [2, 3]
    assert registry.count() == 0


async def test_entries_in_several_registries_go_with_their_task(autojump_clock: MockClock) -> None:
    """An owner that empties one registry by hand, registers there again and also holds
    entries elsewhere still loses every entry when it ends."""
    names: Registry[str] = Registry()
    groups: Registry[str] = Registry(Keys.DUPLICATE)

    async def owner() -> None:
        names.register("a", "x")
        groups.register("g", "x")
        groups.register("g", "y")
        names.unregister("a")
        names.register("b", "x")
        await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        await settle()
        assert (names.whereis("a"), names.whereis("b"), len(groups.lookup("g"))) == (None, "x", 2)
    assert (names.count(), groups.count()) == (0, 0)


async def test_listeners_hear_register_and_unregister(autojump_clock: MockClock) -> None:
    events: list[tuple[str, Any, Any]] = []
    registry: Registry[str] = Registry(listeners=(lambda e: events.append((e.kind, e.key, e.entry.value)),))

    async def owner() -> None:
        registry.register("k", "v")
        await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
    assert events == [("register", "k", "v"), ("unregister", "k", "v")]


async def test_dispatch_publishes_to_a_group(autojump_clock: MockClock) -> None:
    @attrs.define
    class Subscriber(trio_otp.GenServer[str, list[str]]):
        registry: Registry[trio_otp.ServerRef[Any, Any]]
        seen: list[str] = attrs.field(factory=list)

        async def init(self) -> None:
            ref = trio_otp.whereis(("subscriber", id(self)))
            assert ref is not None
            self.registry.register("news", ref)

        async def handle_call(self, request: str, caller: trio_otp.Caller[list[str]]) -> list[str]:
            return self.seen

        async def handle_info(self, message: Any) -> None:
            self.seen.append(message)

    pubsub: Registry[trio_otp.ServerRef[Any, Any]] = Registry(Keys.DUPLICATE)
    async with trio.open_nursery() as nursery:
        subscribers = []
        for _ in range(3):
            state = Subscriber(pubsub)
            subscribers.append(
                await trio_otp.start_server(nursery, lambda s=state: s, name=("subscriber", id(state)))
            )
        pubsub.dispatch("news", lambda entries: [entry.value.send("hello") for entry in entries])
        pubsub.dispatch("nothing here", lambda entries: pytest.fail("no entries, no call"))
        for ref in subscribers:
            assert await ref.call("seen?") == ["hello"]
            await ref.stop()
        assert pubsub.lookup("news") == []


@attrs.define
class Counter(trio_otp.GenServer[str, int]):
    total: int = 0

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        if request == "crash":
            raise RuntimeError("crash")
        self.total += 1
        return self.total

    async def handle_cast(self, request: object) -> None:
        self.total += 1


async def test_a_crashed_servers_name_is_taken_by_its_restart(autojump_clock: MockClock) -> None:
    names: Registry[Any] = Registry(name="services")
    name = trio_otp.Via(names, "counter")
    async with trio.open_nursery() as nursery:
        await nursery.start(
            trio_otp.Supervisor([trio_otp.server_spec("c", Counter, name=name)], max_restarts=5).run
        )
        first = trio_otp.whereis(name)
        assert await trio_otp.call(name, "add") == 1
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call(name, "crash")
        await settle()
        second = trio_otp.whereis(name)
        assert second is not None
        assert second is not first
        assert await trio_otp.call(name, "add") == 1  # a caller by name survives the restart
        trio_otp.cast(name, "add")  # a cast by name reaches the new one too
        assert await trio_otp.call(name, "add") == 3
        assert trio_otp.whereis("counter") is None  # the default registry is another one
        nursery.cancel_scope.cancel()


async def test_call_by_an_unknown_name(autojump_clock: MockClock) -> None:
    with pytest.raises(trio_otp.ServerNotRunning, match="no running server is registered as 'nobody'"):
        await trio_otp.call("nobody", "hi")
    with pytest.raises(trio_otp.ServerNotRunning):
        trio_otp.send("nobody", "hi")


def test_keys_are_checked() -> None:
    with pytest.raises(TypeError, match=r"Keys\.UNIQUE or Keys\.DUPLICATE"):
        Registry("unique")  # type: ignore[arg-type]
