"""PartitionSupervisor: N copies of a child spec, and Partition(name, key) routing to one."""

from __future__ import annotations

import functools
import os
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import Partition, PartitionSupervisor
from trio_otp.testing import settle


@attrs.define
class Shard(trio_otp.GenServer[Any, Any]):
    """Counts per key; knows which partition it is."""

    partition: int
    counts: dict[object, int] = attrs.field(factory=dict[object, int])

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "crash":
            raise RuntimeError("shard crash")
        if request == "partition":
            return self.partition
        if request == "counts":
            return dict(self.counts)
        self.counts[request] = self.counts.get(request, 0) + 1
        return (self.partition, self.counts[request])


async def shard(partition: int, *, task_status: trio.TaskStatus[trio_otp.ServerRef[Any, Any]]) -> None:
    await trio_otp.serve(functools.partial(Shard, partition), task_status=task_status)


def shards(partitions: int = 4, **options: Any) -> PartitionSupervisor[trio_otp.ServerRef[Any, Any]]:
    spec: trio_otp.ChildSpec[trio_otp.ServerRef[Any, Any]] = trio_otp.ChildSpec("shard", shard, args=(-1,))
    return PartitionSupervisor(
        spec,
        name="shards",
        partitions=partitions,
        with_arguments=lambda args, partition: (partition,),
        **options,
    )


async def test_partitions_are_children_numbered_from_zero(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(shards().run)
        infos = await sup.which_children()
        assert sorted(info.id for info in infos) == [0, 1, 2, 3]
        for info in infos:
            ref = info.ref_as(trio_otp.ServerRef[Any, Any])
            assert await ref.call("partition") == info.id  # with_arguments gave each its number
        assert trio_otp.whereis("shards", trio_otp.SupervisorRef) is sup
        assert (await sup.count_children()).active == 4
        nursery.cancel_scope.cancel()


async def test_a_key_always_reaches_the_same_partition(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(shards().run)
        # Whole numbers as Elixir routes them: abs(key) % partitions.
        for key, partition in [(0, 0), (5, 1), (-6, 2), (7, 3), (1_000_003, 3)]:
            assert await trio_otp.call(Partition("shards", key), "partition") == partition
        # Other keys by hash: one partition per key, and the state stays there.
        for _ in range(3):
            for user in ("ada", "grace", ("room", 7)):
                await trio_otp.call(Partition("shards", user), user)
        for user in ("ada", "grace", ("room", 7)):
            partition, count = await trio_otp.call(Partition("shards", user), user)
            assert partition == hash(user) % 4
            assert count == 4
        nursery.cancel_scope.cancel()


async def test_the_name_follows_a_partition_across_its_restart(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(shards().run)
        before = trio_otp.whereis(Partition("shards", 2), trio_otp.ServerRef)
        assert before is not None
        others = {k: trio_otp.whereis(Partition("shards", k)) for k in (0, 1, 3)}
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call(Partition("shards", 2), "crash")
        await settle()
        after = trio_otp.whereis(Partition("shards", 2), trio_otp.ServerRef)
        assert after is not None
        assert after is not before
        assert await after.call("partition") == 2
        assert {k: trio_otp.whereis(Partition("shards", k)) for k in (0, 1, 3)} == others  # one_for_one
        nursery.cancel_scope.cancel()


async def test_one_for_all_restarts_every_partition(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(shards(strategy=trio_otp.RestartStrategy.ONE_FOR_ALL).run)
        before = [trio_otp.whereis(Partition("shards", k)) for k in range(4)]
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call(Partition("shards", 1), "crash")
        await settle()
        after = [trio_otp.whereis(Partition("shards", k)) for k in range(4)]
        assert all(a is not None and a is not b for a, b in zip(after, before, strict=True))
        nursery.cancel_scope.cancel()


async def test_a_partition_name_of_nothing_or_of_something_else(autojump_clock: MockClock) -> None:
    assert trio_otp.whereis(Partition("nobody", 1)) is None
    with pytest.raises(trio_otp.ServerNotRunning):
        await trio_otp.call(Partition("nobody", 1), "x")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([], name="plain").run)
        with pytest.raises(TypeError, match="not a PartitionSupervisor"):
            trio_otp.whereis(Partition("plain", 1))
        with pytest.raises(TypeError, match="routes to a partition"):
            await trio_otp.start_server(nursery, functools.partial(Shard, 0), name=Partition("plain", 1))
        nursery.cancel_scope.cancel()


async def test_under_a_parent_and_stopped_with_it(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(trio_otp.Supervisor([shards(partitions=2).child_spec("shards")]).run)
        assert await trio_otp.call(Partition("shards", 1), "partition") == 1
        [info] = await root.which_children()
        assert info.type is trio_otp.ChildType.SUPERVISOR
        await root.stop()
        assert trio_otp.whereis(Partition("shards", 1)) is None
        assert trio_otp.whereis("shards") is None


def test_the_default_is_one_partition_per_cpu() -> None:
    spec: trio_otp.ChildSpec[Any] = trio_otp.ChildSpec("w", shard, args=(0,))
    assert PartitionSupervisor(spec, name="p").partitions == (os.cpu_count() or 1)


async def test_it_shows_as_a_supervisor_with_its_partitions(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(shards(partitions=2).run)
        node = await trio_otp.snapshot(sup)
        assert node.kind == "supervisor"
        assert sorted(child.id for child in node.children) == [0, 1]
        kinds = {(info.kind, info.label) for info in trio_otp.processes() if info.name == "shards"}
        assert kinds == {("supervisor", "shards")}
        nursery.cancel_scope.cancel()
