"""Ray actors as supervised children, on a real local Ray instance (``nox -s ray``).

Real processes under real time: each actor is a Ray worker process. Waits are bounded
(``fail_after``) so that a broken behaviour fails instead of hanging; none of them is an
assertion about speed (that is ``bench/ray_calls.py``).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio

import trio_otp
from trio_otp.ray import ActorClient, ActorRef, ActorStartTimeout, actor_spec

ray = pytest.importorskip("ray")

from .ray_actors import NO_CPU, RAY_INIT, BrokenConstructor, Counter, SlowToStop  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(**RAY_INIT)
    try:
        yield
    finally:
        ray.shutdown()


async def eventually(condition: Callable[[], object], seconds: float = 60) -> None:
    """Wait until ``condition()`` is true: what another process does (a restart, a death)
    has no Trio event to wait on. Fails rather than hangs."""
    with trio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - the change happens in other processes
            await trio.sleep(0.05)


async def running(client: ActorClient[Any], old: ActorRef[Any] | None = None) -> ActorRef[Any]:
    """The actor under the client's name once there is one (other than ``old``)."""
    await eventually(lambda: client.whereis() not in (None, old))
    ref = client.whereis()
    assert ref is not None
    return ref


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def until_gone(pid: int) -> None:
    await eventually(lambda: process_gone(pid), 30)


# --- start -----------------------------------------------------------------------------


async def test_a_started_actor_answers_calls_by_ref_and_by_name() -> None:
    spec = actor_spec("counter", Counter, args=(10,), name="counter", options=NO_CPU)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        [info] = await supervisor.which_children()
        ref = info.ref
        assert isinstance(ref, ActorRef)
        assert await ref.call(Counter.add, 1) == 11
        assert await ActorClient("counter", Counter).call("add", 2) == 13
        await supervisor.stop()


async def test_a_constructor_that_raises_is_a_start_failure() -> None:
    supervisor = trio_otp.Supervisor([actor_spec("broken", BrokenConstructor, options=NO_CPU)])
    with pytest.raises(trio_otp.ChildStartError) as caught:
        await supervisor.run()
    assert isinstance(caught.value.reason, ray.exceptions.ActorDiedError)
    assert caught.value.reason.actor_init_failed


async def test_an_actor_that_cannot_be_placed_fails_to_start_within_its_timeout() -> None:
    spec = actor_spec("nowhere", Counter, options={"resources": {"no_such_node": 1}}, start_timeout=1)
    with pytest.raises(trio_otp.ChildStartError) as caught:
        await trio_otp.Supervisor([spec]).run()
    assert isinstance(caught.value.reason, ActorStartTimeout)


async def test_a_taken_name_fails_the_start_before_an_actor_is_made() -> None:
    specs = [actor_spec(n, Counter, name="same", options=NO_CPU) for n in ("a", "b")]
    with pytest.raises(trio_otp.ChildStartError) as caught:
        await trio_otp.Supervisor(specs).run()
    assert isinstance(caught.value.reason, trio_otp.NameTaken)


# --- calls -----------------------------------------------------------------------------


async def test_a_method_that_raises_reraises_in_the_caller_and_the_actor_lives_on() -> None:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([actor_spec("c", Counter, options=NO_CPU)]).run)
        ref = (await supervisor.which_children())[0].ref
        with pytest.raises(ValueError, match="method failed"):
            await ref.call(Counter.fail)
        assert await ref.call(Counter.add, 1) == 1
        with pytest.raises(AttributeError, match="no method 'nope'"):
            await ref.call("nope")
        await supervisor.stop()


async def test_a_call_times_out_and_a_cancelled_wait_leaves_the_call_running() -> None:
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([actor_spec("c", Counter, options=NO_CPU)]).run)
        ref = (await supervisor.which_children())[0].ref
        with pytest.raises(trio_otp.CallTimeout):
            await ref.call(Counter.sleep, 0.5, timeout=0.1)
        with trio.move_on_after(0.1) as scope:
            await ref.call(Counter.sleep, 0.3)
        assert scope.cancelled_caught
        with trio.move_on_after(0.0):
            await ref.call(Counter.add, 5)
        # Calls run in order: by the time this one runs, the abandoned add has run too.
        assert await ref.call(Counter.add, 0, timeout=10) == 5
        await supervisor.stop()


async def test_calls_to_an_actor_that_ended_raise_server_not_running() -> None:
    async with trio.open_nursery() as nursery:
        spec = actor_spec("c", Counter, name="ends", options=NO_CPU)
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        ref = (await supervisor.which_children())[0].ref
        await supervisor.stop()
    assert not ref.alive
    with pytest.raises(trio_otp.ServerNotRunning):
        await ref.call(Counter.add, 1)
    with pytest.raises(trio_otp.ServerNotRunning):
        await ActorClient("ends").call("add", 1)


# --- crashes and restarts ----------------------------------------------------------------


async def test_a_crash_restarts_by_strategy_with_fresh_state() -> None:
    specs = [
        actor_spec("a", Counter, name="a", options=NO_CPU),
        actor_spec("b", Counter, name="b", options=NO_CPU),
    ]
    a, b = ActorClient("a", Counter), ActorClient("b", Counter)
    supervisor = trio_otp.Supervisor(specs, strategy=trio_otp.RestartStrategy.ONE_FOR_ALL)
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(supervisor.run)
        await a.call(Counter.add, 1)
        await b.call(Counter.add, 1)
        old_b = await running(b)
        with pytest.raises(trio_otp.ServerExited) as caught:
            await a.call(Counter.crash)
        assert isinstance(caught.value.reason, ray.exceptions.ActorDiedError)
        new_b = await running(b, old_b)
        await running(a)
        # New actors: the state is the constructor's again, for the crashed one and its sibling.
        assert await a.call(Counter.add, 0) == 0
        assert await b.call(Counter.add, 0) == 0
        assert new_b.actor_id != old_b.actor_id
        await ref.stop()


