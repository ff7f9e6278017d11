"""Worker pools: sync functions run in supervised worker processes, for other cores.

A :class:`WorkerPool` is a supervisor whose children are *slots*, one per worker process.
Each slot's task starts its process, reports ready once the process has answered the
handshake, then watches it. The jobs themselves never pass through the slot: the task
that calls :meth:`WorkerPoolRef.run` takes an idle worker from the pool, writes the job
to the worker's pipe and reads the answer itself, so a job costs no task switch beyond
the two pipe wake-ups (trio-parallel works the same way).

Deaths and restarts
-------------------
A worker never exits on its own. When its process ends (a segfault, ``os._exit``, the
OOM killer, a SIGKILL from outside) the slot kills what is left of its process group,
reaps it and raises :class:`WorkerCrashed`: an ordinary crash of a child, so the pool's
supervisor restarts the slot under its ``max_restarts`` within ``max_seconds``, exactly
as any supervisor restarts a child, and past that intensity the pool stops its other
workers and escalates (:class:`RestartIntensityExceeded`). The call that was running on
the dead worker raises its own :class:`WorkerCrashed`, naming the exit status or the
signal; calls on the other workers go on.

Stopping a job
--------------
A job whose call is cancelled or times out is stopped, not abandoned: the worker gets
SIGINT, so the job sees ``KeyboardInterrupt`` and its ``finally`` blocks run; the worker
then exits. Past ``cancel_grace`` seconds its process group gets SIGKILL. Either way the
worker is replaced by a fresh process in the same slot, and that is *not* a restart: the
pool did it on purpose. The call returns (raises) only once the worker is gone, so no job
of a cancelled call is still running afterwards. Stopping the pool stops every worker the
same way, all at once (SIGINT to all, then each slot waits within its budget), so the
pool stops within ``cancel_grace`` plus reaping, or within its own shutdown budget if
that comes first.

Reaping
-------
Looking at a :class:`trio.Process` (``returncode``, ``poll()``, even its ``repr``) reaps
it, after which its pid and its process-group id may belong to another program. So a
slot waits on its own pidfd (which does not reap), kills the group while the dead worker
still holds its id as a zombie, and only then reaps, in one synchronous step.
"""

from __future__ import annotations

import inspect
import math
import os
import pickle
import signal
import sys
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast, final

import attrs
import trio
from typing_extensions import TypeVarTuple, Unpack

from ._backend import require_trio
from ._checks import check_seconds, check_timeout, check_whole_number
from ._child import cleanup_scope
from ._child_spec import BRUTAL_KILL, INFINITY, ChildSpec, ChildType, Restart, ShutdownPolicy
from ._exceptions import JobTimeout, WorkerCrashed, WorkerPoolNotRunning
from ._intensity import validate_max_restarts, validate_max_seconds
from ._ki import protected, self_protecting
from ._supervisor import (
    ChildCounts,
    ChildInfo,
    Supervisor,
    SupervisorRef,
    _SupervisorState,
    child_label,
    run_supervisor,
)
from ._util import NoPublicConstructor, describe, name_validator, safe_repr
from ._worker_process import HEADER

T = TypeVar("T")
ArgsT = TypeVarTuple("ArgsT")

_WORKER_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker_process.py")
# Runs the worker program by path, so that the worker does not import trio_otp (nor Trio).
_BOOTSTRAP = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__trio_otp_worker__')"
_HAS_PIDFD = hasattr(os, "pidfd_open")
_READ_SIZE = 65536
#: Seconds a slot's shutdown budget adds to cancel_grace, for the SIGKILL and the reaping.
_REAP_MARGIN = 1.0


def _open_pidfd(pid: int) -> int | None:
    if not _HAS_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # a kernel before 5.3, or a seccomp policy that refuses it
        return None


def _default_workers() -> int:
    return os.cpu_count() or 1


def _check_workers(_instance: object, _attribute: object, value: object) -> None:
    check_whole_number(value, "WorkerPool.workers", minimum=1)


def describe_returncode(returncode: int) -> str:
    """``exited with status 3`` or ``was killed by SIGSEGV (signal 11)``."""
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by {name} (signal {-returncode})"


