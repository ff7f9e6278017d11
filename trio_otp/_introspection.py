"""The live tree as data, and three ways to show it: an indented text tree, JSON, and a
picture (Graphviz DOT or Mermaid text, which render to an image).

:func:`snapshot` asks each supervisor for its children (``which_children``) and recurses
into those that are supervisors, so it sees what each supervisor sees at the moment it
answers; a tree that is restarting while it is walked can show a child as restarting, or
a subtree that ended as stopped, but never an inconsistent supervisor. A server's
mailbox and the message it is handling are read directly from its bookkeeping, as
:func:`get_status` reads them, so a stuck server shows what it is stuck on.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from typing import Any

import attrs
import trio

from ._exceptions import SupervisorNotRunning
from ._supervisor import ChildState, SupervisorRef
from ._sys import status_fields
from ._util import describe, safe_repr

#: How many children :func:`snapshot` turns into nodes between two checkpoints: building
#: a node is no checkpoint, and a supervisor may have a great many children.
YIELD_EVERY = 256


@attrs.frozen
class TreeNode:
    """One process of a supervision tree, as :func:`snapshot` saw it."""

    id: Hashable
    #: ``"supervisor"``, ``"dynamic_supervisor"``, ``"task_supervisor"``, ``"worker_pool"``,
    #: ``"server"`` or ``"worker"``.
    kind: str
    #: ``"running"``, ``"restarting"`` or ``"stopped"``.
    state: str
    restarts: int = 0
    children: tuple[TreeNode, ...] = ()
    #: A running server's messages waiting in its mailbox; ``None`` for other nodes.
    mailbox: int | None = None
    #: The message a running server is handling, as ``(kind, text)``: the kind as in
    #: :attr:`ServerStatus.message`, the content's ``repr`` on one line (a snapshot
    #: keeps no user objects, and stays hashable), or ``None``.
    message: tuple[str, str] | None = None
    #: Seconds since it took that message, on Trio's clock, or ``None``.
    handling_for: float | None = None

    def walk(self, depth: int = 0) -> Iterator[tuple[int, TreeNode]]:
        """This node and every node below it, depth first, with their depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for JSON or a dashboard."""
        return {
            "id": _text(self.id),
            "kind": self.kind,
            "state": self.state,
            "restarts": self.restarts,
            "mailbox": self.mailbox,
            "message": _message_text(self.message),
            "handling_for": self.handling_for,
            "children": [child.as_dict() for child in self.children],
        }


async def snapshot(root: object, *, id: Hashable = "root") -> TreeNode:  # noqa: A002
    """The tree under ``root`` (a :class:`SupervisorRef`, :class:`DynamicSupervisorRef` or
    :class:`TaskSupervisorRef`) as :class:`TreeNode` data. A checkpoint, and one more
    every 256 children, so that walking a huge tree does not stall the run.

    Raises:
      SupervisorNotRunning: ``root`` has ended.
      TypeError: ``root`` is not one of those references.
    """
    from ._dynamic_supervisor import DynamicSupervisorRef  # noqa: PLC0415 - import cycle
    from ._task_supervisor import TaskSupervisorRef  # noqa: PLC0415

    if not isinstance(root, (SupervisorRef, DynamicSupervisorRef, TaskSupervisorRef)):
        msg = (
            "snapshot's root must be a SupervisorRef, DynamicSupervisorRef or TaskSupervisorRef, "
            f"got {describe(root)}"
        )
        raise TypeError(msg)
    return await _node(root, id, ChildState.RUNNING, 0)


def _check_node(node: object, function: str) -> None:
    if not isinstance(node, TreeNode):
        msg = f"{function}'s node must be a TreeNode (from trio_otp.snapshot), got {describe(node)}"
        raise TypeError(msg)


async def _node(ref: object, node_id: Hashable, state: ChildState, restarts: int) -> TreeNode:
    from ._dynamic_supervisor import DynamicSupervisorRef  # noqa: PLC0415 - import cycle
    from ._task_supervisor import TaskSupervisorRef  # noqa: PLC0415
    from ._worker_pool import WorkerPoolRef  # noqa: PLC0415

    supervisor: SupervisorRef | DynamicSupervisorRef | None
    if isinstance(ref, TaskSupervisorRef):
        kind, supervisor = "task_supervisor", ref._supervisor
    elif isinstance(ref, DynamicSupervisorRef):
        kind, supervisor = "dynamic_supervisor", ref
    elif isinstance(ref, SupervisorRef):
        kind, supervisor = "supervisor", ref
    elif isinstance(ref, WorkerPoolRef):
        kind, supervisor = "worker_pool", ref._supervisor()
    else:
        fields = status_fields(ref)
        if fields is None:
            return TreeNode(node_id, "worker", state.value, restarts)
        mailbox, message, handling_for = fields
        return TreeNode(
            node_id,
            "server",
            state.value,
            restarts,
            mailbox=mailbox,
            message=None if message is None else (message[0], _one_line(safe_repr(message[1]))),
            handling_for=handling_for,
        )
    children: list[TreeNode] = []
    try:
        infos = await supervisor.which_children()
    except SupervisorNotRunning:
        return TreeNode(node_id, kind, ChildState.STOPPED.value, restarts)
    for count, info in enumerate(reversed(infos), 1):  # start order reads better than newest-first
        if count % YIELD_EVERY == 0:
            await trio.lowlevel.checkpoint()  # a huge tree must not stall the run
        if info.state is ChildState.RUNNING:
            children.append(await _node(info.ref, info.id, info.state, info.restarts))
        else:
            children.append(TreeNode(info.id, _kind_of(info), info.state.value, info.restarts))
    return TreeNode(node_id, kind, state.value, restarts, tuple(children))


def _kind_of(info: Any) -> str:
    return "supervisor" if info.type.value == "supervisor" else "worker"


def _text(value: Hashable) -> str:
    return _one_line(value if isinstance(value, str) else safe_repr(value))


def _one_line(text: str) -> str:
    """``text`` with control characters (newlines above all) escaped: one process a line
    in every renderer, whatever a repr holds."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _message_text(message: tuple[str, str] | None) -> str | None:
    """A message being handled as text: ``"call 'get'"``."""
    return None if message is None else f"{message[0]} {message[1]}"


