"""Running a supervision tree as a program: signals in, an exit status out.

:func:`run_application` runs a root :class:`Supervisor` until one of three things
happens:

* SIGINT or SIGTERM arrives: the tree is shut down in order, every child within its own
  budget, and the program's status is 0, because it did what it was asked;
* the root gives up (:class:`RestartIntensityExceeded`) or cannot start
  (:class:`ChildStartError`): everything is already stopped; a report saying which child
  failed, how often and why goes to the log and to standard error, and the status is 1,
  so the service manager above (systemd, Kubernetes) can restart the program: supervision
  all the way up;
* the root ends by itself (an auto-shutdown): status 0.

While the tree shuts down, further signals are ignored: the budgets are what bound the
shutdown, and a second Ctrl-C does not cut them short.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Iterable
from typing import TextIO

import trio

from ._exceptions import ChildStartError, RestartIntensityExceeded
from ._supervisor import Supervisor, SupervisorRef

logger = logging.getLogger("trio_otp.application")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_application(
    tree: Supervisor,
    *,
    shutdown_signals: Iterable[int] = SHUTDOWN_SIGNALS,
    report: TextIO | None = None,
) -> int:
    """Run ``tree`` as the program's root supervisor; return the exit status.

    Use it as ``sys.exit(trio_otp.run_application(tree))``. Runs :func:`trio.run`, so call
    it from the main thread outside Trio. ``report`` (default standard error) receives the
    failure report when the root gives up.
    """
    return trio.run(serve_application, tree, tuple(shutdown_signals), report)


async def serve_application(
    tree: Supervisor,
    shutdown_signals: Iterable[int] = SHUTDOWN_SIGNALS,
    report: TextIO | None = None,
    *,
    task_status: trio.TaskStatus[SupervisorRef] = trio.TASK_STATUS_IGNORED,
) -> int:
    """:func:`run_application` inside a running Trio program; returns the exit status."""
    failure: BaseException | None = None
    with trio.open_signal_receiver(*shutdown_signals) as signals:
        async with trio.open_nursery() as nursery:

            async def run_tree(*, task_status: trio.TaskStatus[SupervisorRef]) -> None:
                nonlocal failure
                try:
                    await tree.run(task_status=task_status)
                except (RestartIntensityExceeded, ChildStartError) as error:
                    failure = error
                finally:
                    nursery.cancel_scope.cancel()

            try:
                root = await nursery.start(run_tree)
            except ChildStartError as error:
                failure = error
            else:
                task_status.started(root)
                async for signum in signals:
                    logger.info(
                        "received %s: shutting the tree down",
                        signal.Signals(signum).name,
                        extra={"otp_report": "shutdown_requested", "signal": signum},
                    )
                    nursery.cancel_scope.cancel()
                    break
    if failure is None:
        return 0
    _report(failure, report if report is not None else sys.stderr)
    return 1


def _report(failure: BaseException, out: TextIO) -> None:
    lines = ["trio_otp: the application stopped because its root supervisor gave up."]
    cause: BaseException | None = failure
    depth = 0
    innermost = failure
    while cause is not None:
        indent = "  " * depth
        if isinstance(cause, RestartIntensityExceeded):
            lines.append(
                f"{indent}- supervisor {cause.supervisor}: child {cause.child_id!r} failed "
                f"{cause.max_restarts + 1} times within {cause.max_seconds:g} s"
            )
        elif isinstance(cause, ChildStartError):
            lines.append(f"{indent}- supervisor {cause.supervisor}: child {cause.child_id!r} could not start")
        else:
            lines.append(f"{indent}- because: {cause!r}")
        innermost = cause
        next_cause = cause.__cause__
        if next_cause is None and isinstance(cause, ChildStartError):
            next_cause = cause.reason  # trio < 0.34 may have cleared __cause__
        cause = next_cause
        depth += 1
    text = "\n".join(lines)
    logger.error(text, extra={"otp_report": "application_failed"})
    print(text, file=out)
    if innermost is not failure:
        print("".join(traceback.format_exception(innermost)).rstrip(), file=out)
