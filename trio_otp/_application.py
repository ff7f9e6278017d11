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
shutdown, and a second Ctrl-C does not cut them short (a service manager that wants it
faster sends SIGKILL after its own timeout, as systemd's ``TimeoutStopSec`` does). They
are consumed, not left pending: Trio's signal receiver re-raises pending signals when it
closes, which would turn a second Ctrl-C into a stray KeyboardInterrupt or a SIGTERM
into death by signal after a clean shutdown.

Signals are listened for from the first moment: one that arrives while the root is still
starting (a child that never becomes ready, say) stops the start, and the children
already started, in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Generator, Iterable
from types import FrameType
from typing import Any, TextIO, cast

import trio

from ._backend import require_trio
from ._dynamic_supervisor import DynamicSupervisor
from ._exceptions import ChildStartError, RestartIntensityExceeded
from ._ki import protected
from ._log_fields import error_fields
from ._observer import (
    ObservedApplication,
    ObserverEndpoint,
    as_endpoint,
    forwarding,
    listening_address,
    observing,
    serve_observer,
)
from ._supervisor import Supervisor
from ._task_supervisor import TaskSupervisor
from ._util import describe, safe_repr

logger = logging.getLogger("trio_otp.application")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Tree = Supervisor | DynamicSupervisor | TaskSupervisor


def _check_arguments(tree: object, shutdown_signals: object, report: object) -> tuple[int, ...]:
    if not isinstance(tree, (Supervisor, DynamicSupervisor, TaskSupervisor)):
        msg = (
            f"tree must be a Supervisor, DynamicSupervisor or TaskSupervisor definition, got {describe(tree)}"
        )
        raise TypeError(msg)
    if isinstance(shutdown_signals, (str, bytes)) or not isinstance(shutdown_signals, Iterable):
        msg = f"shutdown_signals must be an iterable of signal numbers, got {describe(shutdown_signals)}"
        raise TypeError(msg)
    signals: tuple[object, ...] = tuple(shutdown_signals)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    if not signals:
        msg = "shutdown_signals must name at least one signal (default: SIGINT and SIGTERM)"
        raise ValueError(msg)
    for signum in signals:
        if isinstance(signum, bool) or not isinstance(signum, int):
            msg = f"shutdown_signals must hold signal numbers (signal.SIGTERM, ...), got {describe(signum)}"
            raise TypeError(msg)
        try:
            signal.Signals(signum)
        except ValueError:
            msg = f"shutdown_signals holds {signum!r}, which is not a signal of this platform"
            raise ValueError(msg) from None
    if report is not None and not callable(getattr(report, "write", None)):
        msg = f"report must be None or a text stream with a write method, got {describe(report)}"
        raise TypeError(msg)
    return cast("tuple[int, ...]", signals)  # each checked above


def run_application(
    tree: Tree,
    *,
    shutdown_signals: Iterable[int] = SHUTDOWN_SIGNALS,
    report: TextIO | None = None,
    observer: ObserverEndpoint | str | os.PathLike[str] | None = None,
) -> int:
    """Run ``tree`` as the program's root supervisor; return the exit status.

    Use it as ``sys.exit(trio_otp.run_application(tree))``. Runs :func:`trio.run`, so call
    it from the main thread outside Trio. ``report`` (default standard error) receives the
    failure report when the root gives up or cannot start. ``observer`` (off by default):
    a Unix socket path or an :class:`ObserverEndpoint` on which the live tree is served
    as JSON, for ``python -m trio_otp observe`` (see :ref:`observer`); it listens before
    the root starts and until the tree has shut down.

    Raises:
      TypeError, ValueError: a bad argument, before anything runs.
      OSError: the observer cannot listen on its endpoint, before the tree starts.
    """
    signals = _check_arguments(tree, shutdown_signals, report)
    endpoint = as_endpoint(observer)
    statuses: list[int] = []

    async def main() -> None:
        statuses.append(await serve_application(tree, signals, report, observer=endpoint))

    try:
        trio.run(main)
    except KeyboardInterrupt:
        # A Ctrl-C in the last instant, after the shutdown was over and the signal
        # handlers were given back, reaches Trio's own: it is one more ignored signal.
        if not statuses:
            raise
    return statuses[0]


@protected
async def serve_application(
    tree: Tree,
    shutdown_signals: Iterable[int] = SHUTDOWN_SIGNALS,
    report: TextIO | None = None,
    *,
    observer: ObserverEndpoint | str | os.PathLike[str] | None = None,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> int:
    """:func:`run_application` inside a running Trio program; returns the exit status.

    Reports the root's reference through ``task_status`` once the root has started; if a
    signal stops the root before that, it returns 0 without reporting one. Call it from
    the main thread (Python's signal handlers live there). ``observer`` as
    :func:`run_application`'s.

    Raises:
      TypeError, ValueError: a bad argument, before anything runs.
      OSError: the observer cannot listen on its endpoint, before the tree starts.
    """
    require_trio("trio_otp.serve_application")
    signals = _check_arguments(tree, shutdown_signals, report)
    endpoint = as_endpoint(observer)
    failure: BaseException | None = None
    tree_scope = trio.CancelScope()
    async with contextlib.AsyncExitStack() as stack:
        application: ObservedApplication | None = None
        listener: trio.SocketListener | None = None
        if endpoint is not None:
            # Listening before anything starts: a bad endpoint fails the call, not the tree.
            application = ObservedApplication(tree_scope, tree.name)
            listener = await stack.enter_async_context(observing(endpoint, application))
            address = listening_address(endpoint, listener)
            logger.info(
                "observer listening on %s",
                address,
                extra={"otp_report": "observer_listening", "address": address},
            )
            task_status = forwarding(task_status, application)
        with _signals_absorbed(signals) as early:
            with trio.open_signal_receiver(*signals) as receiver:
                if early:  # arrived in the instant before the receiver listened
                    _shutdown_requested(early[0], tree_scope)

                async def watch() -> None:
                    async for signum in receiver:
                        _shutdown_requested(signum, tree_scope)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch, name="trio_otp application signals")
                    if listener is not None and application is not None:
                        nursery.start_soon(serve_observer, listener, application, name="trio_otp observer")
                    with tree_scope:
                        try:
                            await tree.run(task_status=task_status)
                        except (RestartIntensityExceeded, ChildStartError) as error:
                            failure = error
                    nursery.cancel_scope.cancel()
            await _flush_signal_deliveries()
    if failure is None:
        return 0
    _report(failure, report if report is not None else sys.stderr)
    return 1


def _shutdown_requested(signum: int, tree_scope: trio.CancelScope) -> None:
    name = signal.Signals(signum).name
    if tree_scope.cancel_called:
        logger.info(
            "received %s while shutting down: ignored, the shutdown budgets bound the shutdown",
            name,
            extra={"otp_report": "signal_ignored", "signal": signum},
        )
        return
    logger.info(
        "received %s: shutting the tree down",
        name,
        extra={"otp_report": "shutdown_requested", "signal": signum},
    )
    tree_scope.cancel()


@contextlib.contextmanager
def _signals_absorbed(signals: tuple[int, ...]) -> Generator[list[int], None, None]:
    """While inside: the given signals reach a handler that only records them.

    The signal receiver opened inside takes them over, and on closing hands them back to
    this handler, which then also absorbs whatever the receiver re-delivers.
    """
    received: list[int] = []

    def absorb(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, absorb) for signum in signals}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def _flush_signal_deliveries() -> None:
    """Wait until every signal that reached the receiver before it closed has been
    handled: they travel through Trio's run_sync_soon queue, which runs in order."""
    with trio.CancelScope(shield=True):
        flushed = trio.Event()
        trio.lowlevel.current_trio_token().run_sync_soon(flushed.set)
        await flushed.wait()


