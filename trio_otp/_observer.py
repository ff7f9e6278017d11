"""The observer endpoint: a running application's tree, as JSON, to whoever may connect.

What it is
----------
:func:`run_application` (and :func:`serve_application`) with ``observer=`` listen on a
Unix socket (or, when asked, a loopback TCP port) and answer read-only requests about the
running tree: a snapshot (the tree with states and restart counts, each server's mailbox
and current message, the recent crashes), and one node's status (a server's state as its
``format_status`` shows it). ``python -m trio_otp observe ADDRESS`` shows it live; any
other tool can speak the protocol, one JSON object a line each way.

Permission model
----------------
The endpoint changes nothing: there is no request that stops, restarts or edits a
process. But it shows what ``format_status`` shows and the ``repr`` of the messages being
handled, which may be private, so who can connect matters:

* A Unix socket is created with mode 0600 (under a umask of 0177 while it is bound, then
  ``chmod`` again), so only its owner (and root) can connect. It refuses to replace a file
  that is not a socket, or a socket another process still listens on; a stale socket from
  a program that died is replaced. The socket is removed when the application ends.
* TCP listens on a loopback address only (``127.0.0.1`` by default) unless the endpoint
  says ``allow_remote=True``. Loopback means every local user can connect: there is no
  authentication, so prefer the Unix socket on a shared machine.

Cost
----
Nothing when off: no listener, no event handler. When on, an event handler records
crashes (one deque append per crash), and each snapshot is one ``which_children`` request
per supervisor and a direct read per server, as :func:`snapshot` does; nothing is added to
the call, cast or send path. The bench measures call throughput with an observer being
polled against the same without.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import ipaddress
import json
import logging
import os
import pprint
import socket
import stat
import time
from collections.abc import AsyncGenerator, Hashable
from functools import partial
from typing import Any, cast, final

import attrs
import trio

from ._events import Event, attach_lifecycle
from ._exceptions import ServerNotRunning, SupervisorNotRunning
from ._introspection import snapshot
from ._log_fields import error_fields
from ._util import describe, safe_repr

logger = logging.getLogger("trio_otp.observer")

PROTOCOL = 1
#: The longest request line the endpoint reads; a longer one closes the connection.
MAX_REQUEST = 64 * 1024
#: How many crashes a snapshot lists (the newest).
RECENT_CRASHES = 50
#: How long one request waits for the tree (each supervisor answers ``which_children`` from
#: its control loop, which may be busy, say waiting for a slow child to start). Past it the
#: request is answered with what is known: for a snapshot, the last tree gathered, marked
#: ``"busy"``; for a status, a refusal that says so.
ANSWER_SECONDS = 2.0
#: How many connections the endpoint serves at once; one more is refused and closed.
MAX_CONNECTIONS = 32
#: How long a connection may send nothing before the endpoint closes it.
IDLE_SECONDS = 300.0
#: How long one answer may take to send; a client that stops reading is then closed, so it
#: holds no connection slot for ever.
SEND_SECONDS = 30.0
_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _to_path(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = cast("object", os.fspath(cast("os.PathLike[str]", value)))  # may be bytes
        if isinstance(path, str):
            return path
    shown = describe(cast("object", value))  # type: ignore[redundant-cast]  # for pyright
    msg = f"ObserverEndpoint's path must be a str or os.PathLike naming a socket file, got {shown}"
    raise TypeError(msg)


@final
@attrs.frozen
class ObserverEndpoint:
    """Where the observer of :func:`run_application` listens: a Unix socket ``path``
    (mode 0600), or a TCP ``port`` on ``host``, a loopback address unless
    ``allow_remote`` is true. ``observer="/run/shop/observer.sock"`` is short for
    ``observer=ObserverEndpoint("/run/shop/observer.sock")``. See the permission model in
    :ref:`observer`.

    Raises:
      TypeError: ``path`` is no path, ``port`` no integer, ``host`` no string.
      ValueError: neither or both of ``path`` and ``port``; an empty ``path``; a ``port``
        outside 0..65535; a ``host`` that is not loopback without ``allow_remote=True``.
    """

    path: str | None = attrs.field(default=None, converter=_to_path)
    port: int | None = attrs.field(default=None, kw_only=True)
    host: str = attrs.field(default="127.0.0.1", kw_only=True)
    allow_remote: bool = attrs.field(default=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if (self.path is None) == (self.port is None):
            msg = "ObserverEndpoint needs exactly one of path (a Unix socket) and port (TCP)"
            raise ValueError(msg)
        if self.path is not None and not self.path:
            msg = "ObserverEndpoint's path must name a socket file, got ''"
            raise ValueError(msg)
        # attrs does not enforce the annotations: each is checked as an object.
        port = cast("object", self.port)
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int):
                msg = f"ObserverEndpoint's port must be an int, got {describe(port)}"
                raise TypeError(msg)
            if not 0 <= port <= 65535:
                msg = f"ObserverEndpoint's port must be within 0..65535 (0: any free port), got {port}"
                raise ValueError(msg)
        host = cast("object", self.host)
        if not isinstance(host, str):
            msg = f"ObserverEndpoint's host must be a str, got {describe(host)}"
            raise TypeError(msg)
        allow_remote = cast("object", self.allow_remote)
        if not isinstance(allow_remote, bool):
            msg = f"ObserverEndpoint's allow_remote must be a bool, got {describe(allow_remote)}"
            raise TypeError(msg)
        if self.port is not None and not self.allow_remote and not _is_loopback(self.host):
            msg = (
                f"ObserverEndpoint's host {self.host!r} is not a loopback address; the observer has "
                "no authentication, so listening beyond this machine needs allow_remote=True"
            )
            raise ValueError(msg)

    @property
    def address(self) -> str:
        """The address ``python -m trio_otp observe`` takes: the socket path, or
        ``tcp:HOST:PORT``."""
        if self.path is not None:
            return self.path
        return f"tcp:{self.host}:{self.port}"


def as_endpoint(observer: object) -> ObserverEndpoint | None:
    """``run_application``'s ``observer`` argument, checked."""
    if observer is None or isinstance(observer, ObserverEndpoint):
        return observer
    if isinstance(observer, (str, os.PathLike)):
        return ObserverEndpoint(cast("str | os.PathLike[str]", observer))
    msg = f"observer must be None, a socket path or an ObserverEndpoint, got {describe(observer)}"
    raise TypeError(msg)


