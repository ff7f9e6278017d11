"""Property 5: random calls, casts, crashes and restarts of a supervised GenServer from
several clients at once; every call ends in a reply or a documented exception, never a hang."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

import trio_otp

EXAMPLES = int(os.environ.get("TRIO_OTP_CONFORMANCE_EXAMPLES", "300")) // 2


class Boom(Exception):
    pass


@attrs.define
class Counter(trio_otp.GenServer[tuple[str, int], int]):
    total: int = 0
    parked: list[trio_otp.Caller[int]] = attrs.field(factory=list)

    async def handle_call(self, request: tuple[str, int], caller: trio_otp.Caller[int]) -> Any:
        op, n = request
        if op == "add":
            self.total += n
            return self.total
        if op == "slow":
            await trio.sleep(n)
            return self.total
        if op == "defer":
            self.parked.append(caller)
            return trio_otp.NO_REPLY
        if op == "release":
            for parked in self.parked:
                parked.reply(self.total)
            self.parked.clear()
            return self.total
        raise Boom(request)

    async def handle_cast(self, request: Any) -> None:
        if request == "crash":
            raise Boom("cast")
        self.total += int(request)

    async def handle_info(self, message: Any) -> None:
        self.total += 0


OPERATION = st.one_of(
    st.tuples(
        st.just("call"),
        st.sampled_from(["add", "add", "slow", "defer", "release", "crash"]),
        st.integers(0, 3),
    ),
    st.tuples(st.just("cast"), st.sampled_from(["1", "2", "crash"]), st.just(0)),
    st.tuples(st.just("send"), st.just("hello"), st.just(0)),
    st.tuples(st.just("sleep"), st.just(""), st.integers(0, 2)),
)
CLIENTS = st.lists(st.lists(OPERATION, max_size=10), min_size=1, max_size=4)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clients=CLIENTS, max_restarts=st.integers(0, 5), timeout=st.sampled_from([None, 1.0, 5.0]))
def test_every_call_ends_in_a_reply_or_a_documented_error(
    clients: list[list[tuple[str, str, int]]], max_restarts: int, timeout: float | None
) -> None:
    outcomes: list[object] = []
    spec = trio_otp.server_spec("counter", Counter, name="counter")
    supervisor = trio_otp.Supervisor([spec], max_restarts=max_restarts, max_seconds=5)

    async def client(operations: list[tuple[str, str, int]]) -> None:
        for kind, op, n in operations:
            server = trio_otp.whereis("counter")
            try:
                if server is None:
                    raise trio_otp.ServerNotRunning("not registered")
                if kind == "call":
                    outcomes.append(await server.call((op, n), timeout=timeout))
                elif kind == "cast":
                    server.cast(op)
                elif kind == "send":
                    server.send(op)
                else:
                    await trio.sleep(n)
            except (trio_otp.ServerExited, trio_otp.ServerNotRunning, trio_otp.CallTimeout) as error:
                outcomes.append(type(error))
            await trio.testing.wait_all_tasks_blocked()

    async def releaser() -> None:
        """Answers deferred calls every few seconds, as some other part of an app would."""
        while True:
            await trio.sleep(3)
            server = trio_otp.whereis("counter")
            if server is not None:
                with contextlib.suppress(trio_otp.ServerExited, trio_otp.ServerNotRunning):
                    await server.call(("release", 0), timeout=None)

    async def main() -> None:
        with trio.fail_after(10_000):  # virtual seconds: a hang would end here, and fail
            async with trio.open_nursery() as nursery:
                await nursery.start(supervisor.run)
                nursery.start_soon(releaser)
                async with trio.open_nursery() as clients_nursery:
                    for operations in clients:
                        clients_nursery.start_soon(client, operations)
                nursery.cancel_scope.cancel()

    escalated: BaseExceptionGroup[BaseException] | None = None
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    except BaseExceptionGroup as group:  # the supervisor escalated: allowed, nothing else
        escalated = group
    if escalated is not None:
        assert escalated.split(trio_otp.RestartIntensityExceeded)[1] is None
    documented = (trio_otp.ServerExited, trio_otp.ServerNotRunning, trio_otp.CallTimeout)
    for outcome in outcomes:
        assert isinstance(outcome, int) or outcome in documented, outcome
