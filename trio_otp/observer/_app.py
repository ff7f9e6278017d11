"""The terminal view of an observer endpoint, on Textual (the ``observer`` extra).

The tree on the left, refreshed every ``interval`` seconds; the node under the cursor's
status on the right (a server's state as its ``format_status`` shows it, its mailbox and
the message it is handling); the recent crashes below. Every request runs in a worker
thread, so a slow or vanished endpoint never freezes the screen: the header says it is
unreachable, and the view carries on trying.

A refresh that leaves the tree's shape as it was only relabels the nodes, so the cursor
and what is folded stay put; a new shape is rebuilt, and the cursor goes back to the
node it was on, found by its path of child ids.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static, Tree
from textual.widgets.tree import TreeNode

from ._client import ObserverRequestFailed, fetch_snapshot, fetch_status

Path = tuple[str, ...]

_STATE_STYLES = {"running": "green", "restarting": "bold yellow", "stopped": "dim"}


def node_label(node: dict[str, Any]) -> Text:
    """One tree line: id, kind, state, and what is worth a glance (restarts, a busy server)."""
    label = Text()
    label.append(str(node["id"]), style="bold")
    label.append(f"  {node['kind']}  ", style="cyan")
    label.append(str(node["state"]), style=_STATE_STYLES.get(str(node["state"]), ""))
    if node.get("restarts"):
        label.append(f"  restarted {node['restarts']}x", style="yellow")
    if node.get("mailbox"):
        label.append(f"  [mailbox: {node['mailbox']}]", style="magenta")
    if node.get("message"):
        took = node.get("handling_for")
        extra = f" for {took:.1f} s" if isinstance(took, (int, float)) else ""
        label.append(f"  [handling {node['message']}{extra}]", style="magenta")
    return label


def shape(node: dict[str, Any], path: Path = ()) -> list[Path]:
    """Every node's path, depth first: two snapshots with the same shape relabel in place."""
    paths = [path]
    for child in node.get("children", []):
        paths.extend(shape(child, (*path, str(child["id"]))))
    return paths


def status_text(path: Path, status: dict[str, Any]) -> Text:
    text = Text()
    text.append(("/".join(path) or "(root)") + "\n\n", style="bold")
    for key, value in status.items():
        if key == "state":
            continue
        shown = value
        if key == "message" and value is not None:
            shown = f"{value[0]} {value[1]}"
        elif key == "handling_for" and isinstance(value, float):
            shown = f"{value:.2f} s"
        text.append(f"{key}: ", style="cyan")
        text.append(f"{shown}\n")
    if "state" in status:
        text.append("\nstate (format_status):\n", style="cyan")
        text.append(str(status["state"]) + "\n")
    return text


def crashes_text(crashes: list[dict[str, Any]], limit: int = 6) -> Text:
    text = Text("recent crashes\n", style="bold")
    if not crashes:
        text.append("none", style="dim")
        return text
    for crash in reversed(crashes[-limit:]):
        at = datetime.datetime.fromtimestamp(float(crash["at"])).strftime("%H:%M:%S")
        text.append(f"{at}  ", style="dim")
        text.append(f"{crash['event']:<10} ", style="red" if crash["event"] == "crash" else "bold red")
        text.append(f"{crash['supervisor']} / {crash['child_id']}  ")
        text.append(f"{crash['error_type']}: {crash['error_message']}\n", style="red")
    return text


class ObserverApp(App[None]):
    """The live tree of the application whose observer listens at ``address``."""

    TITLE = "trio_otp observer"
    CSS = """
    #main { height: 1fr; }
    #tree { width: 3fr; border: round $primary; }
    #status { width: 2fr; border: round $secondary; padding: 0 1; }
    #crashes { height: 8; border: round $error; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh_now", "Refresh"),
    ]

    def __init__(self, address: str, *, interval: float = 1.0) -> None:
        super().__init__()
        self.address = address
        self.interval = interval
        self.sub_title = address
        self.nodes: dict[Path, TreeNode[Path]] = {}
        self.current_shape: list[Path] = []
        self.selected: Path = ()
        #: The last snapshot read, or None before the first (tests read it).
        self.last_snapshot: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            with Horizontal(id="main"):
                tree: Tree[Path] = Tree("connecting...", id="tree")
                tree.show_root = True
                yield tree
                yield Static("select a node", id="status")
            yield Static(crashes_text([]), id="crashes")
        yield Footer()

    async def on_mount(self) -> None:
        await self.refresh_snapshot()
        self.set_interval(self.interval, self.refresh_snapshot)

    async def action_refresh_now(self) -> None:
        await self.refresh_snapshot()

    async def refresh_snapshot(self) -> None:
        try:
            snapshot = await asyncio.to_thread(fetch_snapshot, self.address)
        except (OSError, ObserverRequestFailed) as error:
            self.sub_title = f"{self.address}: unreachable ({error})"
            return
        self.last_snapshot = snapshot
        stamp = datetime.datetime.fromtimestamp(float(snapshot["time"])).strftime("%H:%M:%S")
        busy = "  (busy: tree not refreshed)" if snapshot.get("busy") else ""
        self.sub_title = f"{self.address}  pid {snapshot['pid']}  {snapshot['phase']}  at {stamp}{busy}"
        self.show_tree(snapshot.get("tree"))
        self.query_one("#crashes", Static).update(crashes_text(snapshot.get("crashes", [])))
        await self.refresh_status()

    def show_tree(self, root: dict[str, Any] | None) -> None:
        tree: Tree[Path] = self.query_one("#tree", Tree)
        if root is None:
            tree.reset("(the root has not started)")
            self.nodes, self.current_shape = {}, []
            return
        new_shape = shape(root)
        if new_shape == self.current_shape:
            self.relabel(root, ())
            return
        tree.reset(node_label(root), data=())
        self.nodes = {(): tree.root}
        self.add_children(tree.root, root, ())
        tree.root.expand_all()
        self.current_shape = new_shape
        keep = self.selected if self.selected in self.nodes else ()
        tree.move_cursor(self.nodes[keep])

    def add_children(self, parent: TreeNode[Path], node: dict[str, Any], path: Path) -> None:
        for child in node.get("children", []):
            child_path = (*path, str(child["id"]))
            if child.get("children"):
                added = parent.add(node_label(child), data=child_path)
                self.add_children(added, child, child_path)
            else:
                added = parent.add_leaf(node_label(child), data=child_path)
            self.nodes[child_path] = added

    def relabel(self, node: dict[str, Any], path: Path) -> None:
        self.nodes[path].set_label(node_label(node))
        for child in node.get("children", []):
            self.relabel(child, (*path, str(child["id"])))

    async def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Path]) -> None:
        path = event.node.data
        if path is not None and path != self.selected:
            self.selected = path
            await self.refresh_status()

    async def refresh_status(self) -> None:
        panel = self.query_one("#status", Static)
        path = self.selected
        if path not in self.nodes:
            panel.update("select a node")
            return
        try:
            status = await asyncio.to_thread(fetch_status, self.address, path)
        except ObserverRequestFailed as refused:
            panel.update(Text(f"{'/'.join(path)}: {refused}", style="yellow"))
            return
        except OSError as error:
            panel.update(Text(f"unreachable: {error}", style="red"))
            return
        panel.update(status_text(path, status))