class ObservedApplication:
    """What the endpoint reports on: the root (once started) and the recent crashes."""

    def __init__(self, tree_scope: trio.CancelScope, root_name: Hashable | None) -> None:
        self.root: object = None
        self.root_id: Hashable = root_name if root_name is not None else "root"
        self.tree_scope = tree_scope
        self.started_at = time.time()
        self.crashes: collections.deque[dict[str, object]] = collections.deque(maxlen=RECENT_CRASHES)
        self.last_tree: dict[str, Any] | None = None
        self.last_tree_at: float | None = None

    def on_event(self, event: Event) -> None:
        if event.name == "child_exited" and event.metadata.get("kind") == "crash":
            what = "crash"
        elif event.name == "supervisor_escalated":
            what = "escalation"
        else:
            return
        error = event.metadata.get("error")
        self.crashes.append(
            {
                "at": time.time(),
                "event": what,
                "supervisor": event.metadata.get("supervisor"),
                "child_id": _text(event.metadata.get("child_id")),
                **error_fields(error if isinstance(error, BaseException) else None),
            }
        )

    def phase(self) -> str:
        if self.tree_scope.cancel_called:
            return "stopping"
        return "starting" if self.root is None else "running"

    async def answer(self, request: object) -> dict[str, object]:
        if not isinstance(request, dict):
            return _refusal('a request is a JSON object such as {"request": "snapshot"}')
        fields: dict[str, object] = request  # pyright: ignore[reportUnknownVariableType]
        kind = fields.get("request")
        if kind == "snapshot":
            return {"ok": True, "snapshot": await self.snapshot()}
        if kind == "status":
            path = fields.get("path", [])
            if not isinstance(path, list) or not all(isinstance(part, str) for part in path):  # pyright: ignore[reportUnknownVariableType]
                return _refusal("a status request's path is a list of child ids (as the snapshot shows them)")
            return await self.status(list[str](path))  # pyright: ignore[reportUnknownArgumentType]
        return _refusal(f"unknown request {safe_repr(kind)}; the requests are 'snapshot' and 'status'")

    async def snapshot(self) -> dict[str, object]:
        tree: dict[str, Any] | None = None
        if self.root is not None:
            try:
                tree = (await snapshot(self.root, id=self.root_id)).as_dict()
            except SupervisorNotRunning:
                tree = None
        self.last_tree, self.last_tree_at = tree, time.time()
        return self._known(tree, busy=None)

    def _known(self, tree: dict[str, Any] | None, busy: str | None) -> dict[str, object]:
        return {
            "protocol": PROTOCOL,
            "pid": os.getpid(),
            "time": time.time(),
            "started_at": self.started_at,
            "phase": self.phase(),
            "tree": tree,
            "crashes": list(self.crashes),
            "busy": busy,
            "tree_time": self.last_tree_at if busy is not None else None,
        }

    def busy_answer(self, request: object) -> dict[str, object]:
        """The answer to ``request`` when the tree did not answer within
        :data:`ANSWER_SECONDS`. Not a checkpoint."""
        why = f"the tree did not answer within {ANSWER_SECONDS:g} s (a supervisor is busy)"
        if isinstance(request, dict) and request.get("request") == "snapshot":  # pyright: ignore[reportUnknownMemberType]
            known = self._known(self.last_tree, busy=f"{why}; the tree shown is older")
            return {"ok": True, "snapshot": known}
        return _refusal(f"{why}; try again")

    async def status(self, path: list[str]) -> dict[str, object]:
        from ._dynamic_supervisor import DynamicSupervisorRef  # noqa: PLC0415 - import cycle
        from ._supervisor import SupervisorRef  # noqa: PLC0415
        from ._task_supervisor import TaskSupervisorRef  # noqa: PLC0415

        ref = self.root
        if ref is None:
            return _refusal("the application has not started its root yet")
        restarts, state = 0, "running"
        try:
            for depth, part in enumerate(path):
                supervisor = ref._supervisor if isinstance(ref, TaskSupervisorRef) else ref
                if not isinstance(supervisor, (SupervisorRef, DynamicSupervisorRef)):
                    return _refusal(f"{'/'.join(path[:depth])} has no children")
                for info in await supervisor.which_children():
                    if _text(info.id) == part:
                        ref, restarts, state = info.ref, info.restarts, info.state.value
                        break
                else:
                    return _refusal(f"no child {part!r} under {'/'.join(path[:depth]) or 'the root'}")
            return {"ok": True, "status": await _node_status(ref, restarts, state)}
        except (SupervisorNotRunning, ServerNotRunning) as gone:
            return _refusal(f"it ended while being looked at: {gone}")


