"""The observer endpoint of a real application in a subprocess, on real time: what it
serves, who may connect, and the command line that reads it."""

from __future__ import annotations

import functools
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.observer import ObserverRequestFailed, fetch_snapshot, fetch_status

APP = pathlib.Path(__file__).parent / "observed_app.py"
ROOT = pathlib.Path(__file__).parent.parent


class Application:
    def __init__(self, address: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(APP), address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.address = ""
        for line in self.lines_until("ready"):
            if line.startswith("listening "):
                self.address = line.split(" ", 1)[1]

    def lines_until(self, wanted: str) -> Iterator[str]:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            assert line, f"the application ended early: {self.stderr()}"
            yield line.strip()
            if line.strip() == wanted:
                return

    def stderr(self) -> str:
        self.process.kill()
        return self.process.communicate(timeout=10)[1]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=20)
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


@pytest.fixture
def socket_path(tmp_path: pathlib.Path) -> Iterator[str]:
    # AF_UNIX paths are short (108 bytes): pytest's tmp_path can be longer.
    short = pathlib.Path("/tmp") / f"trio-otp-obs-{os.getpid()}-{tmp_path.name}.sock"
    yield str(short)
    short.unlink(missing_ok=True)


@pytest.fixture
def application(socket_path: str) -> Iterator[Application]:
    app = Application(socket_path)
    try:
        yield app
    finally:
        app.close()


def nodes(tree: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], dict[str, Any]]:
    found = {path: tree}
    for child in tree["children"]:
        found.update(nodes(child, (*path, child["id"])))
    return found


def test_the_snapshot_shows_the_tree_restarts_crashes_and_a_stuck_server(application: Application) -> None:
    snapshot = fetch_snapshot(application.address)
    assert snapshot["protocol"] == 1
    assert snapshot["pid"] == application.process.pid
    assert snapshot["phase"] == "running"
    tree = nodes(snapshot["tree"])
    assert sorted(tree) == [(), ("clerk",), ("storage",), ("storage", "flaky"), ("storage", "inventory")]
    assert (tree[()]["id"], tree[()]["kind"]) == ("shop", "supervisor")
    assert tree[("storage", "flaky")]["restarts"] == 1
    inventory = tree[("storage", "inventory")]
    assert (inventory["kind"], inventory["state"], inventory["mailbox"]) == ("server", "running", 2)
    assert inventory["message"] == "call 'reorder'"
    assert inventory["handling_for"] > 0
    [crash] = snapshot["crashes"]
    assert (crash["event"], crash["supervisor"], crash["child_id"]) == ("crash", "'storage'", "flaky")
    assert (crash["error_type"], crash["error_message"]) == ("ValueError", "flaky start")
    assert application.stop() == 0


def test_a_servers_status_is_what_format_status_shows(application: Application) -> None:
    status = fetch_status(application.address, ["storage", "inventory"])
    assert status["kind"] == "server"
    assert status["server_class"].endswith("Inventory")
    assert "<redacted>" in status["state"]
    assert "s3cret" not in json.dumps(status)
    assert (status["mailbox"], status["message"]) == (2, ["call", "'reorder'"])
    assert status["supervisors"] == ["shop", "storage"]
    supervisor = fetch_status(application.address, ["storage"])
    assert (supervisor["kind"], supervisor["specs"], supervisor["active"]) == ("supervisor", 2, 2)
    assert fetch_status(application.address, [])["kind"] == "supervisor"
    assert fetch_status(application.address, ["storage", "flaky"]) == {
        "kind": "worker",
        "state": "running",
        "restarts": 1,
        "ref": "None",
    }
    assert application.stop() == 0


def test_bad_requests_are_refused_and_the_application_carries_on(application: Application) -> None:
    with pytest.raises(ObserverRequestFailed, match="no child 'nope' under storage"):
        fetch_status(application.address, ["storage", "nope"])
    with pytest.raises(ObserverRequestFailed, match="has no children"):
        fetch_status(application.address, ["clerk", "deeper"])
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(10)
        raw.connect(application.address)
        raw.sendall(b"not json\n" + b'{"request": "stop"}\n' + b"[1]\n")
        answers = b""
        while answers.count(b"\n") < 3:
            answers += raw.recv(65536)
    refusals = [json.loads(line) for line in answers.splitlines()]
    assert [refusal["ok"] for refusal in refusals] == [False, False, False]
    assert "unknown request 'stop'" in refusals[1]["error"]
    assert fetch_snapshot(application.address)["phase"] == "running"
    assert application.stop() == 0


