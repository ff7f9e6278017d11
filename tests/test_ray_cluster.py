"""A node lost from a two-node Ray cluster simulated on this machine
(``ray.cluster_utils.Cluster``, health checks shortened): Ray's failure detector declares
the node dead, the pending calls fail, and trio_otp restarts the actor on the node left.

Real processes under real time; the detection time is printed (``nox -s ray`` runs
pytest with ``-s``), not asserted: figures live in the docs and ``bench/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import trio

import trio_otp
from trio_otp.ray import ActorClient, actor_spec, wait_object_ref

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from .ray_actors import FAST_HEALTH_CHECKS, Counter  # noqa: E402
from .test_ray import running  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

SMALL_STORE = 80 * 1024 * 1024


def _where_am_i() -> str:
    return str(ray.get_runtime_context().get_node_id())


where_am_i = ray.remote(num_cpus=0)(_where_am_i)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": SMALL_STORE,
            "_system_config": FAST_HEALTH_CHECKS,
        },
    )
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


async def test_a_lost_node_is_a_crash_and_the_actor_restarts_on_the_node_left(cluster: Any) -> None:
    head_id = ray.get_runtime_context().get_node_id()
    doomed = cluster.add_node(num_cpus=1, object_store_memory=SMALL_STORE)
    cluster.wait_for_nodes()
    # Soft affinity falls back to any node while the scheduler does not yet see the new
    # one: a task pinned to the new node is the proof that it does.
    pinned = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(doomed.node_id, soft=False)
    with trio.fail_after(60):
        await wait_object_ref(where_am_i.options(scheduling_strategy=pinned).remote())
    strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(doomed.node_id, soft=True)
    options = {"num_cpus": 0, "scheduling_strategy": strategy}
    spec = actor_spec("c", Counter, name="roaming", options=options)
    client = ActorClient("roaming", Counter)
    async with trio.open_nursery() as nursery:
        supervisor = await nursery.start(trio_otp.Supervisor([spec], max_restarts=10).run)
        first = await running(client)
        for _ in range(5):  # placement is Ray's decision: crash it until it is on the doomed node
            if await client.call(Counter.node_id) == doomed.node_id:
                break
            with pytest.raises(trio_otp.ServerExited):
                await client.call(Counter.crash)
            first = await running(client, first)
        assert await client.call(Counter.node_id) == doomed.node_id
        await client.call(Counter.add, 41)
        lost_at: list[float] = []

        async def lose_the_node() -> None:
            await trio.sleep(0.3)
            lost_at.append(time.monotonic())
            cluster.remove_node(doomed, allow_graceful=False)

        nursery.start_soon(lose_the_node)
        with pytest.raises(trio_otp.ServerExited) as caught:
            await client.call(Counter.sleep, 60, timeout=60)
        detected = time.monotonic() - lost_at[0]
        assert isinstance(caught.value.reason, ray.exceptions.ActorDiedError)
        await running(client, first)
        restarted = time.monotonic() - lost_at[0]
        # A new actor, on the head node, with the constructor's state.
        assert await client.call(Counter.node_id) == head_id
        assert await client.call(Counter.add, 1) == 1
        print(
            f"\nnode loss with health checks every {FAST_HEALTH_CHECKS['health_check_period_ms']} ms, "
            f"{FAST_HEALTH_CHECKS['health_check_failure_threshold']} misses: pending call failed after "
            f"{detected:.2f} s, restarted actor answering after {restarted:.2f} s"
        )
        await supervisor.stop()
