"""Looking inside a running system: get_state, replace_state, get_status, processes(),
and what snapshot shows of a busy server."""

from __future__ import annotations

import functools
import json
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import ScriptedWorkers, settle


@attrs.define
class Counter(trio_otp.GenServer[str, int]):
    total: int = 0
    secret: str = "hunter2"
    release: trio.Event = attrs.field(factory=trio.Event)
    hold: trio.Event = attrs.field(factory=trio.Event)
    linger: bool = False  # terminate waits for `ended`
    ended: trio.Event = attrs.field(factory=trio.Event)

    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        if request == "stuck":
            await self.release.wait()
        return self.total

    async def handle_cast(self, request: Any) -> None:
        if request == "crash":
            raise RuntimeError("boom")
        if request == "hold":
            await self.hold.wait()
            return
        self.total += request

    def format_status(self) -> object:
        return {"total": self.total, "secret": "<redacted>"}

    async def terminate(self, reason: BaseException | None) -> None:
        if self.linger:
            await self.ended.wait()


async def stuck(server: trio_otp.ServerRef[str, int], nursery: trio.Nursery) -> None:
    """Leave ``server`` inside a handle_call that waits for ``release``."""
    nursery.start_soon(functools.partial(server.call, "stuck", timeout=None))
    await settle()


# --- get_state and replace_state: system messages, between callbacks -------------------


async def test_get_state_is_the_server_object_as_the_earlier_messages_left_it(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Counter, name="counter")
        server.cast(1)
        server.cast(2)
        state = await trio_otp.get_state(server)
        assert isinstance(state, Counter)
        assert state.total == 3
        assert await trio_otp.get_state("counter") is state  # by name, and the object itself
        nursery.cancel_scope.cancel()


async def test_get_state_waits_for_a_stuck_callback_and_times_out_as_a_call(
    autojump_clock: MockClock,
) -> None:
    counter = Counter()
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, lambda: counter)
        await stuck(server, nursery)
        started = trio.current_time()
        with pytest.raises(
            trio_otp.CallTimeout, match=r"get_state of server Counter got no reply within 2 s"
        ):
            await trio_otp.get_state(server, timeout=2)
        assert trio.current_time() - started == 2
        assert server.alive  # a timeout does not touch the server
        answers: list[Counter] = []

        async def ask() -> None:
            answers.append(await trio_otp.get_state(server, timeout=None))

        nursery.start_soon(ask)
        await trio.sleep(10)
        assert answers == []  # still behind the stuck call: never during a callback
        counter.release.set()
        await settle()
        assert answers == [counter]
        nursery.cancel_scope.cancel()


async def test_replace_state_runs_in_mailbox_order_between_casts(autojump_clock: MockClock) -> None:
    counter = Counter()
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, lambda: counter)
        await stuck(server, nursery)
        server.cast(1)
        nursery.start_soon(trio_otp.replace_state, server, lambda old: Counter(old.total * 10))
        await settle()  # the replace is queued behind the first cast
        server.cast(1)  # and before this one
        counter.release.set()
        await settle()
        assert await server.call("total") == 11
        nursery.cancel_scope.cancel()


async def test_replace_state_returns_the_new_state_which_later_callbacks_use(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Counter)
        old = await trio_otp.get_state(server)
        new = await trio_otp.replace_state(server, lambda _: Counter(total=100))
        assert new is not old
        assert new.total == 100
        server.cast(5)
        assert await server.call("total") == 105
        assert await trio_otp.get_state(server) is new
        assert (await trio_otp.replace_state(server, lambda state: state)) is new  # in place is fine
        nursery.cancel_scope.cancel()


