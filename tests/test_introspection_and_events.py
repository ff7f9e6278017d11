"""The live tree as data, text, JSON, DOT and Mermaid; lifecycle events."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import ScriptedWorkers, settle

from .harness import launch


class Echo(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request


def demo_tree(workers: ScriptedWorkers) -> trio_otp.Supervisor:
    inner = trio_otp.Supervisor([workers.spec("db"), trio_otp.server_spec("cache", Echo)], name="storage")
    return trio_otp.Supervisor(
        [
            inner.child_spec("storage"),
            workers.spec("web", restart=trio_otp.Restart.TRANSIENT),
            trio_otp.DynamicSupervisor().child_spec("pool"),
        ],
        name="root",
        max_restarts=5,
    )


async def test_snapshot_and_its_renderings(autojump_clock: MockClock) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        root = await nursery.start(demo_tree(workers).run)
        workers.crash("db")
        workers.exit_normally("web")
        await settle()
        tree = await trio_otp.snapshot(root)
        assert [(depth, node.id, node.kind, node.state, node.restarts) for depth, node in tree.walk()] == [
            (0, "root", "supervisor", "running", 0),
            (1, "storage", "supervisor", "running", 0),
            (2, "db", "worker", "running", 1),
            (2, "cache", "server", "running", 0),
            (1, "web", "worker", "stopped", 0),
            (1, "pool", "dynamic_supervisor", "running", 0),
        ]
        assert trio_otp.format_tree(tree) == "\n".join(
            [
                "root  supervisor  running",
                "├── storage  supervisor  running",
                "│   ├── db  worker  running  (restarted 1x)",
                "│   └── cache  server  running",
                "├── web  worker  stopped",
                "└── pool  dynamic_supervisor  running",
            ]
        )
        data = json.loads(trio_otp.to_json(tree))
        assert data["children"][0]["children"][0] == {
            "id": "db",
            "kind": "worker",
            "state": "running",
            "restarts": 1,
            "mailbox": None,  # the server fields (see tests/test_sys.py), null for a worker
            "message": None,
            "handling_for": None,
            "children": [],
        }
        assert data["children"][0]["children"][1]["mailbox"] == 0
        dot = trio_otp.to_dot(tree)
        assert dot.startswith("digraph supervision_tree {")
        assert dot.count(" -> ") == 5
        assert 'label="db\\nworker\\nrestarts: 1"' in dot
        mermaid = trio_otp.to_mermaid(tree)
        assert mermaid.startswith("flowchart TD")
        assert mermaid.count(" --> ") == 5
        nursery.cancel_scope.cancel()


async def test_snapshot_of_an_ended_supervisor(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        root = await nursery.start(trio_otp.Supervisor([]).run)
        nursery.cancel_scope.cancel()
    node = await trio_otp.snapshot(root)
    assert node.state == "stopped"


async def test_a_snapshot_of_a_huge_tree_lets_other_tasks_run(autojump_clock: MockClock) -> None:
    """Building the nodes of a supervisor's children is no checkpoint; the snapshot yields
    every 256 children so that a huge tree does not stall the run while it is walked."""

    async def idle(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    children = 4096
    specs = [trio_otp.ChildSpec(number, idle) for number in range(children)]
    async with trio.open_nursery() as nursery:
        root = await nursery.start(trio_otp.Supervisor(specs).run)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await trio.lowlevel.checkpoint()
                ticks += 1

        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        before = ticks
        node = await trio_otp.snapshot(root)
        assert len(node.children) == children
        assert ticks - before >= children // 256
        nursery.cancel_scope.cancel()


async def test_lifecycle_events(autojump_clock: MockClock) -> None:
    seen: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    detach = trio_otp.events.attach(lambda e: seen.append((e.name, dict(e.measurements), dict(e.metadata))))
    try:
        workers = ScriptedWorkers()
        async with trio.open_nursery() as nursery:
            _, outcome = await launch(
                nursery, trio_otp.Supervisor([workers.spec("a")], max_restarts=0, name="r")
            )
            server = await trio_otp.start_server(nursery, Echo)
            assert await server.call("x") == "x"
            await server.stop()
            workers.crash("a")
            await outcome.done.wait()
    finally:
        detach()
    names = [name for name, _, _ in seen]
    assert names[:1] == ["child_started"]
    assert "call_completed" in names
    [(_, measured, meta)] = [event for event in seen if event[0] == "call_completed"]
    assert measured["duration"] == pytest.approx(0.0)
    assert meta["outcome"] == "reply"
    assert names[-2:] == ["child_exited", "supervisor_escalated"]
    assert seen[-1][2]["child_id"] == "a"


async def test_a_broken_handler_is_detached_not_fatal(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: trio_otp.events.Event) -> None:
        raise RuntimeError("metrics backend down")

    detach = trio_otp.events.attach(broken)
    try:
        async with trio.open_nursery() as nursery:
            server = await trio_otp.start_server(nursery, Echo)
            assert await server.call("still works") == "still works"
            assert await server.call("twice") == "twice"
            await server.stop()
    finally:
        detach()
    assert sum("raised and was detached" in r.getMessage() for r in caplog.records) == 1


async def test_server_crash_report_has_structured_fields_and_redacted_state(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Account(trio_otp.GenServer[str, str]):
        def __init__(self) -> None:
            self.user, self.token = "ada", "s3cret"

        async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
            raise ValueError("overdrawn")

        def format_status(self) -> object:
            return {"user": self.user, "token": "<redacted>"}

    with pytest.RaisesGroup(ValueError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Account)
            with pytest.raises(trio_otp.ServerExited):
                await ref.call("withdraw 100")
    [record] = [r for r in caplog.records if getattr(r, "otp_report", None) == "server_crash"]
    assert record.levelname == "ERROR"
    assert record.last_message == ("call", "withdraw 100")  # type: ignore[attr-defined]
    assert record.state == {"user": "ada", "token": "<redacted>"}  # type: ignore[attr-defined]
    assert "s3cret" not in caplog.text


# --- where a handler lives: per run inside a run, per process outside ------------------


def _one_call_in_a_new_run(attach_inside: Sequence[Callable[[trio_otp.events.Event], None]] = ()) -> None:
    async def main() -> None:
        for handler in attach_inside:
            trio_otp.events.attach(handler)  # never detached: ends with the run
        async with trio.open_nursery() as nursery:
            server = await trio_otp.start_server(nursery, Echo)
            assert await server.call("x") == "x"
            await server.stop()

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_handler_attached_in_a_run_does_not_leak_into_the_next() -> None:
    first: list[str] = []
    _one_call_in_a_new_run(attach_inside=[lambda event: first.append(event.name)])
    assert "call_completed" in first
    seen_before = len(first)
    _one_call_in_a_new_run()  # a new run, as the next test is
    assert len(first) == seen_before
    assert not trio_otp._events.attached()


def test_a_handler_attached_outside_any_run_sees_every_run_until_detached() -> None:
    seen: list[str] = []
    with trio_otp.events.attach(lambda event: seen.append(event.name)):
        _one_call_in_a_new_run()
        _one_call_in_a_new_run()
    assert seen.count("call_completed") == 2
    _one_call_in_a_new_run()
    assert seen.count("call_completed") == 2


async def test_the_attachment_detaches_as_a_context_manager_and_when_called_twice(
    autojump_clock: MockClock,
) -> None:
    seen: list[str] = []
    with trio_otp.events.attach(lambda event: seen.append(event.name)) as attachment:
        async with trio.open_nursery() as nursery:
            server = await trio_otp.start_server(nursery, Echo)
            await server.call("x")
            await server.stop()
    attachment()  # already detached: nothing happens
    count = len(seen)
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Echo)
        await server.call("y")
        await server.stop()
    assert len(seen) == count
    assert not trio_otp._events.attached()