async def test_a_killed_actor_process_fails_the_pending_call_and_is_restarted() -> None:
    client = ActorClient("victim", Counter)
    async with trio.open_nursery() as nursery:
        ref = await nursery.start(trio_otp.Supervisor([actor_spec("v", Counter, name="victim")]).run)
        first = await running(client)
        pid = await client.call(Counter.pid)

        async def kill_soon() -> None:
            await trio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)

        nursery.start_soon(kill_soon)
        with pytest.raises(trio_otp.ServerExited):
            await client.call(Counter.sleep, 30, timeout=30)
        await running(client, first)
        assert await client.call(Counter.pid) != pid
        await ref.stop()


async def test_an_actor_that_ends_itself_normally_is_not_restarted_when_transient() -> None:
    spec = actor_spec("t", Counter, restart=trio_otp.Restart.TRANSIENT, options=NO_CPU)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        ref = (await supervisor.which_children())[0].ref
        await ref.call(Counter.finish)
        await eventually(lambda: not ref.alive, 30)
        with trio.fail_after(30):
            while (info := (await supervisor.which_children())[0]).ref is not None:  # noqa: ASYNC110
                await trio.sleep(0.05)
        assert info.state is trio_otp.ChildState.STOPPED
        await supervisor.stop()


async def test_restart_intensity_exceeded_escalates_to_the_local_supervisor() -> None:
    inner = trio_otp.Supervisor([actor_spec("c", Counter, name="doomed", options=NO_CPU)], max_restarts=1)
    client = ActorClient("doomed", Counter)
    async with trio.open_nursery() as nursery:

        async def crash_twice() -> None:
            for _ in range(2):
                ref = await running(client)
                with pytest.raises(trio_otp.ServerExited):
                    await ref.call(Counter.crash)
                await eventually(lambda ref=ref: client.whereis() is not ref)

        nursery.start_soon(crash_twice)
        with pytest.raises(trio_otp.RestartIntensityExceeded) as caught:
            await inner.run()
    assert isinstance(caught.value.__cause__, ray.exceptions.ActorDiedError)


# --- stopping -----------------------------------------------------------------------------


async def test_a_stop_runs_terminate_within_the_budget(tmp_path: pathlib.Path) -> None:
    marker = tmp_path / "terminated"
    spec = actor_spec("c", Counter, kwargs={"marker": str(marker)}, options=NO_CPU)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        pid = await (await supervisor.which_children())[0].ref.call(Counter.pid)
        await supervisor.stop()
    assert marker.read_text() == "terminated"
    await until_gone(pid)


@pytest.mark.parametrize("shutdown", [0.5, trio_otp.BRUTAL_KILL])
async def test_a_terminate_that_overruns_is_cut_short_by_a_kill(
    tmp_path: pathlib.Path, shutdown: float | trio_otp.ShutdownMode
) -> None:
    spec = actor_spec("slow", SlowToStop, options=NO_CPU, shutdown=shutdown)
    late: list[float] = []
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec]).run)
        pid = await (await supervisor.which_children())[0].ref.call(Counter.pid)
        began = trio.current_time()
        await supervisor.stop()
        late.append(trio.current_time() - began)
    budget = 0.0 if shutdown is trio_otp.BRUTAL_KILL else shutdown
    assert isinstance(budget, float)
    # The stop is over well before terminate()'s 60 s: the kill came at the deadline.
    assert late[0] < budget + 20
    await until_gone(pid)


# --- fate sharing ------------------------------------------------------------------------

_DRIVER = textwrap.dedent(
    """
    import sys, trio, ray, trio_otp
    from trio_otp.ray import actor_spec
    sys.path.insert(0, {root!r})
    from tests.ray_actors import Counter

    async def main():
        async with trio.open_nursery() as nursery:
            spec = actor_spec("c", Counter, options={{"num_cpus": 0}})
            sup = await nursery.start(trio_otp.Supervisor([spec]).run)
            print(await (await sup.which_children())[0].ref.call(Counter.pid), flush=True)
            await trio.sleep_forever()

    ray.init(address={address!r}, log_to_driver=False)
    trio.run(main)
    """
)


async def test_the_actors_die_with_the_driver_that_supervises_them() -> None:
    address = ray.get_runtime_context().gcs_address
    root = str(pathlib.Path(__file__).parent.parent)
    script = _DRIVER.format(root=root, address=address)
    driver = await trio.lowlevel.open_process(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert driver.stdout is not None
        printed = b""
        with trio.fail_after(60):
            while not printed.endswith(b"\n"):
                chunk = await driver.stdout.receive_some()
                assert chunk, "the driver ended before printing its actor's pid"
                printed += chunk
        pid = int(printed)
        assert not process_gone(pid)
        driver.kill()  # SIGKILL: no cleanup of any kind in the driver
        await driver.wait()
        await until_gone(pid)
    finally:
        if driver.returncode is None:
            driver.kill()
            await driver.wait()
