"""The example service (docs/examples/kv_service.py), driven by real clients over loopback.

Sockets need real time, so these tests run their own ``trio.run`` on the real clock (no
autojump), each under a generous ``fail_after``; they wait for what they need by polling
the tree, never by sleeping a guessed amount.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

import trio_otp

EXAMPLE = pathlib.Path(__file__).parent.parent / "docs" / "examples" / "kv_service.py"
TIMEOUT = 20  # seconds, for a whole test on a loaded machine; a healthy run takes well under 1


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("kv_service_under_test", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kv = _load()


@pytest.fixture(autouse=True)
def patient_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generous call timeout, so that a stall of a loaded machine is not an "ERR unavailable"."""
    monkeypatch.setattr(kv, "CALL_TIMEOUT", 5.0)


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.reader = kv.LineReader(stream)

    async def send(self, line: bytes) -> None:
        await self.stream.send_all(line + b"\n")

    async def read(self) -> str | None:
        """The next reply line, or None once the server has closed the connection."""
        try:
            line = await self.reader.readline()
        except trio.BrokenResourceError:
            return None  # closed with a reset rather than an end of stream
        return None if line is None else line.decode()

    async def ask(self, line: str) -> str | None:
        await self.send(line.encode())
        return await self.read()


async def wait_until(condition: Callable[[], Awaitable[bool]]) -> None:
    while True:
        if await condition():
            return
        await trio.sleep(0.01)


async def children(supervisor: str) -> dict[object, trio_otp.ChildInfo]:
    return {info.id: info for info in await trio_otp.which_children(supervisor)}


async def restarts() -> dict[object, int]:
    return {child_id: info.restarts for child_id, info in (await children(kv.APP)).items()}


