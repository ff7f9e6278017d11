"""GenServer: call, cast, info, continue, deferred replies, stop, crashes and timeouts."""

from __future__ import annotations

import functools
import logging
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp import NO_REPLY, Caller, Continue, GenServer, NoReply, Reply, Stop
from trio_otp._call_timer import call_timer

from .harness import settle

# trio < 0.34 clears __cause__ on errors that leave nursery.start before started().
TRIO_KEEPS_START_CAUSES = tuple(int(part) for part in trio.__version__.split(".")[:2]) >= (0, 34)


class Boom(Exception):
    pass


@attrs.define
class Recorder(GenServer[Any, Any]):
    """A server that records what it handles and does what its requests say."""

    log: list[Any] = attrs.field(factory=list)
    init_delay: float = 0.0
    init_result: Any = None
    terminate_delay: float = 0.0
    deferred: list[Caller[Any]] = attrs.field(factory=list)

    async def init(self) -> Any:
        self.log.append("init")
        await trio.sleep(self.init_delay)
        if isinstance(self.init_result, Exception):
            raise self.init_result
        return self.init_result

    async def handle_call(self, request: Any, caller: Caller[Any]) -> Any:
        self.log.append(("call", request))
        match request:
            case ("sleep", seconds):
                await trio.sleep(seconds)
                return "slept"
            case "crash":
                raise Boom("in call")
            case "defer":
                self.deferred.append(caller)
                return NO_REPLY
            case "stop-with-reply":
                return Stop(reply="bye")
            case "stop-without-reply":
                return Stop()
            case "reply-then-continue":
                return Reply("replied", continue_with="after-call")
            case _:
                return ("echo", request)

    async def handle_cast(self, request: Any) -> Any:
        self.log.append(("cast", request))
        if request == "crash":
            raise Boom("in cast")
        if request == "continue":
            return Continue("after-cast")
        if isinstance(request, tuple) and request[0] == "answer":
            self.deferred.pop(0).reply(request[1])
        return None

    async def handle_info(self, message: Any) -> Any:
        self.log.append(("info", message))
        return None

    async def handle_continue(self, continuation: Any) -> Any:
        self.log.append(("continue", continuation))
        return None

    async def terminate(self, reason: BaseException | None) -> None:
        self.log.append(("terminate-start", type(reason).__name__ if reason else None))
        await trio.sleep(self.terminate_delay)
        self.log.append("terminate-end")


async def start(nursery: trio.Nursery, **fields: Any) -> tuple[trio_otp.ServerRef[Any, Any], Recorder]:
    server = Recorder(**fields)
    ref = await trio_otp.start_server(nursery, lambda: server)
    return ref, server


async def test_call_cast_and_info(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)
        assert await ref.call("hello") == ("echo", "hello")
        ref.cast("c")
        ref.send("i")
        assert await ref.call("sync") == ("echo", "sync")
        assert server.log == ["init", ("call", "hello"), ("cast", "c"), ("info", "i"), ("call", "sync")]
        await ref.stop()


