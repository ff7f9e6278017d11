"""Talking to an observer endpoint: one request, one connection, one JSON line each way.

Plain blocking sockets from the standard library: a dashboard, a script or the terminal
view can use it without Trio, and without the ``observer`` extra.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any, cast

from .._util import describe

#: The longest answer read (a snapshot of a very large tree is long, but not endless).
MAX_ANSWER = 64 * 1024 * 1024


class ObserverRequestFailed(Exception):
    """The endpoint answered, but refused the request (an unknown node, say); the
    message says why."""


def parse_address(address: str) -> tuple[socket.AddressFamily, str | tuple[str, int]]:
    """``tcp:HOST:PORT`` (``tcp:[::1]:PORT`` for IPv6) or a Unix socket path.

    Raises:
      TypeError: ``address`` is not a str.
      ValueError: a ``tcp:`` address without a valid port, or an empty address.
    """
    given = cast("object", address)  # checked: callers may not be type-checked
    if not isinstance(given, str):
        msg = f"an observer address must be a str (a socket path or tcp:HOST:PORT), got {describe(given)}"
        raise TypeError(msg)
    if not address:
        msg = "an observer address must be a socket path or tcp:HOST:PORT, got ''"
        raise ValueError(msg)
    if not address.startswith("tcp:"):
        return socket.AF_UNIX, address
    host, _, port = address[4:].rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        msg = f"a TCP observer address is tcp:HOST:PORT, such as tcp:127.0.0.1:7777, got {address!r}"
        raise ValueError(msg)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def request(address: str, message: dict[str, object], *, timeout: float = 5.0) -> dict[str, Any]:
    """Send ``message`` to the endpoint at ``address``; return its answer. Blocks.

    Raises:
      OSError: the endpoint cannot be reached, or it closed the connection early.
      TimeoutError: no answer within ``timeout`` seconds.
      ObserverRequestFailed: the endpoint refused the request.
    """
    family, where = parse_address(address)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(where)
        sock.sendall(json.dumps(message).encode() + b"\n")
        received = bytearray()
        while b"\n" not in received:
            chunk = sock.recv(1 << 20)
            if not chunk:
                msg = f"the observer at {address} closed the connection without an answer"
                raise ConnectionError(msg)
            received += chunk
            if len(received) > MAX_ANSWER:
                msg = f"the observer at {address} sent an answer over {MAX_ANSWER} bytes"
                raise ConnectionError(msg)
    answer = cast("dict[str, Any]", json.loads(bytes(received).partition(b"\n")[0]))
    if not answer.get("ok"):
        raise ObserverRequestFailed(str(answer.get("error")))
    return answer


def fetch_snapshot(address: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The application's snapshot: ``phase``, ``tree`` (as :meth:`trio_otp.TreeNode.as_dict`, or
    ``None`` before the root has started), ``crashes`` and more (see :ref:`observer`).
    Blocks.

    Raises:
      OSError: the endpoint cannot be reached, or it closed the connection early.
      TimeoutError: no answer within ``timeout`` seconds.
      ObserverRequestFailed: the endpoint refused the request.
    """
    answer: dict[str, Any] = request(address, {"request": "snapshot"}, timeout=timeout)["snapshot"]
    return answer


def fetch_status(address: str, path: Sequence[str], *, timeout: float = 5.0) -> dict[str, Any]:
    """The status of the node at ``path`` (the child ids below the root, as the snapshot
    shows them; empty for the root): for a server, its state as ``format_status`` shows
    it, its mailbox and current message. Blocks.

    Raises:
      OSError: the endpoint cannot be reached, or it closed the connection early.
      TimeoutError: no answer within ``timeout`` seconds.
      ObserverRequestFailed: no such node, or it ended while being looked at.
    """
    answer: dict[str, Any] = request(address, {"request": "status", "path": list(path)}, timeout=timeout)[
        "status"
    ]
    return answer
