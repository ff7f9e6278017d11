"""Registry: unique names, duplicate groups, removal with the owner, listeners, dispatch."""

from __future__ import annotations

import re
import sys
from functools import partial
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


async def test_a_task_with_many_keys_is_forgotten_in_linear_time(autojump_clock: MockClock) -> None:
    # A subscriber to n topics ends: its removal runs inside Trio's scheduler, so it must
    # cost O(n), not a copy of the task's remaining keys per key (n * n / 2 steps: 16 s of
    # frozen event loop for 32,000 topics). The work is counted (C calls seen by a
    # profiler from the task's last moment until it is forgotten), not timed.
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "c_call":
            calls += 1

    n = 1000
    registry: Registry[None] = Registry(Keys.DUPLICATE)
    heard: list[trio_otp.RegistryEvent] = []
    registry.add_listener(heard.append)

    async def subscriber() -> None:
        for number in range(n):
            registry.register(("topic", number), None)
        registry.register(("topic", 0), None)  # twice under one key: both entries go
        sys.setprofile(count)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(subscriber)
    finally:
        sys.setprofile(None)
    assert registry.count() == 0
    assert len([event for event in heard if event.kind == "unregister"]) == n + 1
    assert calls < 30 * n


async def test_unregistering_one_key_does_not_scan_the_tasks_other_keys(autojump_clock: MockClock) -> None:
    # The docs promise O(entries under the key), whatever else the task holds: a
    # subscriber to many topics leaving one compares no key but that one.
    comparisons = 0

    @attrs.frozen(eq=False)
    class Topic:
        number: int

        def __hash__(self) -> int:
            return self.number

        def __eq__(self, other: object) -> bool:
            nonlocal comparisons
            comparisons += 1
            return isinstance(other, Topic) and other.number == self.number

    registry: Registry[int] = Registry(Keys.DUPLICATE)
    for number in range(1000):
        registry.register(Topic(number), number)
    comparisons = 0
    registry.register(Topic(-1), 1)
    registry.register(Topic(-1), 2)
    assert registry.unregister_match(Topic(-1), lambda value: value == 1) == 1
    registry.unregister(Topic(-1))
    assert comparisons < 50  # a few dict lookups of the key itself, not 1000 others
    assert registry.keys_of()[-1] == Topic(999)
    assert registry.count() == 1000


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


class _SlowToStop(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request

    async def terminate(self, reason: BaseException | None) -> None:
        await trio.sleep(10)


async def test_calls_by_name_that_miss_the_fast_lookup_raise_as_whereis_would(
    autojump_clock: MockClock,
) -> None:
    # A call or cast by a plain name first looks in the default registry without
    # whereis's checks; whatever that finds other than a running server must raise
    # exactly what the checked path raises.
    with pytest.raises(TypeError, match="name must be hashable"):
        await trio_otp.call(["unhashable"], "hi")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]
    with pytest.raises(TypeError, match="name must be hashable"):
        trio_otp.cast(["unhashable"], "hi")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([], name="tree").run)
        with pytest.raises(TypeError, match="'tree' names <SupervisorRef"):
            await trio_otp.call("tree", "hi")
        ref = await trio_otp.start_server(nursery, _SlowToStop, name="slow")
        assert await trio_otp.call("slow", "hi") == "hi"
        nursery.start_soon(partial(ref.stop, timeout=None))
        await settle()  # in terminate: still holds its name, accepts nothing
        assert trio_otp.whereis("slow") is None
        with pytest.raises(trio_otp.ServerNotRunning, match="no running server is registered as 'slow'"):
            await trio_otp.call("slow", "hi")
        with pytest.raises(trio_otp.ServerNotRunning):
            trio_otp.cast("slow", "hi")
        via = trio_otp.Via(Registry[Any](name="mine"), "key")
        with pytest.raises(trio_otp.ServerNotRunning, match="no running server is registered as"):
            await trio_otp.call(via, "hi")
        nursery.cancel_scope.cancel()


async def test_whereis_by_a_plain_name_answers_as_its_checked_path(autojump_clock: MockClock) -> None:
    """whereis looks a plain name up directly and falls back to its checks only when
    that fails: every answer must be the checked path's."""
    with pytest.raises(TypeError, match="name must be hashable"):  # before any name in the run
        trio_otp.whereis(["unhashable"])
    assert trio_otp.whereis("nobody") is None
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, _SlowToStop, name="slow")
        assert trio_otp.whereis("slow") is ref
        assert trio_otp.whereis("slow", trio_otp.ServerRef) is ref
        with pytest.raises(TypeError, match="name must be hashable"):
            trio_otp.whereis(["unhashable"])
        assert trio_otp.whereis("nobody") is None
        nursery.start_soon(partial(ref.stop, timeout=None))
        await settle()  # in terminate: still holds its name, accepts nothing
        assert trio_otp.whereis("slow") is None
        nursery.cancel_scope.cancel()


