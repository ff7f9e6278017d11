"""Monitors: be told, once, when a server ends and why (OTP's ``erlang:monitor``).

A monitor is one-way and one-shot: it does not link the watcher's fate to the target's,
and it fires exactly once, when the target ends (at once if it already has), unless it
was removed with :meth:`Monitor.demonitor` first. The notice can be awaited by any task
(:meth:`Monitor.wait`) and, if ``notify`` is given, also arrives as a :class:`Down`
message in that server's ``handle_info``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, final

import attrs
import trio

from ._checks import check_instance
from ._exceptions import MailboxFull, ServerNotRunning
from ._gen_server import logger
from ._ki import protected
from ._server_ref import ServerRef, lookup
from ._util import NoPublicConstructor


@attrs.frozen
class Down:
    """A monitored server has ended (OTP's ``{'DOWN', Ref, process, Pid, Reason}``).

    ``reason`` is ``None`` for a normal exit, a :class:`Shutdown` for a shutdown, the
    exception for a crash. ``already_ended`` is true when the server had ended before the
    monitor was made (OTP's ``noproc``).
    """

    monitor: Monitor
    target: ServerRef[Any, Any]
    reason: BaseException | None
    already_ended: bool = False


@final
class Monitor(metaclass=NoPublicConstructor):
    """A watch on one server; made by :func:`monitor`."""

    __slots__ = ("_down", "_event", "_notify", "_removed", "target")

    def __init__(self, target: ServerRef[Any, Any], notify: ServerRef[Any, Any] | None) -> None:
        self.target: ServerRef[Any, Any] = target
        self._notify = notify
        self._event = trio.Event()
        self._down: Down | None = None
        self._removed = False

    def __repr__(self) -> str:
        state = "down" if self._down else "removed" if self._removed else "watching"
        return f"<Monitor of {self.target!r} ({state})>"

    async def wait(self) -> Down:
        """Wait until the target ends; returns the :class:`Down` notice. A checkpoint.

        Raises:
          RuntimeError: the monitor was removed before the target ended, so it never will fire.
        """
        await self._event.wait()
        if self._down is None:
            msg = f"{self!r} was removed before its target ended"
            raise RuntimeError(msg)
        return self._down

    @property
    def down(self) -> Down | None:
        """The notice, once the target has ended; ``None`` before."""
        return self._down

    @protected
    def demonitor(self) -> bool:
        """Stop watching. Returns ``True`` if the notice had not fired yet (it now never
        will), ``False`` if it already had. Not a checkpoint."""
        if self._down is not None or self._removed:
            return False
        self._removed = True
        self._detach()
        self._event.set()
        return True

    def _detach(self) -> None:
        monitors = self.target._process.monitors
        if monitors is not None:
            monitors.pop(self, None)
        if self._notify is not None:
            watching = self._notify._process.watching
            if watching is not None:
                watching.pop(self, None)

    @protected
    def _fire(self, reason: BaseException | None, *, already_ended: bool = False) -> None:
        if self._down is not None or self._removed:
            return
        self._down = Down(self, self.target, reason, already_ended)
        self._detach()
        self._event.set()
        if self._notify is not None:
            try:
                self._notify.send(self._down)
            except ServerNotRunning:
                pass  # the watcher has ended too: nobody left to tell
            except MailboxFull:
                logger.warning(
                    "monitor notice for %r dropped: the mailbox of %r is full (the wait() still fires)",
                    self.target,
                    self._notify,
                    extra={"otp_report": "monitor_notice_dropped"},
                )


@protected
def monitor(target: ServerRef[Any, Any] | Hashable, *, notify: ServerRef[Any, Any] | None = None) -> Monitor:
    """Watch ``target`` (a :class:`ServerRef` or a server name) until it ends.

    With ``notify``, the :class:`Down` notice is also sent to that server as a message.
    Not a checkpoint.

    Raises:
      ServerNotRunning: ``target`` is a name that no server has.
      TypeError: ``notify`` is neither None nor a :class:`ServerRef`, or ``target`` is
        neither a ServerRef nor a hashable name (checked before anything is attached).
    """
    if notify is not None:
        check_instance(notify, ServerRef, "monitor's notify", "None or a ServerRef")
    ref = lookup(target)
    made = Monitor._create(ref, notify)
    process = ref._process
    if process.closed:
        made._fire(process.exit_reason, already_ended=True)
    else:
        # Also while the server is in terminate: it has not ended yet, and its reason is
        # not known until it has.
        if process.monitors is None:
            process.monitors = {}
        process.monitors[made] = None
        if notify is not None:
            if notify._process.watching is None:
                notify._process.watching = {}
            notify._process.watching[made] = None
    return made
