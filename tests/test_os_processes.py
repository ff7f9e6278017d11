"""Supervised OS programs (``os_process_spec``), on real programs and real time.

Real processes cannot run on a MockClock (autojump would leap over every wait for a
program), so each test runs its own ``trio.run`` on the real clock, under a generous
``fail_after``. Tests wait for what they need by polling, never by sleeping a guessed
amount; the programs are tiny ``sh`` and Python scripts. POSIX only.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio

import trio_otp

from .real_processes import gone, run, until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="supervised OS programs are POSIX only")

PYTHON = [sys.executable, "-S", "-c"]


def py(code: str) -> list[str]:
    return [*PYTHON, textwrap.dedent(code)]


def _pid_in(path: pathlib.Path) -> int | None:
    text = path.read_text() if path.exists() else ""
    return int(text) if text.strip() else None


async def read_pid(path: pathlib.Path) -> int:
    await until(lambda: _pid_in(path) is not None)
    pid = _pid_in(path)
    assert pid is not None
    return pid


class Exits:
    """The ``child_exited`` events of the current run."""

    def __init__(self) -> None:
        self.events: list[trio_otp.events.Event] = []
        trio_otp.events.attach(self._record)

    def _record(self, event: trio_otp.events.Event) -> None:
        if event.name == "child_exited":
            self.events.append(event)

    async def next(self, count: int = 1) -> trio_otp.events.Event:
        await until(lambda: len(self.events) >= count)
        return self.events[count - 1]


async def with_tree(
    specs: list[trio_otp.ChildSpec[Any]],
    body: Callable[[trio_otp.SupervisorRef], Awaitable[None]],
    **options: Any,
) -> None:
    tree = trio_otp.Supervisor(specs, **options)
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(tree.run)
        await body(ref)
        nursery.cancel_scope.cancel()


# -- readiness ---------------------------------------------------------------------------


def marker_then(tmp_path: pathlib.Path, signal_ready: str) -> list[str]:
    """A program that creates a marker file, then says it is ready (after a pause that
    a start which did not wait would not sit out), then runs until stopped."""
    marker = tmp_path / "marker"
    return ["sh", "-c", f"sleep 0.2; touch {marker}; {signal_ready}; exec sleep 60"]


@pytest.mark.parametrize(
    ("signal_ready", "ready"),
    [
        ("echo now listening", trio_otp.ReadyOnOutput(r"listening")),
        ("echo now listening >&2", trio_otp.ReadyOnOutput("listening", stream="stderr")),
        ("echo >&3", trio_otp.ReadyOnNotification()),
        ("echo >&7", trio_otp.ReadyOnNotification(fd=7)),  # renumbered by the helper
    ],
    ids=["stdout-line", "stderr-line", "notification-fd-3", "notification-fd-7"],
)
def test_the_start_waits_for_readiness(tmp_path: pathlib.Path, signal_ready: str, ready: Any) -> None:
    async def test() -> None:
        spec = trio_otp.os_process_spec("program", marker_then(tmp_path, signal_ready), ready=ready)

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            assert (tmp_path / "marker").exists()
            assert info.ref_as(trio_otp.OsProcessRef).running

        await with_tree([spec], body)

    run(test)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_ready_on_connect_waits_for_a_tcp_listener(tmp_path: pathlib.Path) -> None:
    port = _free_port()
    server = f"""
        import socket, time
        time.sleep(0.2)
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", {port})); s.listen()
        while True: s.accept()[0].close()
    """

    async def test() -> None:
        spec = trio_otp.os_process_spec("server", py(server), ready=trio_otp.ReadyOnConnect(port=port))

        async def body(tree: trio_otp.SupervisorRef) -> None:
            stream = await trio.open_tcp_stream("127.0.0.1", port)  # no retry: it is listening
            await stream.aclose()

        await with_tree([spec], body)

    run(test)


def test_ready_on_connect_waits_for_a_unix_socket(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "socket")
    server = f"""
        import socket, time
        time.sleep(0.2)
        s = socket.socket(socket.AF_UNIX); s.bind({path!r}); s.listen()
        while True: s.accept()[0].close()
    """

    async def test() -> None:
        spec = trio_otp.os_process_spec("server", py(server), ready=trio_otp.ReadyOnConnect(path=path))

        async def body(tree: trio_otp.SupervisorRef) -> None:
            stream = await trio.open_unix_socket(path)
            await stream.aclose()

        await with_tree([spec], body)

    run(test)


def test_a_start_timeout_fails_the_start_naming_the_program(tmp_path: pathlib.Path) -> None:
    pid_file = tmp_path / "pid"

    async def test() -> None:
        spec = trio_otp.os_process_spec(
            "slow",
            ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"],
            ready=trio_otp.ReadyOnOutput("never printed"),
            start_timeout=0.5,
        )
        with pytest.raises(trio_otp.ChildStartError) as caught:
            await trio_otp.Supervisor([spec]).run()
        reason = caught.value.reason
        assert isinstance(reason, TimeoutError)
        assert "'sh -c echo" in str(reason)
        assert "within 0.5 s" in str(reason)
        assert "matching 'never printed'" in str(reason)
        assert gone(int(pid_file.read_text()))  # it was stopped before the error left

    run(test)


def test_exiting_before_ready_fails_the_start_with_the_exit() -> None:
    async def test() -> None:
        spec = trio_otp.os_process_spec(
            "dies", ["sh", "-c", "echo cannot bind >&2; exit 4"], ready=trio_otp.ReadyOnNotification()
        )
        with pytest.raises(trio_otp.ChildStartError) as caught:
            await trio_otp.Supervisor([spec]).run()
        reason = caught.value.reason
        assert isinstance(reason, trio_otp.OsProcessExited)
        assert reason.exit_status == 4
        assert reason.stderr_tail == ("cannot bind",)
        assert "before it was ready" in str(reason)

    run(test)


@pytest.mark.parametrize("helper", [False, True], ids=["direct", "through-the-guard"])
def test_a_missing_program_fails_the_start(helper: bool) -> None:
    async def test() -> None:
        spec = trio_otp.os_process_spec("missing", ["no-such-program-here"], kill_when_owner_dies=helper)
        with pytest.raises(trio_otp.ChildStartError) as caught:
            await trio_otp.Supervisor([spec]).run()
        assert isinstance(caught.value.reason, FileNotFoundError)

    run(test)


# -- the exit mapping --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "clean", "kind"),
    [
        ("exit 0", (), "normal"),
        ("exit 3", (3,), "normal"),
        ("echo one >&2; echo two >&2; exit 5", (), "crash"),
    ],
    ids=["status-0", "clean-status", "other-status"],
)
def test_an_exit_by_itself_maps_to_normal_or_crash(command: str, clean: tuple[int, ...], kind: str) -> None:
    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "p",
            ["sh", "-c", f"sleep 0.05; {command}"],
            clean_exit_statuses=clean,
            restart=trio_otp.Restart.TEMPORARY,
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            event = await exits.next()
            assert event.metadata["kind"] == kind
            error = event.metadata["error"]
            if kind == "normal":
                assert error is None
            else:
                assert isinstance(error, trio_otp.OsProcessExited)
                assert error.exit_status == 5
                assert error.signal is None
                assert error.argv == ("sh", "-c", f"sleep 0.05; {command}")
                assert error.stderr_tail == ("one", "two")
                assert "exited with status 5" in str(error)
                assert "last stderr: one | two" in str(error)

        await with_tree([spec], body)

    run(test)


def test_death_by_a_signal_it_was_not_stopped_with_is_a_crash() -> None:
    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec("p", ["sleep", "60"], restart=trio_otp.Restart.TEMPORARY)

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            info.ref_as(trio_otp.OsProcessRef).send_signal(signal.SIGTERM)  # not a stop
            event = await exits.next()
            error = event.metadata["error"]
            assert isinstance(error, trio_otp.OsProcessExited)
            assert error.signal == signal.SIGTERM
            assert error.exit_status is None
            assert "killed by SIGTERM" in str(error)

        await with_tree([spec], body)

    run(test)


TRAP = """
    import signal, sys, time
    def on_term(*_):
        {on_term}
    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    while True: time.sleep(1)
