"""Registries: keys that name tasks, with entries that go away when their task ends.

A :class:`Registry` maps keys to entries; each entry belongs to the task that registered
it (for a GenServer, the server's own task) and carries a value. Entries are removed
when that task ends, however it ends, so a name is free again by the time a supervisor
restarts its owner. That removal is done by one Trio instrument per run, installed the
first time anything registers, which keeps the registries each task holds entries in:
a task that ends costs one dictionary lookup, however many registries there are.

``keys=UNIQUE`` gives names (one entry per key); ``keys=DUPLICATE`` gives groups (many
entries per key), for publish/subscribe with :meth:`Registry.dispatch`.

A registry lives in one Trio run: it is plain data behind synchronous methods, none of
them a checkpoint, and it must be used from that run's tasks. Each method that changes it
is KI-protected (see ``_ki.py``), so its two indexes (by key, by task) always agree;
listeners run inside that protection and must be quick.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar, final

import attrs
import trio

from ._checks import check_callable, check_hashable, check_instance
from ._exceptions import AlreadyRegistered
from ._ki import protected
from ._util import describe, safe_repr

ValueT = TypeVar("ValueT")

logger = logging.getLogger("trio_otp.registry")


class Keys(enum.Enum):
    """Whether a key names one task or a group of them."""

    UNIQUE = "unique"
    DUPLICATE = "duplicate"


@attrs.frozen
class Entry(Generic[ValueT]):
    """One registration: the task that owns it and the value it registered."""

    owner: trio.lowlevel.Task
    value: ValueT


@attrs.frozen
class RegistryEvent:
    """What a listener is told: ``kind`` is ``"register"`` or ``"unregister"``."""

    kind: str
    registry: Registry[Any]
    key: Hashable
    entry: Entry[Any]


def _check_keys(keys: object) -> None:
    if not isinstance(keys, Keys):
        msg = f"Registry keys must be Keys.UNIQUE or Keys.DUPLICATE, got {describe(keys)}"
        raise TypeError(msg)


def _check_key(key: object) -> None:
    check_hashable(key, "a registry key")
    if key != key:  # noqa: PLR0124 - that is the point: NaN, or an __eq__ that says no
        msg = (
            f"a registry key must be equal to itself, got {safe_repr(key)}: it could never "
            "be looked up again (NaN is the usual case)"
        )
        raise ValueError(msg)


class Registry(Generic[ValueT]):
    """Names for tasks (``keys=UNIQUE``) or groups of them (``keys=DUPLICATE``).

    Args:
      keys: :class:`Keys`, default ``UNIQUE``.
      name: for error messages.
      listeners: callables told of every registration and removal, synchronously; one
        that raises is logged (``trio_otp.registry``) and the registry carries on.
    """

    def __init__(
        self,
        keys: Keys = Keys.UNIQUE,
        *,
        name: str | None = None,
        listeners: tuple[Callable[[RegistryEvent], None], ...] = (),
    ) -> None:
        _check_keys(keys)
        check_instance(name, (str, type(None)), "Registry name", "a str or None")
        for listener in listeners:
            check_callable(listener, "a Registry listener", "a callable taking a RegistryEvent")
        self.keys = keys
        self.name = name
        self._entries: dict[Hashable, list[Entry[ValueT]]] = {}
        self._by_task: dict[trio.lowlevel.Task, list[Hashable]] = {}
        self._listeners: list[Callable[[RegistryEvent], None]] = list(listeners)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name is not None else ""
        return f"<Registry{label} ({self.keys.value}, {len(self._entries)} keys)>"

    def add_listener(self, listener: Callable[[RegistryEvent], None]) -> None:
        check_callable(listener, "a Registry listener", "a callable taking a RegistryEvent")
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[RegistryEvent], None]) -> None:
        self._listeners.remove(listener)

    @protected
    def register(self, key: Hashable, value: ValueT) -> None:
        """Register the current task under ``key`` with ``value``. Not a checkpoint.

        Raises:
          AlreadyRegistered: a unique key that some running task holds (its entry is
            attached as ``entry``).
          TypeError, ValueError: ``key`` is not hashable, or not equal to itself (NaN).
          RuntimeError: outside a Trio task.
        """
        _check_key(key)
        task = trio.lowlevel.current_task()
        entries = self._entries.get(key)
        if entries and self.keys is Keys.UNIQUE:
            label = f"registry {self.name!r}" if self.name is not None else "the registry"
            msg = f"{safe_repr(key)} is already registered in {label} by task {entries[0].owner.name!r}"
            raise AlreadyRegistered(msg, entries[0])
        entry = Entry(task, value)
        self._entries.setdefault(key, []).append(entry)
        keys = self._by_task.get(task)
        if keys is None:
            self._by_task[task] = [key]
            _watch(task, self)
        else:
            keys.append(key)
        self._tell("register", key, entry)

    @protected
    def unregister(self, key: Hashable) -> None:
        """Remove the current task's entries under ``key`` (nothing if it has none)."""
        self._remove(trio.lowlevel.current_task(), key)

    def lookup(self, key: Hashable) -> list[Entry[ValueT]]:
        """The entries under ``key``, oldest first; empty if there are none."""
        return list(self._entries.get(key, ()))

    def whereis(self, key: Hashable) -> ValueT | None:
        """The value of the entry under a unique ``key``, or ``None``."""
        entries = self._entries.get(key)
        return entries[0].value if entries else None

    def keys_of(self, task: trio.lowlevel.Task | None = None) -> list[Hashable]:
        """The keys ``task`` (default: the current task) is registered under."""
        return list(self._by_task.get(task or trio.lowlevel.current_task(), ()))

    def dispatch(self, key: Hashable, callback: Callable[[list[Entry[ValueT]]], None]) -> None:
        """Call ``callback`` with the entries under ``key``, if there are any (Elixir's
        ``Registry.dispatch``): publish to a group by sending to each entry's value."""
        entries = self._entries.get(key)
        if entries:
            callback(list(entries))

    def count(self) -> int:
        """How many entries the registry holds."""
        return sum(len(entries) for entries in self._entries.values())

    def __iter__(self) -> Iterator[tuple[Hashable, Entry[ValueT]]]:
        for key, entries in list(self._entries.items()):
            for entry in entries:
                yield key, entry

    # -- removal --

    @protected
    def _remove(self, task: trio.lowlevel.Task, key: Hashable) -> None:
        entries = self._entries.get(key)
        if not entries:
            return
        mine = [entry for entry in entries if entry.owner is task]
        if not mine:
            return
        rest = [entry for entry in entries if entry.owner is not task]
        if rest:
            self._entries[key] = rest
        else:
            del self._entries[key]
        keys = self._by_task.get(task)
        if keys is not None:
            remaining = [k for k in keys if not (k is key or k == key)]
            if remaining:
                self._by_task[task] = remaining
            else:
                del self._by_task[task]
                _unwatch(task, self)
        for entry in mine:
            self._tell("unregister", key, entry)

    @protected
    def _forget_task(self, task: trio.lowlevel.Task) -> None:
        for key in list(dict.fromkeys(self._by_task.get(task, ()))):
            self._remove(task, key)

    def _tell(self, kind: str, key: Hashable, entry: Entry[ValueT]) -> None:
        for listener in list(self._listeners):
            try:
                listener(RegistryEvent(kind, self, key, entry))
            except Exception:
                # Removals run inside a Trio instrument, which Trio disables for good if it
                # raises; so a broken listener is logged, never allowed to stop clean-up.
                logger.exception("registry listener %r raised on %s of %r", listener, kind, key)


