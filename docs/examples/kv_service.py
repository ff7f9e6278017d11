"""A TCP key-value service: a whole application in one supervision tree.

Run it with ``python docs/examples/kv_service.py --port 0``: it prints the port it listens on
and serves until SIGINT or SIGTERM, then stops the tree in order and exits 0. Talk to it
with ``nc 127.0.0.1 PORT``.

The tree (``kv_app``, one_for_one, at most 3 restarts in 5 s)::

    kv_app
    ├── store        the named GenServer "kv" that owns the keys
    ├── expiry       a timer loop that tells "kv" to drop expired keys
    ├── connections  the named TaskSupervisor "kv_connections", one task per client
    └── listener     accepts connections and starts a task for each under "connections"

Children start in that order, each ready before the next, so the service accepts its
first client only when the store is up; they stop in reverse order, so the listener stops
accepting before the connections close, and those close before the store goes.

The protocol: one command a line, one reply a line (UTF-8, at most 4096 bytes a line)::

    PING                 OK PONG
    SET <key> <value>    OK              (the value is the rest of the line)
    GET <key>            OK <value>      or ERR not found
    DEL <key>            OK              or ERR not found
    EXPIRE <key> <secs>  OK              or ERR not found; the key goes after <secs>
    CRASH                ERR unavailable (crashes the store, for the demo)
    QUIT                 OK bye, and the server closes the connection

Errors a client can see:

- ``ERR unavailable``: the store is not running (it crashed and is being restarted, or
  was stopped) or did not answer within a second. The connection stays open: try again.
- ``ERR usage: ...``, ``ERR unknown command ...``, ``ERR not UTF-8``: a bad line; the
  connection stays open.
- ``ERR line too long`` or ``ERR busy`` (``max_connections`` clients already), and the
  server closes the connection.

A crash of one connection's task closes that connection only. A crash of the store loses
its keys (it restarts empty) and fails the calls it was answering, with ``ERR
unavailable``; the connections and the listener go on.
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import sys

import attrs
import trio

import trio_otp

STORE = "kv"  # the state server's name
CONNECTIONS = "kv_connections"  # the task supervisor's name
APP = "kv_app"  # the root supervisor's name
MAX_LINE = 4096
CALL_TIMEOUT = 1.0  # seconds a connection waits for the store before "ERR unavailable"

logger = logging.getLogger("kv_service")


# --- the store: a GenServer that owns the keys -------------------------------------------


@attrs.frozen
class Get:
    key: str


@attrs.frozen
class Set:
    key: str
    value: str


@attrs.frozen
class Delete:
    key: str


@attrs.frozen
class Expire:
    key: str
    seconds: float


@attrs.frozen
class Crash:
    pass


Command = Get | Set | Delete | Expire | Crash
SWEEP = "sweep"  # the message the expiry loop sends to the store


@attrs.define
class Store(trio_otp.GenServer[Command, str]):
    """The keys, and when each expires (on ``trio.current_time()``). Replies are the
    protocol's reply lines."""

    values: dict[str, str] = attrs.field(factory=dict[str, str])
    deadlines: dict[str, float] = attrs.field(factory=dict[str, float])

    def _live(self, key: str) -> bool:
        """Whether ``key`` is stored and not yet expired (the sweep may not have run yet)."""
        return key in self.values and self.deadlines.get(key, math.inf) > trio.current_time()

    async def handle_call(self, request: Command, caller: trio_otp.Caller[str]) -> str:
        if isinstance(request, Get):
            return f"OK {self.values[request.key]}" if self._live(request.key) else "ERR not found"
        if isinstance(request, Set):
            self.values[request.key] = request.value
            self.deadlines.pop(request.key, None)  # a new value lives until told otherwise
            return "OK"
        if isinstance(request, Delete):
            found = self._live(request.key)
            self.values.pop(request.key, None)
            self.deadlines.pop(request.key, None)
            return "OK" if found else "ERR not found"
        if isinstance(request, Expire):
            if not self._live(request.key):
                return "ERR not found"
            self.deadlines[request.key] = trio.current_time() + request.seconds
            return "OK"
        # Crash: let it crash. The caller gets ServerExited; the supervisor restarts the store.
        raise RuntimeError("a client asked the store to crash")

    async def handle_info(self, message: object) -> None:
        if message == SWEEP:
            now = trio.current_time()
            for key in [key for key, deadline in self.deadlines.items() if deadline <= now]:
                del self.values[key], self.deadlines[key]


