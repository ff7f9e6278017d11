"""The small program that sits between trio_otp and a supervised OS program.

It runs as ``python -I -S <this file> MODE ...`` (no ``site``, no trio_otp import: the
standard library only, so it starts in milliseconds) and has two modes:

``exec NOTIFY_FROM NOTIFY_TO PROGRAM ARG...``
  Moves the notification pipe from the fd number it happened to get in the parent
  (``NOTIFY_FROM``) to the number the program expects (``NOTIFY_TO``), then ``exec``\\ s the
  program: same pid, nothing left behind. Python's ``subprocess`` can keep an fd open
  in a child but not renumber it without ``preexec_fn``, which is unsafe in a threaded
  parent (Trio spawns from a worker thread), and ``dash`` accepts single-digit fds only.

``guard LIFELINE STOP_SIGNAL NOTIFY_FROM NOTIFY_TO PROGRAM ARG...``
  erlexec's answer to a parent that dies by SIGKILL: it forks the program into its own
  process group (the session trio_otp made for it), then waits for either of two things.
  The program exits: the guard exits the same way (the same status, or death by the same
  signal), so trio_otp's exit mapping sees the program's ending. The pipe from trio_otp
  (``LIFELINE``, which trio_otp never writes to) reaches end of file, which happens only
  when every trio_otp copy of its other end is closed, that is when the owner is gone:
  the guard then sends SIGKILL to the whole group, itself included. A signal sent to
  the group (the stop signal, or ``send_signal(..., group=True)``) reaches the guard
  too; the guard ignores every signal that would end it (handlers that do nothing,
  which ``exec`` resets for the program) and waits for the program.

``NOTIFY_FROM`` and ``NOTIFY_TO`` are ``-1`` when there is no notification fd.
"""

from __future__ import annotations

import os
import select
import signal
import sys


def _move_notification_fd(notify_from: int, notify_to: int) -> None:
    if notify_from >= 0 and notify_from != notify_to:
        os.dup2(notify_from, notify_to, inheritable=True)
        os.close(notify_from)


def _exec(notify_from: int, notify_to: int, argv: list[str]) -> None:
    _move_notification_fd(notify_from, notify_to)
    os.execv(argv[0], argv)


#: What a signal to the group may carry that would end the guard before its program.
#: Faults (SIGSEGV, ...) are not here: a handler that ignores one would loop for ever.
_FOR_THE_PROGRAM = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM")


def _ignore(_signum: int, _frame: object) -> None:
    pass  # the signal is for the program; the guard follows the program's lead


def _guard(lifeline: int, stop_signal: int, notify_from: int, notify_to: int, argv: list[str]) -> int:
    os.fstat(lifeline)  # raises for a bad fd, before a pipe of ours could take its number
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, _ignore)  # before the fork: an early exit still wakes us
    ignored = {getattr(signal, name) for name in _FOR_THE_PROGRAM if hasattr(signal, name)}
    if stop_signal not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):  # uncatchable, or ours
        ignored.add(stop_signal)
    for number in ignored:
        signal.signal(number, _ignore)
    pid = os.fork()
    if pid == 0:  # the program: Python handlers become SIG_DFL at exec
        try:
            signal.set_wakeup_fd(-1)
            os.close(wake_read)
            os.close(wake_write)
            os.close(lifeline)
            _move_notification_fd(notify_from, notify_to)
            os.execv(argv[0], argv)
        except BaseException as error:
            print(f"trio_otp guard: cannot run {argv[0]}: {error}", file=sys.stderr)
        os._exit(127)
    if notify_from >= 0:
        os.close(notify_from)
    # poll(), not select(): the lifeline keeps trio_otp's fd number, which is >= 1024
    # (beyond select's FD_SETSIZE) in an owner with many files open.
    waiting = select.poll()
    waiting.register(lifeline, select.POLLIN)
    waiting.register(wake_read, select.POLLIN)
    while True:
        readable = {fd for fd, _events in waiting.poll()}
        if lifeline in readable and not os.read(lifeline, 1):  # POLLHUP reads as end of file
            os.killpg(0, signal.SIGKILL)  # the owner is gone: the whole group goes
        if wake_read in readable:
            try:
                os.read(wake_read, 512)
            except BlockingIOError:
                pass
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number  # a signal that does not end a process (it was stopped, say)
    return os.waitstatus_to_exitcode(status)


def main(arguments: list[str]) -> int:
    mode = arguments[0]
    if mode == "exec":
        _exec(int(arguments[1]), int(arguments[2]), arguments[3:])
        return 127  # pragma: no cover - execv does not return
    if mode == "guard":
        numbers = [int(value) for value in arguments[1:5]]
        return _guard(numbers[0], numbers[1], numbers[2], numbers[3], arguments[5:])
    print(f"trio_otp helper: unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
