"""``init`` returning Ignore (OTP's ``ignore``): no error under a supervisor, which keeps a
static child not running, drops a temporary one, and adds nothing to a DynamicSupervisor;
outside a supervisor the start raises InitIgnored."""

from __future__ import annotations

import functools
import logging
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import ChildState, DynamicSupervisor, Ignore, Restart, RestartStrategy, Supervisor
from trio_otp.testing import capture_events, settle


@attrs.define
class Switch:
    """Whether the next starts of an Optional server ignore them."""

    ignore: bool = True
    inits: int = 0
    terminated: int = 0


@attrs.define
class Optional(trio_otp.GenServer[str, str]):
    switch: Switch

    async def init(self) -> type[Ignore] | None:
        self.switch.inits += 1
        return Ignore if self.switch.ignore else None

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        if request == "crash":
            raise RuntimeError("crash, as asked")
        return request

    async def terminate(self, reason: BaseException | None) -> None:
        self.switch.terminated += 1


def optional(
    id: str,  # noqa: A002
    switch: Switch,
    **options: Any,
) -> trio_otp.ChildSpec[trio_otp.ServerRef[str, str]]:
    return trio_otp.server_spec(id, functools.partial(Optional, switch), name=id, **options)


def always(id: str) -> trio_otp.ChildSpec[trio_otp.ServerRef[str, str]]:  # noqa: A002
    return optional(id, Switch(ignore=False))


async def start(nursery: trio.Nursery, tree: Supervisor) -> trio_otp.SupervisorRef:
    ref: trio_otp.SupervisorRef = await nursery.start(tree.run)
    return ref


def states(infos: list[trio_otp.ChildInfo]) -> dict[object, ChildState]:
    return {info.id: info.state for info in infos}


# --- outside a supervisor --------------------------------------------------------------


async def test_start_server_raises_init_ignored_and_leaves_nothing_behind(autojump_clock: MockClock) -> None:
    switch = Switch()
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.InitIgnored, match="init returned Ignore"):
            await trio_otp.start_server(nursery, functools.partial(Optional, switch), name="opt")
        assert trio_otp.whereis("opt") is None  # the name was given back
        assert switch.terminated == 0  # as after a Stop from init: terminate does not run
        # The name is free, and the nursery unharmed: the same start now works.
        switch.ignore = False
        ref = await trio_otp.start_server(nursery, functools.partial(Optional, switch), name="opt")
        assert await ref.call("hi") == "hi"
        nursery.cancel_scope.cancel()


async def test_nursery_start_of_serve_raises_init_ignored(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.InitIgnored):
            await nursery.start(trio_otp.serve, functools.partial(Optional, Switch()))
    assert issubclass(trio_otp.InitIgnored, trio_otp.ServerError)


class IgnoringMachine(trio_otp.StateMachine[str, None, str, str]):
    async def init(self) -> type[Ignore]:
        return Ignore


async def test_start_state_machine_raises_init_ignored(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.InitIgnored, match="state machine IgnoringMachine"):
            await trio_otp.start_state_machine(nursery, IgnoringMachine, name="m")
        assert trio_otp.whereis("m") is None


# --- a static child --------------------------------------------------------------------


async def test_an_ignoring_static_child_is_kept_not_running_and_the_others_start(
    autojump_clock: MockClock,
) -> None:
    tree = Supervisor([always("a"), optional("b", Switch()), always("c")])
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, tree)
        infos = await sup.which_children()
        assert states(infos) == {"a": ChildState.RUNNING, "b": ChildState.STOPPED, "c": ChildState.RUNNING}
        assert [info.ref for info in infos if info.id == "b"] == [None]
        assert await sup.count_children() == trio_otp.ChildCounts(specs=3, active=2, supervisors=0, workers=3)
        assert trio_otp.whereis("b") is None
        nursery.cancel_scope.cancel()


async def test_an_ignoring_temporary_static_child_is_removed(autojump_clock: MockClock) -> None:
    tree = Supervisor([always("a"), optional("b", Switch(), restart=Restart.TEMPORARY)])
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, tree)
        assert states(await sup.which_children()) == {"a": ChildState.RUNNING}
        with pytest.raises(trio_otp.ChildNotFound):
            await sup.get_childspec("b")
        nursery.cancel_scope.cancel()


async def test_restart_child_starts_it_once_it_no_longer_ignores(autojump_clock: MockClock) -> None:
    switch = Switch()
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, Supervisor([optional("b", switch)]))
        with pytest.raises(trio_otp.ChildIgnored) as ignored:
            await sup.restart_child("b")
        assert ignored.value.kept is True
        assert ignored.value.child_id == "b"
        assert states(await sup.which_children()) == {"b": ChildState.STOPPED}
        switch.ignore = False
        ref = await sup.restart_child("b")
        assert isinstance(ref, trio_otp.ServerRef)
        assert states(await sup.which_children()) == {"b": ChildState.RUNNING}
        assert switch.inits == 3
        nursery.cancel_scope.cancel()