def test_an_unhashable_name_outside_a_run_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="name must be hashable"):
        trio_otp.cast(["unhashable"], "hi")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="name must be hashable"):
        trio_otp.send({}, "hi")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_keys_are_checked() -> None:
    with pytest.raises(TypeError, match=r"Keys\.UNIQUE or Keys\.DUPLICATE"):
        Registry("unique")  # type: ignore[arg-type]


#: Every public method that takes a key, called with the key ``["k"]``.
KEY_TAKERS: dict[str, Any] = {
    "lookup": lambda registry, key: registry.lookup(key),
    "whereis": lambda registry, key: registry.whereis(key),
    "unregister": lambda registry, key: registry.unregister(key),
    "dispatch": lambda registry, key: registry.dispatch(key, lambda entries: None),
    "match": lambda registry, key: registry.match(key),
    "match with a predicate": lambda registry, key: registry.match(key, lambda value: True),
    "count_match": lambda registry, key: registry.count_match(key),
    "values": lambda registry, key: registry.values(key),
    "update_value": lambda registry, key: registry.update_value(key, lambda value: value),
    "unregister_match": lambda registry, key: registry.unregister_match(key, lambda value: True),
    "register": lambda registry, key: registry.register(key, 1),
    "meta": lambda registry, key: registry.meta(key),
    "put_meta": lambda registry, key: registry.put_meta(key, 1),
    "delete_meta": lambda registry, key: registry.delete_meta(key),
}


@pytest.mark.parametrize("method", list(KEY_TAKERS))
async def test_an_unhashable_key_is_refused_clearly_by_every_method(
    autojump_clock: MockClock, method: str
) -> None:
    registry: Registry[int] = Registry()
    registry.register("k", 1)
    with pytest.raises(TypeError) as raised:
        KEY_TAKERS[method](registry, ["k"])
    message = str(raised.value)
    assert "must be hashable" in message, message
    assert "['k'] (of type list)" in message, message
    if method not in {"register", "meta", "put_meta", "delete_meta"}:
        assert f"Registry.{method.split(maxsplit=1)[0]}'s key" in message, message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert registry.whereis("k") == 1  # nothing changed


class TouchyKey:
    """Hashable, but comparing it to an equal-hashing key raises: its own error."""

    def __hash__(self) -> int:
        return hash("k")

    def __eq__(self, other: object) -> bool:
        raise TypeError("TouchyKey cannot be compared")