async def test_a_failing_replace_state_leaves_the_server_running_and_its_state_unchanged(
    autojump_clock: MockClock,
) -> None:
    def broken(_state: Counter) -> Counter:
        raise KeyError("oops")

    class Other(trio_otp.GenServer[Any, Any]):
        pass

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Counter)
        server.cast(7)
        before = await trio_otp.get_state(server)
        with pytest.raises(trio_otp.ReplaceStateFailed, match="the state was not replaced") as raised:
            await trio_otp.replace_state(server, broken)
        assert isinstance(raised.value.__cause__, KeyError)
        with pytest.raises(trio_otp.ReplaceStateFailed) as raised:
            await trio_otp.replace_state(server, lambda _: Other())  # type: ignore[arg-type, return-value]
        assert isinstance(raised.value.__cause__, TypeError)
        assert "an instance of Counter" in str(raised.value.__cause__)
        with pytest.raises(trio_otp.ReplaceStateFailed) as raised:
            await trio_otp.replace_state(server, lambda _: Counter(total=1, idle_timeout=-1))  # type: ignore[call-arg]
        assert "idle_timeout" in str(raised.value.__cause__)
        assert server.alive
        assert await trio_otp.get_state(server) is before
        assert await server.call("total") == 7
        nursery.cancel_scope.cancel()


async def test_system_messages_are_never_refused_by_a_full_mailbox(autojump_clock: MockClock) -> None:
    counter = Counter()
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, lambda: counter, mailbox_size=1)
        await stuck(server, nursery)
        server.cast(1)
        with pytest.raises(trio_otp.MailboxFull):
            server.cast(1)
        answers: list[int] = []

        async def ask() -> None:
            answers.append((await trio_otp.get_state(server, timeout=None)).total)

        nursery.start_soon(ask)
        await settle()
        assert trio_otp.get_status(server).mailbox == 2  # the cast and the get_state
        counter.release.set()
        await settle()
        assert answers == [1]
        nursery.cancel_scope.cancel()


async def test_system_calls_fail_as_calls_do_when_the_server_ends(autojump_clock: MockClock) -> None:
    failures: list[BaseException] = []

    async def ask(server: trio_otp.ServerRef[str, int]) -> None:
        try:
            await trio_otp.get_state(server, timeout=None)
        except trio_otp.ServerExited as error:
            failures.append(error)

    async with trio.open_nursery() as nursery:
        async with trio.open_nursery() as servers:
            server = await trio_otp.start_server(servers, Counter)
            await stuck(server, servers)
            nursery.start_soon(ask, server)
            await settle()
            servers.cancel_scope.cancel()  # the server is shut down with get_state queued
        await settle()
    assert len(failures) == 1
    assert "was shut down before replying" in str(failures[0])
    with pytest.raises(trio_otp.ServerNotRunning):
        await trio_otp.get_state(server)
    with pytest.raises(trio_otp.ServerNotRunning):
        await trio_otp.replace_state(server, lambda state: state)
    with pytest.raises(trio_otp.ServerNotRunning):
        trio_otp.get_status(server)
    with pytest.raises(trio_otp.ServerNotRunning, match="'nobody'"):
        trio_otp.get_status("nobody")


async def test_a_crash_queued_before_get_state_fails_it_with_server_exited(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(
            trio_otp.Supervisor([trio_otp.server_spec("c", Counter, name="c")], max_restarts=5).run
        )
        del supervisor
        server = trio_otp.whereis("c")
        assert server is not None
        server.cast("crash")
        with pytest.raises(trio_otp.ServerExited, match="crashed before replying") as raised:
            await trio_otp.get_state(server)
        assert isinstance(raised.value.__cause__, RuntimeError)
        nursery.cancel_scope.cancel()


async def test_a_server_asking_for_its_own_state_gets_an_error(autojump_clock: MockClock) -> None:
    class Selfish(trio_otp.GenServer[str, str]):
        async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
            try:
                await trio_otp.get_state("selfish")
            except trio_otp.ServerError as error:
                return str(error)
            return "no error"

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Selfish, name="selfish")
        assert "asked itself for get_state" in await server.call("go")
        nursery.cancel_scope.cancel()


# --- get_status: a direct read ----------------------------------------------------------