async def test_start_child_that_ignores_keeps_the_spec_unless_temporary(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, Supervisor([]))
        with pytest.raises(trio_otp.ChildIgnored) as kept:
            await sup.start_child(optional("b", Switch()))
        assert kept.value.kept is True
        assert "its spec is kept" in str(kept.value)
        assert states(await sup.which_children()) == {"b": ChildState.STOPPED}
        with pytest.raises(trio_otp.ChildAlreadyPresent):  # as OTP: already_present
            await sup.start_child(optional("b", Switch()))
        await sup.delete_child("b")

        with pytest.raises(trio_otp.ChildIgnored) as dropped:
            await sup.start_child(optional("t", Switch(), restart=Restart.TEMPORARY))
        assert dropped.value.kept is False
        assert await sup.which_children() == []
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("strategy", list(RestartStrategy))
async def test_a_restart_that_ignores_leaves_the_child_stopped(
    autojump_clock: MockClock, strategy: RestartStrategy
) -> None:
    switch = Switch(ignore=False)
    tree = Supervisor([optional("b", switch), always("c")], strategy=strategy)
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, tree)
        switch.ignore = True
        with capture_events() as events:
            with pytest.raises(trio_otp.ServerExited):
                await trio_otp.call("b", "crash")
            await settle()
        # Reported as ignored, not as restarted.
        assert [event.metadata["child_id"] for event in events.named("child_ignored")] == ["b"]
        assert events.named("child_restarted") == []
        infos = await sup.which_children()
        assert states(infos) == {"b": ChildState.STOPPED, "c": ChildState.RUNNING}
        assert [info.restarts for info in infos if info.id == "b"] == [1]
        assert switch.inits == 2  # one restart, no retries
        nursery.cancel_scope.cancel()


async def test_a_restart_that_ignores_counts_toward_the_intensity(autojump_clock: MockClock) -> None:
    # OTP counts the restart before it tries it: the ignored one uses up max_restarts=1,
    # so the next crash escalates.
    switch = Switch(ignore=False)
    tree = Supervisor([optional("b", switch), always("c")], max_restarts=1, max_seconds=60)
    gave_up: list[trio_otp.RestartIntensityExceeded] = []

    async def run_tree(*, task_status: trio.TaskStatus[trio_otp.SupervisorRef]) -> None:
        try:
            await tree.run(task_status=task_status)
        except trio_otp.RestartIntensityExceeded as error:
            gave_up.append(error)

    async with trio.open_nursery() as nursery:
        sup = await nursery.start(run_tree)
        switch.ignore = True
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call("b", "crash")
        await settle()
        assert sup.alive
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call("c", "crash")
        await settle()
    assert [error.child_id for error in gave_up] == ["c"]


async def test_a_start_function_that_returns_ignore_is_ignored(autojump_clock: MockClock) -> None:
    async def ignores(*, task_status: trio.TaskStatus[None]) -> type[Ignore]:
        return Ignore

    async def forgets(*, task_status: trio.TaskStatus[None]) -> None:
        return None

    async def wraps_serve(*, task_status: trio.TaskStatus[trio_otp.ServerRef[str, str]]) -> None:
        # It does not return what serve returned: serve tells the supervisor itself.
        await trio_otp.serve(functools.partial(Optional, Switch()), task_status=task_status)

    tree = Supervisor([trio_otp.ChildSpec("plain", ignores), trio_otp.ChildSpec("wrapped", wraps_serve)])
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, tree)
        assert states(await sup.which_children()) == {
            "plain": ChildState.STOPPED,
            "wrapped": ChildState.STOPPED,
        }
        # Returning anything else without started() is still a failed start.
        with pytest.raises(trio_otp.ChildStartError, match=r"without calling task_status\.started"):
            await sup.start_child(trio_otp.ChildSpec("forgets", forgets))
        nursery.cancel_scope.cancel()


async def test_a_state_machine_child_that_ignores_is_kept_not_running(autojump_clock: MockClock) -> None:
    tree = Supervisor([trio_otp.state_machine_spec("m", IgnoringMachine)])
    async with trio.open_nursery() as nursery:
        sup = await start(nursery, tree)
        assert states(await sup.which_children()) == {"m": ChildState.STOPPED}
        nursery.cancel_scope.cancel()


# --- reports ---------------------------------------------------------------------------


