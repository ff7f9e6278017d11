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
    Wrong(
        "play_schedule of something that is no supervisor",
        lambda t: testing.play_schedule("root", []),  # type: ignore[arg-type]
        TypeError,
        "play_schedule's root must be a SupervisorRef",
    ),
]


async def _coroutine() -> None:
    pass


async def _first(results: Any) -> object:
    async for result in results:
        return result
    return None


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
        "Timeout", "Reply", "NoReply",
        "feed", "mailbox_channel", "MailboxChannel", "ChannelClosed",
    }  # fmt: skip
    # Public names that take no argument a caller could get wrong, or are only data.
    nothing_to_check = {
        "BRUTAL_KILL", "DEFAULT_CALL_TIMEOUT", "INFINITY", "NO_REPLY", "Caller", "ChildCounts",
        "ChildInfo", "ChildState", "ChildType", "Continue", "Down", "DynamicChild", "Entry",
        "GenServer", "IdleTimeout", "Keys", "Monitor", "NoReply", "Reply", "Restart",
        "RestartStrategy", "AutoShutdown", "RegistryEvent", "ShutdownMode", "Timer", "TreeNode",
        "__version__", "cleanup_scope", "KILL", "ExitMode", "processes", "ProcessInfo", "ServerStatus",
    }  # fmt: skip
    exceptions = {
        name
        for name in trio_otp.__all__
        if isinstance(getattr(trio_otp, name), type) and issubclass(getattr(trio_otp, name), BaseException)
    }
    assert set(trio_otp.__all__) - covered - nothing_to_check - exceptions == set()