"""


def trapping(on_term: str) -> list[str]:
    return py(TRAP.format(on_term=on_term))


@pytest.mark.parametrize(
    ("on_term", "reported"),
    [
        (None, False),  # dies by the stop signal: shutdown
        ("sys.exit(0)", False),
        ("sys.exit(128 + 15)", False),  # what a JVM does
        ("sys.exit(9)", True),
    ],
    ids=["by-the-signal", "status-0", "status-143", "status-9"],
)
def test_a_stop_is_a_shutdown_unless_the_program_fails_it(
    on_term: str | None, reported: bool, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["sleep", "60"] if on_term is None else trapping(on_term)

    async def test() -> None:
        ready = trio_otp.ReadyOnOutput("ready") if on_term else trio_otp.ReadyAtExec()
        spec = trio_otp.os_process_spec("p", argv, ready=ready)

        async def body(tree: trio_otp.SupervisorRef) -> None:
            await tree.terminate_child("p")

        await with_tree([spec], body)

    with caplog.at_level(logging.ERROR, logger="trio_otp"):
        run(test)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    if reported:
        (record,) = errors
        assert record.otp_report == "shutdown_error"  # type: ignore[attr-defined]
        assert "exited with status 9 while it was being stopped" in record.getMessage()
    else:
        assert errors == []


def test_a_program_that_ignores_its_stop_signal_gets_sigkill_at_the_deadline(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    argv = trapping(f"open({str(tmp_path / 'term')!r}, 'w').close()")

    async def test() -> None:
        spec = trio_otp.os_process_spec("stubborn", argv, ready=trio_otp.ReadyOnOutput("ready"), shutdown=0.5)

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            pid = info.ref_as(trio_otp.OsProcessRef).pid
            pid_file.write_text(str(pid))
            await tree.terminate_child("stubborn")
            assert gone(pid)

        await with_tree([spec], body)

    with caplog.at_level(logging.ERROR, logger="trio_otp"):
        run(test)
    assert (tmp_path / "term").exists()  # it was asked first
    (record,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert "did not stop within its shutdown budget (shutdown=0.5" in record.getMessage()


def test_brutal_kill_sends_sigkill_at_once(tmp_path: pathlib.Path) -> None:
    argv = trapping(f"open({str(tmp_path / 'term')!r}, 'w').close()")

    async def test() -> None:
        spec = trio_otp.os_process_spec(
            "p", argv, ready=trio_otp.ReadyOnOutput("ready"), shutdown=trio_otp.BRUTAL_KILL
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            ref = info.ref_as(trio_otp.OsProcessRef)
            await tree.terminate_child("p")
            assert gone(ref.pid)
            with pytest.raises(ProcessLookupError):
                ref.send_signal(signal.SIGTERM)

        await with_tree([spec], body)

    run(test)
    assert not (tmp_path / "term").exists()


# -- process groups ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["stopped", "leader-exits"])
def test_grandchildren_die_with_the_group(tmp_path: pathlib.Path, how: str) -> None:
    pid_file = tmp_path / "grandchild"
    then = "wait" if how == "stopped" else "exit 0"

    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "p", ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; {then}"], restart=trio_otp.Restart.TRANSIENT
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            grandchild = await read_pid(pid_file)
            if how == "stopped":
                await tree.terminate_child("p")
            else:
                assert (await exits.next()).metadata["kind"] == "normal"
            await until(lambda: gone(grandchild))

        await with_tree([spec], body)

    run(test)


def test_the_program_runs_in_its_own_session() -> None:
    async def test() -> None:
        spec = trio_otp.os_process_spec("p", ["sleep", "60"])

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            pid = info.ref_as(trio_otp.OsProcessRef).pid
            assert os.getpgid(pid) == pid
            assert os.getsid(pid) == pid
            assert os.getpgid(pid) != os.getpgid(0)

        await with_tree([spec], body)

    run(test)


# -- the owner dies by SIGKILL -----------------------------------------------------------

OWNER = """
import sys, trio, trio_otp
argv, guard = sys.argv[1:-1], sys.argv[-1] == "guard"
async def main():
    spec = trio_otp.os_process_spec("p", argv, kill_when_owner_dies=guard)
    async with trio.open_nursery() as nursery:
        tree = await nursery.start(trio_otp.Supervisor([spec]).run)
        (info,) = await tree.which_children()
        print(info.ref.pid, flush=True)