async def test_start_returns_after_init(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        before = trio.current_time()
        ref, server = await start(nursery, init_delay=1.5)
        assert trio.current_time() - before == pytest.approx(1.5)
        assert server.log == ["init"]
        await ref.stop()


async def test_init_failure_surfaces_from_start(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(Boom, match="init failed"):
            await start(nursery, init_result=Boom("init failed"))


async def test_init_may_ask_to_stop(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(trio_otp.InitStopped) as info:
            await start(nursery, init_result=Stop(Boom("no config")))
        assert isinstance(info.value.reason, Boom)
        if TRIO_KEEPS_START_CAUSES:
            assert info.value.__cause__ is info.value.reason


async def test_continue_from_init_runs_before_messages_sent_during_init(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        server = Recorder(init_delay=1.0, init_result=Continue("from-init"))
        ref_box: list[trio_otp.ServerRef[Any, Any]] = []

        async def send_during_init() -> None:
            await trio.sleep(0.5)
            ref = trio_otp.whereis("early")
            assert ref is not None
            ref.send("sent-during-init")
            ref.cast("cast-during-init")
            ref_box.append(ref)

        nursery.start_soon(send_during_init)
        ref = await trio_otp.start_server(nursery, lambda: server, name="early")
        await ref.call("sync")
        assert server.log == [
            "init",
            ("continue", "from-init"),
            ("info", "sent-during-init"),
            ("cast", "cast-during-init"),
            ("call", "sync"),
        ]
        await ref.stop()


async def test_continue_after_reply_and_cast(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)
        assert await ref.call("reply-then-continue") == "replied"
        ref.cast("continue")
        ref.send("last")
        await ref.call("sync")
        assert server.log[1:] == [
            ("call", "reply-then-continue"),
            ("continue", "after-call"),
            ("cast", "continue"),
            ("continue", "after-cast"),
            ("info", "last"),
            ("call", "sync"),
        ]
        await ref.stop()


async def test_call_timeout_and_the_late_reply_is_never_seen(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)
        with pytest.raises(trio_otp.CallTimeout, match="no reply within 1 s"):
            await ref.call(("sleep", 3), timeout=1)
        # The server still handles it (OTP does), and its reply goes nowhere:
        assert await ref.call("next") == ("echo", "next")
        assert server.log[1:] == [("call", ("sleep", 3)), ("call", "next")]
        await ref.stop()


async def test_default_timeout_is_five_seconds(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        before = trio.current_time()
        with pytest.raises(trio_otp.CallTimeout):
            await ref.call(("sleep", 60))
        assert trio.current_time() - before == pytest.approx(5.0)
        assert await ref.call(("sleep", 1), timeout=None) == "slept"
        nursery.cancel_scope.cancel()


def test_a_timeout_on_trios_own_clock_fires_at_its_deadline() -> None:
    """Under Trio's default clock (so a run of its own, not the suite's virtual time) a
    call reads the time as that clock's own sum, its offset plus time.perf_counter(),
    not through it: the deadline must come out the same."""

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            ref, _ = await start(nursery)
            before = trio.current_time()
            with trio.fail_after(10), pytest.raises(trio_otp.CallTimeout):
                await ref.call(("sleep", 60), timeout=0.05)
            assert trio.current_time() - before >= 0.05
            nursery.cancel_scope.cancel()

    trio.run(main)


async def test_cancelled_caller_leaves_the_server_consistent(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)
        with trio.move_on_after(0.5):
            await ref.call(("sleep", 1))
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await ref.call("never-sent")
        assert await ref.call("after") == ("echo", "after")
        assert ("call", "never-sent") not in server.log
        await ref.stop()


async def test_crash_in_call_reaches_the_caller_and_everyone_waiting(autojump_clock: MockClock) -> None:
    errors: list[BaseException] = []

    async def waiting_call(ref: trio_otp.ServerRef[Any, Any], request: Any) -> None:
        try:
            await ref.call(request)
        except trio_otp.ServerExited as error:
            errors.append(error)

    with pytest.RaisesGroup(Boom):
        async with trio.open_nursery() as nursery:
            ref, server = await start(nursery)
            nursery.start_soon(waiting_call, ref, "defer")  # deferred, never answered
            await settle()
            for request in (("sleep", 1), "crash", "queued"):  # in this order
                nursery.start_soon(waiting_call, ref, request)
                await settle()
    assert len(errors) == 3  # the deferred one, the crashing one, the queued one
    for error in errors:
        assert isinstance(error.__cause__, Boom)
        assert isinstance(error.reason, Boom)
        assert "crashed before replying: Boom('in call')" in str(error)
    assert ("terminate-start", "Boom") in server.log
    assert not ref.alive
    with pytest.raises(trio_otp.ServerNotRunning):
        await ref.call("again")  # at once, no timeout
    with pytest.raises(trio_otp.ServerNotRunning):
        ref.cast("again")


async def test_unexpected_call_crashes_the_server_and_the_caller_sees_why(autojump_clock: MockClock) -> None:
    class Plain(GenServer[str, str]):
        pass

    with pytest.RaisesGroup(NotImplementedError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Plain)
            with pytest.raises(trio_otp.ServerExited) as info:
                await ref.call("hello")
            assert isinstance(info.value.__cause__, NotImplementedError)
            assert "does not handle calls" in str(info.value.__cause__)


async def test_continue_from_handle_call_is_an_error_not_a_lost_call(autojump_clock: MockClock) -> None:
    class Confused(GenServer[str, str]):
        async def handle_call(self, request: str, caller: Caller[str]) -> Any:
            return Continue("later")  # a Continue carries no reply; the caller must not hang

    with pytest.RaisesGroup(TypeError):
        async with trio.open_nursery() as nursery:
            ref = await trio_otp.start_server(nursery, Confused)
            with pytest.raises(trio_otp.ServerExited) as info, trio.fail_after(60):
                await ref.call("hello", timeout=None)
            assert "use Reply(value, continue_with=...)" in str(info.value.__cause__)


async def test_unexpected_info_is_logged_not_a_crash(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Quiet(GenServer[str, str]):
        async def handle_call(self, request: str, caller: Caller[str]) -> str:
            return request

    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Quiet)
        ref.send("stray")
        assert await ref.call("still here") == "still here"
        await ref.stop()
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "stray" in record.getMessage()


async def test_deferred_reply_from_another_task(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)

        async def answer_later() -> None:
            await trio.sleep(2)
            server.deferred.pop(0).reply("from another task")

        nursery.start_soon(answer_later)
        before = trio.current_time()
        assert await ref.call("defer") == "from another task"
        assert trio.current_time() - before == pytest.approx(2)
        # Meanwhile the server was free: it answered others.
        assert await ref.call("x") == ("echo", "x")
        await ref.stop()


async def test_deferred_reply_from_another_callback(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        async with trio.open_nursery() as callers:
            result: list[Any] = []

            async def ask() -> None:
                result.append(await ref.call("defer"))

            callers.start_soon(ask)
            await settle()
            ref.cast(("answer", 42))
        assert result == [42]
        await ref.stop()


async def test_a_reply_to_a_caller_that_gave_up_is_dropped(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery)
        with pytest.raises(trio_otp.CallTimeout):
            await ref.call("defer", timeout=1)
        caller = server.deferred.pop(0)
        assert caller.done
        caller.reply("too late")  # dropped, no error
        assert await ref.call("next") == ("echo", "next")
        await ref.stop()


async def test_stop_with_reply_replies_after_terminate(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery, terminate_delay=2)
        before = trio.current_time()
        assert await ref.call("stop-with-reply") == "bye"
        assert trio.current_time() - before == pytest.approx(2)  # after terminate's 2 s
        assert server.log[-1] == "terminate-end"
        assert not ref.alive


async def test_stop_without_reply_fails_the_caller(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        with pytest.raises(trio_otp.ServerExited, match="exited normally before replying") as info:
            await ref.call("stop-without-reply")
        assert info.value.reason is None


async def test_stop_runs_terminate_and_waits(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery, terminate_delay=1)
        await ref.stop()
        assert server.log[-2:] == [("terminate-start", None), "terminate-end"]
        assert not ref.alive
        with pytest.raises(trio_otp.ServerNotRunning):
            await ref.stop()


async def test_stop_with_a_reason_is_raised_from_the_server(autojump_clock: MockClock) -> None:
    with pytest.RaisesGroup(trio_otp.Shutdown):
        async with trio.open_nursery() as nursery:
            ref, _ = await start(nursery)
            await ref.stop(trio_otp.Shutdown("maintenance"))


async def test_stop_timeout_does_not_kill(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, server = await start(nursery, terminate_delay=10)
        with pytest.raises(trio_otp.CallTimeout):
            await ref.stop(timeout=1)
        await trio.sleep(10)
        assert server.log[-1] == "terminate-end"


async def test_crash_in_cast_runs_terminate_with_the_error(autojump_clock: MockClock) -> None:
    with pytest.RaisesGroup(Boom):
        async with trio.open_nursery() as nursery:
            ref, server = await start(nursery)
            ref.cast("crash")
    assert server.log[-2:] == [("terminate-start", "Boom"), "terminate-end"]


async def test_calling_itself_is_refused(autojump_clock: MockClock) -> None:
    box: list[trio_otp.ServerRef[str, str]] = []

    class Narcissus(GenServer[str, str]):
        async def handle_call(self, request: str, caller: Caller[str]) -> str:
            if request == "self":
                try:
                    await box[0].call("x")
                except trio_otp.ServerError as error:
                    return str(error)
            return request

    async with trio.open_nursery() as nursery:
        box.append(await trio_otp.start_server(nursery, Narcissus))
        assert "called itself" in await box[0].call("self")
        await box[0].stop()


async def test_names(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Recorder, name="rec")
        assert trio_otp.whereis("rec") is ref
        assert ref.name == "rec"
        with pytest.raises(trio_otp.NameTaken, match="'rec' is already taken") as info:
            await trio_otp.start_server(nursery, Recorder, name="rec")
        assert info.value.ref is ref
        await ref.stop()
        assert trio_otp.whereis("rec") is None


async def test_bounded_mailbox(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        server = Recorder()
        ref = await trio_otp.start_server(nursery, lambda: server, mailbox_size=2)
        nursery.start_soon(ref.call, ("sleep", 3))  # keeps the server busy
        await settle()
        ref.cast(1)
        ref.cast(2)
        with pytest.raises(trio_otp.MailboxFull, match="full"):
            ref.cast(3)
        before = trio.current_time()
        assert await ref.call("waits for room") == ("echo", "waits for room")
        assert trio.current_time() - before == pytest.approx(3)
        await ref.stop()


def test_bad_mailbox_size_and_factory_fail_at_spec_time() -> None:
    with pytest.raises(ValueError, match="mailbox_size"):
        trio_otp.server_spec("s", Recorder, mailbox_size=0)
    with pytest.raises(TypeError, match="factory"):
        trio_otp.server_spec("s", Recorder())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"reason must be None \(a normal exit\) or an exception"):
        Stop("not an exception")  # type: ignore[arg-type]


async def test_call_from_a_thread(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)

        def blocking_client() -> Any:
            ref.cast_from_thread("from thread")
            return ref.call_from_thread("hi", timeout=None)

        assert await trio.to_thread.run_sync(blocking_client) == ("echo", "hi")
        await ref.stop()


# --- under a supervisor ------------------------------------------------------------


async def test_supervised_server_is_restarted_with_fresh_state_under_its_name(
    autojump_clock: MockClock,
) -> None:
    starts: list[Recorder] = []

    def factory() -> Recorder:
        starts.append(Recorder())
        return starts[-1]

    spec = trio_otp.server_spec("rec", factory, name="rec")
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([spec], max_restarts=5).run)
        first = trio_otp.whereis("rec")
        assert first is not None
        await first.call("hello")
        with pytest.raises(trio_otp.ServerExited):
            await first.call("crash")
        await settle()
        second = trio_otp.whereis("rec")
        assert second is not None
        assert second is not first
        assert await second.call("again") == ("echo", "again")
        assert len(starts) == 2
        assert starts[1].log == ["init", ("call", "again")]
        nursery.cancel_scope.cancel()


async def test_supervisor_shutdown_runs_terminate_with_the_budget(autojump_clock: MockClock) -> None:
    server = Recorder(terminate_delay=10)
    spec = trio_otp.server_spec("rec", lambda: server, shutdown=2)
    before = trio.current_time()
    with trio.move_on_after(1):
        await trio_otp.Supervisor([spec]).run()
    assert server.log[-1] == ("terminate-start", "Shutdown")  # cut off at the 2 s budget
    assert trio.current_time() - before == pytest.approx(3)


async def test_init_failure_under_a_supervisor_is_a_start_failure(autojump_clock: MockClock) -> None:
    spec = trio_otp.server_spec("rec", functools.partial(Recorder, init_result=Boom("bad")))
    with pytest.raises(trio_otp.ChildStartError) as info:
        await trio_otp.Supervisor([spec]).run()
    assert isinstance(info.value.__cause__, Boom)


async def test_noreply_then_stop_fails_deferred_callers(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        errors: list[BaseException] = []

        async def ask() -> None:
            try:
                await ref.call("defer")
            except trio_otp.ServerExited as error:
                errors.append(error)

        nursery.start_soon(ask)
        await settle()
        await ref.stop()
        await settle()
        assert len(errors) == 1
        assert errors[0].__cause__ is None


def test_noreply_is_reusable() -> None:
    assert isinstance(NO_REPLY, NoReply)


async def test_a_shorter_timeout_after_a_longer_one_fires_on_time(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        nursery.start_soon(functools.partial(ref.call, ("sleep", 20), timeout=30))
        await settle()
        before = trio.current_time()
        with pytest.raises(trio_otp.CallTimeout):
            await ref.call("queued behind the sleep", timeout=1)
        assert trio.current_time() - before == pytest.approx(1)
        nursery.cancel_scope.cancel()


async def test_call_timer_memory_stays_bounded_while_a_call_stays_live(autojump_clock: MockClock) -> None:
    """With some call always waiting, the timer's heap is never simply emptied: the
    entries of ended calls must still be dropped (the heap rebuilt) as they pile up."""
    async with trio.open_nursery() as nursery:
        slow, server = await start(nursery)
        fast, _ = await start(nursery)
        nursery.start_soon(functools.partial(slow.call, "defer", timeout=5_000.0))  # never answered
        while not server.deferred:  # not settle(): the clock would jump to the timeout
            await trio.lowlevel.checkpoint()
        for i in range(1000):
            assert await fast.call(i) == ("echo", i)
        timer = call_timer()
        assert timer.live == 1
        assert len(timer.heap) <= 2 * timer.live + 64 + 1
        nursery.cancel_scope.cancel()


async def test_call_timer_memory_stays_bounded(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref, _ = await start(nursery)
        for i in range(2000):
            await ref.call(i)
        timer = call_timer()
        assert timer.live == 0
        assert len(timer.heap) <= 64 + 1
        await ref.stop()
