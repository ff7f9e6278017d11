"""Every public function and class, walked with wrong inputs.

Each wrong input must get a clear error at the call: ``TypeError`` or ``ValueError`` (or
the trio_otp error a caller would expect, such as ``ChildNotFound``), raised before
anything happened, with a message that names the argument, the rule and the value. And
it must never harm a running tree: after every wrong call, a tree that was running
beside it (a supervisor with a server, a DynamicSupervisor, a TaskSupervisor, an agent)
still answers and still holds the children it held.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
import trio_otp.ray
from trio_otp import testing

from .harness import settle


class Echo(trio_otp.GenServer[Any, Any]):
    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        return request


async def parked(*, task_status: trio.TaskStatus[None]) -> None:
    task_status.started()
    await trio.sleep_forever()


async def work(x: int) -> int:
    return x


class _Machine(trio_otp.StateMachine[str, None, Any, Any]):
    async def init(self) -> trio_otp.NextState[str, None]:
        return trio_otp.NextState("idle", None)


@attrs.define
class Tree:
    """The running tree every wrong call is made beside."""

    nursery: trio.Nursery
    root: trio_otp.SupervisorRef
    pool: trio_otp.DynamicSupervisorRef
    tasks: trio_otp.TaskSupervisorRef
    server: trio_otp.ServerRef[Any, Any]
    agent: trio_otp.AgentRef[Any]
    registry: trio_otp.Registry[Any]
    #: A server started in a plain nursery: no supervisor's child.
    loose: trio_otp.ServerRef[Any, Any]

    async def check_unharmed(self) -> None:
        assert await self.server.call("ping") == "ping"
        assert await trio_otp.call("echo", "ping") == "ping"
        assert [info.id for info in await self.root.which_children()] == [
            "a",
            "echo",
            "agent",
        ]  # newest first
        assert (await self.pool.count_children()).active == 1
        handle = await self.tasks.spawn(work, 3)
        assert await handle.result() == 3
        assert await self.agent.get() == 0


@attrs.frozen
class Wrong:
    """One wrong call: what it is, the call, what must be raised and what it must say."""

    label: str
    call: Callable[[Tree], Awaitable[object] | object]
    error: type[BaseException] | tuple[type[BaseException], ...]
    says: str


def spec(**changes: Any) -> Callable[[Tree], object]:
    fields: dict[str, Any] = {"id": "x", "start": parked, **changes}
    return lambda _tree: trio_otp.ChildSpec(**fields)


async def run_application_in(tree: Any, **options: Any) -> object:
    return trio_otp.run_application(tree, **options)


def _fill_and_send_request(tree: Tree) -> object:
    """A bounded server whose mailbox is full: send_request refuses at once."""

    async def go() -> None:
        full = await trio_otp.start_server(tree.nursery, Echo, mailbox_size=1)
        full.send_request("fills it")  # not handled yet: no checkpoint since
        full.send_request("x")

    return go()


def _check_response_twice(tree: Tree) -> object:
    async def go() -> None:
        request_id = tree.server.send_request("x")
        await request_id.wait_response()
        request_id.check_response()

    return go()


def _group_of_a_plain_task(function: Callable[..., object]) -> Callable[[Tree], object]:
    def call(tree: Tree) -> object:
        tree.registry.register("plain", "this test's task is no server")
        return function(tree.registry, "plain", "x")

    return call


WRONG: list[Wrong] = [
    # ChildSpec and the definitions: at construction
    Wrong("ChildSpec id unhashable", spec(id=["x"]), TypeError, "ChildSpec.id must be hashable"),
    Wrong(
        "ChildSpec start not callable", spec(start=42), TypeError, "ChildSpec.start must be an async function"
    ),
    Wrong("ChildSpec args not iterable", spec(args=5), TypeError, "ChildSpec.args"),
    Wrong(
        "ChildSpec restart a string", spec(restart="permanent"), TypeError, "ChildSpec.restart must be one of"
    ),
    Wrong("ChildSpec type a string", spec(type="worker"), TypeError, "ChildSpec.type must be one of"),
    Wrong(
        "ChildSpec shutdown negative", spec(shutdown=-1), ValueError, "ChildSpec.shutdown must be a budget"
    ),
    Wrong(
        "ChildSpec shutdown NaN", spec(shutdown=math.nan), ValueError, "ChildSpec.shutdown must be a budget"
    ),
    Wrong(
        "ChildSpec shutdown a string", spec(shutdown="5"), TypeError, "ChildSpec.shutdown must be a budget"
    ),
    Wrong("ChildSpec shutdown True", spec(shutdown=True), TypeError, "ChildSpec.shutdown must be a budget"),
    Wrong(
        "ChildSpec significant 1",
        spec(significant=1),
        TypeError,
        "ChildSpec.significant must be True or False",
    ),
    Wrong("ChildSpec permanent significant", spec(significant=True), ValueError, "cannot be significant"),
    Wrong(
        "Supervisor children not specs",
        lambda _t: trio_otp.Supervisor(["a"]),  # type: ignore[list-item]
        TypeError,
        "Supervisor children must be ChildSpec instances",
    ),
    Wrong(
        "Supervisor children not iterable",
        lambda _t: trio_otp.Supervisor(5),  # type: ignore[arg-type]
        TypeError,
        "Supervisor children",
    ),
    Wrong(
        "Supervisor duplicate ids",
        lambda _t: trio_otp.Supervisor([trio_otp.ChildSpec("a", parked), trio_otp.ChildSpec("a", parked)]),
        ValueError,
        "duplicate child id 'a'",
    ),
    Wrong(
        "Supervisor strategy a string",
        lambda _t: trio_otp.Supervisor([], strategy="one_for_one"),  # type: ignore[arg-type]
        TypeError,
        "Supervisor.strategy must be one of",
    ),
    Wrong(
        "Supervisor max_restarts negative",
        lambda _t: trio_otp.Supervisor([], max_restarts=-1),
        ValueError,
        "max_restarts must be >= 0",
    ),
    Wrong(
        "Supervisor max_restarts a float",
        lambda _t: trio_otp.Supervisor([], max_restarts=1.5),  # type: ignore[arg-type]
        TypeError,
        "max_restarts must be a whole number",
    ),
    Wrong(
        "Supervisor max_seconds 0",
        lambda _t: trio_otp.Supervisor([], max_seconds=0),
        ValueError,
        "max_seconds",
    ),
    Wrong(
        "Supervisor max_seconds inf",
        lambda _t: trio_otp.Supervisor([], max_seconds=math.inf),
        ValueError,
        "max_seconds must be a finite number",
    ),
    Wrong(
        "Supervisor auto_shutdown a string",
        lambda _t: trio_otp.Supervisor([], auto_shutdown="never"),  # type: ignore[arg-type]
        TypeError,
        "Supervisor.auto_shutdown must be one of",
    ),
    Wrong(
        "Supervisor name unhashable",
        lambda _t: trio_otp.Supervisor([], name=["pool"]),
        TypeError,
        "Supervisor.name must be hashable (a str, int, tuple, Via, ...) or None",
    ),
    Wrong(
        "Supervisor significant child under NEVER",
        lambda _t: trio_otp.Supervisor(
            [trio_otp.ChildSpec("a", parked, restart=trio_otp.Restart.TRANSIENT, significant=True)]
        ),
        ValueError,
        "auto_shutdown is NEVER",
    ),
    Wrong(
        "Supervisor.child_spec bad shutdown",
        lambda _t: trio_otp.Supervisor([]).child_spec("s", shutdown=0),
        ValueError,
        "ChildSpec.shutdown must be a budget",
    ),
    Wrong(
        "DynamicSupervisor max_children negative",
        lambda _t: trio_otp.DynamicSupervisor(max_children=-1),
        ValueError,
        "max_children must be a whole number >= 0",
    ),
    Wrong(
        "DynamicSupervisor max_children 2.5",
        lambda _t: trio_otp.DynamicSupervisor(max_children=2.5),
        ValueError,
        "max_children must be a whole number >= 0",
    ),
    Wrong(
        "DynamicSupervisor max_seconds a string",
        lambda _t: trio_otp.DynamicSupervisor(max_seconds="5"),  # type: ignore[arg-type]
        TypeError,
        "max_seconds must be a number of seconds",
    ),
    Wrong(
        "DynamicSupervisor name unhashable",
        lambda _t: trio_otp.DynamicSupervisor(name=["pool"]),
        TypeError,
        "DynamicSupervisor.name must be hashable (a str, int, tuple, Via, ...) or None",
    ),
    Wrong(
        "DynamicSupervisor extra_arguments a list",
        lambda _t: trio_otp.DynamicSupervisor(extra_arguments=["db"]),  # type: ignore[arg-type]
        TypeError,
        "DynamicSupervisor extra_arguments must be a tuple, got ['db'] (of type list)",
    ),
    Wrong(
        "DynamicSupervisor.child_spec unknown option",
        lambda _t: trio_otp.DynamicSupervisor().child_spec("d", restrat="x"),
        TypeError,
        "restrat",
    ),
    Wrong(
        "TaskSupervisor shutdown negative",
        lambda _t: trio_otp.TaskSupervisor(shutdown=-1),
        ValueError,
        "shutdown must be a budget",
    ),
    Wrong(
        "TaskSupervisor max_children a string",
        lambda _t: trio_otp.TaskSupervisor(max_children="3"),  # type: ignore[arg-type]
        (TypeError, ValueError),
        "max_children must be a whole number",
    ),
    Wrong(
        "TaskSupervisor name unhashable",
        lambda _t: trio_otp.TaskSupervisor(name=["pool"]),
        TypeError,
        "TaskSupervisor.name must be hashable (a str, int, tuple, Via, ...) or None",
    ),
    Wrong(
        "WorkerPool no workers",
        lambda _t: trio_otp.WorkerPool(0),
        ValueError,
        "WorkerPool.workers must be a whole number >= 1, got 0",
    ),
    Wrong(
        "WorkerPool workers a float",
        lambda _t: trio_otp.WorkerPool(2.0),  # type: ignore[arg-type]
        TypeError,
        "WorkerPool.workers must be a whole number >= 1, got 2.0 (of type float)",
    ),
    Wrong(
        "WorkerPool cancel_grace negative",
        lambda _t: trio_otp.WorkerPool(1, cancel_grace=-1),
        ValueError,
        "WorkerPool.cancel_grace must be a number of seconds >= 0, got -1",
    ),
    Wrong(
        "WorkerPool cancel_grace infinite",
        lambda _t: trio_otp.WorkerPool(1, cancel_grace=math.inf),
        ValueError,
        "WorkerPool.cancel_grace must be a finite number of seconds",
    ),
    Wrong(
        "WorkerPool start_timeout zero",
        lambda _t: trio_otp.WorkerPool(1, start_timeout=0),
        ValueError,
        "WorkerPool.start_timeout must be a number of seconds > 0, got 0",
    ),
    Wrong(
        "WorkerPool max_restarts negative",
        lambda _t: trio_otp.WorkerPool(1, max_restarts=-1),
        ValueError,
        "max_restarts must be >= 0",
    ),
    Wrong(
        "WorkerPool max_seconds a string",
        lambda _t: trio_otp.WorkerPool(1, max_seconds="5"),  # type: ignore[arg-type]
        TypeError,
        "max_seconds must be a number of seconds",
    ),
    Wrong(
        "WorkerPool name unhashable",
        lambda _t: trio_otp.WorkerPool(1, name=["cpu"]),
        TypeError,
        "WorkerPool.name must be hashable (a str, int, tuple, Via, ...) or None",
    ),
    Wrong(
        "WorkerPool.child_spec shutdown negative",
        lambda _t: trio_otp.WorkerPool(1).child_spec("cpu", shutdown=-1),
        ValueError,
        "shutdown must be a budget in seconds greater than 0",
    ),
    # SupervisorRef requests
    Wrong(
        "start_child not a spec",
        lambda t: t.root.start_child("a spec"),  # type: ignore[arg-type]
        TypeError,
        "start_child takes a ChildSpec",
    ),
    Wrong(
        "start_child significant under NEVER",
        lambda t: t.root.start_child(
            trio_otp.ChildSpec("s", parked, restart=trio_otp.Restart.TRANSIENT, significant=True)
        ),
        ValueError,
        "auto_shutdown is NEVER",
    ),
    Wrong(
        "start_child duplicate id",
        lambda t: t.root.start_child(trio_otp.ChildSpec("a", parked)),
        trio_otp.ChildAlreadyStarted,
        "already runs a child with id 'a'",
    ),
    Wrong(
        "terminate_child unknown", lambda t: t.root.terminate_child("nope"), trio_otp.ChildNotFound, "'nope'"
    ),
    Wrong(
        "terminate_child unhashable",
        lambda t: t.root.terminate_child(["a"]),  # type: ignore[arg-type]
        trio_otp.ChildNotFound,
        "no child with id ['a']",
    ),
    Wrong("restart_child running", lambda t: t.root.restart_child("a"), trio_otp.ChildRunning, "'a'"),
    Wrong("delete_child unknown", lambda t: t.root.delete_child("nope"), trio_otp.ChildNotFound, "'nope'"),
    Wrong("get_childspec unknown", lambda t: t.root.get_childspec("nope"), trio_otp.ChildNotFound, "'nope'"),
    # DynamicSupervisorRef
    Wrong(
        "dynamic start_child not a spec",
        lambda t: t.pool.start_child(parked),  # type: ignore[arg-type]
        TypeError,
        "start_child takes a ChildSpec",
    ),
    Wrong(
        "dynamic start_children not an iterable",
        lambda t: t.pool.start_children(5),  # type: ignore[arg-type]
        TypeError,
        "start_children must be given an iterable of ChildSpec",
    ),
    Wrong(
        "dynamic start_children one bad",
        lambda t: t.pool.start_children([trio_otp.ChildSpec("w", parked), "x"]),  # type: ignore[list-item]
        TypeError,
        "start_child takes a ChildSpec",
    ),
    Wrong(
        "dynamic start_child significant",
        lambda t: t.pool.start_child(
            trio_otp.ChildSpec("s", parked, restart=trio_otp.Restart.TRANSIENT, significant=True)
        ),
        ValueError,
        "no child can be significant",
    ),
    Wrong(
        "dynamic terminate_child an id",
        lambda t: t.pool.terminate_child("w"),  # type: ignore[arg-type]
        TypeError,
        "takes the DynamicChild that start_child returned",
    ),
    # TaskSupervisorRef
    Wrong(
        "spawn not callable",
        lambda t: t.tasks.spawn(5),  # type: ignore[arg-type]
        TypeError,
        "a task is an async function",
    ),
    Wrong(
        "spawn a coroutine",
        lambda t: t.tasks.spawn(_coroutine()),  # type: ignore[arg-type]
        TypeError,
        "not a coroutine object",
    ),
    Wrong(
        "start_child not callable",
        lambda t: t.tasks.start_child("job"),  # type: ignore[arg-type]
        TypeError,
        "a task is an async function",
    ),
    Wrong(
        "map max_concurrency 0",
        lambda t: _first(t.tasks.map(work, [1], max_concurrency=0)),
        ValueError,
        "max_concurrency must be a whole number >= 1",
    ),
    Wrong(
        "map function not callable",
        lambda t: _first(t.tasks.map(5, [1])),  # type: ignore[arg-type]
        TypeError,
        "a task is an async function",
    ),
    Wrong(
        "map inputs not iterable",
        lambda t: _first(t.tasks.map(work, 5)),  # type: ignore[arg-type]
        TypeError,
        "map's inputs must be an iterable or an async iterable",
    ),
    Wrong(
        "map ordered not a bool",
        lambda t: _first(t.tasks.map(work, [1], ordered="yes")),  # type: ignore[arg-type]
        TypeError,
        "map's ordered must be True or False",
    ),
    Wrong(
        "map timeout negative",
        lambda t: t.tasks.map(work, [1], timeout=-1),
        ValueError,
        "map's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "map on_timeout unknown",
        lambda t: t.tasks.map(work, [1], on_timeout="exit"),  # type: ignore[call-overload]
        ValueError,
        "map's on_timeout must be 'raise' or 'kill_task', got 'exit'",
    ),
    Wrong(
        "map_nolink max_concurrency 0",
        lambda t: t.tasks.map_nolink(work, [1], max_concurrency=0),
        ValueError,
        "max_concurrency must be a whole number >= 1",
    ),
    Wrong(
        "task start_child permanent",
        lambda t: t.tasks.start_child(work, 1, restart=trio_otp.Restart.PERMANENT),
        ValueError,
        "start_child's restart must be Restart.TEMPORARY or Restart.TRANSIENT, got Restart.PERMANENT",
    ),
    Wrong(
        "task start_child restart a string",
        lambda t: t.tasks.start_child(work, 1, restart="transient"),  # type: ignore[arg-type]
        TypeError,
        "start_child's restart must be Restart.TEMPORARY or Restart.TRANSIENT, got 'transient'",
    ),
    Wrong(
        "task terminate_child not a handle",
        lambda t: t.tasks.terminate_child("job"),  # type: ignore[arg-type]
        TypeError,
        "TaskSupervisorRef.terminate_child takes a TaskHandle, got 'job'",
    ),
    Wrong(
        "TaskSupervisor max_restarts negative",
        lambda _t: trio_otp.TaskSupervisor(max_restarts=-1),
        ValueError,
        "max_restarts",
    ),
    Wrong(
        "TaskHandle.shutdown timeout 0",
        lambda t: _shutdown(t, 0),
        ValueError,
        "TaskHandle.shutdown's timeout must be a budget in seconds greater than 0, got 0",
    ),
    Wrong(
        "TaskHandle.shutdown timeout None",
        lambda t: _shutdown(t, None),
        TypeError,
        "TaskHandle.shutdown's timeout must be a budget in seconds (a number > 0)",
    ),
    Wrong(
        "await_many not an iterable",
        lambda t: _many(t, trio_otp.await_many, lambda handle: handle),
        TypeError,
        "await_many's handles must be an iterable of TaskHandle, got <TaskHandle",
    ),
    Wrong(
        "yield_many an item not a handle",
        lambda t: _many(t, trio_otp.yield_many, lambda handle: [handle, "job"]),
        TypeError,
        "yield_many's handles must be an iterable of TaskHandle, got an item 'job'",
    ),
    Wrong(
        "await_many timeout negative",
        lambda t: _many(t, trio_otp.await_many, lambda handle: [handle], timeout=-1),
        ValueError,
        "await_many's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "TaskHandle.result negative timeout",
        lambda t: _result(t, timeout=-1),
        ValueError,
        "result's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "TaskHandle.result string timeout",
        lambda t: _result(t, timeout="1"),
        TypeError,
        "result's timeout must be a number of seconds >= 0 or None",
    ),
    # GenServers
    Wrong(
        "start_server factory not callable",
        lambda t: trio_otp.start_server(t.nursery, Echo()),  # type: ignore[arg-type]
        TypeError,
        "factory must be a callable",
    ),
    Wrong(
        "start_server factory builds no GenServer",
        lambda t: trio_otp.start_server(t.nursery, dict),  # type: ignore[arg-type]
        TypeError,
        "a server factory must return a GenServer instance",
    ),
    Wrong(
        "start_server mailbox_size 0",
        lambda t: trio_otp.start_server(t.nursery, Echo, mailbox_size=0),
        ValueError,
        "mailbox_size must be a whole number >= 1",
    ),
    Wrong(
        "start_server mailbox_size 2.5",
        lambda t: trio_otp.start_server(t.nursery, Echo, mailbox_size=2.5),
        ValueError,
        "mailbox_size must be a whole number >= 1",
    ),
    Wrong(
        "start_server name unhashable",
        lambda t: trio_otp.start_server(t.nursery, Echo, name=["n"]),  # type: ignore[arg-type]
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "start_server name taken",
        lambda t: trio_otp.start_server(t.nursery, Echo, name="echo"),
        trio_otp.NameTaken,
        "name 'echo' is already taken",
    ),
    Wrong(
        "start_server nursery not a nursery",
        lambda t: trio_otp.start_server("nursery", Echo),  # type: ignore[arg-type]
        TypeError,
        "start_server's nursery must be a trio.Nursery",
    ),
    Wrong(
        "serve factory not callable",
        lambda t: t.nursery.start(trio_otp.serve, "Echo"),
        TypeError,
        "factory must be a callable",
    ),
    Wrong(
        "serve mailbox_size negative",
        lambda t: t.nursery.start(trio_otp.serve, Echo, None, -1),
        ValueError,
        "mailbox_size must be a whole number >= 1",
    ),
    Wrong(
        "serve name unhashable",
        lambda t: t.nursery.start(trio_otp.serve, Echo, ["n"]),
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "server_spec name unhashable",
        lambda _t: trio_otp.server_spec("s", Echo, name={}),  # type: ignore[arg-type]
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "server_spec shutdown bad",
        lambda _t: trio_otp.server_spec("s", Echo, shutdown=-2),
        ValueError,
        "ChildSpec.shutdown must be a budget",
    ),
    Wrong(
        "call negative timeout",
        lambda t: t.server.call("x", timeout=-1),
        ValueError,
        "call's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "call NaN timeout",
        lambda t: t.server.call("x", timeout=math.nan),
        ValueError,
        "call's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "call string timeout",
        lambda t: t.server.call("x", timeout="5"),  # type: ignore[arg-type]
        TypeError,
        "call's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "call by name unknown",
        lambda t: trio_otp.call("nobody", "x"),
        trio_otp.ServerNotRunning,
        "no running server is registered as 'nobody'",
    ),
    Wrong(
        "call by name unhashable",
        lambda t: trio_otp.call(["echo"], "x"),
        TypeError,
        "name must be hashable",
    ),
    Wrong("cast by name unhashable", lambda t: trio_otp.cast({}, "x"), TypeError, "name must be hashable"),
    Wrong(
        "send by name unknown", lambda t: trio_otp.send("nobody", "x"), trio_otp.ServerNotRunning, "'nobody'"
    ),
    Wrong("whereis unhashable", lambda t: trio_otp.whereis([1]), TypeError, "name must be hashable"),
    # Asynchronous requests, and calls to a Registry group
    Wrong(
        "send_request by name unhashable",
        lambda t: trio_otp.send_request(["echo"], "x"),
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "send_request to a name that is no server",
        lambda t: trio_otp.send_request("root", "x"),
        TypeError,
        "'root' names <SupervisorRef",
    ),
    Wrong(
        "ServerRef.send_request to a full mailbox",
        _fill_and_send_request,
        trio_otp.MailboxFull,
        "is full (1 messages)",
    ),
    Wrong(
        "RequestId.wait_response negative timeout",
        lambda t: t.server.send_request("x").wait_response(timeout=-1),
        ValueError,
        "wait_response's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "RequestId.receive_response timeout a string",
        lambda t: t.server.send_request("x").receive_response(timeout="5"),  # type: ignore[arg-type]
        TypeError,
        "receive_response's timeout must be a number of seconds >= 0 or None, got '5' (of type str)",
    ),
    Wrong(
        "RequestId.check_response twice",
        _check_response_twice,
        RuntimeError,
        "was already taken (a reply is taken once)",
    ),
    Wrong(
        "RequestIdCollection.add not a RequestId",
        lambda t: trio_otp.RequestIdCollection[int]().add("x", 1),  # type: ignore[arg-type]
        TypeError,
        "RequestIdCollection.add's request_id must be a RequestId, got 'x' (of type str)",
    ),
    Wrong(
        "RequestIdCollection empty",
        lambda t: trio_otp.RequestIdCollection[int]().wait_response(),
        LookupError,
        "the collection holds no requests (OTP's no_request)",
    ),
    Wrong(
        "RequestIdCollection.wait_response NaN timeout",
        lambda t: trio_otp.RequestIdCollection[int]().wait_response(timeout=math.nan),
        ValueError,
        "wait_response's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "current_server outside a server",
        lambda t: trio_otp.current_server(),
        RuntimeError,
        "current_server() was called outside a server",
    ),
    Wrong(
        "multi_call registry not a Registry",
        lambda t: trio_otp.multi_call({}, "k", "x"),  # type: ignore[arg-type]
        TypeError,
        "multi_call's registry must be a trio_otp.Registry, got {} (of type dict)",
    ),
    Wrong(
        "multi_call key unhashable",
        lambda t: trio_otp.multi_call(t.registry, ["k"], "x"),
        TypeError,
        "Registry.lookup's key must be hashable",
    ),
    Wrong(
        "multi_call negative timeout",
        lambda t: trio_otp.multi_call(t.registry, "k", "x", timeout=-1),
        ValueError,
        "multi_call's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "multi_call an entry of a task that runs no server",
        _group_of_a_plain_task(trio_otp.multi_call),
        TypeError,
        "registered by task",
    ),
    Wrong(
        "abcast registry not a Registry",
        lambda t: trio_otp.abcast(None, "k", "x"),  # type: ignore[arg-type]
        TypeError,
        "abcast's registry must be a trio_otp.Registry, got None",
    ),
    Wrong(
        "abcast an entry of a task that runs no server",
        _group_of_a_plain_task(trio_otp.abcast),
        TypeError,
        "was made outside any server; a group's members must be servers",
    ),
    Wrong(
        "stop reason not an exception",
        lambda t: t.server.stop("bye"),  # type: ignore[arg-type]
        TypeError,
        "stop's reason must be None (a normal exit) or an exception",
    ),
    Wrong(
        "stop negative timeout",
        lambda t: t.server.stop(timeout=-1),
        ValueError,
        "stop's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "call_from_thread in the run's own thread",
        lambda t: t.server.call_from_thread("x"),
        RuntimeError,
        "call_from_thread is for a thread that is not running Trio",
    ),
    Wrong(
        "Stop reason a string",
        lambda _t: trio_otp.Stop("done"),  # type: ignore[arg-type]
        TypeError,
        "Stop's reason must be None (a normal exit) or an exception",
    ),
    Wrong(
        "Via with a duplicate registry",
        lambda _t: trio_otp.Via(trio_otp.Registry(trio_otp.Keys.DUPLICATE), "k"),
        ValueError,
        "Via.registry must have unique keys",
    ),
    Wrong(
        "Via key unhashable",
        lambda t: trio_otp.Via(t.registry, []),
        TypeError,
        "Via.key must be hashable",
    ),
    # Registry
    Wrong(
        "Registry keys a string",
        lambda _t: trio_otp.Registry("unique"),  # type: ignore[arg-type]
        TypeError,
        "Registry keys must be Keys.UNIQUE or Keys.DUPLICATE",
    ),
    Wrong(
        "Registry listener not callable",
        lambda _t: trio_otp.Registry(listeners=(5,)),  # type: ignore[arg-type]
        TypeError,
        "a Registry listener must be a callable",
    ),
    Wrong(
        "Registry name not a string",
        lambda _t: trio_otp.Registry(name=5),  # type: ignore[arg-type]
        TypeError,
        "Registry name must be a str or None",
    ),
    Wrong(
        "Registry register NaN",
        lambda t: t.registry.register(math.nan, 1),
        ValueError,
        "a registry key must be equal to itself",
    ),
    Wrong(
        "Registry register unhashable",
        lambda t: t.registry.register([1], 1),
        TypeError,
        "a registry key must be hashable",
    ),
    Wrong(
        "Registry add_listener not callable",
        lambda t: t.registry.add_listener("x"),  # type: ignore[arg-type]
        TypeError,
        "a Registry listener must be a callable",
    ),
    Wrong(
        "Registry meta a list",
        lambda _t: trio_otp.Registry(meta=[("k", 1)]),  # type: ignore[arg-type]
        TypeError,
        "Registry meta must be a mapping (a dict) or None, got [('k', 1)] (of type list)",
    ),
    Wrong(
        "Registry match predicate not callable",
        lambda t: t.registry.match("k", "x"),  # type: ignore[arg-type]
        TypeError,
        "Registry.match's predicate must be None or a callable taking a value, got 'x'",
    ),
    Wrong(
        "Registry count_match predicate not callable",
        lambda t: t.registry.count_match("k", 5),  # type: ignore[arg-type]
        TypeError,
        "Registry.count_match's predicate must be None or a callable taking a value, got 5",
    ),
    Wrong(
        "Registry unregister_match predicate not callable",
        lambda t: t.registry.unregister_match("k", None),  # type: ignore[arg-type]
        TypeError,
        "Registry.unregister_match's predicate must be a callable taking a value, got None",
    ),
    Wrong(
        "Registry select predicate not callable",
        lambda t: t.registry.select("k"),  # type: ignore[arg-type]
        TypeError,
        "Registry.select's predicate must be a callable taking a key and an Entry",
    ),
    Wrong(
        "Registry count_select predicate not callable",
        lambda t: t.registry.count_select("k"),  # type: ignore[arg-type]
        TypeError,
        "Registry.count_select's predicate must be a callable taking a key and an Entry",
    ),
    Wrong(
        "Registry update_value on a duplicate registry",
        lambda _t: trio_otp.Registry(trio_otp.Keys.DUPLICATE).update_value("k", lambda old: old),
        ValueError,
        "Registry.update_value works on a unique registry (Keys.UNIQUE)",
    ),
    Wrong(
        "Registry update_value function not callable",
        lambda t: t.registry.update_value("k", 1),  # type: ignore[arg-type]
        TypeError,
        "Registry.update_value's function must be a callable taking the old value, got 1",
    ),
    Wrong(
        "Registry values task not a task",
        lambda t: t.registry.values("k", "me"),  # type: ignore[arg-type]
        TypeError,
        "Registry.values's task must be None or a Trio task, got 'me'",
    ),
    Wrong(
        "Registry lookup unhashable key",
        lambda t: t.registry.lookup(["k"]),
        TypeError,
        "Registry.lookup's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry whereis unhashable key",
        lambda t: t.registry.whereis(["k"]),
        TypeError,
        "Registry.whereis's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry unregister unhashable key",
        lambda t: t.registry.unregister(["k"]),
        TypeError,
        "Registry.unregister's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry dispatch unhashable key",
        lambda t: t.registry.dispatch(["k"], lambda entries: None),
        TypeError,
        "Registry.dispatch's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry match unhashable key",
        lambda t: t.registry.match(["k"]),
        TypeError,
        "Registry.match's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry count_match unhashable key",
        lambda t: t.registry.count_match(["k"]),
        TypeError,
        "Registry.count_match's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry values unhashable key",
        lambda t: t.registry.values(["k"]),
        TypeError,
        "Registry.values's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry update_value unhashable key",
        lambda t: t.registry.update_value(["k"], lambda old: old),
        TypeError,
        "Registry.update_value's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry unregister_match unhashable key",
        lambda t: t.registry.unregister_match(["k"], lambda value: True),
        TypeError,
        "Registry.unregister_match's key must be hashable (a str, int, tuple, ...), got ['k'] (of type list)",
    ),
    Wrong(
        "Registry keys_of task not a task",
        lambda t: t.registry.keys_of("me"),  # type: ignore[arg-type]
        TypeError,
        "Registry.keys_of's task must be None or a Trio task, got 'me'",
    ),
    Wrong(
        "Registry put_meta unhashable key",
        lambda t: t.registry.put_meta(["k"], 1),  # type: ignore[arg-type]
        TypeError,
        "Registry.put_meta's key must be hashable",
    ),
    Wrong(
        "Registry meta unhashable key",
        lambda t: t.registry.meta(["k"]),  # type: ignore[arg-type]
        TypeError,
        "Registry.meta's key must be hashable",
    ),
    # PartitionSupervisor and Partition
    Wrong(
        "PartitionSupervisor spec not a spec",
        lambda _t: trio_otp.PartitionSupervisor(parked, name="p"),  # type: ignore[arg-type]
        TypeError,
        "PartitionSupervisor spec must be a ChildSpec, got <function parked",
    ),
    Wrong(
        "PartitionSupervisor without a name",
        lambda _t: trio_otp.PartitionSupervisor(trio_otp.ChildSpec("w", parked), name=None),
        TypeError,
        "PartitionSupervisor.name is required",
    ),
    Wrong(
        "PartitionSupervisor partitions 0",
        lambda _t: trio_otp.PartitionSupervisor(trio_otp.ChildSpec("w", parked), name="p", partitions=0),
        ValueError,
        "PartitionSupervisor partitions must be a whole number >= 1, got 0",
    ),
    Wrong(
        "PartitionSupervisor partitions a float",
        lambda _t: trio_otp.PartitionSupervisor(trio_otp.ChildSpec("w", parked), name="p", partitions=2.0),  # type: ignore[arg-type]
        TypeError,
        "PartitionSupervisor partitions must be a whole number >= 1, got 2.0 (of type float)",
    ),
    Wrong(
        "PartitionSupervisor with_arguments not callable",
        lambda _t: trio_otp.PartitionSupervisor(
            trio_otp.ChildSpec("w", parked),
            name="p",
            with_arguments=(1,),  # type: ignore[arg-type]
        ),
        TypeError,
        "PartitionSupervisor with_arguments must be None or a callable",
    ),
    Wrong(
        "PartitionSupervisor with_arguments returns a number",
        lambda _t: trio_otp.PartitionSupervisor(
            trio_otp.ChildSpec("w", parked),
            name="p",
            with_arguments=lambda args, partition: partition,  # type: ignore[arg-type,return-value]
        ),
        TypeError,
        "PartitionSupervisor with_arguments must return the partition's args (a tuple), got 0 (of type int)",
    ),
    Wrong(
        "PartitionSupervisor max_restarts negative",
        lambda _t: trio_otp.PartitionSupervisor(trio_otp.ChildSpec("w", parked), name="p", max_restarts=-1),
        ValueError,
        "max_restarts",
    ),
    Wrong(
        "Partition key unhashable",
        lambda _t: trio_otp.Partition("p", []),
        TypeError,
        "Partition.key must be hashable",
    ),
    Wrong(
        "Partition of a Partition",
        lambda _t: trio_otp.Partition(trio_otp.Partition("p", 1), 2),
        TypeError,
        "Partition.name names a PartitionSupervisor, not another partition",
    ),
    Wrong(
        "Partition of a plain supervisor",
        lambda _t: trio_otp.whereis(trio_otp.Partition("root", 1)),
        TypeError,
        "the process named 'root' is <SupervisorRef 'root' (running)>, not a PartitionSupervisor",
    ),
    Wrong(
        "Supervisor named by a Partition",
        lambda _t: trio_otp.Supervisor([], name=trio_otp.Partition("p", 1)),
        TypeError,
        "Supervisor.name cannot be a Partition",
    ),
    # Monitors and timers
    Wrong(
        "monitor notify not a server",
        lambda t: trio_otp.monitor(t.server, notify="me"),  # type: ignore[arg-type]
        TypeError,
        "monitor's notify must be None or a ServerRef",
    ),
    Wrong(
        "monitor unknown name", lambda t: trio_otp.monitor("nobody"), trio_otp.ServerNotRunning, "'nobody'"
    ),
    Wrong(
        "send_after negative delay",
        lambda t: trio_otp.send_after(-1, t.server, "x"),
        ValueError,
        "send_after's delay must be a number of seconds >= 0",
    ),
    Wrong(
        "send_after NaN delay",
        lambda t: trio_otp.send_after(math.nan, t.server, "x"),
        ValueError,
        "send_after's delay must be a number of seconds >= 0",
    ),
    Wrong(
        "send_after string delay",
        lambda t: trio_otp.send_after("1", t.server, "x"),  # type: ignore[arg-type]
        TypeError,
        "send_after's delay must be a number of seconds >= 0",
    ),
    Wrong(
        "send_after unhashable destination",
        lambda t: trio_otp.send_after(1, [], "x"),
        TypeError,
        "send_after's destination (a ServerRef or a name) must be hashable",
    ),
    Wrong(
        "send_interval period 0",
        lambda t: trio_otp.send_interval(0, t.server, "x"),
        ValueError,
        "send_interval's period must be a number of seconds > 0, got 0",
    ),
    Wrong(
        "send_interval period inf",
        lambda t: trio_otp.send_interval(math.inf, t.server, "x"),
        ValueError,
        "send_interval's period must be a finite number of seconds > 0, got inf",
    ),
    Wrong(
        "send_interval period a string",
        lambda t: trio_otp.send_interval("1", t.server, "x"),  # type: ignore[arg-type]
        TypeError,
        "send_interval's period must be a number of seconds > 0, got '1'",
    ),
    Wrong(
        "send_interval unhashable destination",
        lambda t: trio_otp.send_interval(1, [], "x"),
        TypeError,
        "send_interval's destination (a ServerRef or a name) must be hashable",
    ),
    # Ignore is a marker class, returned as it is
    Wrong(
        "Ignore instantiated",
        lambda _t: trio_otp.Ignore(),
        TypeError,
        "trio_otp.Ignore is a marker: return the class itself (return trio_otp.Ignore), not Ignore()",
    ),
    # GenServer timeouts as OTP returns them
    Wrong(
        "Timeout negative", lambda _t: trio_otp.Timeout(-1), ValueError, "Timeout's seconds must be a number"
    ),
    Wrong(
        "Timeout NaN", lambda _t: trio_otp.Timeout(math.nan), ValueError, "Timeout's seconds must be a number"
    ),
    Wrong(
        "Timeout None",
        lambda _t: trio_otp.Timeout(None),  # type: ignore[arg-type]
        TypeError,
        "Timeout's seconds must be a number of seconds >= 0, got None",
    ),
    Wrong(
        "Reply timeout a string",
        lambda _t: trio_otp.Reply(1, timeout="1"),  # type: ignore[arg-type]
        TypeError,
        "Reply's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "NoReply timeout negative",
        lambda _t: trio_otp.NoReply(timeout=-1),
        ValueError,
        "NoReply's timeout must be a number of seconds >= 0 or None",
    ),
    Wrong(
        "Reply timeout with continue_with",
        lambda _t: trio_otp.Reply(1, continue_with="x", timeout=1),
        ValueError,
        "Reply takes continue_with or timeout, not both",
    ),
    # start_timeout, an init deadline
    Wrong(
        "start_server start_timeout negative",
        lambda t: trio_otp.start_server(t.nursery, Echo, start_timeout=-1),
        ValueError,
        "start_timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "server_spec start_timeout a string",
        lambda _t: trio_otp.server_spec("s", Echo, start_timeout="5"),  # type: ignore[arg-type]
        TypeError,
        "server_spec's start_timeout must be a number of seconds >= 0 or None",
    ),
    # Channels in and out of a mailbox
    Wrong(
        "feed channel a list",
        lambda t: trio_otp.feed(t.server, []),  # type: ignore[arg-type]
        TypeError,
        "feed's channel must be a trio.abc.ReceiveChannel, got",
    ),
    Wrong(
        "feed unhashable destination",
        lambda _t: trio_otp.feed([], trio.open_memory_channel[int](0)[1]),
        TypeError,
        "feed's destination (a ServerRef or a name) must be hashable",
    ),
    Wrong(
        "mailbox_channel kind wrong",
        lambda t: trio_otp.mailbox_channel(t.server, kind="call"),  # type: ignore[arg-type]
        ValueError,
        "mailbox_channel's kind must be 'info' or 'cast', got 'call'",
    ),
    Wrong(
        "mailbox_channel unhashable destination",
        lambda _t: trio_otp.mailbox_channel([]),
        TypeError,
        "mailbox_channel's destination (a ServerRef or a name) must be hashable",
    ),
    # Agents
    Wrong(
        "start_agent initial not callable",
        lambda t: trio_otp.start_agent(t.nursery, 0),  # type: ignore[arg-type]
        TypeError,
        "an agent's initial must be a callable",
    ),
    Wrong(
        "agent_spec initial not callable",
        lambda _t: trio_otp.agent_spec("a", 0),  # type: ignore[arg-type]
        TypeError,
        "an agent's initial must be a callable",
    ),
    Wrong(
        "AgentRef.get function not callable",
        lambda t: t.agent.get(5),  # type: ignore[arg-type]
        TypeError,
        "AgentRef.get's function must be a callable",
    ),
    Wrong(
        "AgentRef.update function not callable",
        lambda t: t.agent.update(5),  # type: ignore[arg-type]
        TypeError,
        "AgentRef.update's function must be a callable",
    ),
    Wrong(
        "AgentRef.get_and_update function not callable",
        lambda t: t.agent.get_and_update(5),  # type: ignore[arg-type]
        TypeError,
        "AgentRef.get_and_update's function must be a callable",
    ),
    Wrong(
        "AgentRef.cast_update function not callable",
        lambda t: t.agent.cast_update(5),  # type: ignore[arg-type]
        TypeError,
        "AgentRef.cast_update's function must be a callable",
    ),
    Wrong(
        "AgentRef.get negative timeout",
        lambda t: t.agent.get(timeout=-1),
        ValueError,
        "call's timeout must be a number of seconds >= 0",
    ),
    Wrong(
        "agent() of a name nobody has",
        lambda _t: trio_otp.agent("nobody"),
        trio_otp.ServerNotRunning,
        "'nobody'",
    ),
    # Introspection
    Wrong(
        "snapshot of something that is no supervisor",
        lambda t: trio_otp.snapshot(t.server),
        TypeError,
        "snapshot's root must be a SupervisorRef, DynamicSupervisorRef or TaskSupervisorRef",
    ),
    Wrong(
        "format_tree of something that is no TreeNode",
        lambda t: trio_otp.format_tree(t.root),  # type: ignore[arg-type]
        TypeError,
        "must be a TreeNode",
    ),
    Wrong(
        "to_json of something that is no TreeNode",
        lambda _t: trio_otp.to_json({"id": 1}),  # type: ignore[arg-type]
        TypeError,
        "must be a TreeNode",
    ),
    Wrong(
        "to_dot of something that is no TreeNode",
        lambda _t: trio_otp.to_dot("tree"),  # type: ignore[arg-type]
        TypeError,
        "must be a TreeNode",
    ),
    Wrong(
        "to_mermaid of something that is no TreeNode",
        lambda _t: trio_otp.to_mermaid(None),  # type: ignore[arg-type]
        TypeError,
        "must be a TreeNode",
    ),
    # Looking inside (get_state, replace_state, get_status)
    Wrong(
        "get_state of an unhashable server",
        lambda _t: trio_otp.get_state(["echo"]),  # type: ignore[arg-type]
        TypeError,
        "get_state's server (a ServerRef or a server name) must be hashable",
    ),
    Wrong(
        "get_state of a name nobody has",
        lambda _t: trio_otp.get_state("nobody"),
        trio_otp.ServerNotRunning,
        "'nobody'",
    ),
    Wrong(
        "get_state negative timeout",
        lambda t: trio_otp.get_state(t.server, timeout=-1),
        ValueError,
        "get_state's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "replace_state function not callable",
        lambda t: trio_otp.replace_state(t.server, 5),  # type: ignore[arg-type]
        TypeError,
        "replace_state's function must be a function of the old state returning the new, got 5",
    ),
    Wrong(
        "replace_state with an async function",
        lambda t: trio_otp.replace_state(t.server, work),  # type: ignore[arg-type]
        TypeError,
        "replace_state's function must be a plain function",
    ),
    Wrong(
        "replace_state timeout not a number",
        lambda t: trio_otp.replace_state(t.server, lambda s: s, timeout="1"),  # type: ignore[arg-type]
        TypeError,
        "replace_state's timeout must be a number of seconds >= 0 or None, got '1'",
    ),
    Wrong(
        "replace_state returning another class",
        lambda t: trio_otp.replace_state(t.server, lambda _s: object()),
        trio_otp.ReplaceStateFailed,
        "must return the new state, an instance of Echo (the server's own class), got <object",
    ),
    Wrong(
        "get_status of an unhashable server",
        lambda _t: trio_otp.get_status({}),  # type: ignore[arg-type]
        TypeError,
        "get_status's server (a ServerRef or a server name) must be hashable",
    ),
    # Applications (checked before trio.run is even called)
    Wrong(
        "run_application of something that is no tree",
        lambda _t: run_application_in("tree"),
        TypeError,
        "tree must be a Supervisor, DynamicSupervisor or TaskSupervisor definition",
    ),
    Wrong(
        "run_application with no signals",
        lambda _t: run_application_in(trio_otp.Supervisor([]), shutdown_signals=()),
        ValueError,
        "shutdown_signals must name at least one signal",
    ),
    Wrong(
        "run_application with a signal that is no signal",
        lambda _t: run_application_in(trio_otp.Supervisor([]), shutdown_signals=(signal.SIGTERM, 99999)),
        ValueError,
        "99999, which is not a signal",
    ),
    Wrong(
        "run_application with a report that is no stream",
        lambda _t: run_application_in(trio_otp.Supervisor([]), report="stderr"),
        TypeError,
        "report must be None or a text stream",
    ),
    Wrong(
        "serve_application with signals as a string",
        lambda _t: trio_otp.serve_application(trio_otp.Supervisor([]), "SIGTERM"),  # type: ignore[arg-type]
        TypeError,
        "shutdown_signals must be an iterable of signal numbers",
    ),
    Wrong(
        "run_application with an observer that is no endpoint",
        lambda _t: run_application_in(trio_otp.Supervisor([]), observer=7777),
        TypeError,
        "observer must be None, a socket path or an ObserverEndpoint, got 7777",
    ),
    Wrong(
        "ObserverEndpoint with neither a path nor a port",
        lambda _t: trio_otp.ObserverEndpoint(),
        ValueError,
        "ObserverEndpoint needs exactly one of path (a Unix socket) and port (TCP)",
    ),
    Wrong(
        "ObserverEndpoint with both a path and a port",
        lambda _t: trio_otp.ObserverEndpoint("/tmp/x.sock", port=1),
        ValueError,
        "needs exactly one of path",
    ),
    Wrong(
        "ObserverEndpoint with an empty path",
        lambda _t: trio_otp.ObserverEndpoint(""),
        ValueError,
        "ObserverEndpoint's path must name a socket file, got ''",
    ),
    Wrong(
        "ObserverEndpoint with a path that is no path",
        lambda _t: trio_otp.ObserverEndpoint(b"/tmp/x.sock"),  # type: ignore[arg-type]
        TypeError,
        "ObserverEndpoint's path must be a str or os.PathLike naming a socket file, got b'/tmp/x.sock'",
    ),
    Wrong(
        "ObserverEndpoint with a port out of range",
        lambda _t: trio_otp.ObserverEndpoint(port=70000),
        ValueError,
        "ObserverEndpoint's port must be within 0..65535 (0: any free port), got 70000",
    ),
    Wrong(
        "ObserverEndpoint with a port that is no int",
        lambda _t: trio_otp.ObserverEndpoint(port="7777"),  # type: ignore[arg-type]
        TypeError,
        "ObserverEndpoint's port must be an int, got '7777'",
    ),
    Wrong(
        "ObserverEndpoint on a host beyond this machine without allow_remote",
        lambda _t: trio_otp.ObserverEndpoint(port=7777, host="0.0.0.0"),
        ValueError,
        "host '0.0.0.0' is not a loopback address; the observer has no authentication, "
        "so listening beyond this machine needs allow_remote=True",
    ),
    Wrong(
        "ObserverEndpoint with allow_remote that is no bool",
        lambda _t: trio_otp.ObserverEndpoint(port=7777, allow_remote="yes"),  # type: ignore[arg-type]
        TypeError,
        "ObserverEndpoint's allow_remote must be a bool, got 'yes'",
    ),
    Wrong(
        "propagate_context of something that is no context variable",
        lambda _t: trio_otp.propagate_context("request_id"),  # type: ignore[arg-type]
        TypeError,
        "propagate_context takes contextvars.ContextVar objects or ContextCarriers "
        "(with capture, enter and exit), got 'request_id'",
    ),
    # Events and the testing kit
    Wrong(
        "events.attach not callable",
        lambda _t: trio_otp.events.attach("handler"),  # type: ignore[arg-type]
        TypeError,
        "an event handler must be a callable",
    ),
    Wrong(
        "exit_child reason not an exception",
        lambda t: testing.exit_child(t.root, "a", "boom"),  # type: ignore[arg-type]
        TypeError,
        "exit_child's reason must be None, an Exception instance or trio_otp.KILL",
    ),
    Wrong(
        "exit_child of an unknown child",
        lambda t: testing.exit_child(t.root, "nope"),
        trio_otp.ChildNotFound,
        "'nope'",
    ),
    Wrong(
        "exit_child of something that is no supervisor",
        lambda t: testing.exit_child(t.tasks, "w"),  # type: ignore[arg-type]
        TypeError,
        "exit_child's supervisor must be a SupervisorRef or a DynamicSupervisorRef",
    ),
    Wrong(
        "exit_child of a dynamic child by id",
        lambda t: testing.exit_child(t.pool, "w"),
        TypeError,
        "exit_child's child must be the DynamicChild that start_child returned",
    ),
    Wrong(
        "crash_schedules max_events negative",
        lambda _t: testing.crash_schedules([("a",)], max_events=-1),
        ValueError,
        "crash_schedules' max_events must be a whole number >= 0",
    ),
    Wrong(
        "crash_schedules no paths",
        lambda _t: testing.crash_schedules([]),
        ValueError,
        "crash_schedules' paths must name at least one child",
    ),
    Wrong(
        "crash_schedules negative time step",
        lambda _t: testing.crash_schedules([("a",)], time_steps=(1.0, -1.0)),
        ValueError,
        "each of crash_schedules' time_steps must be a number of seconds >= 0",
    ),
    Wrong(
        "whereis kind not a class",
        lambda t: trio_otp.whereis("echo", "ServerRef"),  # type: ignore[call-overload]
        TypeError,
        "whereis's kind must be a reference class such as trio_otp.ServerRef, got 'ServerRef'",
    ),
    Wrong(
        "whereis of another kind",
        lambda t: trio_otp.whereis("echo", trio_otp.SupervisorRef),
        TypeError,
        "the process named 'echo' is <ServerRef Echo 'echo' (running)>, not a SupervisorRef",
    ),
    Wrong(
        "call by the name of no server",
        lambda t: trio_otp.call("root", "x"),
        TypeError,
        "'root' names <SupervisorRef 'root' (running)>, which is not a server",
    ),
    Wrong(
        "supervisor stop reason not an exception",
        lambda t: t.root.stop("bye"),  # type: ignore[arg-type]
        TypeError,
        "stop's reason must be None (a normal exit) or an Exception instance",
    ),
    Wrong(
        "supervisor stop reason an interrupt",
        lambda t: t.tasks.stop(KeyboardInterrupt()),  # type: ignore[arg-type]
        TypeError,
        "(an interrupt such as KeyboardInterrupt is no exit reason), got KeyboardInterrupt()",
    ),
    Wrong(
        "exit reason an interrupt",
        lambda t: trio_otp.exit("echo", SystemExit(1)),  # type: ignore[arg-type]
        TypeError,
        "(an interrupt such as KeyboardInterrupt is no exit reason), got SystemExit(1)",
    ),
    Wrong(
        "supervisor stop negative timeout",
        lambda t: t.pool.stop(timeout=-1),
        ValueError,
        "stop's timeout must be a number of seconds >= 0 or None, got -1",
    ),
    Wrong(
        "start_child by an unknown name",
        lambda t: trio_otp.start_child("nobody", trio_otp.ChildSpec("x", parked)),
        trio_otp.SupervisorNotRunning,
        "no running supervisor is registered as 'nobody'",
    ),
    Wrong(
        "start_child by a server's name",
        lambda t: trio_otp.start_child("echo", trio_otp.ChildSpec("x", parked)),
        TypeError,
        "start_child: 'echo' names <ServerRef Echo 'echo' (running)>, which is not a supervisor",
    ),
    Wrong(
        "start_child on a TaskSupervisor",
        lambda t: trio_otp.start_child(t.tasks, trio_otp.ChildSpec("x", parked)),
        TypeError,
        "is a TaskSupervisor, whose children are tasks; use TaskSupervisorRef.spawn",
    ),
    Wrong(
        "start_child by name, not a spec",
        lambda t: trio_otp.start_child("root", "x"),  # type: ignore[arg-type]
        TypeError,
        "start_child takes a ChildSpec, got 'x'",
    ),
    Wrong(
        "terminate_child by an unhashable name",
        lambda t: trio_otp.terminate_child(["root"], "a"),
        TypeError,
        "terminate_child's supervisor (a supervisor's ref or its name) must be hashable",
    ),
    Wrong(
        "restart_child on a DynamicSupervisor",
        lambda t: trio_otp.restart_child(t.pool, "a"),
        TypeError,
        "restart_child: <DynamicSupervisorRef 'pool' (running)> is not a Supervisor",
    ),
    Wrong(
        "delete_child of an unknown id",
        lambda t: trio_otp.delete_child("root", "nobody"),
        trio_otp.ChildNotFound,
        "has no child with id 'nobody'",
    ),
    Wrong(
        "which_children of a server",
        lambda t: trio_otp.which_children("echo"),
        TypeError,
        "which_children: 'echo' names <ServerRef Echo 'echo' (running)>, which is not a supervisor",
    ),
    Wrong(
        "count_children by an unknown name",
        lambda t: trio_otp.count_children("nobody"),
        trio_otp.SupervisorNotRunning,
        "no running supervisor is registered as 'nobody'",
    ),
    Wrong(
        "exit reason not an exception",
        lambda t: trio_otp.exit(t.server, "bye"),  # type: ignore[arg-type]
        TypeError,
        "exit's reason must be None, an Exception instance or trio_otp.KILL (an interrupt such as "
        "KeyboardInterrupt is no exit reason), got 'bye'",
    ),
    Wrong(
        "exit of an unknown name",
        lambda t: trio_otp.exit("nobody", trio_otp.KILL),
        trio_otp.ChildNotFound,
        "no running process is registered as 'nobody'",
    ),
    Wrong(
        "exit of an unhashable target",
        lambda t: trio_otp.exit(["echo"], None),
        TypeError,
        "exit's target (a reference or a name) must be hashable",
    ),
    Wrong(
        "exit of a server that is nobody's child",
        lambda t: trio_otp.exit(t.loose, None),
        trio_otp.ChildNotFound,
        "is not a running supervised child",
    ),
    # StateMachine: its starts, specs and what its callbacks return, checked when built
    Wrong(
        "start_state_machine factory builds no StateMachine",
        lambda t: trio_otp.start_state_machine(t.nursery, Echo),  # type: ignore[arg-type]
        TypeError,
        "a state machine factory must return a StateMachine instance, got",
    ),
    Wrong(
        "start_state_machine factory not callable",
        lambda t: trio_otp.start_state_machine(t.nursery, 5),  # type: ignore[arg-type]
        TypeError,
        "factory must be a callable that builds the state machine",
    ),
    Wrong(
        "start_state_machine name taken",
        lambda t: trio_otp.start_state_machine(t.nursery, _Machine, name="echo"),
        trio_otp.NameTaken,
        "echo",
    ),
    Wrong(
        "state_machine_spec mailbox_size 0",
        lambda _t: trio_otp.state_machine_spec("m", _Machine, mailbox_size=0),
        ValueError,
        "mailbox_size must be a whole number >= 1 or math.inf, got 0",
    ),
    Wrong(
        "serve_state_machine name unhashable",
        lambda t: t.nursery.start(trio_otp.serve_state_machine, _Machine, ["n"]),
        TypeError,
        "must be hashable",
    ),
    Wrong(
        "StateTimeout negative",
        lambda _t: trio_otp.StateTimeout(-1),
        ValueError,
        "StateTimeout's seconds (>= 0; math.inf cancels) must be",
    ),
    Wrong(
        "EventTimeout a string",
        lambda _t: trio_otp.EventTimeout("5"),  # type: ignore[arg-type]
        TypeError,
        "EventTimeout's seconds (>= 0; math.inf cancels) must be",
    ),
    Wrong(
        "GenericTimeout name unhashable",
        lambda _t: trio_otp.GenericTimeout(["retry"], 1),
        TypeError,
        "GenericTimeout's name must be hashable",
    ),
    Wrong(
        "NextEvent of no event",
        lambda _t: trio_otp.NextEvent("go"),  # type: ignore[arg-type]
        TypeError,
        "NextEvent's event must be an InternalEvent, CastEvent, InfoEvent, CallEvent or a timeout event",
    ),
    Wrong(
        "NextEvent of an EnterEvent",
        lambda _t: trio_otp.NextEvent(trio_otp.EnterEvent("a")),
        TypeError,
        "(not an EnterEvent)",
    ),
    Wrong(
        "ReplyTo without a Caller",
        lambda _t: trio_otp.ReplyTo("caller", 1),  # type: ignore[arg-type]
        TypeError,
        "ReplyTo's caller must be the Caller of a CallEvent",
    ),
    Wrong(
        "NextState with an action that is none",
        lambda _t: trio_otp.NextState("a", None, "postpone"),  # type: ignore[arg-type]
        TypeError,
        "NextState's actions must be Postpone, NextEvent, ReplyTo, StateTimeout, EventTimeout or "
        "GenericTimeout",
    ),
    Wrong(
        "KeepState with a timeout class, not an instance",
        lambda _t: trio_otp.KeepState(None, trio_otp.StateTimeout),  # type: ignore[arg-type]
        TypeError,
        "KeepState's actions must be",
    ),
    Wrong(
        "StopMachine reason a string",
        lambda _t: trio_otp.StopMachine("done"),  # type: ignore[arg-type]
        TypeError,
        "StopMachine's reason must be None (a normal exit) or an exception instance, got 'done'",
    ),
    Wrong(
        "StopMachine reply not a ReplyTo",
        lambda _t: trio_otp.StopMachine(None, "bye"),  # type: ignore[arg-type]
        TypeError,
        "StopMachine's replies must be ReplyTo actions",
    ),
    Wrong(
        "play_schedule of something that is no supervisor",
        lambda t: testing.play_schedule("root", []),  # type: ignore[arg-type]
        TypeError,
        "play_schedule's root must be a SupervisorRef",
    ),
    # trio_otp.ray: checked when the spec is built, so without Ray.
    Wrong(
        "actor_spec of an instance, not a class",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass()),  # type: ignore[arg-type]
        TypeError,
        "actor_spec's cls must be a class, got",
    ),
    Wrong(
        "actor_spec of a class with an async method",
        lambda t: trio_otp.ray.actor_spec("a", AsyncActorClass),
        TypeError,
        "has an async method 'handle': trio_otp runs Ray actors as threaded actors",
    ),
    Wrong(
        "actor_spec with Ray's restarts",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, options={"max_restarts": 3}),
        ValueError,
        "actor_spec's options may not set 'max_restarts': trio_otp's supervisor does the restarts",
    ),
    Wrong(
        "actor_spec of a detached actor",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, options={"lifetime": "detached"}),
        ValueError,
        "may not set 'lifetime': a supervised actor shares the fate of its driver",
    ),
    Wrong(
        "actor_spec with a Ray actor name",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, options={"name": "x"}),
        ValueError,
        "use the trio_otp name (actor_spec's name=)",
    ),
    Wrong(
        "actor_spec with options that are no mapping",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, options=[("num_cpus", 1)]),  # type: ignore[arg-type]
        TypeError,
        "actor_spec's options must be a mapping of Ray actor options",
    ),
    Wrong(
        "actor_spec with a zero start timeout",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, start_timeout=0),
        ValueError,
        "actor_spec's start_timeout must be a number of seconds > 0, got 0",
    ),
    Wrong(
        "actor_spec with a negative unavailable grace",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, unavailable_grace=-1),
        ValueError,
        "actor_spec's unavailable_grace must be a number of seconds >= 0, got -1",
    ),
    Wrong(
        "actor_spec with args that are a string",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, args="xy"),  # type: ignore[arg-type]
        TypeError,
        "actor_spec's args must be a tuple of positional arguments",
    ),
    Wrong(
        "actor_spec with an unhashable name",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, name=["a"]),
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "actor_spec with a bad shutdown",
        lambda t: trio_otp.ray.actor_spec("a", ActorClass, shutdown=0),
        ValueError,
        "ChildSpec.shutdown must be a budget in seconds greater than 0",
    ),
    Wrong(
        "ActorClient with an unhashable name",
        lambda t: trio_otp.ray.ActorClient(["a"]),
        TypeError,
        "name must be hashable",
    ),
    Wrong(
        "ActorClient call when no actor has the name",
        lambda t: trio_otp.ray.ActorClient("no actor").call("add"),
        trio_otp.ServerNotRunning,
        "no Ray actor is running under the name 'no actor'",
    ),
    Wrong(
        "ActorClient call of a name that is a server",
        lambda t: trio_otp.ray.ActorClient("echo").call("add"),
        TypeError,
        "the process named 'echo' is",
    ),
]


class ActorClass:
    def add(self, amount: int) -> int:
        return amount


class AsyncActorClass:
    async def handle(self) -> None:
        pass


def program(*argv: Any, **options: Any) -> Callable[[Tree], object]:
    return lambda _tree: trio_otp.os_process_spec("p", list(argv) if argv else ["true"], **options)


# Supervised OS programs: at construction.
WRONG += [
    Wrong(
        "os_process_spec argv a command line",
        lambda _t: trio_otp.os_process_spec("p", "sleep 10"),
        TypeError,
        "argv must be a list of the program and its arguments (['sleep', '10'], not 'sleep 10')",
    ),
    Wrong(
        "os_process_spec argv empty",
        lambda _t: trio_otp.os_process_spec("p", []),
        ValueError,
        "argv must start with the program to run",
    ),
    Wrong("os_process_spec argv item an int", program("sleep", 10), TypeError, "argv must hold only str"),
    Wrong("os_process_spec id unhashable", lambda _t: trio_otp.os_process_spec(["p"], ["true"]), TypeError,
          "os_process_spec's id must be hashable"),
    Wrong("os_process_spec env value an int", program(env={"N": 1}), TypeError, "env must map str to str"),
    Wrong("os_process_spec env a list", program(env=["A=1"]), TypeError, "env must be a mapping"),
    Wrong("os_process_spec env name with =", program(env={"A=B": "1"}), ValueError,
          "os_process_spec's env names must be non-empty and hold no '=' or NUL, got 'A=B'"),
    Wrong("os_process_spec env name empty", program(env={"": "1"}), ValueError,
          "os_process_spec's env names must be non-empty and hold no '=' or NUL, got ''"),
    Wrong("os_process_spec env value with NUL", program(env={"A": "x\0y"}), ValueError,
          "os_process_spec's env values must hold no NUL, got 'A': 'x\\x00y'"),
    Wrong("os_process_spec cwd an int", program(cwd=3), TypeError, "cwd must be a path"),
    Wrong("os_process_spec ready a string", program(ready="listening"), TypeError,
          "ready must be ReadyAtExec(), ReadyOnOutput(pattern)"),
    Wrong("os_process_spec start_timeout 0", program(start_timeout=0), ValueError,
          "start_timeout must be a number of seconds > 0 or None, got 0"),
    Wrong("os_process_spec start_timeout a string", program(start_timeout="5"), TypeError,
          "start_timeout must be a number of seconds"),
    Wrong("os_process_spec stop_signal unknown", program(stop_signal=999), ValueError,
          "stop_signal must be a signal of this system, got 999"),
    Wrong("os_process_spec stop_signal a name", program(stop_signal="SIGTERM"), TypeError,
          "stop_signal must be a signal number"),
    Wrong("os_process_spec clean status 256", program(clean_exit_statuses=[256]), ValueError,
          "clean_exit_statuses must hold exit statuses from 0 to 255, got 256"),
    Wrong("os_process_spec clean statuses an int", program(clean_exit_statuses=3), TypeError,
          "clean_exit_statuses must be a collection of ints"),
    Wrong("os_process_spec on_output not callable", program(on_output="log"), TypeError,
          "on_output must be a callable taking (stream, line)"),
    Wrong("os_process_spec max_line_bytes 0", program(max_line_bytes=0), ValueError,
          "max_line_bytes must be >= 1, got 0"),
    Wrong("os_process_spec stdin_lifeline 1", program(stdin_lifeline=1), TypeError,
          "stdin_lifeline must be True or False"),
    Wrong("os_process_spec shutdown negative", program(shutdown=-1), ValueError,
          "ChildSpec.shutdown must be a budget"),
    Wrong("os_process_spec permanent significant", program(significant=True), ValueError,
          "cannot be significant"),
    Wrong("ReadyOnOutput bad regex", lambda _t: trio_otp.ReadyOnOutput("(unclosed"), ValueError,
          "ReadyOnOutput.pattern must be a valid regular expression"),
    Wrong("ReadyOnOutput bytes pattern", lambda _t: trio_otp.ReadyOnOutput(b"ready"), TypeError,
          "ReadyOnOutput.pattern must be a str or a compiled str pattern"),
    Wrong("ReadyOnOutput stream stdin", lambda _t: trio_otp.ReadyOnOutput("x", stream="stdin"), ValueError,
          "ReadyOnOutput.stream must be 'stdout' or 'stderr'"),
    Wrong("ReadyOnConnect neither port nor path", lambda _t: trio_otp.ReadyOnConnect(), ValueError,
          "ReadyOnConnect needs exactly one of port="),
    Wrong("ReadyOnConnect port and path", lambda _t: trio_otp.ReadyOnConnect(port=80, path="/s"), ValueError,
          "ReadyOnConnect needs exactly one of port="),
    Wrong("ReadyOnConnect port 0", lambda _t: trio_otp.ReadyOnConnect(port=0), ValueError,
          "ReadyOnConnect.port must be from 1 to 65535, got 0"),
    Wrong("ReadyOnConnect port a string", lambda _t: trio_otp.ReadyOnConnect(port="80"), TypeError,
          "ReadyOnConnect.port must be an int"),
    Wrong("ReadyOnNotification fd 1", lambda _t: trio_otp.ReadyOnNotification(1), ValueError,
          "ReadyOnNotification.fd must be >= 3"),
    Wrong("ReadyOnNotification fd a string", lambda _t: trio_otp.ReadyOnNotification("3"), TypeError,
          "ReadyOnNotification.fd must be an int >= 3"),
]  # fmt: skip


async def _coroutine() -> None:
    pass


async def _first(results: Any) -> object:
    async for result in results:
        return result
    return None


async def _shutdown(tree: Tree, budget: Any) -> object:
    handle = await tree.tasks.spawn(trio.sleep, 1)
    try:
        return await handle.shutdown(budget)
    finally:
        assert not handle.done  # the wrong call stopped nothing
        await handle.result()


async def _many(tree: Tree, function: Any, handles: Callable[[Any], object], **options: Any) -> object:
    handle = await tree.tasks.spawn(work, 1)
    return await function(handles(handle), **options)


async def _result(tree: Tree, **options: Any) -> object:
    handle = await tree.tasks.spawn(work, 1)
    return await handle.result(**options)


@pytest.mark.parametrize("wrong", WRONG, ids=[wrong.label for wrong in WRONG])
async def test_a_wrong_input_gets_a_clear_error_at_the_call_and_harms_nothing(
    autojump_clock: MockClock, wrong: Wrong
) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(
            trio_otp.Supervisor(
                [
                    trio_otp.agent_spec("agent", lambda: 0, name="agent"),
                    trio_otp.server_spec("echo", Echo, name="echo"),
                    trio_otp.ChildSpec("a", parked),
                ],
                name="root",
            ).run
        )
        pool = await nursery.start(trio_otp.DynamicSupervisor(name="pool").run)
        await pool.start_child(trio_otp.ChildSpec("w", parked))
        tasks = await nursery.start(trio_otp.TaskSupervisor(name="tasks").run)
        echo = trio_otp.whereis("echo", trio_otp.ServerRef)
        assert echo is not None
        loose = await trio_otp.start_server(nursery, Echo)
        agent = trio_otp.agent("agent")
        tree = Tree(nursery, root, pool, tasks, echo, agent, trio_otp.Registry(), loose)
        with pytest.raises(wrong.error) as raised:  # noqa: PT012 - a call, then maybe its await
            result = wrong.call(tree)
            if isinstance(result, Awaitable):
                await result
        message = str(raised.value)
        assert wrong.says in message, f"{message!r} does not say {wrong.says!r}"
        await settle()
        await tree.check_unharmed()
        nursery.cancel_scope.cancel()


def test_the_table_covers_the_public_api() -> None:
    """A public callable added without a row here is a reminder, not an accident."""
    covered = {
        "AgentRef", "ChildSpec", "DynamicSupervisor", "DynamicSupervisorRef", "Registry", "ServerRef",
        "Stop", "Supervisor", "SupervisorRef", "TaskHandle", "TaskSupervisor", "TaskSupervisorRef", "Via",
        "agent", "agent_spec", "call", "cast", "events", "format_tree", "get_state", "get_status", "monitor",
        "replace_state", "run_application",
        "send", "send_after", "serve", "serve_application", "server_spec", "snapshot", "start_agent",
        "start_server", "to_dot", "to_json", "to_mermaid", "whereis", "exit", "start_child",
        "terminate_child", "restart_child", "delete_child", "which_children", "count_children",
        "await_many", "yield_many", "send_interval", "Partition", "PartitionSupervisor",
        # WorkerPoolRef.run's wrong inputs need worker processes, so real time: they are in
        # test_worker_pool.py.
        "WorkerPool", "WorkerPoolRef",
        "os_process_spec", "ReadyOnOutput", "ReadyOnConnect", "ReadyOnNotification",
        "start_state_machine", "state_machine_spec", "serve_state_machine", "StateTimeout", "EventTimeout",
        "GenericTimeout", "NextEvent", "ReplyTo", "NextState", "KeepState", "RepeatState", "StopMachine",
        "ObserverEndpoint", "propagate_context",
        "Timeout", "Reply", "NoReply", "Ignore",
        "feed", "mailbox_channel", "MailboxChannel", "ChannelClosed",
        "send_request", "RequestId", "RequestIdCollection", "current_server", "multi_call", "abcast",
    }  # fmt: skip
    # trio_otp.ray's callables have rows too (actor_spec, ActorClient); its other names are
    # handles the runtime makes, a function for inside an actor, and the bridge.
    # Public names that take no argument a caller could get wrong, or are only data.
    nothing_to_check = {
        "BRUTAL_KILL", "DEFAULT_CALL_TIMEOUT", "INFINITY", "NO_REPLY", "Caller", "ChildCounts",
        "ChildInfo", "ChildState", "ChildType", "Continue", "Down", "DynamicChild", "Entry",
        "GenServer", "IdleTimeout", "Keys", "Monitor", "NoReply", "Reply", "Restart",
        "RestartStrategy", "AutoShutdown", "RegistryEvent", "ShutdownMode", "Timer", "TreeNode",
        "__version__", "cleanup_scope", "KILL", "ExitMode", "processes", "ProcessInfo", "ServerStatus",
        "TaskOk", "TaskExit",
        "ReadyAtExec", "OsProcessRef",
        "StateMachine", "Postpone", "Event", "Action", "Transition", "CallEvent", "CastEvent", "InfoEvent",
        "InternalEvent", "EnterEvent", "StateTimeoutEvent", "EventTimeoutEvent", "GenericTimeoutEvent",
        "ContextCarrier",
    }  # fmt: skip
    exceptions = {
        name
        for name in trio_otp.__all__
        if isinstance(getattr(trio_otp, name), type) and issubclass(getattr(trio_otp, name), BaseException)
    }
    assert set(trio_otp.__all__) - covered - nothing_to_check - exceptions == set()


async def test_a_server_spec_given_other_arguments_is_checked_again_at_its_start(
    autojump_clock: MockClock,
) -> None:
    # server_spec checked its own arguments, so a start from it skips serve's checks; a
    # spec made from it with other arguments (attrs.evolve, a partition's with_arguments)
    # is checked at its start, as any call of serve is.
    spec = attrs.evolve(trio_otp.server_spec("s", Echo), args=(Echo, None, -1, None))
    with pytest.raises(trio_otp.ChildStartError) as failed:
        await trio_otp.Supervisor([spec]).run()
    assert isinstance(failed.value.reason, ValueError)
    assert "mailbox_size must be a whole number >= 1" in str(failed.value.reason)


async def test_a_server_spec_whose_start_was_replaced_is_checked_again(autojump_clock: MockClock) -> None:
    # The cached checks hold for serve given the spec's own arguments; a start function
    # put in their place (past the frozen class) passes serve what it likes.
    async def other_start(*args: object, task_status: Any) -> None:
        await trio_otp.serve(Echo, None, -1, None, task_status=task_status)

    spec = trio_otp.server_spec("s", Echo)
    object.__setattr__(spec, "start", other_start)
    with pytest.raises(trio_otp.ChildStartError) as failed:
        await trio_otp.Supervisor([spec]).run()
    assert isinstance(failed.value.reason, ValueError)
    assert "mailbox_size must be a whole number >= 1" in str(failed.value.reason)
