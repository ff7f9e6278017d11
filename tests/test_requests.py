"""Asynchronous requests (OTP's send_request and the three ways to take a reply), their
collections, and current_server().

What each test pins: a request is handled exactly as a call; a timeout of wait_response
leaves it pending, one of receive_response abandons it (a late reply is dropped and the
server forgets the caller); nothing hangs on a dead or crashing server; a reply is taken
once.
"""

from __future__ import annotations

from typing import Any

import attrs
import outcome
import pytest
import trio
from trio.testing import MockClock

import trio_otp

from .harness import settle


class Boom(Exception):
    pass


@attrs.define
class Box(trio_otp.GenServer[Any, Any]):
    held: list[trio_otp.Caller[Any]] = attrs.field(factory=list)
    seen: list[object] = attrs.field(factory=list)
    own: trio_otp.RequestId[Any] | None = None

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        self.seen.append(request)
        if request == "hold":
            self.held.append(caller)
            return trio_otp.NO_REPLY
        if request == "crash":
            raise Boom("handled a crash")
        if request == "who":
            return trio_otp.current_server()
        if request == "ask myself":
            self.own = trio_otp.current_server().send_request("to me")
            return "asked"
        if request == "slow":
            await trio.sleep(10)
            return "slow done"
        return request

    async def handle_cast(self, request: Any) -> None:
        if request == "release":
            for caller in self.held:
                caller.reply("released")
            self.held.clear()
        elif request == "crash":
            raise Boom("cast crash")


def deferred(ref: trio_otp.ServerRef[Any, Any]) -> int:
    """How many callers the server keeps for a deferred reply (the table that must not leak)."""
    return len(ref._process.deferred or ())


# --- send_request and taking the reply ----------------------------------------------