class Service:
    """The running service's port, and clients that are closed when the test ends."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[Client] = []

    async def connect(self) -> Client:
        client = Client(await trio.open_tcp_stream("127.0.0.1", self.port))
        self.clients.append(client)
        return client


def run_service(body: Callable[[Service], Awaitable[None]], **options: Any) -> None:
    """Start the whole tree on 127.0.0.1, port 0, run ``body``, then stop the tree."""

    async def main() -> None:
        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                root = await nursery.start(kv.service_tree("127.0.0.1", 0, **options).run)
                listener = {info.id: info for info in await root.which_children()}["listener"]
                service = Service(listener.ref_as(int))
                try:
                    await body(service)
                finally:
                    for client in service.clients:
                        await trio.aclose_forcefully(client.stream)
                nursery.cancel_scope.cancel()

    trio.run(main)


def test_the_protocol_and_its_error_replies() -> None:
    async def body(service: Service) -> None:
        client = await service.connect()
        assert await client.ask("PING") == "OK PONG"
        assert await client.ask("GET colour") == "ERR not found"
        assert await client.ask("SET colour deep blue") == "OK"
        assert await client.ask("get colour") == "OK deep blue"
        assert await client.ask("DEL colour") == "OK"
        assert await client.ask("DEL colour") == "ERR not found"
        assert await client.ask("SET colour") == "ERR usage: SET <key> <value>"
        assert await client.ask("EXPIRE colour soon") == "ERR usage: EXPIRE <key> <seconds>"
        assert await client.ask("FLY away") == "ERR unknown command 'FLY'"
        await client.send(b"GET \xff")
        assert await client.read() == "ERR not UTF-8"
        await client.send(b"")  # an empty line gets no reply...
        assert await client.ask("PING") == "OK PONG"  # ...and the connection goes on
        assert await client.ask("QUIT") == "OK bye"
        assert await client.read() is None

        long = await service.connect()
        await long.send(b"SET k " + b"x" * (2 * kv.MAX_LINE))
        assert await long.read() == "ERR line too long"
        assert await long.read() is None

    run_service(body)


def test_keys_expire_and_the_periodic_job_drops_them() -> None:
    async def body(service: Service) -> None:
        client = await service.connect()
        assert await client.ask("SET short lived") == "OK"
        assert await client.ask("SET long lived") == "OK"
        assert await client.ask("EXPIRE short 0.05") == "OK"
        assert await client.ask("EXPIRE missing 1") == "ERR not found"

        async def dropped() -> bool:
            store = await trio_otp.get_state(kv.STORE)
            return "short" not in store.values

        await wait_until(dropped)  # the expiry loop told the store to sweep
        assert await client.ask("GET short") == "ERR not found"
        assert await client.ask("GET long") == "OK lived"

    run_service(body, expiry_interval=0.02)


def test_a_crashed_connection_closes_only_that_connection() -> None:
    async def body(service: Service) -> None:
        first = await service.connect()
        assert await first.ask("SET k v") == "OK"
        [first_task] = await trio_otp.which_children(kv.CONNECTIONS)  # ids repeat: a list
        second = await service.connect()
        assert await second.ask("PING") == "OK PONG"  # its task is running too

        trio_otp.exit(first_task, RuntimeError("a bug in the connection handler"))
        assert await first.read() is None  # its client sees the connection close

        assert await second.ask("GET k") == "OK v"  # the other client goes on, as does the store
        third = await service.connect()
        assert await third.ask("GET k") == "OK v"  # and new connections work

        async def two_left() -> bool:  # the first task may still be ending
            return len(await trio_otp.which_children(kv.CONNECTIONS)) == 2

        await wait_until(two_left)
        # A task is temporary: its crash restarts nothing, in the root or anywhere.
        assert await restarts() == {"store": 0, "expiry": 0, "connections": 0, "listener": 0}

    run_service(body)


def test_a_client_that_crashes_the_store_gets_err_unavailable_and_the_store_restarts_empty() -> None:
    async def body(service: Service) -> None:
        crasher = await service.connect()
        bystander = await service.connect()
        assert await bystander.ask("SET k v") == "OK"
        assert await crasher.ask("CRASH") == "ERR unavailable"  # the call failed: ServerExited
        await wait_until(lambda: _store_restarted(1))

        assert await bystander.ask("GET k") == "ERR not found"  # restarted with fresh state
        assert await crasher.ask("SET k w") == "OK"  # both connections survived
        assert await bystander.ask("GET k") == "OK w"
        assert await restarts() == {"store": 1, "expiry": 0, "connections": 0, "listener": 0}

    run_service(body)


def test_the_store_exited_from_outside_is_restarted_and_found_by_name() -> None:
    async def body(service: Service) -> None:
        client = await service.connect()
        assert await client.ask("SET k v") == "OK"
        trio_otp.exit(kv.STORE, RuntimeError("the store is broken"))
        await wait_until(lambda: _store_restarted(1))
        assert await client.ask("GET k") == "ERR not found"
        fresh = await service.connect()
        assert await fresh.ask("SET k v2") == "OK"
        assert await client.ask("GET k") == "OK v2"
        assert await restarts() == {"store": 1, "expiry": 0, "connections": 0, "listener": 0}

    run_service(body)


def test_while_the_store_is_down_clients_get_err_unavailable_not_a_hang() -> None:
    async def body(service: Service) -> None:
        client = await service.connect()
        await trio_otp.terminate_child(kv.APP, "store")  # down, and kept down, until restarted
        with trio.fail_after(kv.CALL_TIMEOUT / 2):  # the answer is immediate, not a timeout
            assert await client.ask("GET k") == "ERR unavailable"
        assert await client.ask("SET k v") == "ERR unavailable"
        assert await client.ask("PING") == "OK PONG"  # the connection is still open

        await trio_otp.restart_child(kv.APP, "store")
        assert await client.ask("SET k v") == "OK"
        assert await client.ask("GET k") == "OK v"

    run_service(body)


def test_a_store_that_does_not_answer_in_time_gives_err_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kv, "CALL_TIMEOUT", 0.1)
    original = kv.Store.handle_call
    release: list[trio.Event] = []

    async def stuck_on_slow(self: Any, request: Any, caller: Any) -> str:
        if request == kv.Get("slow"):
            await release[0].wait()
        return await original(self, request, caller)

    monkeypatch.setattr(kv.Store, "handle_call", stuck_on_slow)

    async def body(service: Service) -> None:
        release.append(trio.Event())
        client = await service.connect()
        assert await client.ask("GET slow") == "ERR unavailable"  # a CallTimeout, after 0.1 s
        assert await client.ask("PING") == "OK PONG"
        monkeypatch.setattr(kv, "CALL_TIMEOUT", 5.0)
        release[0].set()  # the store gets going again, and was never restarted
        assert await client.ask("SET k v") == "OK"
        assert await restarts() == {"store": 0, "expiry": 0, "connections": 0, "listener": 0}

    run_service(body)


def test_past_max_connections_a_client_gets_err_busy() -> None:
    async def body(service: Service) -> None:
        first = await service.connect()
        assert await first.ask("PING") == "OK PONG"
        second = await service.connect()
        assert await second.read() == "ERR busy"
        assert await second.read() is None
        assert await first.ask("PING") == "OK PONG"

    run_service(body, max_connections=1)


async def _store_restarted(times: int) -> bool:
    info = (await children(kv.APP))["store"]
    return info.restarts == times and info.state is trio_otp.ChildState.RUNNING


def test_run_as_a_script_it_serves_and_exits_zero_on_sigint() -> None:
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parent.parent)}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
        assert ready, "the service printed no port"
        match = re.fullmatch(r"kv_service listening on 127\.0\.0\.1:(\d+)\n", process.stdout.readline())
        assert match, "the service printed no port"
        with socket.create_connection(("127.0.0.1", int(match[1])), timeout=TIMEOUT) as connection:
            replies = connection.makefile("rb")
            connection.sendall(b"SET k v\nGET k\n")
            assert replies.readline() == b"OK\n"
            assert replies.readline() == b"OK v\n"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