async def _node_status(ref: object, restarts: int, state: str) -> dict[str, object]:
    from ._dynamic_supervisor import DynamicSupervisorRef  # noqa: PLC0415 - import cycle
    from ._server_ref import ServerRef  # noqa: PLC0415
    from ._supervisor import SupervisorRef  # noqa: PLC0415
    from ._sys import get_status  # noqa: PLC0415
    from ._task_supervisor import TaskSupervisorRef  # noqa: PLC0415

    if isinstance(ref, (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef)):
        supervisor = ref._supervisor if isinstance(ref, TaskSupervisorRef) else ref
        counts = await supervisor.count_children()
        return {"kind": "supervisor", "state": state, "restarts": restarts, **attrs.asdict(counts)}
    if isinstance(ref, ServerRef):
        status = get_status(cast("ServerRef[Any, Any]", ref))  # type: ignore[redundant-cast]  # for pyright
        server_class = status.server_class
        return {
            "kind": "server",
            "server_class": f"{server_class.__module__}.{server_class.__qualname__}",
            "label": status.label,
            "name": None if status.name is None else _text(status.name),
            "state": _pretty(status.state),
            "alive": status.alive,
            "stopping": status.stopping,
            "mailbox": status.mailbox,
            "message": None if status.message is None else [status.message[0], safe_repr(status.message[1])],
            "handling_for": status.handling_for,
            "restarts": status.restarts,
            "supervisors": list(status.supervisors),
        }
    return {"kind": "worker", "state": state, "restarts": restarts, "ref": safe_repr(ref)}