@final
class _Reaper(trio.abc.Instrument):
    """Removes a task's entries from every registry when the task ends.

    Holds, for each task with entries, the registries that hold them (strongly, but only
    until those entries go), so an ending task costs one dictionary lookup.
    """

    def __init__(self) -> None:
        self.holders: dict[trio.lowlevel.Task, list[Registry[Any]]] = {}

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        registries = self.holders.pop(task, None)
        if registries is not None:
            for registry in registries:
                registry._forget_task(task)


_reaper: trio.lowlevel.RunVar[_Reaper] = trio.lowlevel.RunVar("trio_otp_registry_reaper")


def _watch(task: trio.lowlevel.Task, registry: Registry[Any]) -> None:
    """Note that ``registry`` holds entries of ``task`` (its first there)."""
    try:
        reaper = _reaper.get()
    except LookupError:
        reaper = _Reaper()
        _reaper.set(reaper)
        trio.lowlevel.add_instrument(reaper)
    reaper.holders.setdefault(task, []).append(registry)


def _unwatch(task: trio.lowlevel.Task, registry: Registry[Any]) -> None:
    """``registry`` holds no more entries of ``task``."""
    try:
        holders = _reaper.get().holders
    except LookupError:  # outside the run that registered: nothing is watched here
        return
    registries = holders.get(task)
    if registries is not None:
        registries.remove(registry)
        if not registries:
            del holders[task]