def _activity(node: TreeNode) -> list[str]:
    """What a server is doing, for the renderers; nothing for an idle one, so that the
    pictures of idle trees stay as they were."""
    parts: list[str] = []
    if node.mailbox:
        parts.append(f"mailbox: {node.mailbox}")
    if node.message is not None:
        parts.append(f"handling {_message_text(node.message)} for {node.handling_for or 0.0:g} s")
    return parts


def format_tree(node: TreeNode) -> str:
    """An indented text tree, one process a line: id, kind, state, how many times it was
    restarted if it was, and for a busy server its waiting messages and the message it
    is handling (``[mailbox: 3]  [handling call 'get' for 2.5 s]``), drawn with
    box-drawing characters as ``tree(1)`` does."""
    _check_node(node, "format_tree")
    lines: list[str] = []

    def line(item: TreeNode, prefix: str, connector: str) -> None:
        restarted = f"  (restarted {item.restarts}x)" if item.restarts else ""
        activity = "".join(f"  [{part}]" for part in _activity(item))
        lines.append(f"{prefix}{connector}{_text(item.id)}  {item.kind}  {item.state}{restarted}{activity}")
        below = prefix + ("" if not connector else "    " if connector == "└── " else "│   ")
        for index, child in enumerate(item.children):
            line(child, below, "└── " if index == len(item.children) - 1 else "├── ")

    line(node, "", "")
    return "\n".join(lines)


def to_json(node: TreeNode, *, indent: int | None = 2) -> str:
    """The tree as JSON (see :meth:`TreeNode.as_dict`)."""
    _check_node(node, "to_json")
    return json.dumps(node.as_dict(), indent=indent, ensure_ascii=False)


_FILL = {"running": "#d8f0d8", "restarting": "#fbe7b0", "stopped": "#eeeeee"}


def to_dot(node: TreeNode) -> str:
    """Graphviz DOT text: supervisors as boxes, workers as rounded boxes, filled by state
    (green running, amber restarting, grey stopped). Render it with
    ``dot -Tsvg tree.dot -o tree.svg``."""
    _check_node(node, "to_dot")
    lines = ["digraph supervision_tree {", '  node [fontname="Helvetica" fontsize=11];']
    counter = iter(range(1_000_000))

    def visit(item: TreeNode, parent: str | None) -> None:
        name = f"n{next(counter)}"
        label = (
            _text(item.id)
            + f"\\n{item.kind}"
            + (f"\\nrestarts: {item.restarts}" if item.restarts else "")
            + "".join(f"\\n{part}" for part in _activity(item))
        )
        style = "filled" if item.kind.endswith("supervisor") else '"rounded,filled"'
        fill = _FILL.get(item.state, "#ffffff")
        lines.append(f'  {name} [label="{_escape(label)}" shape=box style={style} fillcolor="{fill}"];')
        if parent is not None:
            lines.append(f"  {parent} -> {name};")
        for child in item.children:
            visit(child, name)

    visit(node, None)
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(node: TreeNode) -> str:
    """Mermaid flowchart text (renders on GitHub and in many doc tools)."""
    _check_node(node, "to_mermaid")
    lines = ["flowchart TD"]
    counter = iter(range(1_000_000))

    def visit(item: TreeNode, parent: str | None) -> None:
        name = f"n{next(counter)}"
        parts = [_text(item.id), item.kind]
        parts += [f"restarts: {item.restarts}"] if item.restarts else []
        parts += _activity(item)
        label = "<br/>".join(_mermaid_text(part) for part in parts)
        open_, close = ("[", "]") if item.kind.endswith("supervisor") else ("(", ")")
        lines.append(f'  {name}{open_}"{label}"{close}:::{item.state}')
        if parent is not None:
            lines.append(f"  {parent} --> {name}")
        for child in item.children:
            visit(child, name)

    visit(node, None)
    lines += [
        "  classDef running fill:#d8f0d8",
        "  classDef restarting fill:#fbe7b0",
        "  classDef stopped fill:#eeeeee,color:#777777",
    ]
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: its own markup characters as entity codes,
    so that a repr cannot end the label or slip HTML into the picture."""
    for char, code in (("&", "#amp;"), ("<", "#lt;"), (">", "#gt;"), ('"', "#quot;")):
        text = text.replace(char, code)
    return text


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