def _failure_fields(failure: BaseException, innermost: BaseException) -> dict[str, object]:
    """The report's raw fields: the chain of (supervisor, child id) from the root down,
    and the type and message of the error it started from."""
    chain: list[dict[str, object]] = []
    cause: BaseException | None = failure
    while isinstance(cause, (RestartIntensityExceeded, ChildStartError)):
        chain.append({"supervisor": cause.supervisor, "child_id": cause.child_id})
        next_cause = cause.__cause__
        if next_cause is None and isinstance(cause, ChildStartError):
            next_cause = cause.reason
        cause = next_cause
    root = chain[0] if chain else {"supervisor": None, "child_id": None}
    return {**root, "failure_chain": chain, **error_fields(innermost)}


def _report(failure: BaseException, out: TextIO) -> None:
    why = "could not start" if isinstance(failure, ChildStartError) else "gave up"
    lines = [f"trio_otp: the application stopped because its root supervisor {why}."]
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
            lines.append(f"{indent}- because: {safe_repr(cause)}")
        innermost = cause
        next_cause = cause.__cause__
        if next_cause is None and isinstance(cause, ChildStartError):
            next_cause = cause.reason  # trio < 0.34 may have cleared __cause__
        cause = next_cause
        depth += 1
    text = "\n".join(lines)
    logger.error(text, extra={"otp_report": "application_failed", **_failure_fields(failure, innermost)})
    print(text, file=out)
    if innermost is not failure:
        print("".join(traceback.format_exception(innermost)).rstrip(), file=out)
