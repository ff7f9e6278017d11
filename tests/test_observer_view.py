"""The terminal view (the ``observer`` extra), driven by Textual's Pilot against a real
application in a subprocess. Textual runs on asyncio, so each test runs its own loop."""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("textual")

from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from trio_otp.observer._app import ObserverApp

from .test_observer import Application
from .test_observer import application as application
from .test_observer import socket_path as socket_path


def lines(node: TreeNode[Any]) -> Iterator[str]:
    yield str(node.label)
    for child in node.children:
        yield from lines(child)


async def until(pilot: Any, condition: Any, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the view did not get there in time")


def text_of(widget: Static) -> str:
    return str(widget.content)


def test_the_view_shows_the_live_tree_and_a_selected_servers_status(application: Application) -> None:
    async def scenario() -> None:
        app = ObserverApp(application.address, interval=0.2)
        async with app.run_test(size=(120, 34)) as pilot:
            await until(pilot, lambda: app.last_snapshot is not None)
            tree: Tree[Any] = app.query_one("#tree", Tree)
            await until(pilot, lambda: len(list(lines(tree.root))) == 5)
            shown = list(lines(tree.root))
            assert shown[0].startswith("shop  supervisor  running")
            assert shown[1].startswith("storage  supervisor  running")
            assert shown[2].startswith(
                "inventory  server  running  [mailbox: 2]  [handling call 'reorder' for"
            )
            assert shown[3] == "flaky  worker  running  restarted 1x"
            assert shown[4] == "clerk  worker  running"
            crashes = text_of(app.query_one("#crashes", Static))
            assert "'storage' / flaky  ValueError: flaky start" in crashes

            await pilot.press("down", "down")  # shop -> storage -> inventory
            status = app.query_one("#status", Static)
            await until(pilot, lambda: "format_status" in text_of(status))
            assert app.selected == ("storage", "inventory")
            assert "<redacted>" in text_of(status)
            assert "s3cret" not in text_of(status)
            assert "mailbox: 2" in text_of(status)
            assert "message: call 'reorder'" in text_of(status)

            # Refreshes keep the cursor where the user put it.
            before = app.last_snapshot["time"] if app.last_snapshot else None
            await until(pilot, lambda: app.last_snapshot is not None and app.last_snapshot["time"] != before)
            assert tree.cursor_node is not None
            assert tree.cursor_node.data == ("storage", "inventory")

            screenshot = os.environ.get("TRIO_OTP_OBSERVER_SCREENSHOT")
            if screenshot:  # for a look by eye: nox -s observer with it set
                pathlib.Path(screenshot).write_text(app.export_screenshot())  # noqa: ASYNC240 - once, at the end

            application.stop()
            await until(pilot, lambda: "unreachable" in str(app.sub_title))

    asyncio.run(scenario())


def test_the_view_waits_for_an_endpoint_that_is_not_there(socket_path: str) -> None:
    async def scenario() -> None:
        app = ObserverApp(socket_path, interval=0.1)
        async with app.run_test() as pilot:
            await until(pilot, lambda: "unreachable" in str(app.sub_title))
            assert app.last_snapshot is None
            await pilot.press("q")

    asyncio.run(scenario())
