"""The program a :class:`~trio_otp.WorkerPool` worker process runs.

Run by path (``python -c <bootstrap> <this file> <job fd> <reply fd>``), not imported as
``trio_otp._worker_process``: importing the package would import Trio, which costs more
than starting Python itself (0.6 s on a loaded machine against 0.03 s), for every worker
and every restart. So this file imports the standard library only.

The protocol, on two pipes inherited from the pool (never stdin/stdout, which stay the
job's): every message is an 8-byte big-endian length and a pickle. The pool sends a
configuration (its ``sys.path`` and its pid), the worker answers ``("ready", pid)``; then
each job is ``(function, args)`` and each answer ``("ok", value)`` or ``("error",
exception, traceback text)``. A job that raises ``SystemExit`` or ``KeyboardInterrupt``
ends the worker (the pool stops a job with SIGINT, and sees any other exit as a crash).

The parent-death watchdog: a daemon thread polls the worker's stdin, a pipe whose only
write end the pool holds, and checks ``getppid()``. When the pool process dies, however
(SIGKILL included), the kernel closes that end, and the thread kills the worker's whole
process group (the worker and whatever its job started) within ``WATCHDOG_PERIOD``, even
in the middle of a job. ``PR_SET_PDEATHSIG`` would not do: under Trio the worker is
spawned from a thread, and the signal fires when that thread retires.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import threading
import traceback
from typing import Any, BinaryIO

HEADER = struct.Struct("!Q")
#: Seconds between the watchdog's checks when the lifeline shows nothing.
WATCHDOG_PERIOD = 0.2


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _receive(stream: BinaryIO) -> bytes:
    (size,) = HEADER.unpack(_read_exactly(stream, HEADER.size))
    return _read_exactly(stream, size)


def _send(stream: BinaryIO, message: tuple[Any, ...]) -> None:
    try:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        problem = pickle.PicklingError(
            f"the job's {'result' if message[0] == 'ok' else 'exception'} cannot be pickled "
            f"to send it back from the worker: {error!r}"
        )
        payload = pickle.dumps(("error", problem, traceback.format_exc()), protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def _die() -> None:
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(1)


def _watch_owner(owner_pid: int) -> None:
    poller = select.poll()
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    while True:
        if poller.poll(WATCHDOG_PERIOD * 1000) and not os.read(sys.stdin.fileno(), 1):
            _die()  # end of the lifeline: the pool closed it, or its process is gone
        if os.getppid() != owner_pid:
            _die()


def _serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    config: dict[str, Any] = pickle.loads(_receive(jobs))
    sys.path[:] = config["sys_path"]
    threading.Thread(target=_watch_owner, args=(config["owner_pid"],), daemon=True).start()
    _send(replies, ("ready", os.getpid()))
    while True:
        try:
            job = _receive(jobs)
        except EOFError:
            return  # the pool closed the job pipe: a clean stop
        try:
            function, args = pickle.loads(job)
        except Exception as error:
            _send(
                replies,
                ("error", error, "the job could not be unpickled in the worker:\n" + traceback.format_exc()),
            )
            continue
        try:
            value = function(*args)
        except Exception as error:
            _send(replies, ("error", error, traceback.format_exc()))
        else:
            _send(replies, ("ok", value))


def main() -> None:
    # SIGINT stops a job, so it must raise KeyboardInterrupt here even if the pool's
    # process ignores it (nohup and some service managers do, and exec keeps SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # sys.argv is ["-c", this file, job fd, reply fd].
    jobs = os.fdopen(int(sys.argv[2]), "rb")
    replies = os.fdopen(int(sys.argv[3]), "wb")
    try:
        _serve(jobs, replies)
    except KeyboardInterrupt:
        os._exit(0)  # the pool stopping this worker: its job has unwound


if __name__ == "__trio_otp_worker__":
    main()