def _refusal(why: str) -> dict[str, object]:
    return {"ok": False, "error": why}


def _text(value: object) -> str:
    return value if isinstance(value, str) else safe_repr(value)


def _pretty(value: object) -> str:
    try:
        return pprint.pformat(value, width=72)
    except Exception:  # a broken __repr__ inside: the one-line stand-in says so
        return safe_repr(value)


class _ForwardStarted:
    """A task status that records the root's reference for the observer and forwards it."""

    def __init__(self, inner: trio.TaskStatus[Any], application: ObservedApplication) -> None:
        self._inner = inner
        self._application = application

    def started(self, value: Any = None) -> None:
        self._application.root = value
        self._inner.started(value)


def forwarding(inner: trio.TaskStatus[Any], application: ObservedApplication) -> trio.TaskStatus[Any]:
    return _ForwardStarted(inner, application)


@contextlib.asynccontextmanager
async def observing(
    endpoint: ObserverEndpoint, application: ObservedApplication
) -> AsyncGenerator[trio.SocketListener, None]:
    """Listen on ``endpoint`` while inside, with the crash handler attached.

    Raises:
      OSError: the endpoint cannot be listened on (the message names it and why).
    """
    if endpoint.path is not None:
        listener, identity = _unix_listener(endpoint.path)
    else:
        try:
            [listener, *more] = await trio.open_tcp_listeners(endpoint.port or 0, host=endpoint.host)
        except OSError as error:
            msg = f"the observer cannot listen on {endpoint.address}: {error.strerror or error}"
            raise OSError(error.errno, msg) from error
        for extra in more:
            await extra.aclose()
        identity = None
    try:
        with attach_lifecycle(application.on_event):
            yield listener
    finally:
        with trio.CancelScope(shield=True):
            await listener.aclose()
        if endpoint.path is not None and identity is not None:
            with contextlib.suppress(OSError):
                now = os.stat(endpoint.path)
                if (now.st_dev, now.st_ino) == identity:  # still ours, not a successor's
                    os.unlink(endpoint.path)


def listening_address(endpoint: ObserverEndpoint, listener: trio.SocketListener) -> str:
    """The address clients use: for TCP port 0, the port the system chose."""
    if endpoint.path is not None:
        return endpoint.path
    host, port = listener.socket.getsockname()[:2]
    return f"tcp:{host}:{port}"


def _unix_listener(path: str) -> tuple[trio.SocketListener, tuple[int, int]]:
    _clear_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)  # no moment in which others may connect
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        sock.listen(16)
        created = os.stat(path)
    except OSError as error:
        sock.close()
        msg = f"the observer cannot listen on the socket {path!r}: {error.strerror or error}"
        raise OSError(error.errno, msg) from error
    return trio.SocketListener(trio.socket.from_stdlib_socket(sock)), (created.st_dev, created.st_ino)


def _clear_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        msg = f"the observer's socket path {path!r} exists and is not a socket; refusing to replace it"
        raise OSError(errno.EEXIST, msg)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a listener that never accepts (its backlog full) must not hang us
    try:
        probe.connect(path)
    except BlockingIOError:
        pass  # EAGAIN: someone listens, with a full backlog
    except ConnectionRefusedError:
        os.unlink(path)  # left by a program that ended without removing it
        return
    except OSError:
        return  # let bind say what is wrong
    finally:
        probe.close()
    msg = f"another program listens on the observer's socket {path!r}"
    raise OSError(errno.EADDRINUSE, msg)