async def test_get_status_while_a_callback_is_stuck(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Counter, name="hits")
        idle = trio_otp.get_status("hits")
        assert idle.message is None
        assert idle.handling_for is None
        assert idle.mailbox == 0
        await trio.sleep(1)
        await stuck(server, nursery)
        server.cast(1)
        server.cast(2)
        await trio.sleep(3)
        status = trio_otp.get_status(server)
        assert status.message == ("call", "stuck")
        assert status.handling_for == 3.0
        assert status.mailbox == 2
        assert status.server_class is Counter
        assert status.label == "Counter 'hits'"
        assert status.name == "hits"
        assert status.state == {"total": 0, "secret": "<redacted>"}  # format_status, not the object
        assert (status.alive, status.stopping) == (True, False)
        assert (status.restarts, status.child_id, status.supervisors) == (None, None, ())
        nursery.cancel_scope.cancel()


async def test_handling_time_starts_when_the_message_is_taken_even_straight_after_another(
    autojump_clock: MockClock,
) -> None:
    counter = Counter()
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, lambda: counter)
        await stuck(server, nursery)
        server.cast("hold")  # taken the moment the call returns, without the server parking
        await trio.sleep(5)
        assert trio_otp.get_status(server).handling_for == 5.0
        counter.release.set()
        await trio.sleep(2)
        status = trio_otp.get_status(server)
        assert status.message == ("cast", "hold")
        assert status.handling_for == 2.0
        counter.hold.set()
        await settle()
        assert trio_otp.get_status(server).message is None
        nursery.cancel_scope.cancel()


async def test_get_status_of_a_stopping_server(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        counter = Counter(linger=True)
        server = await trio_otp.start_server(nursery, lambda: counter)
        nursery.start_soon(server.stop)
        await trio.sleep(2)  # terminate waits for `ended`
        status = trio_otp.get_status(server)
        assert (status.alive, status.stopping) == (False, True)
        assert status.message == ("stop", None)
        assert status.handling_for == 2.0
        with pytest.raises(trio_otp.ServerNotRunning):  # it accepts no messages any more
            await trio_otp.get_state(server)
        counter.ended.set()


async def test_get_status_survives_a_broken_format_status(autojump_clock: MockClock) -> None:
    class Broken(trio_otp.GenServer[Any, Any]):
        def format_status(self) -> object:
            raise ValueError("no")

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Broken)
        assert trio_otp.get_status(server).state == "<format_status raised ValueError('no')>"
        nursery.cancel_scope.cancel()


async def test_get_status_counts_restarts_and_names_the_supervisors_above(
    autojump_clock: MockClock,
) -> None:
    inner = trio_otp.Supervisor([trio_otp.server_spec("c", Counter, name="c")], name="inner", max_restarts=5)
    root = trio_otp.Supervisor([inner.child_spec("inner")], name="root")
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        assert trio_otp.get_status("c").restarts == 0
        for _ in range(2):
            trio_otp.cast("c", "crash")
            await settle()
        status = trio_otp.get_status("c")
        assert status.restarts == 2
        assert status.child_id == "c"
        assert status.supervisors == ("root", "inner")
        nursery.cancel_scope.cancel()


# --- processes() ------------------------------------------------------------------------


async def worker_with_a_server(*, task_status: trio.TaskStatus[str]) -> None:
    async with trio.open_nursery() as nursery:
        await trio_otp.start_server(nursery, Counter, name="inside")
        task_status.started("worker ref")
        await trio.sleep_forever()


