"""Supervised OS programs: Erlang's ports, as ordinary children of a supervisor.

A child built by :func:`os_process_spec` runs one program. Its start function spawns the
program, reports ready when the program is ready, then waits for it to exit; the exit
becomes the child's exit (normal, shutdown or crash), so restarts, intensity, strategies
and escalation are the supervisor's, unchanged. What needs care is everything between
the program and the operating system.

Waiting without reaping
-----------------------
Reading a :class:`trio.Process`'s ``returncode`` (``poll()``, ``wait()``, even ``repr``)
reaps it, and a reaped pid, with the process group id that is the same number, can be
reused at once: a later "kill the group" could hit someone else's group. So we wait on
a pidfd of our own (``os.pidfd_open``; readable when the process has exited, without
reaping it), send the group its last SIGKILL while the zombie leader still holds the
number, and only then let trio reap it. Without pidfds (not Linux) ``os.waitid`` with
``WNOWAIT`` waits in a thread; without that either, trio's own wait reaps, and the group
is then not signalled after the leader is gone.

One process group per program
-----------------------------
The program starts in a new session (``setsid``), so it leads its own process group and
has no controlling terminal: a Ctrl-C on the terminal reaches only the Python program,
whose supervisors then stop the programs in reverse start order, each within its budget
(a terminal would otherwise send SIGINT to every program at once). Stopping sends the
stop signal to the whole group, waits inside :func:`cleanup_scope` (so the child's
shutdown budget bounds it), then sends SIGKILL to the group at the kill deadline;
``BRUTAL_KILL`` sends SIGKILL at once. Whenever the leader has exited, by itself or not,
the group gets SIGKILL too, so that grandchildren die with it (systemd's
``KillMode=control-group``, as far as a process group reaches: a grandchild that calls
``setsid`` itself escapes, as it escapes a terminal).

Output
------
stdout and stderr are read 16 KiB at a time and cut into lines, each handed to the
child's logger (or to ``on_output``). A line is buffered up to ``max_line_bytes`` and
then handed on in pieces, so a program that writes 100 MiB without a newline costs at
most that buffer. The readers yield to the scheduler every 64 lines as well as at every
read, so a program that floods its output delays its siblings by one read's worth of
log records at a time, never more. The readers keep reading while the program is being
stopped (a program blocked on a full pipe could not exit), and stop once the group is
gone and the pipes are at end of file, or half a second after that, for a pipe that a
process outside the group keeps open.

When the owner dies by SIGKILL
------------------------------
Nothing in the owner runs then, so the program must notice by itself.
``PR_SET_PDEATHSIG`` cannot do it under Trio: trio spawns from a worker thread, and the
signal fires when that *thread* ends (some seconds later, with the owner alive). By
default the program's stdin is a pipe that trio_otp never closes while the child runs
(Erlang's port contract): a program that reads its stdin gets end of file when its
owner is gone. For programs that do not read stdin, ``kill_when_owner_dies=True`` runs
them under a small guard (``_os_process_helper.py``, erlexec's approach) that kills the
group when its own pipe to the owner reaches end of file.

KeyboardInterrupt
-----------------
The start function is trio_otp's own and KI-protected (the output handler runs inside
it, as log handlers do), so a Ctrl-C is never raised inside a program's bookkeeping: it
reaches the main task, and the tree stops in order, the programs with their stop signal.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, cast, final

import attrs
import trio

from ._checks import check_callable, check_hashable
from ._child import cleanup_scope
from ._child_spec import BRUTAL_KILL, INFINITY, ChildSpec, Restart, ShutdownPolicy
from ._exceptions import OsProcessExited
from ._ki import protected, self_protecting
from ._util import NoPublicConstructor, describe, safe_str

#: How much of a pipe one read takes: the unit of the delay a flooding program can
#: cause its siblings (see the module's docstring).
READ_SIZE = 16 * 1024
#: Lines handled between two yields to the scheduler, within one read.
LINES_PER_YIELD = 64
#: How long the output readers may go on after the group is gone.
DRAIN_SECONDS = 0.5
#: How often a :class:`ReadyOnConnect` tries to connect.
CONNECT_INTERVAL = 0.05
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 1000

_HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_os_process_helper.py")

_POSIX: bool = os.name == "posix"

Stream: TypeAlias = Literal["stdout", "stderr"]


@final
@attrs.frozen
class ReadyAtExec:
    """The program is ready as soon as it runs (the ``exec`` succeeded), like an Erlang port."""


def _compile(pattern: Any) -> Any:
    if isinstance(pattern, str):
        try:
            return re.compile(pattern)
        except re.error as error:
            msg = f"ReadyOnOutput.pattern must be a valid regular expression, got {pattern!r}: {error}"
            raise ValueError(msg) from None
    return pattern


def _check_pattern(_instance: object, _attribute: object, value: Any) -> None:
    shown: Any = value
    if not isinstance(value, re.Pattern) or not isinstance(value.pattern, str):  # pyright: ignore[reportUnknownMemberType]
        msg = f"ReadyOnOutput.pattern must be a str or a compiled str pattern, got {describe(shown)}"
        raise TypeError(msg)


def _check_stream(_instance: object, _attribute: object, value: Any) -> None:
    if value not in ("stdout", "stderr"):
        msg = f"ReadyOnOutput.stream must be 'stdout' or 'stderr', got {describe(value)}"
        raise ValueError(msg)


@final
@attrs.frozen
class ReadyOnOutput:
    """The program is ready when it writes a line that ``pattern`` matches (``re.search``)
    on ``stream``. The line still goes to the log (or ``on_output``) as any other.

    Args:
      pattern: a regular expression, as a str or compiled.
      stream: ``"stdout"`` (the default) or ``"stderr"``.

    Raises:
      TypeError, ValueError: a pattern that is not a valid str regular expression, or
        another stream.
    """

    pattern: re.Pattern[str] = attrs.field(converter=_compile, validator=_check_pattern)
    stream: Literal["stdout", "stderr"] = attrs.field(default="stdout", validator=_check_stream)  # pyright: ignore[reportAssignmentType]


def _check_port(_instance: object, _attribute: object, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"ReadyOnConnect.port must be an int from 1 to 65535 or None, got {describe(value)}"
        raise TypeError(msg)
    if not 1 <= value <= 65535:
        msg = f"ReadyOnConnect.port must be from 1 to 65535, got {value!r}"
        raise ValueError(msg)


def _check_str(owner: str) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, str):
            msg = f"{owner}.{attribute.name} must be a str, got {describe(value)}"
            raise TypeError(msg)

    return check


@final
@attrs.frozen
class ReadyOnConnect:
    """The program is ready when a connection to its socket succeeds: TCP to
    ``(host, port)``, or a Unix socket at ``path``; exactly one of ``port`` and ``path``.
    trio_otp tries every 50 ms and closes each connection at once.

    Raises:
      TypeError, ValueError: neither or both of ``port`` and ``path``, or a port
        outside 1..65535.
    """

    port: int | None = attrs.field(default=None, kw_only=True, validator=_check_port)
    host: str = attrs.field(default="127.0.0.1", kw_only=True, validator=_check_str("ReadyOnConnect"))
    path: str | None = attrs.field(default=None, kw_only=True, validator=_check_str("ReadyOnConnect"))

    def __attrs_post_init__(self) -> None:
        if (self.port is None) == (self.path is None):
            msg = (
                "ReadyOnConnect needs exactly one of port= (a TCP port on host) and path= "
                f"(a Unix socket); got port={self.port!r}, path={self.path!r}"
            )
            raise ValueError(msg)

    def describe(self) -> str:
        return f"Unix socket {self.path}" if self.path is not None else f"TCP {self.host}:{self.port}"


def _check_fd(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"ReadyOnNotification.fd must be an int >= 3, got {describe(value)}"
        raise TypeError(msg)
    if value < 3:
        msg = f"ReadyOnNotification.fd must be >= 3 (0, 1 and 2 are stdin, stdout and stderr), got {value!r}"
        raise ValueError(msg)


@final
@attrs.frozen
class ReadyOnNotification:
    """The program is ready when it writes a newline to file descriptor ``fd`` (s6's
    ``notification-fd``), which it inherits open for writing. Closing it without a
    newline is not readiness; the start timeout then decides.

    When the pipe does not happen to get that number in the owner, the program is
    started through a tiny helper that renumbers it and ``exec``\\ s the program (same pid).

    Raises:
      TypeError, ValueError: an fd that is not an int >= 3.
    """

    fd: int = attrs.field(default=3, validator=_check_fd)


#: How a program tells that it is ready; see :func:`os_process_spec`.
Readiness: TypeAlias = "ReadyAtExec | ReadyOnOutput | ReadyOnConnect | ReadyOnNotification"
_READINESS = (ReadyAtExec, ReadyOnOutput, ReadyOnConnect, ReadyOnNotification)

#: What ``on_output`` is called with: the stream, and one line without its newline.
OutputHandler: TypeAlias = "Callable[[Stream, str], object]"


@final
class OsProcessRef(metaclass=NoPublicConstructor):
    """A handle on one run of a supervised OS program: the reference of a child built by
    :func:`os_process_spec`. A restart runs a new program with a new handle."""

    __slots__ = ("_run", "_stdin")

    def __init__(self, run: _Run, stdin: trio.abc.SendStream | None) -> None:
        self._run = run
        self._stdin = stdin

    @property
    def argv(self) -> tuple[str, ...]:
        """The program and its arguments."""
        return self._run.program.argv

    @property
    def pid(self) -> int:
        """Its process id, which is also its process group's and its session's (under
        ``kill_when_owner_dies=True``, the guard's, the program being in its group)."""
        return self._run.pid

    @property
    def stdin(self) -> trio.abc.SendStream | None:
        """The write end of its stdin (``None`` with ``stdin_lifeline=False``). Writing
        sends it data; closing it gives the program end of file, which a program that
        honours the lifeline takes as the order to exit."""
        return self._stdin

    @property
    def running(self) -> bool:
        """Whether the program has not been seen to exit yet."""
        return not self._run.exited

    def send_signal(self, signum: int, *, group: bool = False) -> None:
        """Send ``signum`` to the program, or to its whole process group. Not a checkpoint.

        Under ``kill_when_owner_dies=True`` the pid is the guard's, which ignores what a
        signal to the group brings: send with ``group=True``.

        Raises:
          ProcessLookupError: the program has exited and been reaped (its pid may
            belong to another process by now, so nothing is sent).
          ValueError: ``group=False`` for a program under the guard (the signal would
            reach the guard, not the program); nothing is sent.
        """
        if self._run.reaped:
            msg = f"program {self.argv[0]!r} (pid {self.pid}) has exited; no signal sent"
            raise ProcessLookupError(msg)
        if not group and self._run.program.kill_when_owner_dies:
            msg = (
                f"send_signal: program {self.argv[0]!r} runs under the guard "
                f"(kill_when_owner_dies=True), so pid {self.pid} is the guard's and a signal to it "
                "would not reach the program; send to its group with group=True. No signal sent"
            )
            raise ValueError(msg)
        if group:
            _kill_group(self.pid, signum)
        else:
            os.kill(self.pid, signum)

    def __repr__(self) -> str:
        state = "running" if self.running else "exited"
        return f"<OsProcessRef {self.argv[0]!r} pid {self.pid} {state}>"


def _kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _to_argv(argv: Any) -> tuple[str, ...]:
    shown: Any = argv
    if isinstance(argv, (str, bytes, os.PathLike)) or not isinstance(argv, Iterable):
        msg = (
            "os_process_spec's argv must be a list of the program and its arguments "
            f"(['sleep', '10'], not 'sleep 10'), got {describe(shown)}"
        )
        raise TypeError(msg)
    items: list[str] = []
    for item in cast("Iterable[object]", argv):
        if isinstance(item, str):
            items.append(item)
        elif isinstance(item, os.PathLike):
            items.append(os.fspath(cast("os.PathLike[str]", item)))
        else:
            msg = f"os_process_spec's argv must hold only str (or path-like) items, got {describe(item)}"
            raise TypeError(msg)
    if not items or not items[0]:
        msg = f"os_process_spec's argv must start with the program to run, got {describe(shown)}"
        raise ValueError(msg)
    for item in items:
        if "\0" in item:
            msg = f"os_process_spec's argv items cannot hold a NUL character, got {item!r}"
            raise ValueError(msg)
    return tuple(items)


def _to_env(env: Any) -> dict[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        msg = f"os_process_spec's env must be a mapping of str to str or None (inherit), got {describe(env)}"
        raise TypeError(msg)
    result: dict[str, str] = {}
    for key, value in cast("Mapping[object, object]", env).items():
        if not isinstance(key, str) or not isinstance(value, str):
            msg = f"os_process_spec's env must map str to str, got {describe(key)}: {describe(value)}"
            raise TypeError(msg)
        if not key or "=" in key or "\0" in key:  # what exec refuses, at each start
            msg = f"os_process_spec's env names must be non-empty and hold no '=' or NUL, got {key!r}"
            raise ValueError(msg)
        if "\0" in value:
            msg = f"os_process_spec's env values must hold no NUL, got {key!r}: {value!r}"
            raise ValueError(msg)
        result[key] = value
    return result


def _to_cwd(cwd: Any) -> str | None:
    if cwd is None:
        return None
    if isinstance(cwd, str):
        return cwd
    if not isinstance(cwd, os.PathLike):
        msg = f"os_process_spec's cwd must be a path (str or path-like) or None, got {describe(cwd)}"
        raise TypeError(msg)
    return os.fspath(cast("os.PathLike[str]", cwd))


def _to_signal(value: Any) -> signal.Signals:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = (
            "os_process_spec's stop_signal must be a signal number (signal.SIGTERM, ...), "
            f"got {describe(value)}"
        )
        raise TypeError(msg)
    try:
        return signal.Signals(value)
    except ValueError:
        msg = f"os_process_spec's stop_signal must be a signal of this system, got {value!r}"
        raise ValueError(msg) from None


def _to_statuses(values: Any) -> frozenset[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        msg = f"os_process_spec's clean_exit_statuses must be a collection of ints, got {describe(values)}"
        raise TypeError(msg)
    result: set[int] = set()
    for value in cast("Iterable[object]", values):
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"os_process_spec's clean_exit_statuses must hold ints from 0 to 255, got {describe(value)}"
            raise TypeError(msg)
        if not 0 <= value <= 255:
            msg = (
                f"os_process_spec's clean_exit_statuses must hold exit statuses from 0 to 255, got "
                f"{value!r} (a death by signal is never clean, except by the stop signal while stopping)"
            )
            raise ValueError(msg)
        result.add(value)
    return frozenset(result)


def _to_start_timeout(value: Any) -> float:
    rule = "os_process_spec's start_timeout must be a number of seconds > 0 or None"
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{rule}, got {describe(value)}"
        raise TypeError(msg)
    if not value > 0:
        msg = f"{rule}, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _check_flag(value: object, argument: str) -> bool:
    if not isinstance(value, bool):
        msg = f"os_process_spec's {argument} must be True or False, got {describe(value)}"
        raise TypeError(msg)
    return value


@attrs.frozen
class _Program:
    """Everything a run needs, checked once when the spec is built."""

    id: Hashable
    argv: tuple[str, ...]
    env: dict[str, str] | None
    cwd: str | None
    ready: Readiness
    start_timeout: float
    stop_signal: signal.Signals
    clean_exit_statuses: frozenset[int]
    on_output: OutputHandler | None
    max_line_bytes: int
    stdin_lifeline: bool
    kill_when_owner_dies: bool
    shutdown: ShutdownPolicy
    logger: logging.Logger


def os_process_spec(
    id: Hashable,  # noqa: A002
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    ready: ReadyAtExec | ReadyOnOutput | ReadyOnConnect | ReadyOnNotification = ReadyAtExec(),
    start_timeout: float | None = 10.0,
    stop_signal: int = signal.SIGTERM,
    clean_exit_statuses: Iterable[int] = (),
    on_output: Callable[[str, str], object] | None = None,
    max_line_bytes: int = 64 * 1024,
    stdin_lifeline: bool = True,
    kill_when_owner_dies: bool = False,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
    significant: bool = False,
) -> ChildSpec[OsProcessRef]:
    """A :class:`ChildSpec` whose child runs an OS program (Erlang's port); POSIX only.

    Each start (and restart) runs ``argv`` afresh, in its own session and process group,
    and is over when ``ready`` says the program is ready; the child's reference is an
    :class:`OsProcessRef`. The program's exit is the child's exit:

    ======================================================== ==========================
    the program ...                                          the child ...
    ======================================================== ==========================
    exits with status 0, or one of ``clean_exit_statuses``   returns (a *normal* exit)
    ends by ``stop_signal`` (or exits 0, a clean status or   is stopped (*shutdown*), no
    128 + ``stop_signal``) while its supervisor stops it     error report
    is killed by the SIGKILL at its kill deadline            is stopped; the supervisor
                                                             reports the budget overrun
    does anything else                                       crashes with
                                                             :class:`OsProcessExited`
    ======================================================== ==========================

    Args:
      id: the child's id.
      argv: the program and its arguments (a list, not a command line; no shell).
      env: the program's whole environment, names to values (str; a name non-empty and
        without ``=`` or NUL, a value without NUL); ``None`` (the default) inherits the owner's.
      cwd: its working directory; ``None`` inherits the owner's.
      ready: when the start is over: :class:`ReadyAtExec` (the default),
        :class:`ReadyOnOutput`, :class:`ReadyOnConnect` or :class:`ReadyOnNotification`.
      start_timeout: seconds the program has to become ready, or ``None`` for ever.
        Then it is stopped as below, and the start fails with a :exc:`TimeoutError`
        naming the program (a :class:`ChildStartError` from the supervisor).
      stop_signal: what stopping sends to the program's group first (SIGTERM). Then
        SIGKILL to the group at the kill deadline (``shutdown`` seconds after the
        stop began); at once with :data:`BRUTAL_KILL`; never with :data:`INFINITY`.
      clean_exit_statuses: exit statuses (0 to 255) that count as a normal exit, like 0.
      on_output: called with ``(stream, line)`` for each line of stdout and stderr
        (``"stdout"`` or ``"stderr"``, the line decoded as UTF-8 with replacement,
        without its newline), in the child's task: keep it quick, and an exception it
        raises crashes the child. ``None`` (the default) logs each line at INFO on the
        logger ``trio_otp.os_process.<id>``, with ``child_id``, ``stream`` and ``pid`` in
        the record (``otp_report="os_process_output"``).
      max_line_bytes: the longest line held in memory; a longer one is handed on in
        pieces of this size.
      stdin_lifeline: the program's stdin is a pipe from the owner, open while the
        child runs (:attr:`OsProcessRef.stdin`), so that the program reads end of file
        when its owner dies; ``False`` gives it ``/dev/null``.
      kill_when_owner_dies: run the program under a small guard process that kills its
        group when the owner dies, even by SIGKILL; for programs that do not read stdin.
        Costs a Python interpreter's start (tens of milliseconds) and a process of
        some 10 MB per program.
      restart, shutdown, significant: as for :class:`ChildSpec`; ``shutdown`` is the
        program's budget between its stop signal and SIGKILL.

    Raises:
      TypeError, ValueError: an argument of the wrong type or out of its range.
      NotImplementedError: not a POSIX system.
    """
    if not _POSIX:
        msg = "os_process_spec needs a POSIX system: it relies on sessions, process groups and signals"
        raise NotImplementedError(msg)
    check_hashable(id, "os_process_spec's id")
    unchecked: object = ready
    if not isinstance(unchecked, _READINESS):  # pyright: ignore[reportUnnecessaryIsInstance]
        msg = (
            "os_process_spec's ready must be ReadyAtExec(), ReadyOnOutput(pattern), "
            f"ReadyOnConnect(port=... or path=...) or ReadyOnNotification(fd), got {describe(ready)}"
        )
        raise TypeError(msg)
    timeout = _to_start_timeout(start_timeout)
    if on_output is not None:
        check_callable(on_output, "os_process_spec's on_output", "a callable taking (stream, line) or None")
    if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int):  # pyright: ignore[reportUnnecessaryIsInstance]
        msg = f"os_process_spec's max_line_bytes must be an int >= 1, got {describe(max_line_bytes)}"
        raise TypeError(msg)
    if max_line_bytes < 1:
        msg = f"os_process_spec's max_line_bytes must be >= 1, got {max_line_bytes!r}"
        raise ValueError(msg)
    program = _Program(
        id=id,
        argv=_to_argv(argv),
        env=_to_env(env),
        cwd=_to_cwd(cwd),
        ready=ready,
        start_timeout=timeout,
        stop_signal=_to_signal(stop_signal),
        clean_exit_statuses=_to_statuses(clean_exit_statuses),
        on_output=on_output,
        max_line_bytes=max_line_bytes,
        stdin_lifeline=_check_flag(stdin_lifeline, "stdin_lifeline"),
        kill_when_owner_dies=_check_flag(kill_when_owner_dies, "kill_when_owner_dies"),
        shutdown=shutdown,
        logger=logging.getLogger(f"trio_otp.os_process.{safe_str(id)}"),
    )
    # ChildSpec checks restart, shutdown and significant, with its own messages.
    spec: ChildSpec[OsProcessRef] = ChildSpec(
        id, _run_os_process, args=(program,), restart=restart, shutdown=shutdown, significant=significant
    )
    object.__setattr__(program, "shutdown", spec.shutdown)  # the converted policy
    return spec


@self_protecting
@protected
async def _run_os_process(program: _Program, *, task_status: trio.TaskStatus[OsProcessRef]) -> None:
    """The start function of an :func:`os_process_spec` child."""
    await _Run(program).run(task_status)


def _resolve(program: _Program) -> str:
    """The executable's path, for the helper, which ``exec``\\ s without a PATH search.
    Raises what ``subprocess`` would: FileNotFoundError, PermissionError."""
    name = program.argv[0]
    if os.sep in name:
        path = name if program.cwd is None else os.path.join(program.cwd, name)
        if not os.path.exists(path):
            msg = f"program {name!r} does not exist"
            raise FileNotFoundError(msg)
        if not os.access(path, os.X_OK):
            msg = f"program {name!r} is not executable"
            raise PermissionError(msg)
        return path
    search = (program.env if program.env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=search)
    if found is None:
        msg = f"program {name!r} was not found on PATH ({search})"
        raise FileNotFoundError(msg)
    return found


class _Run:
    """One run of a program: spawn, readiness, exit, stop, output."""

    def __init__(self, program: _Program) -> None:
        self.program: _Program = program
        self.pid: int = 0
        self.exited: bool = False  # the pidfd said so; not reaped yet
        self.reaped: bool = False
        self.killed: bool = False  # we sent SIGKILL to stop it
        self.stop_sent: bool = False  # we sent the stop signal
        self.pidfd: int | None = None
        self.ready_seen: trio.Event = trio.Event()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.readers: list[trio.CancelScope] = []
        self.readers_done: int = 0
        self.readers_finished: trio.Event = trio.Event()
        self.notify_note: str = ""
        self.started: bool = False
        self.process: trio.Process

    # -- the run -------------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[OsProcessRef]) -> None:
        program = self.program
        notify_read, lifeline_write, process = await self._spawn()
        self.process = process
        ref = OsProcessRef._create(self, process.stdin)
        error: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                assert process.stdout is not None
                assert process.stderr is not None
                nursery.start_soon(self._read_lines, process.stdout, "stdout")
                nursery.start_soon(self._read_lines, process.stderr, "stderr")
                # Our own errors are raised after the nursery, not from inside it, so that
                # they reach the supervisor as themselves rather than in a group.
                try:
                    if await self._wait_ready(notify_read):
                        task_status.started(ref)
                        await self._wait_exit()
                except Exception as exc:  # a start that timed out
                    await self._finish()
                    error = exc
                except BaseException as exc:  # Cancelled: the supervisor stops us
                    await self._finish()
                    error = self._stop_outcome(exc)
                    if error is None:
                        raise
                else:
                    await self._finish()
        finally:
            with trio.CancelScope(shield=True):
                if not self.reaped:  # the spawn's own error paths, or a bug: never leak it
                    _kill_group(self.pid, signal.SIGKILL)
                    await process.wait()
                    self.reaped = True
                for stream in (process.stdin, process.stdout, process.stderr):
                    if stream is not None:
                        await stream.aclose()
                if notify_read is not None:
                    await notify_read.aclose()
                if lifeline_write is not None:
                    os.close(lifeline_write)
        if error is not None:
            raise error
        status = process.returncode
        if not self.started:
            raise self._exited_error(status, " before it was ready")
        if status == 0 or status in program.clean_exit_statuses:
            return
        raise self._exited_error(status, "")

    async def _spawn(self) -> tuple[trio.lowlevel.FdStream | None, int | None, trio.Process]:
        program = self.program
        command = list(program.argv)
        pass_fds: list[int] = []
        notify_read: int | None = None
        close_after: list[int] = []
        lifeline_write: int | None = None
        try:
            notify = (-1, -1)
            if isinstance(program.ready, ReadyOnNotification):
                notify_read, notify_write = os.pipe()
                close_after.append(notify_write)
                pass_fds.append(notify_write)
                notify = (notify_write, program.ready.fd)
            helper = [sys.executable, "-I", "-S", _HELPER]
            if program.kill_when_owner_dies:
                lifeline_read, lifeline_write = os.pipe()
                close_after.append(lifeline_read)
                pass_fds.append(lifeline_read)
                command = [*helper, "guard", str(lifeline_read), str(int(program.stop_signal))]
                command += [str(notify[0]), str(notify[1]), _resolve(program), *program.argv[1:]]
            elif notify[0] >= 0 and notify[0] != notify[1]:
                command = [*helper, "exec", str(notify[0]), str(notify[1])]
                command += [_resolve(program), *program.argv[1:]]
            process = await trio.lowlevel.open_process(
                command,
                stdin=subprocess.PIPE if program.stdin_lifeline else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=program.env,
                cwd=program.cwd,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        except BaseException:
            if notify_read is not None:
                os.close(notify_read)
            if lifeline_write is not None:
                os.close(lifeline_write)
            raise
        finally:
            for fd in close_after:
                os.close(fd)
        self.pid = process.pid
        try:
            self.pidfd = os.pidfd_open(process.pid) if hasattr(os, "pidfd_open") else None
        except OSError:  # an old kernel; the process cannot have been reaped yet
            self.pidfd = None
        stream = trio.lowlevel.FdStream(notify_read) if notify_read is not None else None
        return stream, lifeline_write, process

    # -- readiness -----------------------------------------------------------------------

    async def _wait_ready(self, notify: trio.lowlevel.FdStream | None) -> bool:
        """Whether the program became ready (``False``: it exited first). A checkpoint.

        Raises:
          TimeoutError: neither within the start timeout.
        """
        program = self.program
        if isinstance(program.ready, ReadyAtExec):
            self.started = True
            return True
        ready = False
        with trio.move_on_after(program.start_timeout):
            async with trio.open_nursery() as race:

                @protected
                async def until_ready() -> None:
                    nonlocal ready
                    await self._readiness(notify)
                    ready = True
                    race.cancel_scope.cancel()

                @protected
                async def until_exit() -> None:
                    await self._wait_exit()
                    race.cancel_scope.cancel()

                race.start_soon(until_ready)
                race.start_soon(until_exit)
        if not ready and self.exited:
            ready = await self._ready_before_exit(notify)
        if ready:
            self.started = True
            if notify is not None:
                await notify.aclose()  # nothing more to hear; a chatty program must not fill it
            return True
        if self.exited:
            return False
        msg = (
            f"program {_show(program.argv)} (pid {self.pid}) was not ready within "
            f"{program.start_timeout:g} s (waiting for {self._waiting_for()}){self.notify_note}"
        )
        raise TimeoutError(msg)

    async def _ready_before_exit(self, notify: trio.lowlevel.FdStream | None) -> bool:
        """After the program exited first: whether what it wrote before it exited says it
        was ready. Its exit can win the race against the reading of its output (a program
        that says it is ready and ends at once), so the pipes are drained first, for at
        most :data:`DRAIN_SECONDS`. A checkpoint."""
        ready = self.program.ready
        with trio.move_on_after(DRAIN_SECONDS):
            if isinstance(ready, ReadyOnOutput):
                await self.readers_finished.wait()  # a line is handled before the end of file
            elif isinstance(ready, ReadyOnNotification) and notify is not None:
                while data := await notify.receive_some(4096):
                    if b"\n" in data:
                        return True
        await trio.lowlevel.checkpoint()
        return self.ready_seen.is_set()

    def _waiting_for(self) -> str:
        ready = self.program.ready
        if isinstance(ready, ReadyOnOutput):
            return f"a line on {ready.stream} matching {ready.pattern.pattern!r}"
        if isinstance(ready, ReadyOnConnect):
            return f"a connection to {ready.describe()}"
        if isinstance(ready, ReadyOnNotification):
            return f"a newline on fd {ready.fd}"
        return "its exec"  # pragma: no cover - ReadyAtExec does not wait

    async def _readiness(self, notify: trio.lowlevel.FdStream | None) -> None:
        ready = self.program.ready
        if isinstance(ready, ReadyOnOutput):
            await self.ready_seen.wait()
        elif isinstance(ready, ReadyOnConnect):
            while True:
                try:
                    if ready.path is not None:
                        connection: trio.abc.Stream = await trio.open_unix_socket(ready.path)
                    else:
                        assert ready.port is not None
                        connection = await trio.open_tcp_stream(ready.host, ready.port)
                except OSError:
                    await trio.sleep(CONNECT_INTERVAL)
                else:
                    await connection.aclose()
                    return
        elif isinstance(ready, ReadyOnNotification):
            assert notify is not None
            while True:
                data = await notify.receive_some(4096)
                if not data:
                    self.notify_note = f"; it closed fd {ready.fd} without writing a newline"
                    await trio.sleep_forever()
                if b"\n" in data:
                    return

    # -- exit and stop -------------------------------------------------------------------

    async def _wait_exit(self) -> None:
        """Wait until the program has exited, without reaping it. A checkpoint."""
        if self.exited:
            await trio.lowlevel.checkpoint()
            return
        if self.pidfd is not None:
            await trio.lowlevel.wait_readable(self.pidfd)
        elif hasattr(os, "waitid"):
            pid = self.pid
            await trio.to_thread.run_sync(
                lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT), abandon_on_cancel=True
            )
        else:  # pragma: no cover - neither pidfd nor waitid: trio's wait reaps
            self.exited = True
            return
        self.exited = True

    async def _finish(self) -> None:
        """Stop the program if it runs (stop signal, budget, SIGKILL), kill what is left of
        its group, reap it, and let the output readers drain. Shielded where it must be."""
        if not self.exited:
            await self._stop()
        with trio.CancelScope(shield=True):
            if self.pidfd is not None or hasattr(os, "waitid"):
                _kill_group(self.pid, signal.SIGKILL)  # grandchildren go with the leader
            await self.process.wait()  # reaps; the pid may be reused from here on
            self.reaped = True
            if self.pidfd is not None:
                trio.lowlevel.notify_closing(self.pidfd)
                os.close(self.pidfd)
                self.pidfd = None
            with trio.move_on_after(DRAIN_SECONDS):
                await self.readers_finished.wait()
            for reader in self.readers:
                reader.cancel()

    async def _stop(self) -> None:
        program = self.program
        with cleanup_scope() as scope:
            if program.shutdown is BRUTAL_KILL:
                scope.deadline = -math.inf
            elif program.shutdown is not INFINITY:
                # Outside a supervisor's stop (a start timeout, a crashing reader) the
                # child's kill deadline is not set; the budget still bounds the wait.
                assert isinstance(program.shutdown, float)
                scope.deadline = min(scope.deadline, trio.current_time() + program.shutdown)
            if scope.deadline > trio.current_time():
                self.stop_sent = True
                _kill_group(self.pid, program.stop_signal)
                await self._wait_exit()
        if not self.exited:
            self.killed = True
            _kill_group(self.pid, signal.SIGKILL)
            with trio.CancelScope(shield=True):
                await self._wait_exit()

    def _stop_outcome(self, error: BaseException) -> OsProcessExited | None:
        """After a stop: the crash to raise instead of the cancellation, if the program
        ended otherwise than a stop allows."""
        if not isinstance(error, trio.Cancelled):
            return None  # our own start error or a reader's: that is the story
        status = self._returncode()
        stop = int(self.program.stop_signal)
        if status is None or status == 0 or status in self.program.clean_exit_statuses:
            return None
        if self.stop_sent and status in (-stop, 128 + stop):
            return None
        if self.killed and status == -signal.SIGKILL:
            return None
        return self._exited_error(status, " while it was being stopped")

    def _returncode(self) -> int | None:
        if not self.reaped:
            return None
        # Only read after the reap, when looking no longer costs anything.
        return self.process.returncode

    # -- output --------------------------------------------------------------------------

    @protected
    async def _read_lines(self, stream: trio.abc.ReceiveStream, name: Stream) -> None:
        limit = self.program.max_line_bytes
        pending = bytearray()
        handled = 0
        with trio.CancelScope(shield=True) as scope:
            self.readers.append(scope)
            try:
                while True:
                    try:
                        data = await stream.receive_some(READ_SIZE)
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        data = b""
                    if not data:
                        break
                    start = 0
                    while True:
                        end = data.find(b"\n", start)
                        if end < 0:
                            break
                        if pending:
                            pending += data[start:end]
                            line: bytes | bytearray = bytes(pending)
                            pending.clear()
                        else:
                            line = data[start:end]
                        for piece in range(0, max(len(line), 1), limit):  # a long line in pieces
                            self._line(name, line[piece : piece + limit])
                        start = end + 1
                        handled += 1
                        if handled % LINES_PER_YIELD == 0:
                            await trio.lowlevel.checkpoint()
                    rest = memoryview(data)[start:]
                    while len(pending) + len(rest) > limit:  # a line of exactly limit stays whole
                        take = limit - len(pending)
                        pending += rest[:take]
                        rest = rest[take:]
                        self._line(name, bytes(pending))
                        pending.clear()
                    pending += rest
                if pending:
                    self._line(name, bytes(pending))
            finally:
                self.readers_done += 1
                if self.readers_done == 2:
                    self.readers_finished.set()

    def _line(self, name: Stream, raw: bytes | bytearray) -> None:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        program = self.program
        if name == "stderr":
            self.stderr_tail.append(text[:STDERR_TAIL_CHARS])
        ready = program.ready
        if (
            isinstance(ready, ReadyOnOutput)
            and ready.stream == name
            and not self.ready_seen.is_set()
            and ready.pattern.search(text)
        ):
            self.ready_seen.set()
        if program.on_output is not None:
            program.on_output(name, text)
            return
        logger = program.logger
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s: %s",
                name,
                text,
                extra={
                    "otp_report": "os_process_output",
                    "child_id": program.id,
                    "stream": name,
                    "pid": self.pid,
                },
            )

    # -- reports -------------------------------------------------------------------------

    def _exited_error(self, status: int | None, when: str) -> OsProcessExited:
        if status is None:
            status = self._returncode()
        argv = self.program.argv
        exit_status = status if status is not None and status >= 0 else None
        number = -status if status is not None and status < 0 else None
        if number is not None:
            try:
                how = f"was killed by {signal.Signals(number).name}"
            except ValueError:
                how = f"was killed by signal {number}"
        elif exit_status is not None:
            how = f"exited with status {exit_status}"
        else:
            how = "exited"
        tail = tuple(self.stderr_tail)
        last = "; last stderr: " + " | ".join(tail[-5:]) if tail else "; nothing on stderr"
        return OsProcessExited(
            f"program {_show(argv)} (pid {self.pid}) {how}{when}{last}",
            argv=argv,
            pid=self.pid,
            exit_status=exit_status,
            signal=number,
            stderr_tail=tail,
        )


def _show(argv: tuple[str, ...]) -> str:
    shown = " ".join(argv)
    return repr(shown if len(shown) <= 200 else shown[:197] + "...")