def test_the_socket_is_private_and_removed_at_the_end(application: Application) -> None:
    mode = os.stat(application.address).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert application.stop() == 0
    assert not os.path.exists(application.address)


def test_the_command_line_prints_json(application: Application) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "trio_otp", "observe", application.address, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=True)
    assert json.loads(done.stdout)["tree"]["id"] == "shop"
    done = subprocess.run(
        [*command, "--node", "storage/inventory"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout)["mailbox"] == 2
    missing = subprocess.run(
        [*command, "--node", "storage/nope"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert missing.returncode == 1
    assert "no child 'nope'" in missing.stderr
    assert application.stop() == 0
    gone = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)
    assert gone.returncode == 1
    assert "cannot reach the observer" in gone.stderr


def test_loopback_tcp() -> None:
    app = Application("tcp:127.0.0.1:0")
    try:
        assert app.address.startswith("tcp:127.0.0.1:")
        assert int(app.address.rsplit(":", 1)[1]) > 0
        assert fetch_snapshot(app.address)["tree"]["id"] == "shop"
        assert app.stop() == 0
    finally:
        app.close()


def test_a_stale_socket_is_replaced(socket_path: str) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(socket_path)
    stale.close()  # bound, never listened, closed: what a killed program leaves
    app = Application(socket_path)
    try:
        assert fetch_snapshot(app.address)["phase"] == "running"
        assert app.stop() == 0
    finally:
        app.close()


async def test_a_path_that_is_no_socket_fails_before_the_tree_starts(
    tmp_path: pathlib.Path, autojump_clock: MockClock
) -> None:
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    started: list[str] = []

    async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started.append("worker")
        task_status.started()

    tree = trio_otp.Supervisor([trio_otp.ChildSpec("w", worker)])
    with pytest.raises(OSError, match="exists and is not a socket; refusing to replace it"):
        await trio_otp.serve_application(tree, observer=path)
    assert path.read_text() == "keep me"
    assert started == []


async def test_a_socket_another_program_listens_on_is_left_alone(
    socket_path: str, autojump_clock: MockClock
) -> None:
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(socket_path)
        other.listen()
        tree = trio_otp.Supervisor([])
        with pytest.raises(OSError, match="another program listens on the observer's socket"):
            await trio_otp.serve_application(tree, observer=socket_path)
    assert await trio.Path(socket_path).exists()


async def test_listening_costs_the_call_path_nothing(socket_path: str, autojump_clock: MockClock) -> None:
    """The observer's crash log is a lifecycle-only handler: calls do not start measuring
    their durations for it, as they do for an attached events handler."""
    tree = trio_otp.Supervisor([trio_otp.server_spec("echo", Echo, name="echo")])
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(trio_otp.serve_application, tree, observer=socket_path))
        assert await trio_otp.call("echo", "hi") == "hi"
        assert not trio_otp._events.attached()
        nursery.cancel_scope.cancel()


class Echo(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request


async def _ask(stream: trio.SocketStream, request: dict[str, object]) -> dict[str, Any]:
    await stream.send_all(json.dumps(request).encode() + b"\n")
    answer = b""
    while not answer.endswith(b"\n"):
        answer += await stream.receive_some(65536)
    result: dict[str, Any] = json.loads(answer)
    return result


async def test_a_busy_supervisor_gets_an_answer_not_a_hang_and_polls_do_not_pile_up(
    socket_path: str, autojump_clock: MockClock
) -> None:
    release = trio.Event()

    async def slow_start(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await release.wait()
        task_status.started()
        await trio.sleep_forever()

    async def quick_start(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    tree = trio_otp.Supervisor([trio_otp.ChildSpec("w", quick_start)])
    async with trio.open_nursery() as nursery:
        root: trio_otp.SupervisorRef = await nursery.start(
            functools.partial(trio_otp.serve_application, tree, observer=socket_path)
        )
        async with await trio.open_unix_socket(socket_path) as stream:
            first = (await _ask(stream, {"request": "snapshot"}))["snapshot"]
            assert first.get("busy") is None
            # The root's loop now waits for a slow child's start: which_children queues.
            nursery.start_soon(root.start_child, trio_otp.ChildSpec("slow", slow_start))
            await trio.sleep(0.1)
            for poll in range(6):
                with trio.fail_after(5):  # ANSWER_SECONDS (2) twice at most, and a margin
                    if poll % 2:  # as python -m trio_otp observe polls: a connection each
                        async with await trio.open_unix_socket(socket_path) as fresh:
                            answer = await _ask(fresh, {"request": "snapshot"})
                    else:
                        answer = await _ask(stream, {"request": "snapshot"})
                assert answer["ok"] is True
                assert "did not answer" in answer["snapshot"]["busy"]
                assert answer["snapshot"]["tree"] == first["tree"]  # the last one known
                # one request in the mailbox (behind the start), not one per poll
                assert root._state.send.statistics().current_buffer_used <= 1
            status = await _ask(stream, {"request": "status", "path": ["w"]})
            assert status == {"ok": False, "error": status["error"]}
            assert "did not answer" in status["error"]
            release.set()
            answer = await _ask(stream, {"request": "snapshot"})
            assert answer["snapshot"]["busy"] is None
            assert [child["id"] for child in answer["snapshot"]["tree"]["children"]] == ["w", "slow"]
        nursery.cancel_scope.cancel()


def test_the_stale_socket_probe_does_not_hang_on_a_listener_that_never_accepts(socket_path: str) -> None:
    # A listener with a full backlog (a hung program): a blocking connect would wait for
    # ever, so the probe runs in a daemon thread that the test gives up on after 10 s.
    with socket.socket(socket.AF_UNIX) as hung:
        hung.bind(socket_path)
        hung.listen(0)
        waiting: list[socket.socket] = []
        try:
            while True:  # fill the backlog
                client = socket.socket(socket.AF_UNIX)
                client.setblocking(False)
                waiting.append(client)
                try:
                    client.connect(socket_path)
                except BlockingIOError:
                    break
            outcome: list[BaseException | None] = []

            def probe() -> None:
                try:
                    trio_otp._observer._clear_stale_socket(socket_path)
                    outcome.append(None)
                except BaseException as error:  # handed to the test thread
                    outcome.append(error)

            thread = threading.Thread(target=probe, daemon=True)
            thread.start()
            thread.join(timeout=10)
            assert outcome, "the stale-socket probe hung on a listener that never accepts"
            assert isinstance(outcome[0], OSError)
            assert "another program listens on the observer's socket" in str(outcome[0])
        finally:
            for client in waiting:
                client.close()
    assert os.path.exists(socket_path)


async def test_connections_are_capped_and_idle_ones_closed(
    socket_path: str, autojump_clock: MockClock
) -> None:
    tree = trio_otp.Supervisor([])
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(trio_otp.serve_application, tree, observer=socket_path))
        cap = trio_otp._observer.MAX_CONNECTIONS
        streams = [await trio.open_unix_socket(socket_path) for _ in range(cap)]
        for stream in streams:  # each one served
            assert (await _ask(stream, {"request": "snapshot"}))["ok"] is True
        async with await trio.open_unix_socket(socket_path) as one_more:
            told = b""
            while chunk := await one_more.receive_some(65536):  # until it is closed
                told += chunk
            refusal = "too many connections (at most 32); try again later"
            assert json.loads(told) == {"ok": False, "error": refusal}
        await streams.pop().aclose()
        await trio.sleep(0.1)
        async with await trio.open_unix_socket(socket_path) as another:
            assert (await _ask(another, {"request": "snapshot"}))["ok"] is True
        await trio.sleep(trio_otp._observer.IDLE_SECONDS - 1)
        assert (await _ask(streams[0], {"request": "snapshot"}))["ok"] is True  # not idle: kept
        await trio.sleep(trio_otp._observer.IDLE_SECONDS + 1)
        for stream in streams:  # idle for longer than IDLE_SECONDS: closed by the endpoint
            with trio.fail_after(1):
                assert await stream.receive_some(1) == b""
            await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_client_that_stops_reading_is_closed_and_frees_its_slot(
    socket_path: str, autojump_clock: MockClock
) -> None:
    tree = trio_otp.Supervisor([])
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(trio_otp.serve_application, tree, observer=socket_path))
        cap = trio_otp._observer.MAX_CONNECTIONS
        deaf = [await trio.open_unix_socket(socket_path) for _ in range(cap)]
        requests = b'{"request": "snapshot"}\n' * 20_000  # answers far beyond the socket buffers
        for stream in deaf:
            with trio.move_on_after(1):  # the endpoint stops reading once its sends block
                await stream.send_all(requests)
        await trio.sleep(trio_otp._observer.SEND_SECONDS + 1)
        async with await trio.open_unix_socket(socket_path) as another:  # a slot is free again
            assert (await _ask(another, {"request": "snapshot"}))["ok"] is True
        for stream in deaf:
            await stream.aclose()
        nursery.cancel_scope.cancel()
