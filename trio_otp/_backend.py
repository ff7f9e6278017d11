"""trio_otp runs on Trio only, and says so at the door.

Under anyio's asyncio backend (or plain asyncio), the first Trio call deep inside a
supervisor would fail with an AttributeError or RuntimeError about Trio's internals. The
entry points users reach first (``Supervisor.run``, ``DynamicSupervisor.run``,
``TaskSupervisor.run``, ``serve`` and so ``start_server`` and ``server_spec``,
``serve_application``) call :func:`require_trio` once, when they start: one check of a
thread-local per process started, nothing on the message path. anyio's trio backend is
Trio itself and passes.
"""

from __future__ import annotations

import trio


def require_trio(entry: str) -> None:
    """Raise a RuntimeError naming the async library when not inside a Trio run."""
    if trio.lowlevel.in_trio_run():
        return
    try:
        import sniffio  # noqa: PLC0415 - only to name the library in the error

        library = sniffio.current_async_library()
    except Exception:  # sniffio missing, or no async library it knows
        library = "no Trio run"
    msg = (
        f"{entry} needs Trio, but is running under {library}: trio_otp runs on Trio only "
        "(with anyio, use its trio backend: anyio.run(main, backend='trio'))"
    )
    raise RuntimeError(msg)