async def test_a_request_is_answered_as_a_call_would_be(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hello")
        assert request_id.server is ref
        assert not request_id.done
        assert await request_id.wait_response() == "hello"
        assert request_id.done
        nursery.cancel_scope.cancel()


async def test_send_request_is_not_a_checkpoint_and_keeps_the_order_of_calls(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        server = ref._process.server
        assert isinstance(server, Box)
        first = ref.send_request(1)
        second = ref.send_request(2)
        assert server.seen == []  # nothing ran: sending did not yield
        assert await ref.call(3) == 3
        assert server.seen == [1, 2, 3]
        assert second.check_response() == 2
        assert first.check_response() == 1
        nursery.cancel_scope.cancel()


async def test_by_name_sends_to_whoever_runs_under_it_now(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box, name="box")
        request_id = trio_otp.send_request("box", "by name")
        assert request_id.server is ref
        assert await request_id.receive_response() == "by name"
        nursery.cancel_scope.cancel()


async def test_wait_response_timeout_leaves_the_request_pending(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        start = trio.current_time()
        with pytest.raises(trio_otp.CallTimeout, match="within 2 s"):
            await request_id.wait_response(timeout=2)
        assert trio.current_time() - start == 2
        assert not request_id.done
        assert request_id._waiters is None  # the timed-out wait left nothing behind
        ref.cast("release")
        assert await request_id.wait_response() == "released"
        nursery.cancel_scope.cancel()


async def test_receive_response_timeout_abandons_the_request(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        await settle()
        assert deferred(ref) == 1
        with pytest.raises(trio_otp.CallTimeout):
            await request_id.receive_response(timeout=1)
        assert deferred(ref) == 0  # the server forgot the caller: nothing leaks
        assert request_id.done
        ref.cast("release")  # a late reply goes nowhere
        await settle()
        with pytest.raises(RuntimeError, match="abandoned"):
            request_id.check_response()
        with pytest.raises(RuntimeError, match="abandoned"):
            await request_id.wait_response()
        assert await ref.call("still fine") == "still fine"
        nursery.cancel_scope.cancel()


async def test_a_request_abandoned_while_queued_is_still_handled_but_its_reply_dropped(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        slow = ref.send_request("slow")
        queued = ref.send_request("queued")
        with pytest.raises(trio_otp.CallTimeout):
            await queued.receive_response(timeout=1)
        assert await slow.wait_response(timeout=20) == "slow done"
        await settle()
        server = ref._process.server
        assert isinstance(server, Box)
        assert server.seen == ["slow", "queued"]  # as OTP: the server still handles it
        with pytest.raises(RuntimeError):
            queued.check_response()
        nursery.cancel_scope.cancel()


async def test_check_response_says_would_block_until_the_reply_comes(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        with pytest.raises(trio.WouldBlock):
            request_id.check_response()
        ref.cast("release")
        await settle()
        assert request_id.check_response() == "released"
        nursery.cancel_scope.cancel()


async def test_a_reply_is_taken_once(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("x")
        assert await request_id.wait_response() == "x"
        with pytest.raises(RuntimeError, match="already taken"):
            await request_id.wait_response()
        with pytest.raises(RuntimeError, match="already taken"):
            request_id.check_response()
        nursery.cancel_scope.cancel()


async def test_a_crash_before_replying_gives_server_exited_chained_from_it(autojump_clock: MockClock) -> None:
    with pytest.RaisesGroup(Boom):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Box)
            held = ref.send_request("hold")
            crashing = ref.send_request("crash")
            queued = ref.send_request("after")
    for request_id in (held, crashing, queued):
        with pytest.raises(trio_otp.ServerExited, match="crashed") as raised:
            await request_id.wait_response()
        assert isinstance(raised.value.__cause__, Boom)
    assert deferred(ref) == 0


async def test_a_stop_before_replying_gives_server_exited(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        await settle()
        await ref.stop()
        with pytest.raises(trio_otp.ServerExited, match="exited normally"):
            await request_id.receive_response()
        nursery.cancel_scope.cancel()


async def test_a_dead_or_unknown_server_answers_server_not_running(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        await ref.stop()
        request_id = ref.send_request("x")  # as OTP: no raise here, the answer says it
        assert request_id.done
        assert request_id.server is ref
        with pytest.raises(trio_otp.ServerNotRunning, match="not running"):
            await request_id.wait_response()
        unknown = trio_otp.send_request("nobody", "x")
        assert unknown.server is None
        with pytest.raises(trio_otp.ServerNotRunning, match="'nobody'"):
            unknown.check_response()


async def test_a_full_mailbox_refuses_at_once(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box, mailbox_size=1)
        ref.send_request("one")
        with pytest.raises(trio_otp.MailboxFull):
            ref.send_request("two")
        nursery.cancel_scope.cancel()


async def test_cancelling_wait_response_keeps_the_request(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        with trio.move_on_after(1):
            await request_id.wait_response(timeout=None)
        assert request_id._waiters is None
        ref.cast("release")
        assert await request_id.wait_response() == "released"
        nursery.cancel_scope.cancel()


async def test_cancelling_receive_response_abandons_the_request(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        with trio.move_on_after(1):
            await request_id.receive_response(timeout=None)
        assert deferred(ref) == 0
        with pytest.raises(RuntimeError, match="abandoned"):
            request_id.check_response()
        nursery.cancel_scope.cancel()


async def test_a_server_may_send_a_request_to_itself(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        assert await ref.call("ask myself") == "asked"
        server = ref._process.server
        assert isinstance(server, Box)
        assert server.own is not None
        assert await server.own.wait_response() == "to me"
        nursery.cancel_scope.cancel()


# --- collections --------------------------------------------------------------------


async def test_a_collection_returns_the_earliest_answer_with_its_label(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        a = await trio_otp.start_server(nursery, Box)
        b = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[str]()
        held = a.send_request("hold")
        collection.add(held, "a")
        collection.add(b.send_request("b's reply"), "b")
        assert len(collection) == 2
        assert [label for _, label in collection.to_list()] == ["a", "b"]
        answer, label = await collection.wait_response()
        assert (answer.unwrap(), label) == ("b's reply", "b")
        assert len(collection) == 1
        a.cast("release")
        answer, label = await collection.receive_response()
        assert (answer.unwrap(), label) == ("released", "a")
        assert not collection
        nursery.cancel_scope.cancel()


async def test_a_collection_orders_answers_by_arrival_not_by_adding(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        a = await trio_otp.start_server(nursery, Box)
        b = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[str]()
        collection.add(a.send_request("hold"), "first added")
        collection.add(b.send_request("hold"), "second added")
        await settle()
        b.cast("release")
        await settle()
        a.cast("release")
        await settle()
        assert collection.check_response()[1] == "second added"
        assert collection.check_response()[1] == "first added"
        nursery.cancel_scope.cancel()


async def test_a_collection_gives_errors_as_outcomes(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        await ref.stop()
        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("x"), 7)
        answer, label = await collection.wait_response()
        assert label == 7
        assert isinstance(answer, outcome.Error)
        assert isinstance(answer.error, trio_otp.ServerNotRunning)


async def test_a_collection_wait_timeout_keeps_and_receive_timeout_abandons(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        first, second = ref.send_request("hold"), ref.send_request("hold")
        collection.add(first, 1)
        collection.add(second, 2)
        for _ in range(3):
            with pytest.raises(trio_otp.CallTimeout, match="none of its 2 requests"):
                await collection.wait_response(timeout=1)
        assert len(collection) == 2
        # The collection watches each request it holds once; waits leave nothing behind.
        assert first._waiters == [collection]
        assert second._waiters == [collection]
        with pytest.raises(trio.WouldBlock):
            collection.check_response()
        assert deferred(ref) == 2
        with pytest.raises(trio_otp.CallTimeout):
            await collection.receive_response(timeout=1)
        assert len(collection) == 0
        assert deferred(ref) == 0
        assert first.done
        assert second.done
        nursery.cancel_scope.cancel()


async def test_cancelling_a_collection_receive_abandons_all(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("hold"), 1)
        with trio.move_on_after(1):
            await collection.receive_response(timeout=None)
        assert len(collection) == 0
        assert deferred(ref) == 0
        nursery.cancel_scope.cancel()


async def test_several_tasks_waiting_on_one_collection_each_get_an_answer(autojump_clock: MockClock) -> None:
    """Two tasks wait on one collection; the first answer goes to one of them, and the
    other keeps waiting (until its own answer or its timeout), never giving up early."""
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("hold"), 1)
        collection.add(ref.send_request("hold"), 2)
        got: list[tuple[str, object]] = []

        async def wait(method: str) -> None:
            try:
                if method == "wait":
                    answer, label = await collection.wait_response(timeout=None)
                else:
                    answer, label = await collection.receive_response(timeout=None)
                got.append((method, (answer.unwrap(), label)))
            except Exception as error:
                got.append((method, error))

        async with trio.open_nursery() as waiters:
            waiters.start_soon(wait, "wait")
            waiters.start_soon(wait, "receive")
            await trio.sleep(1)
            box = ref._process.server
            assert isinstance(box, Box)
            box.held.pop(0).reply("first")
            await trio.sleep(1)
            assert len(got) == 1  # the other is still waiting, not timed out at once
            box.held.pop(0).reply("second")
        assert sorted(str(answer) for _, answer in got) == ["('first', 1)", "('second', 2)"]
        nursery.cancel_scope.cancel()


async def test_a_waiter_on_a_collection_another_emptied_is_told_at_once(autojump_clock: MockClock) -> None:
    """One waiter's receive_response timing out abandons every pending request: a
    waiter with no timeout must not then wait for ever on an empty collection."""
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("hold"), 1)
        ended: list[float] = []

        async def wait_for_ever() -> None:
            with pytest.raises(trio_otp.CallTimeout, match="another task"):
                await collection.wait_response(timeout=None)
            ended.append(trio.current_time())

        start = trio.current_time()
        async with trio.open_nursery() as waiters:
            waiters.start_soon(wait_for_ever)
            with pytest.raises(trio_otp.CallTimeout, match="within 1 s"):
                await collection.receive_response(timeout=1)
        assert ended == [start + 1]
        assert len(collection) == 0
        nursery.cancel_scope.cancel()


async def test_a_waiter_whose_answer_was_taken_waits_out_its_timeout(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("hold"), 1)
        collection.add(ref.send_request("hold"), 2)
        ended: list[float] = []

        async def wait() -> None:
            with pytest.raises(trio_otp.CallTimeout, match="within 5 s"):
                await collection.wait_response(timeout=5)
            ended.append(trio.current_time())

        start = trio.current_time()
        async with trio.open_nursery() as waiters:
            waiters.start_soon(wait)
            await trio.sleep(1)
            box = ref._process.server
            assert isinstance(box, Box)
            box.held.pop(0).reply("first")
            answer, label = collection.check_response()  # taken before the waiter runs
            assert (answer.unwrap(), label) == ("first", 1)
        assert ended == [start + 5]
        assert len(collection) == 1
        nursery.cancel_scope.cancel()


async def test_receive_response_cancelled_after_the_reply_came_keeps_the_reply(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("x")
        await trio.sleep(1)
        assert request_id.done
        with trio.CancelScope() as scope:
            scope.cancel()
            await request_id.receive_response()
        assert request_id.check_response() == "x"

        collection = trio_otp.RequestIdCollection[int]()
        collection.add(ref.send_request("y"), 1)
        collection.add(ref.send_request("hold"), 2)
        await trio.sleep(1)
        with trio.CancelScope() as scope:
            scope.cancel()
            await collection.receive_response()
        assert [label for _, label in collection.to_list()] == [1]  # the pending one was abandoned
        answer, label = collection.check_response()
        assert (answer.unwrap(), label) == ("y", 1)
        assert deferred(ref) == 0
        nursery.cancel_scope.cancel()


async def test_a_collection_returns_answers_in_the_order_they_came(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        for label in range(5):
            collection.add(ref.send_request("hold"), label)
        early = ref.send_request("early")
        await trio.sleep(1)
        box = ref._process.server
        assert isinstance(box, Box)
        for index in (3, 0, 4, 1, 2):
            box.held[index].reply(f"r{index}")
        collection.add(early, 9)  # answered before the others: it comes first
        labels = []
        while collection:
            _, label = await collection.wait_response()
            labels.append(label)
        assert labels == [9, 3, 0, 4, 1, 2]
        nursery.cancel_scope.cancel()


async def test_an_empty_collection_raises_lookup_error(autojump_clock: MockClock) -> None:
    collection = trio_otp.RequestIdCollection[int]()
    with pytest.raises(LookupError, match="no_request"):
        await collection.wait_response()
    with pytest.raises(LookupError, match="no_request"):
        await collection.receive_response()
    with pytest.raises(LookupError, match="no_request"):
        collection.check_response()


async def test_a_request_taken_outside_its_collection_answers_an_error_there(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        request_id = ref.send_request("x")
        collection.add(request_id, 1)
        assert await request_id.wait_response() == "x"
        answer, label = await collection.wait_response(timeout=None)  # never hangs on it
        assert label == 1
        assert isinstance(answer, outcome.Error)
        assert isinstance(answer.error, RuntimeError)
        nursery.cancel_scope.cancel()


async def test_add_refuses_a_duplicate_or_a_spent_request(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        collection = trio_otp.RequestIdCollection[int]()
        request_id = ref.send_request("x")
        collection.add(request_id, 1)
        with pytest.raises(ValueError, match="already in the collection"):
            collection.add(request_id, 2)
        spent = ref.send_request("y")
        await spent.wait_response()
        with pytest.raises(ValueError, match="can no longer answer"):
            collection.add(spent, 3)
        nursery.cancel_scope.cancel()


# --- current_server -----------------------------------------------------------------


async def test_current_server_is_the_server_whose_callback_runs(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        other = await trio_otp.start_server(nursery, Box)
        assert await ref.call("who") is ref
        assert await other.call("who") is other
        with pytest.raises(RuntimeError, match="outside a server"):
            trio_otp.current_server()
        nursery.cancel_scope.cancel()


async def test_current_server_ends_with_serve(autojump_clock: MockClock) -> None:
    """serve awaited in a task of the caller's own leaves no server behind in the task's
    context (it would also keep the ref, and its process, in a reference cycle)."""
    after: list[BaseException] = []

    async def run_then_look(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await trio_otp.serve(Box, task_status=task_status)
        try:
            trio_otp.current_server()
        except RuntimeError as error:
            after.append(error)

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(run_then_look)
        await ref.stop()
    assert len(after) == 1


@attrs.define
class EndsAtOnce(trio_otp.GenServer[Any, Any]):
    async def init(self) -> trio_otp.Timeout:
        return trio_otp.Timeout(0)

    async def handle_info(self, message: Any) -> trio_otp.Stop[Any]:
        return trio_otp.Stop()


async def test_a_childs_task_that_runs_a_second_server_runs_that_one(autojump_clock: MockClock) -> None:
    async def one_then_another(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        await trio_otp.serve(EndsAtOnce)
        await trio_otp.serve(Box, task_status=task_status)

    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("w", one_then_another)]).run)
        [child] = await supervisor.which_children()
        assert await child.ref.call("who") is child.ref
        nursery.cancel_scope.cancel()


async def test_a_serve_nested_in_a_callback_is_the_server_until_it_ends(autojump_clock: MockClock) -> None:
    """Nothing forbids awaiting serve in a callback: the callback's task then runs the
    inner server until it ends, and is the outer one's again after."""
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)
    seen: list[object] = []

    @attrs.define
    class Inner(trio_otp.GenServer[Any, Any]):
        async def init(self) -> None:
            seen.append(trio_otp.current_server())
            registry.register("group", None)

        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            return ("inner", trio_otp.current_server())

    @attrs.define
    class Outer(trio_otp.GenServer[Any, Any]):
        async def handle_cast(self, request: Any) -> None:
            await trio_otp.serve(Inner)
            seen.append(trio_otp.current_server())

    async with trio.open_nursery() as nursery:
        outer = await trio_otp.start_server(nursery, Outer)
        outer.cast("run Inner")
        await trio.sleep(0.5)
        [inner] = seen
        assert inner is not outer
        replies, bad = await trio_otp.multi_call(registry, "group", "who", timeout=0.1)
        assert (replies, bad) == ([(inner, ("inner", inner))], [])
        await inner.stop()
        await settle()
        assert seen == [inner, outer]
        assert not outer._process.inner  # unlinked once it ended
        nursery.cancel_scope.cancel()


@attrs.define
class Joiner(trio_otp.GenServer[Any, Any]):
    """Registers itself in a group in init, as a group's members do."""

    registry: trio_otp.Registry[Any]
    in_init: trio_otp.ServerRef[Any, Any] | None = None

    async def init(self) -> None:
        self.in_init = trio_otp.current_server()
        self.registry.register("group", None)

    async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
        # A task a callback starts is not the server, as a process a server spawns has a
        # self() of its own.
        found: list[object] = []

        async def look() -> None:
            try:
                found.append(trio_otp.current_server())
            except RuntimeError as error:
                found.append(error)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(look)
        return (self.in_init, trio_otp.current_server(), found[0])


async def test_current_server_is_the_servers_own_task_only(autojump_clock: MockClock) -> None:
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: Joiner(registry))
        in_init, in_callback, in_task = await ref.call("x")
        assert in_init is ref
        assert in_callback is ref
        assert isinstance(in_task, RuntimeError)
        assert "outside a server" in str(in_task)
        nursery.cancel_scope.cancel()


async def test_a_worker_under_a_supervisor_a_server_runs_is_not_that_server(
    autojump_clock: MockClock,
) -> None:
    """A supervisor started in a server's callback runs its workers in tasks below the
    server's: they are not the server, and their multi_call does not skip it as 'self'."""
    registry = trio_otp.Registry[Any](trio_otp.Keys.DUPLICATE)
    seen: list[object] = []

    async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            seen.append(trio_otp.current_server())
        except RuntimeError as error:
            seen.append(error)
        seen.append(await trio_otp.multi_call(registry, "group", "who", timeout=1))
        task_status.started()
        await trio.sleep_forever()

    @attrs.define
    class Host(trio_otp.GenServer[Any, Any]):
        async def init(self) -> None:
            registry.register("group", None)

        async def handle_call(self, request: Any, caller: trio_otp.Caller[Any]) -> Any:
            if request == "who":
                return trio_otp.current_server()
            async with trio.open_nursery() as nursery:
                await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("w", worker)]).run)
                nursery.cancel_scope.cancel()
            return "done"

    async with trio.open_nursery() as nursery:
        host = await trio_otp.start_server(nursery, Host)
        other = await trio_otp.start_server(nursery, Host)
        assert await host.call("run", timeout=10) == "done"  # busy meanwhile: its member times out
        assert isinstance(seen[0], RuntimeError)
        replies, bad = seen[1]  # type: ignore[misc]
        assert replies == [(other, other)]
        assert [(member, type(error)) for member, error in bad] == [(host, trio_otp.CallTimeout)]
        nursery.cancel_scope.cancel()


class Machine(trio_otp.StateMachine[str, None, Any, Any]):
    async def init(self) -> trio_otp.NextState[str, None]:
        return trio_otp.NextState("idle", None)

    async def handle_event(self, event: trio_otp.Event[Any, Any], state: str, data: None) -> Any:
        if isinstance(event, trio_otp.CallEvent):
            return trio_otp.KeepState(data, trio_otp.ReplyTo(event.caller, trio_otp.current_server()))
        return trio_otp.KeepState(data)


async def test_current_server_and_requests_in_a_state_machine(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_state_machine(nursery, Machine)
        assert await ref.send_request("who").wait_response() is ref
        nursery.cancel_scope.cancel()


async def test_current_server_in_a_supervised_server(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([trio_otp.server_spec("box", Box, name="box")]).run)
        ref = trio_otp.whereis("box", trio_otp.ServerRef)
        assert await trio_otp.call("box", "who") is ref
        nursery.cancel_scope.cancel()


async def test_two_waiters_on_one_request_one_gets_the_reply_the_other_an_error(
    autojump_clock: MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        got: list[object] = []

        async def wait() -> None:
            try:
                got.append(await request_id.wait_response(timeout=None))
            except RuntimeError as error:
                got.append(type(error))

        async with trio.open_nursery() as waiters:
            waiters.start_soon(wait)
            waiters.start_soon(wait)
            await settle()
            ref.cast("release")
        assert sorted(map(str, got)) == sorted(["released", str(RuntimeError)])
        nursery.cancel_scope.cancel()


async def test_abandoning_a_request_wakes_a_collection_waiting_on_it(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Box)
        request_id = ref.send_request("hold")
        collection = trio_otp.RequestIdCollection[str]()
        collection.add(request_id, "held")
        answers: list[tuple[Any, str]] = []

        async def collect() -> None:
            answers.append(await collection.wait_response(timeout=None))

        nursery.start_soon(collect)
        with pytest.raises(trio_otp.CallTimeout):
            await request_id.receive_response(timeout=1)
        await settle()
        [(answer, label)] = answers
        assert label == "held"
        assert isinstance(answer.error, RuntimeError)
        nursery.cancel_scope.cancel()
