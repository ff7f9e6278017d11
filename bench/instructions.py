"""Instructions per operation, by ``valgrind --tool=callgrind``: repeatable where
wall-clock figures are not (a shared, noisy machine).

``python bench/instructions.py [WORKLOAD ...]`` runs each workload of
``bench/suite.py`` twice under callgrind, with ``n`` and ``3 n`` operations, and prints
the difference of the two instruction totals divided by ``2 n``: the cost of one
operation, without the start-up and teardown of the run. ``--run WORKLOAD N`` runs one
workload once, without valgrind (what the driver runs under it).
"""

from __future__ import annotations

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

WORKLOADS: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {
    # name: (workload, n)
    "call": (suite.gen_server_call_rate, 300),
    "call_by_name": (suite.gen_server_call_by_name_rate, 300),
    "cast": (suite.gen_server_cast_rate, 1_000),
    "restart": (suite.restart_latencies, 60),
    "restart_via_call": (suite.restart_latencies_via_call, 60),
    "start": (suite.gen_server_processes, 200),
    "start_batched": (lambda n: suite.gen_server_processes(n, batch=100), 200),
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
    for workload in sys.argv[1:] or list(WORKLOADS):
        n = WORKLOADS[workload][1]
        low, high = instructions(workload, n), instructions(workload, 3 * n)
        print(f"{workload:>18}: {(high - low) / (2 * n):>10,.0f} instructions per op", flush=True)


if __name__ == "__main__":
    main()