async def test_an_ignored_start_is_logged_at_info_and_emitted(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trio_otp")
    with capture_events() as events:
        async with trio.open_nursery() as nursery:
            await start(nursery, Supervisor([optional("b", Switch())], name="tree"))
            nursery.cancel_scope.cancel()
    [record] = [r for r in caplog.records if getattr(r, "otp_report", None) == "child_ignored"]
    assert record.levelno == logging.INFO
    assert record.name == "trio_otp.supervisor"
    assert record.__dict__["child_id"] == "b"
    assert record.__dict__["supervisor"] == "'tree'"
    assert record.__dict__["supervisor_name"] == "tree"
    assert "ignored its start" in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [event] = events.named("child_ignored")
    assert event.metadata == {"supervisor": "'tree'", "child_id": "b"}
    assert "child_started" not in events.names()


# --- a DynamicSupervisor ---------------------------------------------------------------


async def start_dynamic(nursery: trio.Nursery, **options: Any) -> trio_otp.DynamicSupervisorRef:
    ref: trio_otp.DynamicSupervisorRef = await nursery.start(DynamicSupervisor(**options).run)
    return ref


async def test_a_dynamic_child_that_ignores_is_not_added(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_children=1)
        with pytest.raises(trio_otp.ChildIgnored) as ignored:
            await sup.start_child(optional("b", Switch()))
        assert ignored.value.kept is False
        assert await sup.count_children() == trio_otp.ChildCounts(specs=0, active=0, supervisors=0, workers=0)
        # It took no place of max_children.
        child = await sup.start_child(always("a"))
        assert child.running
        nursery.cancel_scope.cancel()


async def test_start_children_is_undone_by_an_ignoring_child(autojump_clock: MockClock) -> None:
    running = Switch(ignore=False)
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        with pytest.raises(trio_otp.ChildIgnored):
            await sup.start_children(
                [optional("a", running), optional("b", Switch()), optional("c", running)]
            )
        assert await sup.which_children() == []
        assert running.terminated == 2  # the two that started were stopped again
        nursery.cancel_scope.cancel()


async def test_start_children_raises_the_first_of_a_failure_and_an_ignore(autojump_clock: MockClock) -> None:
    async def fails(*, task_status: trio.TaskStatus[None]) -> None:
        raise RuntimeError("no")

    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        with pytest.raises(trio_otp.ChildStartError):
            await sup.start_children([trio_otp.ChildSpec("f", fails), optional("b", Switch())])
        with pytest.raises(trio_otp.ChildIgnored):
            await sup.start_children([optional("b", Switch()), trio_otp.ChildSpec("f", fails)])
        assert await sup.which_children() == []
        nursery.cancel_scope.cancel()


async def test_a_dynamic_child_whose_restart_ignores_is_forgotten(autojump_clock: MockClock) -> None:
    switch = Switch(ignore=False)
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery)
        child = await sup.start_child(trio_otp.server_spec("b", functools.partial(Optional, switch)))
        assert child.ref is not None
        switch.ignore = True
        with pytest.raises(trio_otp.ServerExited):
            await child.ref.call("crash")
        await settle()
        assert not child.running
        assert await sup.which_children() == []
        assert switch.inits == 2
        nursery.cancel_scope.cancel()


@attrs.define
class Scripted(trio_otp.GenServer[str, str]):
    """Each init takes the next of ``script``: "ok", "fail" (raise) or "ignore"."""

    script: list[str]

    async def init(self) -> type[Ignore] | None:
        step = self.script.pop(0)
        if step == "fail":
            raise RuntimeError("init failed, as scripted")
        return Ignore if step == "ignore" else None

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        raise RuntimeError("crash, as asked")


async def test_a_dynamic_child_whose_retried_restart_ignores_is_forgotten(autojump_clock: MockClock) -> None:
    """The restart fails, is retried (through the mailbox), and the retry ignores: the
    child is forgotten and frees its max_children slot, as OTP removes it."""
    script = ["ok", "fail", "ignore"]
    async with trio.open_nursery() as nursery:
        sup = await start_dynamic(nursery, max_children=1)
        child = await sup.start_child(trio_otp.server_spec("s", functools.partial(Scripted, script)))
        assert child.ref is not None
        with pytest.raises(trio_otp.ServerExited):
            await child.ref.call("crash")
        await settle()
        assert script == []
        assert await sup.which_children() == []
        assert (await sup.count_children()).specs == 0
        other = await sup.start_child(always("after"))  # the slot is free
        assert other.running
        nursery.cancel_scope.cancel()


# --- a PartitionSupervisor -------------------------------------------------------------


async def test_an_ignoring_partition_is_kept_not_running(autojump_clock: MockClock) -> None:
    async def shard(partition: int, *, task_status: trio.TaskStatus[trio_otp.ServerRef[str, str]]) -> None:
        await trio_otp.serve(
            functools.partial(Optional, Switch(ignore=partition == 1)), task_status=task_status
        )

    tree = trio_otp.PartitionSupervisor(
        trio_otp.ChildSpec("shard", shard, args=(-1,)),
        name="shards",
        partitions=2,
        with_arguments=lambda _args, partition: (partition,),
    )
    async with trio.open_nursery() as nursery:
        sup = await nursery.start(tree.run)
        assert states(await sup.which_children()) == {0: ChildState.RUNNING, 1: ChildState.STOPPED}
        assert await trio_otp.call(trio_otp.Partition("shards", 0), "hi") == "hi"
        # A key routed to it finds no process, as a name with nobody registered.
        with pytest.raises(trio_otp.ServerNotRunning):
            await trio_otp.call(trio_otp.Partition("shards", 1), "hi")
        nursery.cancel_scope.cancel()
