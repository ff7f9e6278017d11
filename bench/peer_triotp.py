"""The peer: triotp ("The OTP framework for Python Trio") on the same workloads, in the
same process as the raw-Trio floor and trio_otp. Needs Python 3.13 (triotp's minimum);
``nox -s bench`` runs it in a session of its own, where triotp installs."""

from __future__ import annotations

import statistics
import sys
import time
import types
from typing import Any

import trio

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import suite  # the floor and trio_otp workloads, shared with the main suite

try:
    from triotp import gen_server, mailbox
except ImportError:  # pragma: no cover - reported, not failed: the peer is optional
    print("triotp is not installed here; skipping the peer (it needs Python >= 3.13)")
    sys.exit(0)

N = 5_000 if suite.QUICK else 20_000


def _echo_module() -> types.ModuleType:
    module = types.ModuleType("triotp_echo")

    async def init(_arg: Any) -> int:
        return 0

    async def handle_call(message: Any, _caller: Any, state: int) -> Any:
        return (gen_server.Reply(payload=message), state)

    async def handle_cast(message: Any, state: int) -> Any:
        return (gen_server.NoReply(), state + 1)

    async def handle_info(message: Any, state: int) -> Any:
        return (gen_server.NoReply(), state)

    module.init = init  # type: ignore[attr-defined]
    module.handle_call = handle_call  # type: ignore[attr-defined]
    module.handle_cast = handle_cast  # type: ignore[attr-defined]
    module.handle_info = handle_info  # type: ignore[attr-defined]
    return module


async def triotp_call_rate(n: int) -> float:
    mailbox._init()
    module = _echo_module()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gen_server.start, module, None, "echo")
        await trio.sleep(0.01)
        start = time.perf_counter()
        for i in range(n):
            assert await gen_server.call("echo", i) == i
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


async def triotp_cast_rate(n: int) -> float:
    mailbox._init()
    module = _echo_module()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gen_server.start, module, None, "sink")
        await trio.sleep(0.01)
        start = time.perf_counter()
        for i in range(n):
            await gen_server.cast("sink", i)
        await gen_server.call("sink", "sync")  # queued behind every cast
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return n / elapsed


def median(fn: Any, *args: Any) -> float:
    return statistics.median(trio.run(fn, *args) for _ in range(suite.REPEATS))


def main() -> None:
    floor = median(suite.raw_call_rate, N)
    ours = median(suite.gen_server_call_rate, N)
    theirs = median(triotp_call_rate, N)
    raw_cast = median(suite.raw_send_nowait_rate, N)
    our_cast = median(suite.gen_server_cast_rate, N)
    their_cast = median(triotp_cast_rate, N)
    print(f"Python {sys.version.split()[0]}, trio {trio.__version__}: the peer, in one process")
    print("| workload | raw Trio | trio_otp | triotp |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| call round trips/s | {floor:,.0f} | {ours:,.0f} ({ours / floor:.2f}x) "
        f"| {theirs:,.0f} ({theirs / floor:.2f}x) |"
    )
    print(
        f"| casts/s | {raw_cast:,.0f} | {our_cast:,.0f} ({our_cast / raw_cast:.2f}x) "
        f"| {their_cast:,.0f} ({their_cast / raw_cast:.2f}x) |"
    )


if __name__ == "__main__":
    main()