async def expire_keys(
    interval: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """The periodic job: every ``interval`` seconds, tell the store to drop expired keys."""
    task_status.started()
    while True:
        await trio.sleep(interval)
        try:
            trio_otp.send(STORE, SWEEP)
        except trio_otp.ServerNotRunning:
            pass  # the store is restarting, empty: nothing to expire until the next tick


# --- one connection -----------------------------------------------------------------------


class LineTooLong(Exception):
    pass


class LineReader:
    """Lines from a byte stream, without their ``\\n`` (or ``\\r\\n``)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def readline(self) -> bytes | None:
        """The next line; ``None`` at the end of the stream (a last unterminated line is
        dropped). Raises ``LineTooLong`` past ``MAX_LINE`` bytes."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line.removesuffix(b"\r")
            if len(self._buffer) > MAX_LINE:
                raise LineTooLong
            data = await self._stream.receive_some(MAX_LINE)
            if not data:
                return None
            self._buffer += data


async def hang_up(stream: trio.SocketStream) -> None:
    """Close our side first and read what the client still sends until it closes too (at
    most a second). Closing with unread input would reset the connection, and the client
    could lose the last reply."""
    with trio.move_on_after(1):
        await stream.send_eof()
        while await stream.receive_some(MAX_LINE):
            pass


def parse(line: str) -> Command | str:
    """The command on ``line``, or the error reply if it is not one."""
    verb, _, rest = line.strip().partition(" ")
    words = rest.split()
    verb = verb.upper()
    if verb == "GET" and len(words) == 1:
        return Get(words[0])
    if verb == "DEL" and len(words) == 1:
        return Delete(words[0])
    if verb == "SET" and len(words) >= 2:
        key, _, value = rest.strip().partition(" ")
        return Set(key, value.strip())
    if verb == "EXPIRE" and len(words) == 2:
        try:
            seconds = float(words[1])
        except ValueError:
            seconds = math.nan
        if seconds >= 0 and math.isfinite(seconds):
            return Expire(words[0], seconds)
    if verb == "CRASH" and not words:
        return Crash()
    usage = {
        "GET": "GET <key>",
        "DEL": "DEL <key>",
        "SET": "SET <key> <value>",
        "EXPIRE": "EXPIRE <key> <seconds>",
        "CRASH": "CRASH",
    }
    if verb in usage:
        return f"ERR usage: {usage[verb]}"
    return f"ERR unknown command {verb[:32]!r}"


async def ask_store(command: Command) -> str:
    """The store's reply to ``command``, or ``ERR unavailable`` if it cannot give one."""
    store = trio_otp.whereis(STORE, trio_otp.ServerRef[Command, str])
    if store is None:
        return "ERR unavailable"
    try:
        return await store.call(command, timeout=CALL_TIMEOUT)
    except (trio_otp.ServerNotRunning, trio_otp.ServerExited, trio_otp.CallTimeout):
        return "ERR unavailable"


async def serve_connection(stream: trio.SocketStream) -> None:
    """Answer one client until it quits or hangs up; runs under the task supervisor."""
    async with stream:

        async def reply(text: str) -> None:
            await stream.send_all(text.encode() + b"\n")

        reader = LineReader(stream)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except LineTooLong:
                    await reply("ERR line too long")
                    await hang_up(stream)
                    return
                if raw is None:
                    return
                try:
                    line = raw.decode()
                except UnicodeDecodeError:
                    await reply("ERR not UTF-8")
                    continue
                verb = line.strip().upper()
                if verb == "PING":
                    await reply("OK PONG")
                elif verb == "QUIT":
                    await reply("OK bye")
                    await hang_up(stream)
                    return
                elif verb:
                    command = parse(line)
                    await reply(command if isinstance(command, str) else await ask_store(command))
        except trio.BrokenResourceError:
            return  # the client hung up: a normal end for a connection


# --- the listener -------------------------------------------------------------------------

# Running out of file descriptors or memory: wait and accept again, as trio.serve_tcp does.
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


async def listen(
    host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Bind, report the port (the child's reference), then accept for ever, handing each
    connection to the task supervisor found by name (across its restarts)."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    if len(listeners) != 1:
        for extra in listeners:
            await extra.aclose()
        msg = f"the host must name one address (such as 127.0.0.1 or ::1); {host!r} has {len(listeners)}"
        raise ValueError(msg)
    [listener] = listeners
    async with listener:
        bound = listener.socket.getsockname()[1]
        print(f"kv_service listening on {host}:{bound}", flush=True)
        task_status.started(bound)
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _ACCEPT_CAPACITY_ERRNOS:
                    raise
                logger.error("accept failed (%s); trying again in 0.1 s", error)
                await trio.sleep(0.1)
                continue
            connections = trio_otp.whereis(CONNECTIONS, trio_otp.TaskSupervisorRef)
            if connections is None:  # restarting: its name is back in a moment
                await refuse(stream)
                continue
            try:
                await connections.start_child(serve_connection, stream)
            except (trio_otp.MaxChildrenReached, trio_otp.SupervisorNotRunning):
                await refuse(stream)
            except BaseException:
                # Cancelled during the start (the tree is stopping): the task may not have
                # taken the stream yet, so close it here; closing twice is harmless.
                await trio.aclose_forcefully(stream)
                raise


async def refuse(stream: trio.SocketStream) -> None:
    """Tell a client there is no room for it, and hang up."""
    async with stream:
        try:
            with trio.move_on_after(1):  # a client that reads nothing cannot hold the listener
                await stream.send_all(b"ERR busy\n")
        except trio.BrokenResourceError:
            pass


# --- the tree -----------------------------------------------------------------------------


def service_tree(
    host: str = "127.0.0.1", port: int = 0, *, expiry_interval: float = 1.0, max_connections: int = 100
) -> trio_otp.Supervisor:
    """The whole service as one supervision tree; ``port=0`` picks a free port, which the
    listener prints and reports as its child reference."""
    return trio_otp.Supervisor(
        [
            trio_otp.server_spec("store", Store, name=STORE),
            trio_otp.ChildSpec("expiry", expire_keys, args=(expiry_interval,)),
            trio_otp.TaskSupervisor(max_children=max_connections, shutdown=1.0, name=CONNECTIONS).child_spec(
                "connections"
            ),
            trio_otp.ChildSpec("listener", listen, args=(host, port)),
        ],
        strategy=trio_otp.RestartStrategy.ONE_FOR_ONE,
        max_restarts=3,
        max_seconds=5,
        name=APP,
    )


# --- a short demo, for the docs' test run; and the script -----------------------------------


async def _demo() -> None:
    with trio.fail_after(10):
        await _talk_to_a_fresh_service()


async def store_restarts() -> int:
    """How many times the root has restarted the store, once the store runs again."""
    [store] = [info for info in await trio_otp.which_children(APP) if info.id == "store"]
    return store.restarts if store.state is trio_otp.ChildState.RUNNING else -1


async def _talk_to_a_fresh_service() -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(service_tree().run)
        [listener] = [info for info in await trio_otp.which_children(APP) if info.id == "listener"]
        client = await trio.open_tcp_stream("127.0.0.1", listener.ref_as(int))
        async with client:
            reader = LineReader(client)

            async def say(line: str) -> str:
                await client.send_all(line.encode() + b"\n")
                answer = await reader.readline()
                assert answer is not None, "the service closed the connection"
                print(f"> {line}\n< {answer.decode()}")
                return answer.decode()

            await say("SET greeting hello world")
            await say("GET greeting")
            await say("CRASH")  # the store crashes; its supervisor restarts it, empty
            while True:  # poll: the restart is the supervisor's business, not the client's
                if await store_restarts() == 1:
                    break
                await trio.sleep(0.01)
            await say("GET greeting")
            await say("QUIT")
        nursery.cancel_scope.cancel()


def run_example() -> None:
    """A short run on real time (sockets need it), for ``tests/test_docs_examples.py``."""
    trio.run(_demo)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A TCP key-value service on trio_otp.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7379, help="0 picks a free port (printed)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return trio_otp.run_application(service_tree(arguments.host, arguments.port))


if __name__ == "__main__":
    sys.exit(cli())
