"""Corners of get_state, replace_state, get_status and snapshots that a hostile review of
issue 14's first version found: each failed then."""

from __future__ import annotations

import functools
import gc
import warnings
import weakref
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import settle


@attrs.define
class Srv(trio_otp.GenServer[Any, Any]):
    total: int = 0
    gate: trio.Event = attrs.field(factory=trio.Event)
    in_terminate: trio.Event = attrs.field(factory=trio.Event)
    linger: trio.Event = attrs.field(factory=trio.Event)
    lingering: bool = False

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        if request == "stuck":
            await self.gate.wait()
        return self.total

    async def handle_cast(self, request: Any) -> None:
        if request == "hold":
            await self.gate.wait()
            return
        self.total += request

    async def terminate(self, reason: BaseException | None) -> None:
        self.in_terminate.set()
        if self.lingering:
            await self.linger.wait()


# 1. get_status reports a stale message right after a cast/send wakes an idle server.
async def test_get_status_after_a_cast_to_an_idle_server_shows_no_stale_message(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Srv)
        server.cast(1)  # handled at t=0
        await settle()
        await trio.sleep(100)
        server.cast(2)  # not a checkpoint: the server has not run yet
        status = trio_otp.get_status(server)
        # The server is not handling ("cast", 1) for 100 s: it finished it 100 s ago.
        assert status.message != ("cast", 1), (status.message, status.handling_for)
        nursery.cancel_scope.cancel()


# 2. A server shut down while idle shows, during terminate, the last message it handled
#    long ago as "the message being handled" (documented: "the message that ended it").
async def test_get_status_in_terminate_after_a_shutdown_while_idle(autojump_clock: MockClock) -> None:
    srv = Srv(lingering=True)
    seen: list[Any] = []
    async with trio.open_nursery() as outer:
        inner_scope = trio.CancelScope()

        async def run_server() -> None:
            with inner_scope:
                async with trio.open_nursery() as nursery:
                    server = await trio_otp.start_server(nursery, lambda: srv)
                    outer.start_soon(watch, server)
                    server.cast(1)
                    await trio.sleep_forever()

        async def watch(server: Any) -> None:
            await settle()
            await trio.sleep(50)
            inner_scope.cancel()
            await srv.in_terminate.wait()
            status = trio_otp.get_status(server)
            seen.append((status.stopping, status.message, status.handling_for))
            srv.linger.set()

        outer.start_soon(run_server)
    stopping, message, handling_for = seen[0]
    assert stopping
    assert message != ("cast", 1), (message, handling_for)


# 3. replace_state that sets a bad idle_timeout in place: caller gets ReplaceStateFailed
#    ("the server did not crash") and yet the server crashes on its next loop.
async def test_replace_state_in_place_bad_idle_timeout_does_not_crash_the_server(
    autojump_clock: MockClock,
) -> None:
    def bad(state: Srv) -> Srv:
        state.idle_timeout = -1  # type: ignore[misc]
        return state

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Srv)
        with pytest.raises(trio_otp.ReplaceStateFailed, match="idle_timeout"):
            await trio_otp.replace_state(server, bad)
        await settle()
        assert server.alive
        assert await server.call("total") == 0
        nursery.cancel_scope.cancel()


