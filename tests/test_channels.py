"""Channels, as Trio code expects them: a server fed from any ReceiveChannel (each item as
handle_info, then ChannelClosed), and a server's mailbox as a trio.abc.SendChannel, both
with backpressure from a bounded mailbox."""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

import trio_otp


@attrs.define
class Sink(trio_otp.GenServer[str, Any]):
    """Records what it gets; takes ``pace`` seconds per message."""

    pace: float = 0.0
    infos: list[Any] = attrs.field(factory=list[Any])
    casts: list[Any] = attrs.field(factory=list[Any])

    async def handle_call(self, request: str, caller: trio_otp.Caller[Any]) -> Any:
        return list(self.infos)

    async def handle_cast(self, request: Any) -> None:
        self.casts.append(request)

    async def handle_info(self, message: Any) -> None:
        await trio.sleep(self.pace)
        self.infos.append(message)


async def test_feed_delivers_each_item_as_info_then_channel_closed(autojump_clock: MockClock) -> None:
    state = Sink()
    send, receive = trio.open_memory_channel[int](0)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: state)
        nursery.start_soon(trio_otp.feed, ref, receive)
        async with send:
            for i in range(3):
                await send.send(i)
        await trio.sleep(1)
        assert state.infos == [0, 1, 2, trio_otp.ChannelClosed(receive)]
        await ref.stop()


async def test_feed_holds_the_producer_back_to_a_bounded_mailbox(autojump_clock: MockClock) -> None:
    state = Sink(pace=1.0)
    send, receive = trio.open_memory_channel[int](0)
    sent: list[float] = []
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: state, mailbox_size=2)
        nursery.start_soon(trio_otp.feed, ref, receive)
        t0 = trio.current_time()
        async with send:
            for i in range(10):
                await send.send(i)  # never MailboxFull: the feed waits for room
                sent.append(trio.current_time() - t0)
        # One in the handler, two in the mailbox, one in the feed's hand: then one a second.
        assert sent[:4] == [0.0] * 4
        assert sent[4:] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        await trio.sleep(20)
        assert state.infos == [*range(10), trio_otp.ChannelClosed(receive)]
        await ref.stop()


async def test_feed_to_a_server_that_ends_raises_and_closes_the_channel(autojump_clock: MockClock) -> None:
    send, receive = trio.open_memory_channel[int](0)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Sink)
        await ref.stop()
        with pytest.RaisesGroup(trio_otp.ServerNotRunning):
            async with trio.open_nursery() as feeding:
                feeding.start_soon(trio_otp.feed, ref, receive)
                await send.send(1)
        with pytest.raises(trio.BrokenResourceError):
            await send.send(2)  # the producer learns that nobody reads any more


async def test_feed_by_name_goes_on_into_a_restarted_server(autojump_clock: MockClock) -> None:
    send, receive = trio.open_memory_channel[str](0)
    async with trio.open_nursery() as nursery:
        root = await nursery.start(trio_otp.Supervisor([trio_otp.server_spec("sink", Sink, name="sink")]).run)
        nursery.start_soon(trio_otp.feed, "sink", receive)
        await send.send("before")
        await trio.sleep(1)
        await root.terminate_child("sink")
        await root.restart_child("sink")
        await send.send("after")
        await trio.sleep(1)
        assert await trio_otp.call("sink", "infos") == ["after"]
        nursery.cancel_scope.cancel()


async def test_mailbox_channel_is_a_send_channel_into_handle_info_or_handle_cast(
    autojump_clock: MockClock,
) -> None:
    state = Sink()
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: state)
        infos = trio_otp.mailbox_channel(ref)
        casts = trio_otp.mailbox_channel(ref, kind="cast")

        async def library_that_takes_a_channel(out: trio.abc.SendChannel[str]) -> None:
            async with out:
                await out.send("hello")

        await library_that_takes_a_channel(infos)
        await casts.send("cast")
        await trio.sleep(1)
        assert (state.infos, state.casts) == (["hello"], ["cast"])
        with pytest.raises(trio.ClosedResourceError):
            await infos.send("after aclose")
        assert ref.alive  # closing the channel does not stop the server
        await casts.send("still open")
        await ref.stop()


async def test_mailbox_channel_waits_for_room_in_a_full_mailbox(autojump_clock: MockClock) -> None:
    state = Sink(pace=1.0)
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: state, mailbox_size=1)
        channel = trio_otp.mailbox_channel(ref)
        t0 = trio.current_time()
        times = []
        for i in range(4):
            await channel.send(i)
            times.append(trio.current_time() - t0)
        assert times == [0.0, 0.0, 1.0, 2.0]  # one handled, one queued, then one a second
        with pytest.raises(trio_otp.MailboxFull):
            ref.send("the plain send does not wait")
        await ref.stop()


async def test_mailbox_channel_to_an_ended_server_is_broken(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, Sink, mailbox_size=1)
        by_ref = trio_otp.mailbox_channel(ref)
        by_name = trio_otp.mailbox_channel("nobody")
        await ref.stop()
        with pytest.raises(trio.BrokenResourceError) as raised:
            await by_ref.send(1)
        assert isinstance(raised.value.__cause__, trio_otp.ServerNotRunning)
        with pytest.raises(trio.BrokenResourceError):
            await by_name.send(1)


async def test_a_sender_waiting_for_room_is_told_when_the_server_ends(autojump_clock: MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ref = await trio_otp.start_server(nursery, lambda: Sink(pace=10.0), mailbox_size=1)
        channel = trio_otp.mailbox_channel(ref)
        await channel.send(1)  # being handled
        await channel.send(2)  # queued: the mailbox is full
        nursery.start_soon(functools.partial(ref.stop, timeout=None))
        with pytest.raises(trio.BrokenResourceError):
            await channel.send(3)  # waits for room, then the server ends


def test_mailbox_channel_has_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="no public constructor"):
        trio_otp.MailboxChannel("x", False)


async def test_feed_by_name_stops_on_an_item_that_finds_nothing_under_the_name(
    autojump_clock: MockClock,
) -> None:
    send, receive = trio.open_memory_channel[str](0)
    async with trio.open_nursery() as nursery:
        root = await nursery.start(trio_otp.Supervisor([trio_otp.server_spec("sink", Sink, name="sink")]).run)
        fed: list[BaseException] = []

        async def feeding() -> None:
            try:
                await trio_otp.feed("sink", receive)
            except trio_otp.ServerNotRunning as error:
                fed.append(error)

        nursery.start_soon(feeding)
        await send.send("before")
        await root.terminate_child("sink")
        await send.send("while nothing has the name")  # the feed takes it, finds no sink
        with pytest.raises(trio.BrokenResourceError):  # and closes its channel
            await send.send("never read")
        await trio.sleep(1)
        assert len(fed) == 1
        nursery.cancel_scope.cancel()