async def test_a_hashable_keys_own_type_error_is_not_relabelled(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry()
    registry.register("k", 1)
    for method in ["lookup", "whereis", "unregister", "match", "count_match", "values", "dispatch"]:
        with pytest.raises(TypeError, match="TouchyKey cannot be compared"):
            KEY_TAKERS[method](registry, TouchyKey())


async def test_keys_of_refuses_what_is_not_a_task(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry()
    rule = "Registry.keys_of's task must be None or a Trio task, got "
    with pytest.raises(TypeError, match=re.escape(rule + "['t'] (of type list)")):
        registry.keys_of(["t"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape(rule + "'t' (of type str)")):
        registry.keys_of("t")  # type: ignore[arg-type]


# -- queries and updates, as Elixir's Registry --


async def test_match_and_count_match_filter_the_entries_under_a_key(autojump_clock: MockClock) -> None:
    registry: Registry[dict[str, int]] = Registry(Keys.DUPLICATE)
    owners: dict[int, trio.lowlevel.Task] = {}

    async def member(n: int) -> None:
        owners[n] = trio.lowlevel.current_task()
        registry.register("jobs", {"priority": n % 3})
        registry.register("other", {"priority": 2})
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        for n in range(6):
            nursery.start_soon(member, n)
        await settle()
        urgent = registry.match("jobs", lambda value: value["priority"] == 2)
        assert {entry.owner for entry in urgent} == {owners[2], owners[5]}
        assert registry.count_match("jobs", lambda value: value["priority"] == 2) == 2
        assert registry.count_match("jobs") == 6
        assert len(registry.match("jobs")) == 6
        assert registry.match("none", lambda value: True) == []
        assert registry.count_match("none") == 0
        nursery.cancel_scope.cancel()


async def test_match_looks_only_under_its_key(autojump_clock: MockClock) -> None:
    """O(entries under the key): a predicate is never shown another key's values."""
    registry: Registry[int] = Registry(Keys.DUPLICATE)
    for n in range(100):
        registry.register(n, n)
    seen: list[int] = []

    def looking(value: int) -> bool:
        seen.append(value)
        return True

    assert [entry.value for entry in registry.match(7, looking)] == [7]
    assert registry.count_match(8, looking) == 1
    assert seen == [7, 8]


async def test_values_are_the_tasks_own(autojump_clock: MockClock) -> None:
    registry: Registry[str] = Registry(Keys.DUPLICATE)
    registry.register("k", "mine")
    registry.register("k", "mine too")
    other: list[trio.lowlevel.Task] = []

    async def someone_else() -> None:
        other.append(trio.lowlevel.current_task())
        registry.register("k", "theirs")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(someone_else)
        await settle()
        assert registry.values("k") == ["mine", "mine too"]
        assert registry.values("k", other[0]) == ["theirs"]
        assert registry.values("nothing") == []
        nursery.cancel_scope.cancel()


async def test_update_value_changes_the_current_tasks_entry(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry()
    heard: list[str] = []
    registry.add_listener(lambda event: heard.append(event.kind))
    registry.register("counter", 1)
    assert registry.update_value("counter", lambda old: old + 10) == (11, 1)
    assert registry.whereis("counter") == 11
    assert registry.update_value("absent", lambda old: old) is None
    assert heard == ["register"]  # an update is not a registration

    def broken(old: int) -> int:
        raise RuntimeError(old)

    with pytest.raises(RuntimeError):
        registry.update_value("counter", broken)
    assert registry.whereis("counter") == 11  # unchanged

    async def not_the_owner() -> None:
        assert registry.update_value("counter", lambda old: 0) is None

    async with trio.open_nursery() as nursery:
        nursery.start_soon(not_the_owner)
    assert registry.whereis("counter") == 11
    registry.unregister("counter")
    assert registry.count() == 0


async def test_unregister_match_removes_only_matching_own_entries(autojump_clock: MockClock) -> None:
    registry: Registry[str] = Registry(Keys.DUPLICATE)
    gone: list[str] = []
    registry.add_listener(
        lambda event: gone.append(event.entry.value) if event.kind == "unregister" else None
    )
    for value in ("a1", "b1", "a2"):
        registry.register("k", value)
    registry.register("j", "a3")

    async def other() -> None:
        registry.register("k", "a-other")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await settle()
        assert registry.unregister_match("k", lambda value: value.startswith("a")) == 2
        assert gone == ["a1", "a2"]
        assert sorted(entry.value for entry in registry.lookup("k")) == ["a-other", "b1"]
        assert registry.keys_of() == ["k", "j"]  # still under "k" (b1) and "j"
        assert registry.count() == 3
        registry.unregister_match("k", lambda value: True)
        assert registry.keys_of() == ["j"]
        nursery.cancel_scope.cancel()
    # Ending still removes the rest, from both indexes.
    assert registry.values("j") == ["a3"]
    registry.unregister("j")
    assert registry.count() == 0
    assert registry.keys_of() == []


async def test_select_and_count_select_scan_every_entry(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry(Keys.DUPLICATE)
    for key, value in [("a", 1), ("b", 2), ("a", 3), (("room", 1), 4)]:
        registry.register(key, value)
    me = trio.lowlevel.current_task()
    picked = registry.select(lambda key, entry: isinstance(key, str) and entry.value > 1)
    assert [(key, entry.value) for key, entry in picked] == [("a", 3), ("b", 2)]
    assert registry.count_select(lambda key, entry: entry.owner is me) == 4
    rooms = registry.select(lambda key, entry: isinstance(key, tuple) and key[0] == "room")
    assert [key for key, _ in rooms] == [("room", 1)]


async def test_count_is_kept_as_entries_come_and_go(autojump_clock: MockClock) -> None:
    registry: Registry[int] = Registry(Keys.DUPLICATE)

    async def member(n: int) -> None:
        registry.register("g", n)
        registry.register(n, n)
        await trio.sleep(n)

    async with trio.open_nursery() as nursery:
        for n in (1, 2, 3):
            nursery.start_soon(member, n)
        await settle()
        assert registry.count() == 6
        await trio.sleep(1.5)
        assert registry.count() == 4
    assert registry.count() == 0


def test_meta_belongs_to_the_registry() -> None:
    registry: Registry[Any] = Registry(meta={"shards": 4})
    assert registry.meta("shards") == 4
    assert registry.meta("absent") is None
    assert registry.meta("absent", "default") == "default"
    registry.put_meta(("owner", 1), "ops")
    assert registry.meta(("owner", 1)) == "ops"
    registry.delete_meta("shards")
    registry.delete_meta("shards")  # nothing to delete: no error
    assert registry.meta("shards") is None
