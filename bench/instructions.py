"""Instructions per operation, by ``valgrind --tool=callgrind``: repeatable where
wall-clock figures are not (a shared, noisy machine).

``python bench/instructions.py [WORKLOAD ...]`` runs each workload of
``bench/suite.py`` twice under callgrind, with ``n`` and ``3 n`` operations, and prints
the difference of the two instruction totals divided by ``2 n``: the cost of one
operation, without the start-up and teardown of the run. A workload with a raw-Trio
baseline (the one its row of the suite compares it with) runs that baseline too and
prints the ratio of instructions the way the suite's row puts it (baseline over trio_otp
for a rate, trio_otp over baseline for a time): comparable with the suite's ratios, and
steady where they swing. ``--run WORKLOAD N`` runs one workload
once, without valgrind (what the driver runs under it).
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Any

import trio

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import suite

import trio_otp


async def _call_rate_without_timeout(n: int) -> None:
    """The call row with ``timeout=None``: what the default timeout's clock read and
    timer entry cost, by difference."""
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, suite.Echo)
        for i in range(n):
            assert await ref.call(i, timeout=None) == i
        nursery.cancel_scope.cancel()


WORKLOADS: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {
    # name: (workload, n)
    "call": (suite.gen_server_call_rate, 2_000),
    "call_by_name": (suite.gen_server_call_by_name_rate, 2_000),
    "call_without_timeout": (_call_rate_without_timeout, 2_000),
    "cast": (suite.gen_server_cast_rate, 10_000),
    # 1,000 callers or servers as in the suite, n calls in all (n a multiple of 1,000)
    "many_callers": (lambda n: suite.many_callers_one_server(1_000, n // 1_000), 5_000),
    "many_servers": (lambda n: suite.many_servers_own_caller(1_000, n // 1_000), 5_000),
    "restart": (suite.restart_latencies, 60),
    "restart_via_call": (suite.restart_latencies_via_call, 60),
    "start": (suite.gen_server_processes, 200),
    "start_batched": (lambda n: suite.gen_server_processes(n, batch=100), 200),
    "api_call": (suite.gen_server_call_rate, 2_000),
    "api_call_by_name": (suite.gen_server_call_by_name_rate, 2_000),
    "raw_api_call": (suite.raw_api_call_rate, 2_000),
    "raw_api_call_by_name": (suite.raw_api_call_by_name_rate, 2_000),
    "raw_call": (suite.raw_call_rate, 2_000),
    "raw_call_by_name": (suite.raw_call_by_name_rate, 2_000),
    "raw_call_without_timeout": (suite.raw_call_rate, 2_000),
    "raw_cast": (suite.raw_batched_cast_rate, 10_000),
    "raw_many_callers": (lambda n: suite.raw_many_callers_one_server(1_000, n // 1_000), 5_000),
    "raw_many_servers": (lambda n: suite.raw_many_servers_own_caller(1_000, n // 1_000), 5_000),
    "raw_restart": (suite.raw_respawn_restart_latencies, 60),
    "raw_restart_via_call": (suite.raw_respawn_restart_latencies_via_call, 60),
    "raw_start": (suite.started_processes, 200),
    "raw_start_batched": (suite.bare_processes, 200),
}

# A workload's baseline: the raw-Trio workload its row of the suite is compared with.
BASELINES = {name: f"raw_{name}" for name in WORKLOADS if f"raw_{name}" in WORKLOADS}
# Workloads whose suite row is a rate (its ratio is baseline cost over trio_otp's).
RATES = {
    *("call", "call_by_name", "call_without_timeout", "api_call", "api_call_by_name"),
    *("cast", "many_callers", "many_servers"),
}


def instructions(workload: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "callgrind.out")
        subprocess.run(
            [
                *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
                *(sys.executable, __file__, "--run", workload, str(n)),
            ],
            check=True,
            capture_output=True,
            # A fixed hash seed: dict and set layouts, and so the totals, repeat run to run.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        text = pathlib.Path(out).read_text()
    match = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    assert match is not None, "no totals in the callgrind output"
    return int(match.group(1))


def main() -> None:
    if "--run" in sys.argv:
        index = sys.argv.index("--run")
        workload, n = sys.argv[index + 1], int(sys.argv[index + 2])
        logging.disable(logging.CRITICAL)
        trio.run(WORKLOADS[workload][0], n)
        return
    for workload in sys.argv[1:] or [name for name in WORKLOADS if not name.startswith("raw_")]:
        cost = per_operation(workload)
        line = f"{workload:>18}: {cost:>10,.0f} instructions per op"
        if workload in BASELINES:
            baseline = per_operation(BASELINES[workload])
            ratio = baseline / cost if workload in RATES else cost / baseline
            line += f"; raw Trio {baseline:>10,.0f}: ratio {ratio:.2f}x"
        print(line, flush=True)


@functools.cache  # deterministic: a workload that is another's baseline too runs once
def per_operation(workload: str) -> float:
    n = WORKLOADS[workload][1]
    low, high = instructions(workload, n), instructions(workload, 3 * n)
    return (high - low) / (2 * n)


if __name__ == "__main__":
    main()
