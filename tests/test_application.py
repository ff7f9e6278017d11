"""The application runner, driven in a real subprocess with real signals."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

APP = textwrap.dedent(
    """
    import sys
    import trio
    import trio_otp

    MODE = sys.argv[1]

    async def worker(name, *, task_status):
        print("start", name, flush=True)
        if MODE == "never-ready" and name == "c":
            await trio.sleep_forever()  # its start never ends
        if MODE == "cannot-start" and name == "c":
            raise OSError("c cannot open its port")
        task_status.started()
        try:
            if MODE == "crash" and name == "c":
                await trio.sleep(0.05)
                raise ValueError("c is broken")
            await trio.sleep_forever()
        finally:
            with trio_otp.cleanup_scope():
                # a little async cleanup, within the budget (more of it in "slow-stop")
                await trio.sleep(0.4 if MODE == "slow-stop" else 0.05)
                print("stop", name, flush=True)

    inner = trio_otp.Supervisor(
        [trio_otp.ChildSpec("c", worker, args=("c",)), trio_otp.ChildSpec("d", worker, args=("d",))],
        name="inner",
        max_restarts=2,
    )
    tree = trio_otp.Supervisor(
        [
            trio_otp.ChildSpec("a", worker, args=("a",)),
            inner.child_spec("inner"),
            trio_otp.ChildSpec("b", worker, args=("b",)),
        ],
        name="root",
        max_restarts=1,
    )
    print("ready", flush=True) if MODE != "crash" else None
    sys.exit(trio_otp.run_application(tree))
    """
)


@pytest.fixture
def app(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


def launch(app: pathlib.Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parent.parent)}
    return subprocess.Popen(
        [sys.executable, str(app), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for_started(process: subprocess.Popen[str], count: int) -> list[str]:
    assert process.stdout is not None
    lines = []
    while len([line for line in lines if line.startswith("start")]) < count:
        line = process.stdout.readline()
        assert line, "the app ended early"
        lines.append(line.strip())
    return lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_shuts_the_tree_down_in_order_and_exits_zero(app: pathlib.Path, signum: int) -> None:
    process = launch(app, "serve")
    try:
        started = wait_for_started(process, 4)
        assert [line for line in started if line.startswith("start")] == [
            "start a",
            "start c",
            "start d",
            "start b",
        ]
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.split("\n")[:-1] == ["stop b", "stop d", "stop c", "stop a"]


def test_an_escalating_root_exits_non_zero_with_a_report(app: pathlib.Path) -> None:
    process = launch(app, "crash")
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1
    assert "the application stopped because its root supervisor gave up" in err
    assert "supervisor 'root': child 'inner' failed 2 times within 5 s" in err
    assert "supervisor 'inner': child 'c' failed 3 times within 5 s" in err
    assert "ValueError: c is broken" in err
    assert out.strip().endswith("stop a")  # everything stopped, the first child last


def test_a_signal_during_the_start_stops_it(app: pathlib.Path) -> None:
    """A child that never becomes ready does not make the program deaf to signals."""
    process = launch(app, "never-ready")
    try:
        started = wait_for_started(process, 2)  # a, then c, whose start never ends
        assert [line for line in started if line.startswith("start")] == ["start a", "start c"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.split("\n")[:-1] == ["stop a"]


def test_a_root_that_cannot_start_exits_non_zero_with_a_report(app: pathlib.Path) -> None:
    process = launch(app, "cannot-start")
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1, err
    assert "the application stopped because its root supervisor could not start" in err
    assert "supervisor 'inner': child 'c' could not start" in err
    assert "OSError: c cannot open its port" in err
    assert "task_status.started()" not in err
    assert out.split("\n")[:-1] == ["ready", "start a", "start c", "stop a"]


@pytest.mark.parametrize(
    ("first", "second"),
    [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)],
)
def test_signals_during_the_shutdown_are_ignored(app: pathlib.Path, first: int, second: int) -> None:
    """Neither cut the shutdown short nor come back after it as a stray interrupt."""
    process = launch(app, "slow-stop")
    try:
        wait_for_started(process, 4)
        process.send_signal(first)
        time.sleep(0.2)  # b is cleaning up
        process.send_signal(second)
        process.send_signal(second)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.split("\n")[:-1] == ["stop b", "stop d", "stop c", "stop a"]
    assert "Traceback" not in err