async def serve_observer(listener: trio.SocketListener, application: ObservedApplication) -> None:
    """Answer connections until cancelled; one connection's failure ends only it. At most
    :data:`MAX_CONNECTIONS` at once: one more gets a refusal and is closed."""
    served = 0

    async def connection(stream: trio.SocketStream, asker: _Asker) -> None:
        nonlocal served
        try:
            async with stream:
                if served >= MAX_CONNECTIONS:
                    refusal = _refusal(f"too many connections (at most {MAX_CONNECTIONS}); try again later")
                    with trio.move_on_after(ANSWER_SECONDS):  # a client that reads nothing
                        await stream.send_all(json.dumps(refusal).encode() + b"\n")
                    return
                served += 1
                try:
                    await _exchange(stream, asker)
                finally:
                    served -= 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away
        except Exception:
            logger.exception("trio_otp observer: a connection failed", extra={"otp_report": "observer_error"})

    async with trio.open_nursery() as gatherings:  # outlive the connections that asked
        asker = _Asker(gatherings, application)
        await trio.serve_listeners(partial(connection, asker=asker), [listener])


class _Asker:
    """The endpoint's requests to the tree: at most one at a time is being gathered,
    whichever connection asked (``python -m trio_otp observe`` opens a connection per
    request). A request the tree is slow to answer is answered with what is known after
    :data:`ANSWER_SECONDS`, and its gathering goes on; a request that comes meanwhile
    waits for that one (up to :data:`ANSWER_SECONDS`) rather than putting another into a
    busy supervisor's mailbox, so polling a stuck tree piles nothing up."""

    def __init__(self, nursery: trio.Nursery, application: ObservedApplication) -> None:
        self._nursery = nursery
        self._application = application
        self._gathering: trio.Event | None = None

    async def answer(self, request: object) -> dict[str, object]:
        """A checkpoint. Never raises but Cancelled: a failure is logged and answered."""
        with trio.move_on_after(ANSWER_SECONDS):
            while self._gathering is not None:  # another connection's may start as it ends
                await self._gathering.wait()
        if self._gathering is not None:
            return self._application.busy_answer(request)
        done = trio.Event()
        answers: list[dict[str, object]] = []

        async def gather() -> None:
            try:
                answers.append(await self._application.answer(request))
            except Exception as error:  # a bug of ours: this request fails, not the endpoint
                report = {"otp_report": "observer_error"}
                logger.exception("trio_otp observer: a request failed", extra=report)
                answers.append(_refusal(f"the observer failed: {safe_repr(error)}"))
            finally:
                self._gathering = None
                done.set()

        self._gathering = done
        self._nursery.start_soon(gather)
        with trio.move_on_after(ANSWER_SECONDS):
            await done.wait()
        if not answers:
            return self._application.busy_answer(request)
        return answers[0]


async def _exchange(stream: trio.SocketStream, asker: _Asker) -> None:
    buffer = bytearray()
    while True:
        chunk = b""
        with trio.move_on_after(IDLE_SECONDS):  # idle: closed, so it holds no slot for ever
            chunk = await stream.receive_some(65536)
        if not chunk:
            return
        buffer += chunk
        *lines, rest = buffer.split(b"\n")  # once per chunk: pipelined lines cost no copies each
        buffer = bytearray(rest)
        for line in lines:
            try:
                request = json.loads(line)
            except ValueError:
                answer = _refusal("a request is one JSON object on one line")
            else:
                answer = await asker.answer(request)
            if not await _send(stream, answer):
                return
        if len(buffer) > MAX_REQUEST:
            await _send(stream, _refusal("request too long"))
            return


async def _send(stream: trio.SocketStream, answer: dict[str, object]) -> bool:
    """Send one answer line; False if the client read nothing for :data:`SEND_SECONDS`."""
    with trio.move_on_after(SEND_SECONDS):
        await stream.send_all(json.dumps(answer, default=safe_repr).encode() + b"\n")
        return True
    return False
