"""A connection as a state machine: disconnected -> connecting -> connected.

Requests that come while the link is down are postponed, and answered once connected;
a connect attempt that gets no answer gives up after a state timeout and retries.
"""

from __future__ import annotations

from typing import Literal

import attrs
import trio

import trio_otp
from trio_otp import (
    CallEvent,
    EnterEvent,
    Event,
    InfoEvent,
    KeepState,
    NextState,
    Postpone,
    ReplyTo,
    StateTimeout,
    StateTimeoutEvent,
    Transition,
)

State = Literal["disconnected", "connecting", "connected"]


@attrs.define
class Link:
    attempts: int = 0
    sent: list[str] = attrs.field(factory=list[str])


def log(text: str) -> None:
    print(f"{trio.current_time():4.1f}s  {text}")


@attrs.define
class Connection(trio_otp.StateMachine[State, Link, str, str]):
    """Sends payloads over a link that comes and goes. One method per state."""

    state_enter = True
    backoff: float = 1.0  # before each connect attempt
    connect_timeout: float = 2.0
    answers_from_attempt: int = 2  # the (pretend) peer ignores the first attempt

    async def init(self) -> NextState[State, Link]:
        return NextState("disconnected", Link())

    async def disconnected(self, event: Event[str, str], link: Link) -> Transition[State, Link]:
        match event:
            case EnterEvent(old_state=old):
                log(f"{old} -> disconnected")
                return KeepState(link, StateTimeout(self.backoff, "retry"))
            case StateTimeoutEvent():
                return NextState("connecting", link)
            case CallEvent():
                return KeepState(link, Postpone())  # answered once connected
            case _:
                return None

    async def connecting(self, event: Event[str, str], link: Link) -> Transition[State, Link]:
        match event:
            case EnterEvent():
                link.attempts += 1
                log(f"connecting, attempt {link.attempts}")
                if link.attempts >= self.answers_from_attempt:
                    trio_otp.send_after(0.5, "conn", "link up")  # the peer's answer
                return KeepState(link, StateTimeout(self.connect_timeout, "give up"))
            case InfoEvent(message="link up"):
                return NextState("connected", link)
            case StateTimeoutEvent():
                return NextState("disconnected", link)
            case CallEvent():
                return KeepState(link, Postpone())
            case _:
                return None

    async def connected(self, event: Event[str, str], link: Link) -> Transition[State, Link]:
        match event:
            case EnterEvent(old_state=old):
                log(f"{old} -> connected")
                return None
            case CallEvent(request=payload, caller=caller):
                link.sent.append(payload)
                log(f"sending {payload!r}")
                return KeepState(link, ReplyTo(caller, f"sent {payload!r}"))
            case InfoEvent(message="link down"):
                return NextState("disconnected", link)
            case _:
                return None


async def main() -> None:
    async with trio.open_nursery() as nursery:
        conn = await trio_otp.start_state_machine(nursery, Connection, name="conn")

        async def request(payload: str) -> None:
            assert await conn.call(payload, timeout=10) == f"sent {payload!r}"

        nursery.start_soon(request, "hello")
        await trio.sleep(0.5)
        nursery.start_soon(request, "world")
        await trio.sleep(5.5)
        conn.send("link down")
        await request("again")
        state, link = await trio_otp.get_state(conn)
        log(f"{state} after {link.attempts} attempts, sent {', '.join(link.sent)}")
        await conn.stop()
