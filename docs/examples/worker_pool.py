"""CPU work on other cores: a supervised pool of worker processes, found by name.

Real processes run on real time, so this example runs Trio itself (``run_example``).
"""

from __future__ import annotations

import hashlib
import os
import time

import trio

import trio_otp

# Two worker processes; up to 3 worker crashes within 10 s before the pool gives up.
POOL = trio_otp.WorkerPool(2, name="cpu", max_restarts=3, max_seconds=10, cancel_grace=0.5)


async def hash_password(password: bytes) -> str:
    """What a request handler does: find the pool by name, run the CPU-bound part there."""
    pool = trio_otp.whereis("cpu", trio_otp.WorkerPoolRef)
    if pool is None:
        msg = "the worker pool is not running"
        raise RuntimeError(msg)
    # A function of the standard library: a job's function must be importable by name.
    digest = await pool.run(hashlib.pbkdf2_hmac, "sha256", password, b"salt", 20_000)
    return digest.hex()[:12]


async def serve() -> None:
    tree = trio_otp.Supervisor([POOL.child_spec("cpu")], name="app")
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)

        # Four jobs at once on two workers: each call waits for a free one.
        digests: dict[bytes, str] = {}

        async def one(password: bytes) -> None:
            digests[password] = await hash_password(password)

        async with trio.open_nursery() as jobs:
            for password in (b"alpha", b"beta", b"gamma", b"delta"):
                jobs.start_soon(one, password)
        for password, digest in sorted(digests.items()):
            print(f"{password.decode()}: {digest}")

        pool = trio_otp.whereis("cpu", trio_otp.WorkerPoolRef)
        assert pool is not None
        # A worker that dies mid-job fails that call only; the pool restarts the worker.
        try:
            await pool.run(os._exit, 3)
        except trio_otp.WorkerCrashed as crash:
            print(f"the job's worker crashed (returncode {crash.returncode}); the pool restarts it")
        print("after the crash:", await hash_password(b"alpha"))

        # A job past its timeout is stopped (SIGINT, then SIGKILL after cancel_grace).
        try:
            await pool.run(time.sleep, 60, timeout=0.2)
        except trio_otp.JobTimeout:
            print("the 60 s job timed out and was stopped; its worker was replaced")
        print("still serving:", await hash_password(b"beta"))
        nursery.cancel_scope.cancel()  # stops the tree, and with it every worker
    print("after the tree stopped, the pool is gone:", trio_otp.whereis("cpu") is None)


def run_example() -> None:
    trio.run(serve)


if __name__ == "__main__":
    run_example()