async def test_processes_lists_a_tree_with_its_parents(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    tree = trio_otp.Supervisor(
        [
            trio_otp.Supervisor([trio_otp.server_spec("c", Counter, name="c")], name="inner").child_spec(
                "inner"
            ),
            trio_otp.DynamicSupervisor(name="pool").child_spec("pool"),
            trio_otp.TaskSupervisor(name="tasks").child_spec("tasks"),
            trio_otp.agent_spec("agent", lambda: 0),
            workers.spec("plain"),
            trio_otp.ChildSpec("host", worker_with_a_server),
        ],
        name="root",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        alone = await trio_otp.start_server(nursery, Counter)
        alone.cast(1)
        alone.cast(2)
        seen = {(info.label, info.kind, info.id, info.parent, info.mailbox) for info in trio_otp.processes()}
        assert seen == {
            ("root", "supervisor", None, None, None),
            ("inner", "supervisor", "inner", "root", None),
            ("Counter 'c'", "server", "c", "inner", 0),
            ("pool", "dynamic_supervisor", "pool", "root", None),
            ("tasks", "task_supervisor", "tasks", "root", None),
            ("_AgentServer", "agent", "agent", "root", 0),
            ("plain", "worker", "plain", "root", None),
            ("host", "worker", "host", "root", None),
            ("Counter 'inside'", "server", None, "root", 0),  # in the worker's nursery
            ("Counter", "server", None, None, 2),  # nobody supervises it
        }
        infos = trio_otp.processes()
        labels = [info.label for info in infos]
        assert labels.index("root") < labels.index("inner") < labels.index("Counter 'c'")
        by_label = {info.label: info for info in infos}
        assert by_label["Counter 'c'"].ref is trio_otp.whereis("c")
        assert by_label["Counter 'c'"].name == "c"
        assert by_label["host"].ref == "worker ref"
        assert isinstance(by_label["inner"].ref, trio_otp.SupervisorRef)
        assert isinstance(by_label["root"].ref, trio_otp.SupervisorRef)
        assert isinstance(by_label["tasks"].ref, trio_otp.TaskSupervisorRef)
        assert isinstance(by_label["pool"].ref, trio_otp.DynamicSupervisorRef)
        nursery.cancel_scope.cancel()


async def test_processes_drops_what_has_ended(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        alone = await trio_otp.start_server(nursery, Counter)
        pool = await nursery.start(trio_otp.DynamicSupervisor(name="pool").run)
        child = await pool.start_child(trio_otp.server_spec("s", Counter))
        assert [info.label for info in trio_otp.processes()] == ["Counter", "pool", "Counter"]
        await alone.stop()
        await pool.terminate_child(child)
        assert [info.label for info in trio_otp.processes()] == ["pool"]
        nursery.cancel_scope.cancel()
    assert trio_otp.processes() == []


def test_processes_outside_a_trio_run() -> None:
    with pytest.raises(RuntimeError, match=r"inside trio\.run"):
        trio_otp.processes()


# --- snapshot shows a busy server --------------------------------------------------------


async def test_snapshot_and_its_renderings_show_what_a_server_is_doing(autojump_clock: MockClock) -> None:
    tree = trio_otp.Supervisor([trio_otp.server_spec("c", Counter, name="c")], name="root")
    async with trio.open_nursery() as nursery:
        root = await nursery.start(tree.run)
        server = trio_otp.whereis("c")
        assert server is not None
        await stuck(server, nursery)
        server.cast(1)
        await trio.sleep(2.5)
        node = await trio_otp.snapshot(root)
        (child,) = node.children
        assert (child.mailbox, child.message, child.handling_for) == (1, ("call", "'stuck'"), 2.5)
        assert (node.mailbox, node.message, node.handling_for) == (None, None, None)
        assert trio_otp.format_tree(node).splitlines()[1] == (
            "└── c  server  running  [mailbox: 1]  [handling call 'stuck' for 2.5 s]"
        )
        data = json.loads(trio_otp.to_json(node))["children"][0]
        assert (data["mailbox"], data["message"], data["handling_for"]) == (1, "call 'stuck'", 2.5)
        assert "\\nmailbox: 1\\nhandling call 'stuck' for 2.5 s" in trio_otp.to_dot(node)
        assert "<br/>mailbox: 1<br/>handling call 'stuck' for 2.5 s" in trio_otp.to_mermaid(node)
        nursery.cancel_scope.cancel()


def test_system_calls_default_to_the_call_timeout() -> None:
    import inspect  # noqa: PLC0415

    for function in (trio_otp.get_state, trio_otp.replace_state):
        assert inspect.signature(function).parameters["timeout"].default == trio_otp.DEFAULT_CALL_TIMEOUT
