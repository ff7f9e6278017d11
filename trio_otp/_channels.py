"""Channels, as Trio code expects them, in and out of a server's mailbox.

The mailbox is not a memory channel (``_process.py`` says why: a deque and a direct
reschedule cost less than a channel pair, and the guide gives the figures). But Trio
code speaks channels, so the two meet here:

* :func:`feed` drains any :class:`trio.abc.ReceiveChannel` into a server, each item as
  ``handle_info(item)``, then ``handle_info(ChannelClosed(channel))`` when it ends;
* :func:`mailbox_channel` hands a server's mailbox to code that takes a
  :class:`trio.abc.SendChannel`.

Both wait for room in a bounded mailbox (``mailbox_size``), which is the backpressure
a memory channel's buffer gives: a fast producer is held back to the server's pace
instead of filling memory or failing with :class:`MailboxFull`.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable
from typing import Any, Generic, Literal, TypeVar, final

import attrs
import trio

from ._checks import check_instance
from ._exceptions import ServerNotRunning
from ._names import check_name
from ._process import Info, Process, cast_item
from ._server_ref import ServerRef, lookup
from ._util import NoPublicConstructor, describe, safe_repr

T = TypeVar("T")


@attrs.frozen
class ChannelClosed:
    """The last message :func:`feed` delivers: ``channel`` has ended (its senders all
    closed it), and nothing more will come from it."""

    channel: trio.abc.ReceiveChannel[Any]


async def _deliver(process: Process, item: object) -> None:
    """Put ``item`` in the mailbox, waiting for room in a bounded one. Raises
    :class:`ServerNotRunning` if the server ends first. A checkpoint."""
    await trio.lowlevel.checkpoint_if_cancelled()
    room = process.room
    if room is not None:
        while process.alive and process.full():
            await room.park()
    process.post(item)  # raises ServerNotRunning for a server that ended
    await trio.lowlevel.cancel_shielded_checkpoint()


def _check_destination(destination: object, function: str) -> None:
    if not isinstance(destination, ServerRef):
        check_name(destination, f"{function}'s destination (a ServerRef or a name)")


async def feed(destination: ServerRef[Any, Any] | Hashable, channel: trio.abc.ReceiveChannel[Any]) -> None:
    """Deliver every item from ``channel`` to ``destination``'s ``handle_info``, in order,
    then ``handle_info(ChannelClosed(channel))`` once the channel ends; then return.

    Run it in a task (``nursery.start_soon(trio_otp.feed, ref, receive_channel)``). It
    waits for room when the server's mailbox is bounded and full, so the channel's
    producer is held back to the server's pace. ``destination`` is a
    :class:`ServerRef`, or a name looked up for each item, so that a feed by name goes on
    into a restarted server, provided the restart has registered the name again by the
    time the next item comes: an item that finds nothing under the name (the server
    ended and is not back yet) raises :class:`ServerNotRunning` and ends the feed. A
    :class:`StateMachine` gets each item as an :class:`InfoEvent`. ``feed`` owns
    ``channel``: it closes it when it returns or raises, so a producer learns
    (``trio.BrokenResourceError``) that nobody reads any more. A checkpoint.

    Raises:
      ServerNotRunning: the server ended (or nothing has the name); the item in hand is
        not delivered. OTP drops messages to a dead process; a feed stops instead.
      TypeError: ``channel`` is no ``trio.abc.ReceiveChannel``, or ``destination`` is
        neither a ServerRef nor a hashable name (checked before anything is read).
      Exception: whatever receiving from ``channel`` raised (``trio.BrokenResourceError``...).
    """
    check_instance(channel, trio.abc.ReceiveChannel, "feed's channel", "a trio.abc.ReceiveChannel")
    _check_destination(destination, "feed")
    async with channel:
        async for item in channel:
            await _deliver(lookup(destination)._process, Info(item))
        await _deliver(lookup(destination)._process, Info(ChannelClosed(channel)))


class _HandleMeta(NoPublicConstructor, abc.ABCMeta):
    """No public constructor, for a class that is also a Trio ABC."""


@final
class MailboxChannel(trio.abc.SendChannel[T], Generic[T], metaclass=_HandleMeta):
    """A server's mailbox as a :class:`trio.abc.SendChannel`; made by :func:`mailbox_channel`.

    ``send(value)`` is ``ref.send(value)`` (or ``ref.cast(value)``) with backpressure.
    """

    __slots__ = ("_cast", "_closed", "_destination")

    def __init__(self, destination: ServerRef[Any, Any] | Hashable, cast: bool) -> None:
        self._destination = destination
        self._cast = cast
        self._closed = False

    def __repr__(self) -> str:
        how = "casts" if self._cast else "messages"
        state = " (closed)" if self._closed else ""
        return f"<MailboxChannel: {how} to {safe_repr(self._destination)}{state}>"

    async def send(self, value: T) -> None:
        """Deliver ``value`` to the server's ``handle_info`` (``handle_cast`` for a channel
        made with ``cast=True``), waiting for room in a full bounded mailbox. A checkpoint.

        Raises:
          trio.ClosedResourceError: this channel was closed.
          trio.BrokenResourceError: the server has ended, or nothing has the name (what
            a memory channel raises once its receiver is gone); its ``__cause__`` is the
            :class:`ServerNotRunning`.
        """
        if self._closed:
            msg = "this MailboxChannel was closed"
            raise trio.ClosedResourceError(msg)
        try:
            process = lookup(self._destination)._process
            await _deliver(process, cast_item(value) if self._cast else Info(value))
        except ServerNotRunning as error:
            raise trio.BrokenResourceError(str(error)) from error

    async def aclose(self) -> None:
        """Close this channel: later sends raise ``trio.ClosedResourceError``. Only this
        handle closes; the server is not told and goes on running (stopping it is
        :meth:`ServerRef.stop`'s job; to tell it a stream ended, use :func:`feed`, which
        delivers :class:`ChannelClosed`). Closing twice is fine. A checkpoint."""
        self._closed = True
        await trio.lowlevel.checkpoint()


def mailbox_channel(
    destination: ServerRef[Any, Any] | Hashable, *, kind: Literal["info", "cast"] = "info"
) -> MailboxChannel[Any]:
    """A :class:`trio.abc.SendChannel` into ``destination``'s mailbox, for libraries that
    take a channel: each ``send(value)`` arrives as ``handle_info(value)`` (or, with
    ``kind="cast"``, as ``handle_cast(value)``), with backpressure from a bounded mailbox.

    ``destination`` is a :class:`ServerRef`, or a name looked up at each send (so the
    channel outlives a restart). Not a checkpoint.

    Raises:
      TypeError: ``destination`` is neither a ServerRef nor a hashable name.
      ValueError: ``kind`` is neither ``"info"`` nor ``"cast"``.
    """
    _check_destination(destination, "mailbox_channel")
    if kind not in ("info", "cast"):
        msg = f"mailbox_channel's kind must be 'info' or 'cast', got {describe(kind)}"
        raise ValueError(msg)
    channel: MailboxChannel[Any] = MailboxChannel._create(destination, kind == "cast")  # pyright: ignore[reportUnknownVariableType]
    return channel
