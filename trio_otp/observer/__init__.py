"""Watching a running application: ``python -m trio_otp observe ADDRESS``.

An application run with ``run_application(tree, observer=PATH)`` serves its live tree on
an observer endpoint (see :class:`trio_otp.ObserverEndpoint`). This package is the other
end: :func:`fetch_snapshot` and :func:`fetch_status` read it from any Python program
(standard library only), and :func:`run_terminal_view` shows it live in the terminal,
which needs the ``observer`` extra (``pip install 'trio_otp[observer]'``, for Textual).
Textual is imported only when the terminal view starts.
"""

from __future__ import annotations

from typing import Any

from ._client import ObserverRequestFailed as ObserverRequestFailed
from ._client import fetch_snapshot as fetch_snapshot
from ._client import fetch_status as fetch_status

__all__ = ["ObserverRequestFailed", "fetch_snapshot", "fetch_status", "run_terminal_view"]

ObserverRequestFailed.__module__ = __name__


def run_terminal_view(address: str, *, interval: float = 1.0) -> None:
    """Show the live tree of the application whose observer listens at ``address`` (a
    socket path or ``tcp:HOST:PORT``) until the user quits (``q``), refreshing every
    ``interval`` seconds. Blocks; runs Textual's own event loop, so call it outside Trio.

    Raises:
      ModuleNotFoundError: Textual is not installed (the ``observer`` extra).
      TypeError, ValueError: a bad ``address`` or ``interval``.
    """
    from ._client import parse_address  # noqa: PLC0415

    parse_address(address)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:  # pyright: ignore[reportUnnecessaryIsInstance]
        msg = f"run_terminal_view's interval must be a number of seconds above 0, got {interval!r}"
        raise ValueError(msg)
    try:
        from ._app import ObserverApp  # noqa: PLC0415 - Textual is optional
    except ModuleNotFoundError as missing:
        if missing.name is None or not missing.name.startswith(("textual", "rich")):
            raise
        msg = (
            "the terminal view needs Textual: pip install 'trio_otp[observer]' "
            "(or use --json, which needs nothing)"
        )
        raise ModuleNotFoundError(msg, name=missing.name) from missing
    app: Any = ObserverApp(address, interval=float(interval))  # Any: Textual may not be installed
    app.run()