# 4. An Agent: get_state(agent) says "no running server is registered as <AgentRef ...>";
#    get_state(agent.server) returns the private _AgentServer, not the agent's value.
async def test_get_state_of_an_agent(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        agent = await trio_otp.start_agent(nursery, lambda: {"a": 1})
        try:
            state = await trio_otp.get_state(agent)  # type: ignore[arg-type]
        except trio_otp.ServerNotRunning as error:
            pytest.fail(f"running agent refused: {error}")
        assert state == {"a": 1}
        nursery.cancel_scope.cancel()


async def test_replace_state_of_an_agent_maps_its_value(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        agent = await trio_otp.start_agent(nursery, lambda: 1)
        assert await trio_otp.replace_state(agent, lambda n: n + 1) == 2
        assert await agent.get() == 2
        assert trio_otp.get_status(agent).state == 2  # format_status shows the value
        nursery.cancel_scope.cancel()


@attrs.define
class Blocker(trio_otp.GenServer[Any, Any]):
    gate: trio.Event = attrs.field(factory=trio.Event)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        await self.gate.wait()
        return None


class Hostile:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


async def _render(request: object) -> tuple[str, str, str]:
    srv = Blocker()
    sup = trio_otp.Supervisor([trio_otp.server_spec("s", lambda: srv, name="s")], name="top")
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(sup.run)
        nursery.start_soon(functools.partial(trio_otp.call, "s", request, timeout=None))
        await settle()
        tree = await trio_otp.snapshot(ref)
        srv.gate.set()
        nursery.cancel_scope.cancel()
    return trio_otp.to_mermaid(tree), trio_otp.to_dot(tree), trio_otp.format_tree(tree)


# 6. Mermaid: a request repr with a newline breaks out of the node label; HTML is live.
async def test_mermaid_escapes_hostile_message_reprs(autojump_clock: MockClock) -> None:
    mermaid, _, _ = await _render(Hostile('x\n  click n0 href "javascript:alert(1)"\n  n9["y'))
    print(mermaid)
    assert "\n  click" not in mermaid, mermaid


async def test_mermaid_escapes_html_in_message_reprs(autojump_clock: MockClock) -> None:
    mermaid, _, _ = await _render("<img src=x onerror=alert(1)>")
    print(mermaid)
    assert "<img" not in mermaid, mermaid


async def test_format_tree_keeps_one_process_a_line(autojump_clock: MockClock) -> None:
    _, _, text = await _render(Hostile("a\nb"))
    print(text)
    assert len(text.splitlines()) == 2, text


# 8. replace_state with a callable object whose __call__ is async: not refused at the
#    call; the coroutine is made in the server's task and never awaited (a RuntimeWarning,
#    which the project's filterwarnings=error turns into a failure of a *later* test).
async def test_replace_state_refuses_async_callable_objects(autojump_clock: MockClock) -> None:
    class AsyncFn:
        async def __call__(self, state: Srv) -> Srv:
            return state

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with trio.open_nursery() as nursery:
            server = await trio_otp.start_server(nursery, Srv)
            try:
                await trio_otp.replace_state(server, AsyncFn())  # type: ignore[arg-type]
            except BaseException as error:
                raised: BaseException = error
            nursery.cancel_scope.cancel()
        what = repr(raised)
        at_the_call = isinstance(raised, TypeError)
        del raised
        gc.collect()
    never_awaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert at_the_call, what
    assert not never_awaited, never_awaited


# --- get_status from a thread -------------------------------------------------------------


def test_get_status_outside_a_run_is_a_clear_error() -> None:
    refs: list[Any] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            srv = Srv()
            refs.append(await trio_otp.start_server(nursery, lambda: srv))
            nursery.start_soon(functools.partial(refs[0].call, "stuck", timeout=None))
            await settle()

            def in_thread() -> Any:
                return trio_otp.get_status(refs[0])

            try:
                with pytest.raises(RuntimeError, match="get_status must be called from a task"):
                    await trio.to_thread.run_sync(in_thread)
            finally:
                srv.gate.set()
                nursery.cancel_scope.cancel()

    trio.run(main, clock=MockClock(autojump_threshold=0))


# ReplaceStateFailed says "the state is unchanged"; the docs say "changes nothing".
async def test_a_failed_replace_state_says_what_it_left(autojump_clock: MockClock) -> None:
    def half(state: Srv) -> Srv:
        state.total = 999
        raise KeyError("later step failed")

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Srv)
        with pytest.raises(trio_otp.ReplaceStateFailed, match="changes the function made in place remain"):
            await trio_otp.replace_state(server, half)
        assert await server.call("total") == 999  # as the message says
        nursery.cancel_scope.cancel()


# get_status on an agent (AgentRef is Hashable, so the types accept it).
async def test_get_status_of_an_agent(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        agent = await trio_otp.start_agent(nursery, lambda: 0)
        try:
            trio_otp.get_status(agent)
        except trio_otp.ServerNotRunning as error:
            pytest.fail(f"a running agent is reported as not running: {error}")
        nursery.cancel_scope.cancel()


# A ref to a server that has ended keeps its whole state alive (process.server).
async def test_a_dead_servers_ref_does_not_keep_its_state_alive(autojump_clock: MockClock) -> None:
    @attrs.define(weakref_slot=True)
    class Big(trio_otp.GenServer[Any, Any]):
        blob: bytearray = attrs.field(factory=lambda: bytearray(10_000_000))

    async with trio.open_nursery() as nursery:
        server = await trio_otp.start_server(nursery, Big)
        state = await trio_otp.get_state(server)
        alive = weakref.ref(state)
        del state
        await server.stop()
    gc.collect()
    assert not server.alive
    assert alive() is None, "the ended server's 10 MB state is still reachable from its ref"


# TreeNode was hashable (frozen attrs, all fields hashable); now holds the raw request.
async def test_snapshot_tree_stays_hashable_with_a_busy_server(autojump_clock: MockClock) -> None:
    srv = Blocker()
    sup = trio_otp.Supervisor([trio_otp.server_spec("s", lambda: srv, name="s")], name="top")
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(sup.run)
        nursery.start_soon(functools.partial(trio_otp.call, "s", {"op": "get"}, timeout=None))
        await settle()
        tree = await trio_otp.snapshot(ref)
        srv.gate.set()
        nursery.cancel_scope.cancel()
    hash(tree)  # TypeError: unhashable type: 'dict'