trio.run(main)
"""


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (py("import sys; sys.stdin.read()"), "lifeline"),  # reads stdin: EOF is its cue
        (["sh", "-c", "sleep 60 & wait"], "guard"),  # never reads stdin; a grandchild too
    ],
    ids=["stdin-lifeline", "kill-when-owner-dies"],
)
def test_no_orphan_when_the_owner_is_sigkilled(argv: list[str], mode: str) -> None:
    root = pathlib.Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, *argv, mode], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert owner.stdout is not None
        pid = int(owner.stdout.readline())
        group = os.getpgid(pid)
        owner.kill()
        owner.wait()

        async def test() -> None:
            await until(lambda: gone(pid))
            await until(lambda: _group_gone(group))

        run(test)
    finally:
        owner.kill()
        owner.wait()
        assert owner.stdout is not None
        owner.stdout.close()


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    members = [
        int(entry.name)
        for entry in pathlib.Path("/proc").iterdir()
        if entry.name.isdigit() and _pgid(int(entry.name)) == group
    ]
    return all(gone(member) for member in members)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_closing_stdin_is_an_order_to_exit() -> None:
    async def test() -> None:
        exits = Exits()
        lines: list[str] = []
        spec = trio_otp.os_process_spec(
            "p",
            py("import sys; print(sys.stdin.read())"),
            restart=trio_otp.Restart.TRANSIENT,
            on_output=lambda stream, line: lines.append(line),
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            stdin = info.ref_as(trio_otp.OsProcessRef).stdin
            assert stdin is not None
            await stdin.send_all(b"bye")
            await stdin.aclose()
            assert (await exits.next()).metadata["kind"] == "normal"
            assert lines == ["bye"]

        await with_tree([spec], body)

    run(test)


# -- output ------------------------------------------------------------------------------


def test_output_goes_to_the_childs_logger_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "web", ["sh", "-c", "echo hello; echo oops >&2"], restart=trio_otp.Restart.TRANSIENT
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            await exits.next()

        await with_tree([spec], body)

    with caplog.at_level(logging.INFO, logger="trio_otp.os_process"):
        run(test)
    records = [record for record in caplog.records if record.name == "trio_otp.os_process.web"]
    assert sorted((r.stream, r.getMessage()) for r in records) == [  # type: ignore[attr-defined]
        ("stderr", "stderr: oops"),
        ("stdout", "stdout: hello"),
    ]
    for record in records:
        assert record.child_id == "web"  # type: ignore[attr-defined]
        assert record.otp_report == "os_process_output"  # type: ignore[attr-defined]
        assert isinstance(record.pid, int)  # type: ignore[attr-defined]


def test_a_flood_without_newlines_is_bounded_and_does_not_stall_siblings() -> None:
    flood = """
        import sys
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\\nend\\n")
    """
    limit = 64 * 1024

    async def test() -> None:
        exits = Exits()
        pieces: list[int] = []
        last: list[str] = []

        def on_output(stream: str, line: str) -> None:
            pieces.append(len(line))
            last[:] = [line[:10]]

        spec = trio_otp.os_process_spec(
            "flood", py(flood), on_output=on_output, max_line_bytes=limit, restart=trio_otp.Restart.TRANSIENT
        )
        longest_gap = 0.0

        async def sibling() -> None:
            nonlocal longest_gap
            while True:
                before = trio.current_time()
                await trio.sleep(0.005)
                longest_gap = max(longest_gap, trio.current_time() - before)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sibling)

            async def body(tree: trio_otp.SupervisorRef) -> None:
                assert (await exits.next()).metadata["kind"] == "normal"

            await with_tree([spec], body)
            nursery.cancel_scope.cancel()
        assert sum(pieces) == 100 * (1 << 20) + len("end")
        assert max(pieces) == limit
        assert last == ["end"]
        assert longest_gap < 1.0  # generous: a stall would be the whole flood, seconds

    run(test)


# -- supervision of real programs --------------------------------------------------------


def test_a_crashing_program_is_restarted_until_the_intensity_runs_out(tmp_path: pathlib.Path) -> None:
    starts = tmp_path / "starts"

    async def test() -> None:
        argv = ["sh", "-c", f"echo x >> {starts}; echo broken >&2; exit 1"]
        spec = trio_otp.os_process_spec("crasher", argv)
        tree = trio_otp.Supervisor([spec], max_restarts=3, max_seconds=30)
        with pytest.raises(trio_otp.RestartIntensityExceeded) as caught:
            await tree.run()
        cause = caught.value.__cause__
        assert isinstance(cause, trio_otp.OsProcessExited)
        assert cause.exit_status == 1
        assert cause.stderr_tail == ("broken",)

    run(test)
    assert starts.read_text().count("x") == 4  # the first start and three restarts


def test_rest_for_one_restarts_the_programs_started_after_the_crashed_one(tmp_path: pathlib.Path) -> None:
    crashed = tmp_path / "crashed"
    first = ["sh", "-c", f"if [ -e {crashed} ]; then exec sleep 60; fi; sleep 0.2; touch {crashed}; exit 1"]

    async def test() -> None:
        specs = [
            trio_otp.os_process_spec("first", first),
            trio_otp.os_process_spec("second", ["sleep", "60"]),
        ]

        async def body(tree: trio_otp.SupervisorRef) -> None:
            children = await tree.which_children()  # newest first
            before = children[0].ref_as(trio_otp.OsProcessRef).pid
            await until(crashed.exists)
            while (await tree.which_children())[0].restarts == 0:  # noqa: ASYNC110 - polling the tree
                await trio.sleep(0.01)
            (second, _) = await tree.which_children()
            assert second.ref_as(trio_otp.OsProcessRef).pid != before
            assert gone(before)

        await with_tree(specs, body, strategy=trio_otp.RestartStrategy.REST_FOR_ONE, max_restarts=1)

    run(test)


def _stops_in_order(log: pathlib.Path, name: str) -> list[str]:
    return trapping(f"open({str(log)!r}, 'a').write({name!r} + ' '); sys.exit(0)")


def test_programs_stop_in_reverse_start_order(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "stops"

    async def test() -> None:
        specs = [
            trio_otp.os_process_spec(name, _stops_in_order(log, name), ready=trio_otp.ReadyOnOutput("ready"))
            for name in ("database", "cache", "web")
        ]

        async def body(tree: trio_otp.SupervisorRef) -> None:
            pass

        await with_tree(specs, body)

    run(test)
    assert log.read_text().split() == ["web", "cache", "database"]


def test_ctrl_c_stops_the_programs_in_order_and_ends_in_one_interrupt(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "stops"

    async def press_ctrl_c(*, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        signal.raise_signal(signal.SIGINT)
        await trio.sleep_forever()

    async def test() -> None:
        specs: list[trio_otp.ChildSpec[Any]] = [
            trio_otp.os_process_spec(name, _stops_in_order(log, name), ready=trio_otp.ReadyOnOutput("ready"))
            for name in ("database", "web")
        ]
        specs.append(trio_otp.ChildSpec("user", press_ctrl_c))
        with pytest.raises(KeyboardInterrupt):
            await trio_otp.Supervisor(specs).run()

    run(test)
    assert log.read_text().split() == ["web", "database"]


# -- the guard (kill_when_owner_dies) is transparent -------------------------------------


HUP_TRAP = """
    import signal, sys, time
    def on_hup(*_):
        print("got HUP", file=sys.stderr, flush=True)
        sys.exit(3)
    signal.signal(signal.SIGHUP, on_hup)
    print("ready", flush=True)
    while True: time.sleep(1)