@final
class _Worker:
    """One worker process, from its spawn to its reaping."""

    __slots__ = (
        "_buffer",
        "_jobs",
        "_lifeline",
        "_pidfd",
        "_replies",
        "exited",
        "gone",
        "label",
        "pid",
        "process",
        "retiring",
        "returncode",
    )

    def __init__(
        self,
        process: trio.Process,
        jobs: trio.lowlevel.FdStream,
        replies: trio.lowlevel.FdStream,
        lifeline: int,
    ) -> None:
        self.process: trio.Process = process
        self.pid: int = process.pid
        # Opened before anyone could reap the process, so it names this process.
        self._pidfd: int | None = _open_pidfd(self.pid)
        self._jobs = jobs
        self._replies = replies
        self._lifeline: int | None = lifeline
        self._buffer = bytearray()
        self.label: str = f"worker process {self.pid}"
        #: Why the pool is stopping this worker, once it is.
        self.retiring: str | None = None
        self.exited: bool = False  # its process has ended (it may not be reaped yet)
        self.returncode: int | None = None  # set when reaped
        self.gone: trio.Event = trio.Event()  # reaped

    # -- the pipes --

    async def send(self, payload: bytes) -> None:
        await self._jobs.send_all(HEADER.pack(len(payload)) + payload)

    async def receive(self) -> bytes:
        """The next message. Raises EOFError when the worker has closed its end."""
        (size,) = HEADER.unpack(await self._read_exactly(HEADER.size))
        return await self._read_exactly(size)

    async def _read_exactly(self, size: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < size:
            try:
                # A pipe holds 64 KiB: asking for more would only allocate more.
                chunk = await self._replies.receive_some(_READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                chunk = b""
            if not chunk:
                raise EOFError
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    # -- the process --

    def retire(self, why: str, grace: float) -> None:
        """Ask the worker to stop: SIGINT, so that its job unwinds (SIGKILL for no grace).

        Only the first request sends SIGINT: a pool stopping while a cancelled call stops
        its job asks twice, and a second KeyboardInterrupt would land in the job's
        ``finally`` block and cut its unwinding short."""
        first = self.retiring is None
        if first:
            self.retiring = why
        if grace == 0:
            self.kill()
        elif first and not self.exited:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL to the worker's process group, unless it has been reaped. Not a checkpoint."""
        if self.returncode is not None:
            return  # reaped: the group id may be someone else's by now
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    async def wait_exit(self) -> None:
        """Wait until the process has ended, without reaping it (on Linux). One waiter only."""
        if self._pidfd is not None:
            await trio.lowlevel.wait_readable(self._pidfd)
        else:  # no pidfd: wait reaps, so the group kill in reap() will be skipped
            await self.process.wait()
            self.returncode = self.process.returncode
        self.exited = True

    @protected
    def reap(self) -> int:
        """Kill what is left of the group, then reap and close everything. Not a checkpoint."""
        if not self.gone.is_set():
            self.kill()
            returncode = self.process.poll()
            assert returncode is not None, "reaped before the process ended"
            self.returncode = returncode
            self.exited = True
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            if self._lifeline is not None:
                os.close(self._lifeline)
                self._lifeline = None
            self._jobs.close()
            self._replies.close()
            self.gone.set()
        assert self.returncode is not None
        return self.returncode


async def _spawn(pool: _Pool, label: str) -> _Worker:
    """Start a worker process and wait for its handshake (within ``start_timeout``)."""
    job_read, job_write = os.pipe()
    reply_read, reply_write = os.pipe()
    lifeline_read, lifeline_write = os.pipe()
    try:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-c", _BOOTSTRAP, _WORKER_FILE, str(job_read), str(reply_write)],
            stdin=lifeline_read,
            pass_fds=(job_read, reply_write),
            # Its own session: a Ctrl-C at the terminal reaches the pool's process only,
            # which stops the workers itself; and a group to kill with what a job started.
            start_new_session=True,
        )
    except BaseException:
        for fd in (job_write, reply_read, lifeline_write):
            os.close(fd)
        raise
    finally:
        for fd in (job_read, reply_write, lifeline_read):
            os.close(fd)
    worker = _Worker(
        process, trio.lowlevel.FdStream(job_write), trio.lowlevel.FdStream(reply_read), lifeline_write
    )
    worker.label = f"{label} (process {worker.pid})"
    config = {"sys_path": list(sys.path), "owner_pid": os.getpid()}
    try:
        with trio.fail_after(pool.definition.start_timeout):
            await worker.send(pickle.dumps(config))
            try:
                reply = pickle.loads(await worker.receive())
            except EOFError:
                await worker.wait_exit()
                msg = f"{worker.label} {describe_returncode(worker.reap())} before it was ready"
                raise WorkerCrashed(msg, worker.pid, worker.returncode) from None
    except trio.TooSlowError:
        await _discard(worker)
        msg = f"{worker.label} was not ready within start_timeout={pool.definition.start_timeout:g} s"
        raise TimeoutError(msg) from None
    except BaseException:
        await _discard(worker)
        raise
    assert reply == ("ready", worker.pid), reply
    return worker


async def _discard(worker: _Worker) -> None:
    """Kill and reap a worker at once (a failed start)."""
    if worker.gone.is_set():
        return
    worker.retiring = worker.retiring or "its start failed"
    worker.kill()
    with trio.CancelScope(shield=True):
        await worker.wait_exit()
    worker.reap()


@final
class _Pool:
    """One run of a pool: its idle workers and every live worker, for callers and slots."""

    __slots__ = ("definition", "idle_receive", "idle_send", "kill_at", "label", "stopping", "workers")

    def __init__(self, definition: WorkerPool) -> None:
        self.definition: WorkerPool = definition
        self.label: str = "<worker pool>"  # set by _PoolState once it has its label
        send, receive = trio.open_memory_channel[_Worker](math.inf)
        self.idle_send: trio.MemorySendChannel[_Worker] = send
        self.idle_receive: trio.MemoryReceiveChannel[_Worker] = receive
        self.workers: dict[_Worker, None] = {}
        self.stopping: bool = False
        #: When the pool's stop began plus cancel_grace: every worker's SIGKILL is due then.
        self.kill_at: float = math.inf

    @protected
    def hire(self, worker: _Worker) -> None:
        self.workers[worker] = None
        self.release(worker)

    @protected
    def release(self, worker: _Worker) -> None:
        """Put a worker back among the idle ones, if it can still take jobs."""
        if worker.retiring is None and not worker.exited and not self.stopping:
            self.idle_send.send_nowait(worker)

    @protected
    def fire(self, worker: _Worker) -> None:
        self.workers.pop(worker, None)

    async def acquire(self) -> _Worker:
        """An idle worker; raises WorkerPoolNotRunning once the pool is stopping."""
        while True:
            try:
                worker = await self.idle_receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                raise self.not_running() from None
            if worker.retiring is None and not worker.exited:
                return worker

    def not_running(self) -> WorkerPoolNotRunning:
        return WorkerPoolNotRunning(f"worker pool {self.label} is not running")

    @protected
    def begin_stop(self) -> None:
        """Every worker gets SIGINT at once; callers waiting for a worker are refused."""
        self.stopping = True
        self.kill_at = trio.current_time() + self.definition.cancel_grace
        self.idle_send.close()
        for worker in list(self.workers):
            worker.retire("the pool is stopping", self.definition.cancel_grace)

    async def stop_job(self, worker: _Worker) -> None:
        """Stop the job a cancelled call was running: SIGINT, ``cancel_grace``, SIGKILL;
        returns once the worker is reaped (its slot replaces it)."""
        grace = self.definition.cancel_grace
        with trio.CancelScope(shield=True):
            worker.retire("its job was cancelled", grace)
            with trio.move_on_after(grace):
                await worker.gone.wait()
            worker.kill()
            await worker.gone.wait()


class _PoolState(_SupervisorState):
    """The pool's supervisor: a plain one-for-one supervisor of its slots, whose ref is a
    :class:`WorkerPoolRef` and whose final stop signals every worker at once."""

    kind = "worker_pool"

    def __init__(self, definition: Supervisor, pool: _Pool, label: str | None) -> None:
        super().__init__(definition, label)
        self.pool: _Pool = pool
        pool.label = self.label

    def make_ref(self) -> object:
        return WorkerPoolRef._create(self, self.pool)

    async def stop_all(self) -> None:
        self.pool.begin_stop()
        await super().stop_all()


@self_protecting
@protected
async def _run_slot(pool: _Pool, index: int, *, task_status: trio.TaskStatus[None]) -> None:
    """One slot: a worker process, replaced when a job of it was stopped, and a crash of
    the slot when it dies on its own."""
    label = f"worker {index} of pool {pool.label}"
    worker = await _spawn(pool, label)
    task_status.started()
    try:
        while True:
            pool.hire(worker)
            await worker.wait_exit()
            returncode = worker.reap()
            pool.fire(worker)
            if worker.retiring is None:
                msg = f"{worker.label} {describe_returncode(returncode)}"
                raise WorkerCrashed(msg, worker.pid, returncode)
            if pool.stopping:
                await trio.sleep_forever()  # stopped with the others, not ended on its own
            worker = await _spawn(pool, label)  # a stopped job's worker: replaced, not restarted
    finally:
        pool.fire(worker)
        if not worker.gone.is_set():
            grace = pool.definition.cancel_grace
            worker.retire("the pool is stopping", grace)
            # The supervisor stops the slots one by one, but their workers got SIGINT at
            # once: each is due its SIGKILL one grace after the pool's stop began, not
            # after its own slot's. The slot's budget (a margin longer) is the backstop.
            with cleanup_scope(), trio.move_on_at(min(pool.kill_at, trio.current_time() + grace)):
                await worker.wait_exit()
            if not worker.exited:
                worker.kill()
                with trio.CancelScope(shield=True):
                    await worker.wait_exit()
            worker.reap()


def _check_start_timeout(_instance: object, _attribute: object, value: object) -> None:
    check_seconds(value, "WorkerPool.start_timeout", rule="> 0")


def _check_cancel_grace(_instance: object, _attribute: object, value: object) -> None:
    check_seconds(value, "WorkerPool.cancel_grace")
    if value == math.inf:
        msg = "WorkerPool.cancel_grace must be a finite number of seconds >= 0, got inf"
        raise ValueError(msg)


@attrs.frozen
class WorkerPool:
    """A supervised pool of worker processes that run sync functions on other cores.

    Start it like a supervisor (``await nursery.start(pool.run)``, or
    :meth:`child_spec` under a supervisor); the :class:`WorkerPoolRef` it reports, or
    :func:`whereis` of its ``name``, runs jobs: ``await ref.run(function, *args)``.

    Each worker is a fresh Python (``sys.executable``, the pool's ``sys.path``) running
    trio_otp's small worker program, not a fork: a job's function and arguments are
    pickled, so the function must be importable by its module and name (not a lambda,
    nor a function of ``__main__`` when that is a script run with ``-c``).

    Args:
      workers: how many worker processes (default ``os.cpu_count()``).
      name: the name it runs under, as :class:`Supervisor`'s (``whereis(name,
        WorkerPoolRef)`` finds the current run of it).
      max_restarts, max_seconds: the restart intensity for worker crashes, as
        :class:`Supervisor`'s (default 1 within 5 s). Replacing the worker of a stopped
        job is not a restart.
      cancel_grace: seconds a job being stopped (its call cancelled or timed out, or the
        pool stopping) has to unwind after SIGINT before its worker's process group gets
        SIGKILL (default 1.0; 0 kills at once).
      start_timeout: seconds a worker process has to start and answer the handshake
        (default 10); a slower one is a failed start of its slot.

    Raises:
      TypeError, ValueError: a bad value, naming the field and the rule.
    """

    workers: int = attrs.field(factory=_default_workers, validator=_check_workers)
    name: Hashable | None = attrs.field(default=None, kw_only=True, validator=name_validator("WorkerPool"))
    max_restarts: int = attrs.field(default=1, kw_only=True)
    max_seconds: float = attrs.field(default=5.0, kw_only=True)
    cancel_grace: float = attrs.field(default=1.0, kw_only=True, validator=_check_cancel_grace)
    start_timeout: float = attrs.field(default=10.0, kw_only=True, validator=_check_start_timeout)

    def __attrs_post_init__(self) -> None:
        validate_max_restarts(self.max_restarts)
        object.__setattr__(self, "max_seconds", validate_max_seconds(self.max_seconds))
        object.__setattr__(self, "cancel_grace", float(self.cancel_grace))
        object.__setattr__(self, "start_timeout", float(self.start_timeout))

    @self_protecting
    @protected
    async def run(self, *, task_status: trio.TaskStatus[WorkerPoolRef] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the pool until it stops: start the workers one by one, each ready before
        the next, report a :class:`WorkerPoolRef`, then serve jobs and supervise.

        Raises:
          NameTaken: another process runs under its ``name``.
          ChildStartError: a worker failed to start (its process died, or took longer
            than ``start_timeout``); the workers already started were stopped.
          RestartIntensityExceeded: worker crashes exceeded the intensity; every other
            worker was stopped first.
          trio.Cancelled, KeyboardInterrupt: as :meth:`Supervisor.run`, after every
            worker was stopped.
        """
        require_trio("WorkerPool.run")
        await _run_pool(self, None, task_status)

    def child_spec(
        self,
        id: Hashable,  # noqa: A002 - the child spec's own name for it
        *,
        restart: Restart = Restart.PERMANENT,
        shutdown: ShutdownPolicy = INFINITY,
        significant: bool = False,
    ) -> ChildSpec[WorkerPoolRef]:
        """A :class:`ChildSpec` that runs this pool under a supervisor, as a supervisor
        child; the options as :class:`ChildSpec`'s. Its reference is the
        :class:`WorkerPoolRef`. The workers stop within ``cancel_grace`` (plus reaping),
        or within ``shutdown`` if that is shorter."""
        return ChildSpec(
            id,
            _run_as_child,
            args=(self, child_label(self.name, id)),
            restart=restart,
            type=ChildType.SUPERVISOR,
            shutdown=shutdown,
            significant=significant,
        )


async def _run_pool(definition: WorkerPool, label: str | None, task_status: trio.TaskStatus[Any]) -> None:
    pool = _Pool(definition)
    slot_shutdown: ShutdownPolicy = (
        definition.cancel_grace + _REAP_MARGIN if definition.cancel_grace else BRUTAL_KILL
    )
    slots = [
        ChildSpec(f"worker {index}", _run_slot, args=(pool, index), shutdown=slot_shutdown)
        for index in range(definition.workers)
    ]
    supervisor = Supervisor(
        slots,
        max_restarts=definition.max_restarts,
        max_seconds=definition.max_seconds,
        name=definition.name,
    )
    try:
        await run_supervisor(_PoolState(supervisor, pool, label), task_status)
    finally:
        pool.stopping = True
        pool.idle_send.close()


@self_protecting
@protected
async def _run_as_child(
    definition: WorkerPool, label: str, *, task_status: trio.TaskStatus[WorkerPoolRef]
) -> None:
    await _run_pool(definition, label, task_status)


def _job_name(function: object) -> str:
    return getattr(function, "__qualname__", None) or safe_repr(function)


def _add_note(error: BaseException, note: str) -> None:
    # BaseException.add_note is new in 3.11; __notes__ is what it fills in, and what
    # tracebacks show (on 3.10 through exceptiongroup's formatting).
    notes: object = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        try:
            setattr(error, "__notes__", notes)  # noqa: B010 - not a typed attribute on 3.10
        except AttributeError:
            return
    cast("list[str]", notes).append(note)


@final
class WorkerPoolRef(metaclass=NoPublicConstructor):
    """A handle on a running :class:`WorkerPool`."""

    __slots__ = ("_pool", "_state")

    def __init__(self, state: _PoolState, pool: _Pool) -> None:
        self._state = state
        self._pool = pool

    def __repr__(self) -> str:
        return f"<WorkerPoolRef {self._pool.label} ({self._state.phase()})>"

    @property
    def name(self) -> Hashable | None:
        """The name it runs under, if any."""
        return self._state.definition.name

    @property
    def alive(self) -> bool:
        """Whether it still takes jobs (it is not stopping, nor has it ended)."""
        return not self._state.stopping and not self._pool.stopping

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers, in no particular order. Not a checkpoint."""
        return [worker.pid for worker in self._pool.workers if not worker.exited]

    async def run(
        self,
        function: Callable[[Unpack[ArgsT]], T],
        *args: Unpack[ArgsT],
        timeout: float | None = None,  # noqa: ASYNC109 - a call's timeout, as call's
    ) -> T:
        """Run ``function(*args)`` in a worker process and return its result. A checkpoint.

        Waits for an idle worker if all are busy (callers are served in arrival order),
        then sends the pickled job and waits for the answer. ``timeout`` bounds the whole
        call, the wait for a worker included. A call that is cancelled, or times out,
        while its job runs stops the job (SIGINT, then SIGKILL after the pool's
        ``cancel_grace``) and returns only once the worker has gone; the pool replaces
        the worker.

        Raises:
          Exception: whatever the job raised, unpickled, with the worker's traceback in a
            note.
          WorkerCrashed: the worker process died while running the job (a segfault,
            ``os._exit``, a SIGKILL, ``sys.exit`` in the job); it names the exit status
            or the signal. The pool restarts the worker under its intensity. (A worker
            found dead before it took the job is no error of the call: the job runs on
            another worker.)
          JobTimeout: no result within ``timeout``; the job, if it had started, was
            stopped.
          WorkerPoolNotRunning: the pool is stopping or has ended (before or while the
            job ran).
          pickle.PicklingError, pickle.UnpicklingError: the result could not be sent
            back or read.
          TypeError, ValueError: ``function`` is not a sync callable, the job cannot be
            pickled, or ``timeout`` is not None or a number of seconds >= 0; at the call.
        """
        seconds = check_timeout(timeout, "run's timeout")
        given: object = function  # checked for callers that are not type-checked
        if inspect.iscoroutine(given):
            given.close()
            msg = "WorkerPoolRef.run runs a sync function: write run(work, x), not run(work(x))"
            raise TypeError(msg)
        if inspect.iscoroutinefunction(given) or not callable(given):
            msg = f"WorkerPoolRef.run's function must be a sync function, got {describe(function)}"
            raise TypeError(msg)
        try:
            payload = pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            msg = (
                f"a job goes to its worker process pickled, and {_job_name(function)} with its "
                f"arguments cannot be: {error} (the function must be importable by module and name)"
            )
            raise TypeError(msg) from error
        pool = self._pool
        if not self.alive:
            raise pool.not_running()
        worker: _Worker | None = None
        with trio.move_on_after(seconds):
            while True:
                worker = await pool.acquire()
                try:
                    await worker.send(payload)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    # It died idle, before the pool noticed: the job never reached it,
                    # so it goes to another worker (the death is its slot's crash).
                    worker = None
                    continue
                except BaseException:
                    await pool.stop_job(worker)
                    raise
                break
            try:
                reply = await worker.receive()
            except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
                await worker.gone.wait()
                raise self._lost(worker, function) from None
            except BaseException:
                await pool.stop_job(worker)
                raise
            pool.release(worker)
            return cast("T", self._unpack(worker, function, reply))
        if worker is None:
            msg = f"no worker of pool {pool.label} was free within {seconds:g} s to run {_job_name(function)}"
        else:
            msg = f"{_job_name(function)} did not finish within {seconds:g} s; {worker.label} was stopped"
        raise JobTimeout(msg)

    def _lost(self, worker: _Worker, function: object) -> Exception:
        job = _job_name(function)
        if worker.retiring is not None:
            why = worker.retiring
            return WorkerPoolNotRunning(
                f"worker pool {self._pool.label} stopped {worker.label} ({why}) while it ran {job}"
            )
        assert worker.returncode is not None
        msg = f"{worker.label} {describe_returncode(worker.returncode)} while running {job}"
        return WorkerCrashed(msg, worker.pid, worker.returncode)

    def _unpack(self, worker: _Worker, function: object, reply: bytes) -> Any:
        try:
            answer = pickle.loads(reply)
        except Exception as error:
            msg = f"the answer of {_job_name(function)} from {worker.label} cannot be unpickled: {error!r}"
            raise pickle.UnpicklingError(msg) from error
        if answer[0] == "ok":
            return answer[1]
        raised, remote_traceback = answer[1], answer[2]
        _add_note(raised, f"raised in {worker.label}:\n{remote_traceback.rstrip()}")
        raise raised

    def _supervisor(self) -> SupervisorRef:
        return SupervisorRef._create(self._state)

    async def which_children(self) -> list[ChildInfo]:
        """The worker slots (ids ``"worker 0"``, ``"worker 1"``, ...), newest first, as
        :meth:`SupervisorRef.which_children`; each ``restarts`` counts that worker's
        crashes. A checkpoint."""
        return await self._supervisor().which_children()

    async def count_children(self) -> ChildCounts:
        """How many worker slots, and how many are running, as
        :meth:`SupervisorRef.count_children`. A checkpoint."""
        return await self._supervisor().count_children()

    async def stop(
        self,
        reason: Exception | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as OTP's Supervisor.stop/3
    ) -> None:
        """Stop the pool and every worker, and wait until it has ended, as
        :meth:`SupervisorRef.stop`. A checkpoint."""
        await self._supervisor().stop(reason, timeout=timeout)
