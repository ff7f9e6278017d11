"""Types a user's checker should infer from the public API: checked by mypy and by pyright
(``nox -s typecheck``, both strict), never run. A wrong inference here is a failure of the
typecheck session.

Two kinds of line:

* ``assert_type(expression, T)``: both checkers must infer exactly ``T``, no cast needed;
* lines that must be type errors end with a suppression for each checker that must
  report them, naming the error: mypy's ``# type: ignore[code]`` (``warn_unused_ignores``)
  and pyright's ``# pyright: ignore[rule]`` (``reportUnnecessaryTypeIgnoreComment``). If
  such a line stops being an error, its suppression is unused, and that fails the check.
  Each checker reads only its own kind (``enableTypeIgnoreComments = false`` for pyright).
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import outcome
import trio
from typing_extensions import assert_type

import trio_otp
import trio_otp.ray


@attrs.define
class Counter(trio_otp.GenServer[str, int]):
    total: int = 0

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        self.total += len(request)
        return self.total


class Pool:
    """A user's own reference type, for a start function of their own."""


async def pool(*, task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started(Pool())
    await trio.sleep_forever()


async def sized_pool(size: int, *, task_status: trio.TaskStatus[Pool] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started(Pool())
    await trio.sleep_forever()


async def double(x: int) -> int:
    return 2 * x


async def replies_keep_their_type(ref: trio_otp.ServerRef[str, int]) -> None:
    assert_type(await ref.call("x"), int)
    assert_type(await trio_otp.call(ref, "x"), int)
    assert_type(await trio_otp.call("a name", "x"), Any)
    assert_type(
        trio_otp.whereis("a name", trio_otp.ServerRef[str, int]), "trio_otp.ServerRef[str, int] | None"
    )
    anything = trio_otp.whereis("a name")  # any kind: narrow it with isinstance
    assert_type(
        anything,
        trio_otp.ServerRef[Any, Any]
        | trio_otp.SupervisorRef
        | trio_otp.DynamicSupervisorRef
        | trio_otp.TaskSupervisorRef
        | trio_otp.WorkerPoolRef
        | None,
    )
    await ref.call(1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def requests_keep_their_reply_type(ref: trio_otp.ServerRef[str, int]) -> None:
    request_id = ref.send_request("x")
    assert_type(request_id, trio_otp.RequestId[int])
    assert_type(trio_otp.send_request(ref, "x"), trio_otp.RequestId[int])
    assert_type(trio_otp.send_request("a name", "x"), trio_otp.RequestId[Any])
    assert_type(await request_id.wait_response(), int)
    assert_type(await request_id.receive_response(timeout=1), int)
    assert_type(request_id.check_response(), int)
    assert_type(request_id.server, "trio_otp.ServerRef[Any, int] | None")
    ref.send_request(1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    collection = trio_otp.RequestIdCollection[str]()
    collection.add(request_id, "label")
    collection.add(request_id, 1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    answer, label = await collection.wait_response()
    assert_type(label, str)
    assert_type(answer, outcome.Outcome[Any])
    assert_type(trio_otp.current_server(), trio_otp.ServerRef[Any, Any])


async def group_calls_are_typed(registry: trio_otp.Registry[str]) -> None:
    replies, bad = await trio_otp.multi_call(registry, "group", "x", timeout=1)
    assert_type(replies, "list[tuple[trio_otp.ServerRef[Any, Any], Any]]")
    assert_type(bad, "list[tuple[trio_otp.ServerRef[Any, Any], trio_otp.ServerError]]")
    assert_type(
        trio_otp.abcast(registry, "group", "x"),
        "list[tuple[trio_otp.ServerRef[Any, Any], trio_otp.ServerError]]",
    )


async def started_servers_are_typed(nursery: trio.Nursery) -> None:
    ref = await trio_otp.start_server(nursery, Counter)
    assert_type(ref, trio_otp.ServerRef[str, int])


async def specs_carry_their_ref_type(sup: trio_otp.SupervisorRef) -> None:
    spec = trio_otp.server_spec("counter", Counter, name="counter")
    assert_type(spec, trio_otp.ChildSpec[trio_otp.ServerRef[str, int]])
    counter = await sup.start_child(spec)
    assert_type(counter, trio_otp.ServerRef[str, int])
    assert_type(await counter.call("abc"), int)

    inner = trio_otp.Supervisor([spec], name="inner")
    assert_type(inner.child_spec("inner"), trio_otp.ChildSpec[trio_otp.SupervisorRef])
    assert_type(await sup.start_child(inner.child_spec("inner")), trio_otp.SupervisorRef)
    dynamic = trio_otp.DynamicSupervisor().child_spec("dynamic", restart=trio_otp.Restart.TRANSIENT)
    assert_type(dynamic, trio_otp.ChildSpec[trio_otp.DynamicSupervisorRef])
    tasks = trio_otp.TaskSupervisor().child_spec("tasks", shutdown=2.0)
    assert_type(tasks, trio_otp.ChildSpec[trio_otp.TaskSupervisorRef])
    agent = trio_otp.agent_spec("agent", lambda: 0, name="agent")
    assert_type(agent, "trio_otp.ChildSpec[trio_otp.ServerRef[Any, Any]]")

    # Misspelt or unknown options are errors, not **options accepted until run time.
    inner.child_spec("inner", restrat=trio_otp.Restart.TRANSIENT)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    trio_otp.DynamicSupervisor().child_spec("d", shutdown="soon")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    trio_otp.TaskSupervisor().child_spec("t", significant=1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    wrong: trio_otp.ServerRef[str, str] = await sup.start_child(spec)  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    del wrong


async def own_start_functions(sup: trio_otp.SupervisorRef) -> None:
    # Declared, both checkers hold the spec to its start function's task_status.
    spec: trio_otp.ChildSpec[Pool] = trio_otp.ChildSpec("pool", pool)
    assert_type(await sup.start_child(spec), Pool)
    # pyright also reads RefT from the task_status annotation, with or without args;
    # mypy's attrs plugin does not (it gives the default, object): its line says so.
    assert_type(trio_otp.ChildSpec("pool", pool), trio_otp.ChildSpec[Pool])  # type: ignore[assert-type]
    assert_type(trio_otp.ChildSpec("pool", sized_pool, args=(4,)), trio_otp.ChildSpec[Pool])  # type: ignore[assert-type]
    # A bare ChildSpec means ChildSpec[object]; any spec is one (ChildSpec is covariant).
    specs: list[trio_otp.ChildSpec] = [spec, trio_otp.server_spec("counter", Counter)]
    assert_type(trio_otp.Supervisor(specs).children, "tuple[trio_otp.ChildSpec[object], ...]")
    assert_type(await sup.get_childspec("pool"), trio_otp.ChildSpec[object])
    assert_type(await sup.restart_child("pool"), object)


async def listings_narrow_with_ref_as(sup: trio_otp.SupervisorRef) -> None:
    for info in await sup.which_children():
        assert_type(info.ref, object)
        assert_type(info.ref_as(trio_otp.ServerRef[str, int]), trio_otp.ServerRef[str, int])
        assert_type(info.ref_as(trio_otp.SupervisorRef), trio_otp.SupervisorRef)
        assert_type(info.ref_as(Pool), Pool)


async def dynamic_children_are_typed(dynamic: trio_otp.DynamicSupervisorRef) -> None:
    child = await dynamic.start_child(trio_otp.server_spec("worker", Counter))
    assert_type(child, trio_otp.DynamicChild[trio_otp.ServerRef[str, int]])
    assert_type(child.ref, "trio_otp.ServerRef[str, int] | None")
    await dynamic.terminate_child(child)
    children = await dynamic.start_children([trio_otp.server_spec(n, Counter) for n in "ab"])
    assert_type(children, list[trio_otp.DynamicChild[trio_otp.ServerRef[str, int]]])
    handles: list[trio_otp.DynamicChild] = list(children)
    for handle in handles:
        assert_type(handle.ref, "object | None")
        assert_type(handle.ref_as(trio_otp.ServerRef[str, int]), trio_otp.ServerRef[str, int])


async def tasks_are_typed(tasks: trio_otp.TaskSupervisorRef) -> None:
    handle = await tasks.spawn(double, 21)
    assert_type(handle, trio_otp.TaskHandle[int])
    assert_type(await handle.result(), int)
    await tasks.start_child(double, 1)
    async with contextlib.aclosing(tasks.map(double, range(10))) as doubled:
        async for value in doubled:
            assert_type(value, int)
    async with contextlib.aclosing(tasks.map(double, range(10), timeout=1, on_timeout="kill_task")) as killed:
        async for value_or_exit in killed:
            assert_type(value_or_exit, "int | trio_otp.TaskExit")
    async with contextlib.aclosing(tasks.map_nolink(double, range(10))) as nolink:
        async for value_or_exit in nolink:
            assert_type(value_or_exit, "int | trio_otp.TaskExit")
    assert_type(await trio_otp.await_many([handle, handle]), list[int])
    assert_type(await trio_otp.yield_many([handle]), "list[trio_otp.TaskOk[int] | trio_otp.TaskExit | None]")
    assert_type(await handle.shutdown(), "trio_otp.TaskOk[int] | trio_otp.TaskExit | None")
    assert_type(
        await tasks.start_child(double, 1, restart=trio_otp.Restart.TRANSIENT), trio_otp.TaskHandle[object]
    )
    # Wrong arguments are errors at the call, as for trio's start_soon.
    await tasks.spawn(double, "21")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await tasks.spawn(double)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await tasks.start_child(double, 1, 2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def agents_are_typed(nursery: trio.Nursery) -> None:
    counter = await trio_otp.start_agent(nursery, lambda: 0)
    assert_type(counter, trio_otp.AgentRef[int])
    assert_type(await counter.get(), int)
    assert_type(await counter.get(lambda n: f"{n} items"), str)
    await counter.update(lambda n: n + 1)
    assert_type(trio_otp.agent("agent"), trio_otp.AgentRef[Any])


async def partitions_are_typed(spec: trio_otp.ChildSpec[trio_otp.ServerRef[str, int]]) -> None:
    shards = trio_otp.PartitionSupervisor(spec, name="shards", partitions=4)
    assert_type(shards, trio_otp.PartitionSupervisor[trio_otp.ServerRef[str, int]])
    assert_type(shards.child_spec("shards"), trio_otp.ChildSpec[trio_otp.SupervisorRef])
    shard = trio_otp.Partition("shards", "user-1")
    assert_type(trio_otp.whereis(shard, trio_otp.ServerRef[str, int]), "trio_otp.ServerRef[str, int] | None")
    assert_type(await trio_otp.call(shard, "add"), Any)
    assert_type(trio_otp.monitor(shard), trio_otp.Monitor)
    assert_type(trio_otp.send_interval(1.0, shard, "tick"), trio_otp.Timer)


async def supervisors_by_name_are_typed(
    root: trio_otp.SupervisorRef,
    pool: trio_otp.DynamicSupervisorRef,
    spec: trio_otp.ChildSpec[trio_otp.ServerRef[str, int]],
) -> None:
    assert_type(await trio_otp.start_child(root, spec), trio_otp.ServerRef[str, int])
    assert_type(await trio_otp.start_child(pool, spec), trio_otp.DynamicChild[trio_otp.ServerRef[str, int]])
    assert_type(await trio_otp.start_child("sessions", spec), Any)
    assert_type(await trio_otp.which_children("app"), list[trio_otp.ChildInfo])
    assert_type(await trio_otp.count_children(pool), trio_otp.ChildCounts)
    assert_type(
        trio_otp.whereis("sessions", trio_otp.DynamicSupervisorRef), "trio_otp.DynamicSupervisorRef | None"
    )
    await root.stop(trio_otp.Shutdown("bye"), timeout=10)
    await pool.stop()
    # An interrupt is no exit reason.
    await root.stop(KeyboardInterrupt())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def exits_are_typed(
    server: trio_otp.ServerRef[str, int], child: trio_otp.DynamicChild[trio_otp.ServerRef[str, int]]
) -> None:
    trio_otp.exit(server, RuntimeError("reset"))
    trio_otp.exit(child, trio_otp.KILL)
    trio_otp.exit("cache", None)
    trio_otp.exit(server, "bye")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    trio_otp.exit(server, KeyboardInterrupt())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


class Tally(trio_otp.GenServer[str, int]):
    total = 0


def doubled(state: Tally) -> Tally:
    state.total *= 2
    return state


async def looking_inside(ref: trio_otp.ServerRef[str, int]) -> None:
    assert_type(await trio_otp.replace_state(ref, doubled), Tally)
    assert_type(await trio_otp.replace_state("a name", doubled), Tally)
    assert_type(await trio_otp.get_state(ref), Any)
    assert_type(trio_otp.get_status(ref), trio_otp.ServerStatus)
    assert_type(trio_otp.processes(), list[trio_otp.ProcessInfo])


def digits(text: str, base: int) -> int:
    return int(text, base)


async def worker_pools_are_typed(ref: trio_otp.WorkerPoolRef) -> None:
    assert_type(await ref.run(digits, "ff", 16), int)
    await ref.run(digits, "ff")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    by_name = trio_otp.whereis("cpu", trio_otp.WorkerPoolRef)
    assert_type(by_name, "trio_otp.WorkerPoolRef | None")
    spec = trio_otp.WorkerPool(name="cpu").child_spec("cpu")
    assert_type(spec, trio_otp.ChildSpec[trio_otp.WorkerPoolRef])


class Abacus:
    """A plain class for a Ray actor (trio_otp.ray)."""

    def add(self, amount: int) -> int:
        return amount


async def ray_actors_are_typed(ref: trio_otp.ray.ActorRef[Abacus]) -> None:
    spec = trio_otp.ray.actor_spec("abacus", Abacus, name="abacus")
    assert_type(spec, trio_otp.ChildSpec[trio_otp.ray.ActorRef[Abacus]])
    assert_type(await ref.call(Abacus.add, 1), int)
    assert_type(await ref.call("add", 1), Any)
    client = trio_otp.ray.ActorClient("abacus", Abacus)
    assert_type(await client.call(Abacus.add, 2), int)
    assert_type(client.whereis(), "trio_otp.ray.ActorRef[Abacus] | None")
    await ref.call(Abacus.add, "one")  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]


class Light(trio_otp.StateMachine[str, int, str, int]):
    """A state machine typed by state, data, request and reply."""

    async def init(self) -> trio_otp.NextState[str, int]:
        return trio_otp.NextState("off", 0)

    async def handle_event(
        self, event: trio_otp.Event[str, int], state: str, data: int
    ) -> trio_otp.Transition[str, int]:
        if isinstance(event, trio_otp.CallEvent):
            assert_type(event.request, str)
            assert_type(event.caller, trio_otp.Caller[int])
            return trio_otp.KeepState(data, trio_otp.ReplyTo(event.caller, data))
        if state == "off":
            return trio_otp.NextState("on", data + 1, trio_otp.StateTimeout(5, "off again"))
        return trio_otp.NextState(1, data)  # type: ignore[arg-type]  # pyright: ignore[reportReturnType]


async def state_machines_are_typed(nursery: trio.Nursery, sup: trio_otp.SupervisorRef) -> None:
    ref = await trio_otp.start_state_machine(nursery, Light)
    assert_type(ref, trio_otp.ServerRef[str, int])
    assert_type(await ref.call("switch"), int)
    child = await sup.start_child(trio_otp.state_machine_spec("light", Light))
    assert_type(child, trio_otp.ServerRef[str, int])


class Optional(trio_otp.GenServer[str, int]):
    """init may return the Ignore class itself."""

    async def init(self) -> type[trio_otp.Ignore] | None:
        return trio_otp.Ignore


class OptionalMachine(trio_otp.StateMachine[str, int, str, int]):
    async def init(self) -> trio_otp.NextState[str, int] | type[trio_otp.Ignore]:
        return trio_otp.Ignore


def ignored(error: trio_otp.ChildIgnored, init_error: trio_otp.InitIgnored) -> None:
    assert_type(error.kept, bool)
    assert_type(error.supervisor, str)
    assert_type(init_error, trio_otp.InitIgnored)