"""


def test_under_the_guard_a_signal_to_the_group_reaches_the_program_not_the_guard() -> None:
    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "p",
            py(HUP_TRAP),
            ready=trio_otp.ReadyOnOutput("ready"),
            kill_when_owner_dies=True,
            restart=trio_otp.Restart.TEMPORARY,
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            ref = info.ref_as(trio_otp.OsProcessRef)
            with pytest.raises(ValueError, match=r"runs under the guard .*group=True"):
                ref.send_signal(signal.SIGHUP)  # the guard's pid: refused, nothing sent
            assert ref.running
            ref.send_signal(signal.SIGHUP, group=True)
            error = (await exits.next()).metadata["error"]
            assert isinstance(error, trio_otp.OsProcessExited)
            # The program's own handler ran and its status came through: the guard, which
            # the signal reached too, neither died of it nor hid the program's exit.
            assert (error.exit_status, error.stderr_tail) == (3, ("got HUP",))

        await with_tree([spec], body)

    run(test)


def test_under_the_guard_a_crash_keeps_its_status_and_stderr() -> None:
    crash_under_the_guard()


def crash_under_the_guard() -> None:
    """A guarded program that crashes is reported with its own status and stderr."""

    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "p",
            ["sh", "-c", "echo >&3; echo bad >&2; exit 5"],
            ready=trio_otp.ReadyOnNotification(),
            kill_when_owner_dies=True,
            restart=trio_otp.Restart.TEMPORARY,
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            error = (await exits.next()).metadata["error"]
            assert isinstance(error, trio_otp.OsProcessExited)
            assert (error.exit_status, error.stderr_tail) == (5, ("bad",))

        await with_tree([spec], body)

    run(test)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_under_the_guard_a_stop_is_a_shutdown(stop_signal: int, caplog: pytest.LogCaptureFixture) -> None:
    async def test() -> None:
        spec = trio_otp.os_process_spec(
            "p", ["sleep", "60"], kill_when_owner_dies=True, stop_signal=stop_signal
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            (info,) = await tree.which_children()
            pid = info.ref_as(trio_otp.OsProcessRef).pid
            await tree.terminate_child("p")
            assert gone(pid)

        await with_tree([spec], body)

    with caplog.at_level(logging.ERROR, logger="trio_otp"):
        run(test)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []


def test_a_line_of_exactly_max_line_bytes_stays_whole() -> None:
    async def test() -> None:
        exits = Exits()
        lines: list[str] = []
        spec = trio_otp.os_process_spec(
            "p",
            ["sh", "-c", "echo 12345678; echo 123456789"],
            max_line_bytes=8,
            on_output=lambda stream, line: lines.append(line),
            restart=trio_otp.Restart.TEMPORARY,
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            await exits.next()

        await with_tree([spec], body)
        assert lines == ["12345678", "12345678", "9"]

    run(test)


@pytest.fixture
def more_than_1024_fds_open() -> Iterator[None]:
    """Leaves more than 1024 fds open, so that every fd opened next is >= 1024 (beyond
    ``select()``'s FD_SETSIZE); skips, saying why, when RLIMIT_NOFILE cannot allow it."""
    resource = pytest.importorskip("resource", reason="needs the resource module (POSIX)")
    wanted = 1200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + 100:
        if hard != resource.RLIM_INFINITY and hard < wanted + 100:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {wanted + 100}: cannot open >1024 fds")
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted + 100, hard))
        except (ValueError, OSError) as error:
            pytest.skip(f"cannot raise RLIMIT_NOFILE from {soft} to {wanted + 100}: {error}")
    opened: list[int] = []
    try:
        while len(opened) < wanted:
            try:
                opened.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as error:  # EMFILE below the limit: say so, do not fail obscurely
                pytest.skip(f"could open only {len(opened)} fds of {wanted}: {error}")
        # fds are numbered lowest free first: whatever the test opens next is >= 1024
        assert max(opened) >= 1024
        yield
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("more_than_1024_fds_open")
def test_the_guard_works_when_its_lifeline_fd_is_beyond_1024() -> None:
    # The guard inherits the lifeline under trio_otp's own fd number; select() refuses
    # fds >= FD_SETSIZE (1024), so the guard must wait with poll().
    crash_under_the_guard()


@pytest.mark.parametrize(
    ("command", "ready"),
    [
        ("echo ready; echo bad >&2; exit 3", trio_otp.ReadyOnOutput("ready")),
        ("echo >&3; echo bad >&2; exit 3", trio_otp.ReadyOnNotification()),
    ],
    ids=["ready-line", "notification"],
)
def test_a_program_that_says_it_is_ready_and_exits_at_once_started(command: str, ready: Any) -> None:
    # Its exit and its ready line arrive together: whichever trio_otp sees first, the
    # start succeeded and the exit is reported with its status and last stderr lines.
    # Twenty runs, since the old race was lost about one time in five.
    async def test() -> None:
        exits = Exits()
        spec = trio_otp.os_process_spec(
            "p", ["sh", "-c", command], ready=ready, restart=trio_otp.Restart.TEMPORARY
        )

        async def body(tree: trio_otp.SupervisorRef) -> None:
            error = (await exits.next()).metadata["error"]
            assert isinstance(error, trio_otp.OsProcessExited)
            assert (error.exit_status, error.stderr_tail) == (3, ("bad",))
            assert "before it was ready" not in str(error)

        await with_tree([spec], body)

    for _ in range(20):
        run(test)
