"""A chat room as a duplicate registry: members register under the room with their
nickname and status, and the room is queried by value."""

from __future__ import annotations

from typing import Any

import trio

import trio_otp


async def main() -> None:
    rooms: trio_otp.Registry[dict[str, Any]] = trio_otp.Registry(
        trio_otp.Keys.DUPLICATE, name="rooms", meta={"max_members": 100}
    )

    async def member(nick: str, away: bool, *, task_status: trio.TaskStatus[None]) -> None:
        rooms.register("lobby", {"nick": nick, "away": away})
        rooms.register("typing", {"nick": nick})
        task_status.started()
        await trio.sleep(10)  # leaving the room is just ending: the entries go with the task

    async with trio.open_nursery() as nursery:
        for nick, away in [("ada", False), ("grace", True), ("linus", False)]:
            await nursery.start(member, nick, away)

        # Under one key: costs O(entries under "lobby"), not O(the whole registry).
        here = rooms.match("lobby", lambda value: not value["away"])
        print("here:", sorted(entry.value["nick"] for entry in here))
        print("away:", rooms.count_match("lobby", lambda value: value["away"]))

        # Across every key: a full scan, as Elixir's select.
        print("entries of ada:", rooms.count_select(lambda key, entry: entry.value["nick"] == "ada"))
        print("limit:", rooms.meta("max_members"), "members:", rooms.count_match("lobby"))

        await trio.sleep(11)
        print("after they left:", rooms.count())
