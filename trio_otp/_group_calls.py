"""Calls and casts to every server of a group: OTP's ``gen_server:multi_call`` and
``abcast``, and Elixir's ``GenServer.multi_call`` and ``abcast``.

Where OTP's group is "the server registered under this name on each of these nodes",
trio_otp's is a key of a :class:`Registry` with ``keys=DUPLICATE``: its members are the
servers that registered under the key (typically in ``init``, with
``registry.register(key, value)``): each entry records the server its task ran when it
registered (what :func:`current_server` gave then), so the entries' values stay the
caller's own.
A server that registered twice is one member.

``multi_call`` sends one request to each member (:meth:`ServerRef.send_request`) and
collects the replies with one :class:`RequestIdCollection` under one overall timeout, as
OTP waits for all the nodes' replies within one ``Timeout``. Every member ends up in
exactly one of the two lists; whatever is still unanswered at the timeout (or when the
caller is cancelled) is abandoned, so no late reply and no deferred caller remains.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Hashable
from typing import Any

import outcome
import trio

from ._checks import check_instance, check_timeout
from ._exceptions import CallTimeout, ServerError
from ._processes import server_of_task
from ._registry import Registry
from ._requests import RequestId, RequestIdCollection
from ._server_ref import DEFAULT_CALL_TIMEOUT, ServerRef
from ._util import safe_repr


def _members(registry: Registry[Any], key: Hashable, function: str) -> list[ServerRef[Any, Any]]:
    """The servers registered under ``key``, oldest first, each once."""
    check_instance(registry, Registry, f"{function}'s registry", "a trio_otp.Registry")
    members: dict[ServerRef[Any, Any], None] = {}
    for entry in registry.lookup(key):
        ref = typing.cast("ServerRef[Any, Any] | None", entry._server)
        if ref is None:
            msg = (
                f"{function}: the entry under {safe_repr(key)} registered by task {entry.owner.name!r} "
                "was made outside any server; a group's members must be servers (register in init)"
            )
            raise TypeError(msg)
        members[ref] = None
    return list(members)


async def multi_call(
    registry: Registry[Any],
    key: Hashable,
    request: object,
    *,
    timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as OTP's
) -> tuple[list[tuple[ServerRef[Any, Any], Any]], list[tuple[ServerRef[Any, Any], ServerError]]]:
    """Call every server registered under ``key`` in ``registry`` at once, and wait up to
    ``timeout`` seconds in all for their replies (OTP's ``multi_call``). A checkpoint.

    Returns ``(replies, bad)``: ``replies`` lists ``(server, reply)`` for each server that
    replied; ``bad`` lists ``(server, error)`` for each that did not: :class:`CallTimeout`
    (no reply within ``timeout``; the request was abandoned), :class:`ServerExited` (it
    ended before replying), :class:`ServerNotRunning`, :class:`MailboxFull` (its bounded
    mailbox was full: this does not wait for room), or :class:`ServerError` (the caller is
    that server: a call to itself could only time out). Both lists follow the group's
    order (oldest registration first); an empty group gives two empty lists.

    Raises:
      TypeError: ``registry`` is not a :class:`Registry`, ``key`` is not hashable, or an
        entry under ``key`` was registered by a task while it ran no server (checked
        before anything is sent).
      TypeError, ValueError: ``timeout`` is not None or a number of seconds >= 0.
    """
    seconds = check_timeout(timeout, "multi_call's timeout")
    members = _members(registry, key, "multi_call")
    me: ServerRef[Any, Any] | None = server_of_task(trio.lowlevel.current_task())
    answers: dict[int, outcome.Outcome[Any]] = {}
    collection = RequestIdCollection[int]()
    for index, member in enumerate(members):
        if member is me:
            answers[index] = outcome.Error(
                ServerError(
                    f"multi_call: server {member._process.label} called itself, which would wait for ever"
                )
            )
            continue
        try:
            request_id: RequestId[Any] = member.send_request(request)
        except ServerError as error:  # MailboxFull
            answers[index] = outcome.Error(error)
            continue
        collection.add(request_id, index)
    deadline = math.inf if seconds == math.inf else trio.current_time() + seconds
    if not collection:
        await trio.lowlevel.checkpoint()
    while collection:
        try:
            answer, index = await collection.receive_response(
                timeout=max(0.0, deadline - trio.current_time()) if deadline != math.inf else None
            )
        except CallTimeout:
            break  # the collection abandoned what was still pending
        answers[index] = answer
    while collection:  # answers that came with the deadline
        answer, index = collection.check_response()
        answers[index] = answer
    replies: list[tuple[ServerRef[Any, Any], Any]] = []
    bad: list[tuple[ServerRef[Any, Any], ServerError]] = []
    for index, member in enumerate(members):
        got = answers.get(index)
        if got is None:
            late = f"multi_call: no reply from server {member._process.label} within {seconds:g} s"
            bad.append((member, CallTimeout(late)))
        elif isinstance(got, outcome.Value):
            replies.append((member, got.value))
        else:
            assert isinstance(got, outcome.Error)
            failure = got.error
            assert isinstance(failure, ServerError)  # what a request can fail with
            bad.append((member, failure))
    return replies, bad


def abcast(
    registry: Registry[Any], key: Hashable, request: object
) -> list[tuple[ServerRef[Any, Any], ServerError]]:
    """Cast ``request`` to every server registered under ``key`` in ``registry`` (OTP's
    ``abcast``). Not a checkpoint.

    Returns the servers that refused it, each with why: :class:`ServerNotRunning` or
    :class:`MailboxFull` (OTP returns ``abcast`` whatever happened; trio_otp knows who
    refused, so it says). Empty when every member took it.

    Raises:
      TypeError: as :func:`multi_call`, before anything is sent.
    """
    refused: list[tuple[ServerRef[Any, Any], ServerError]] = []
    for member in _members(registry, key, "abcast"):
        try:
            member.cast(request)
        except ServerError as error:
            refused.append((member, error))
    return refused
