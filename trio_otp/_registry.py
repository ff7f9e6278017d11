"""Registries: keys that name tasks, with entries that go away when their task ends.

A :class:`Registry` maps keys to entries; each entry belongs to the task that registered
it (for a GenServer, the server's own task) and carries a value. Entries are removed
when that task ends, however it ends, so a name is free again by the time a supervisor
restarts its owner. That removal is done by one Trio instrument per run, installed the
first time anything registers, which keeps the registries each task holds entries in:
a task that ends costs one dictionary lookup, however many registries there are.

``keys=UNIQUE`` gives names (one entry per key); ``keys=DUPLICATE`` gives groups (many
entries per key), for publish/subscribe with :meth:`Registry.dispatch`.

Costs follow Elixir's: everything that names a key (``lookup``, ``match``,
``count_match``, ``values``, ``update_value``, ``unregister_match``, ``dispatch``) costs
O(entries under that key), whatever the registry holds; ``count`` is O(1) (a running
total); only ``select``, ``count_select`` and iteration look at every entry, as Elixir's
``select`` scans its whole table. A callable that a query or an update is given (a
predicate, an update function) is user code: it runs before anything is changed, outside
the KI-protected part, so a predicate that raises changes nothing.

A registry lives in one Trio run: it is plain data behind synchronous methods, none of
them a checkpoint, and it must be used from that run's tasks. Each method that changes it
is KI-protected (see ``_ki.py``), so its two indexes (by key, by task) always agree;
listeners run inside that protection and must be quick.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, Generic, TypeVar, final

import attrs
import trio

from ._checks import check_callable, check_hashable, check_instance
from ._exceptions import AlreadyRegistered
from ._ki import protected
from ._processes import server_of_task
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
    # The ServerRef of the server the owner ran when it registered (None if none), which
    # is the member multi_call and abcast reach: a task may run another server later, or
    # one nested in a callback, and the entry stays the first one's.
    _server: object = attrs.field(default=None, eq=False, repr=False, alias="_server")


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


def _check_lookup_key(key: object, method: str) -> None:
    """Called when looking ``key`` up raised a TypeError: say so clearly if ``key`` is not
    hashable; return (so that the caller re-raises the original) if it is, the error then
    coming from the key's own ``__eq__``. Only on that failure path, so a lookup that
    succeeds costs nothing more."""
    check_hashable(key, f"Registry.{method}'s key")


class Registry(Generic[ValueT]):
    """Names for tasks (``keys=UNIQUE``) or groups of them (``keys=DUPLICATE``).

    Args:
      keys: :class:`Keys`, default ``UNIQUE``.
      name: for error messages.
      listeners: callables told of every registration and removal, synchronously; one
        that raises is logged (``trio_otp.registry``) and the registry carries on.
      meta: the registry's initial metadata (Elixir's ``:meta``), a mapping of hashable
        keys to any values; read it with :meth:`meta`, change it with :meth:`put_meta`.
    """

    def __init__(
        self,
        keys: Keys = Keys.UNIQUE,
        *,
        name: str | None = None,
        listeners: tuple[Callable[[RegistryEvent], None], ...] = (),
        meta: Mapping[Hashable, object] | None = None,
    ) -> None:
        _check_keys(keys)
        check_instance(meta, (Mapping, type(None)), "Registry meta", "a mapping (a dict) or None")
        check_instance(name, (str, type(None)), "Registry name", "a str or None")
        for listener in listeners:
            check_callable(listener, "a Registry listener", "a callable taking a RegistryEvent")
        self.keys = keys
        self.name = name
        self._entries: dict[Hashable, list[Entry[ValueT]]] = {}
        # Each task's keys, with how many of its entries each holds: removing one key
        # costs O(1) here, whatever else the task holds.
        self._by_task: dict[trio.lowlevel.Task, dict[Hashable, int]] = {}
        self._listeners: list[Callable[[RegistryEvent], None]] = list(listeners)
        self._size = 0  # how many entries, for an O(1) count()
        self._meta: dict[Hashable, object] = {}
        for meta_key, meta_value in (meta or {}).items():
            self.put_meta(meta_key, meta_value)

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
        entry = Entry(task, value, server_of_task(task))
        self._entries.setdefault(key, []).append(entry)
        self._size += 1
        keys = self._by_task.get(task)
        if keys is None:
            self._by_task[task] = {key: 1}
            _watch(task, self)
        else:
            keys[key] = keys.get(key, 0) + 1
        self._tell("register", key, entry)

    @protected
    def unregister(self, key: Hashable) -> None:
        """Remove the current task's entries under ``key`` (nothing if it has none). Not a
        checkpoint.

        Raises:
          TypeError: ``key`` is not hashable.
        """
        self._remove(trio.lowlevel.current_task(), key)

    def lookup(self, key: Hashable) -> list[Entry[ValueT]]:
        """The entries under ``key``, oldest first; empty if there are none. Not a
        checkpoint.

        Raises:
          TypeError: ``key`` is not hashable.
        """
        try:
            return list(self._entries.get(key, ()))
        except TypeError:
            _check_lookup_key(key, "lookup")
            raise

    def whereis(self, key: Hashable) -> ValueT | None:
        """The value of the entry under a unique ``key``, or ``None``. Not a checkpoint.

        Raises:
          TypeError: ``key`` is not hashable.
        """
        try:
            entries = self._entries.get(key)
            return entries[0].value if entries else None  # in the try: no jump on success
        except TypeError:
            _check_lookup_key(key, "whereis")
            raise

    def keys_of(self, task: trio.lowlevel.Task | None = None) -> list[Hashable]:
        """The keys ``task`` (default: the current task) is registered under.

        Raises:
          TypeError: ``task`` is neither None nor a Trio task.
        """
        check_instance(
            task, (trio.lowlevel.Task, type(None)), "Registry.keys_of's task", "None or a Trio task"
        )
        keys = self._by_task.get(task or trio.lowlevel.current_task(), {})
        return [key for key, count in keys.items() for _ in range(count)]

    def dispatch(self, key: Hashable, callback: Callable[[list[Entry[ValueT]]], None]) -> None:
        """Call ``callback`` with the entries under ``key``, if there are any (Elixir's
        ``Registry.dispatch``): publish to a group by sending to each entry's value.

        Raises:
          TypeError: ``key`` is not hashable.
          Exception: whatever ``callback`` raises, unchanged.
        """
        try:
            entries = self._entries.get(key)
        except TypeError:
            _check_lookup_key(key, "dispatch")
            raise
        if entries:
            callback(list(entries))

    def count(self) -> int:
        """How many entries the registry holds (Elixir's ``Registry.count/1``). O(1)."""
        return self._size

    # -- queries and updates by key, as Elixir's Registry: O(entries under the key) --

    def match(self, key: Hashable, predicate: Callable[[ValueT], bool] | None = None) -> list[Entry[ValueT]]:
        """The entries under ``key`` whose value satisfies ``predicate`` (all of them if it
        is ``None``), oldest first: Elixir's ``Registry.match/4``, a predicate in place of
        the match pattern and guards. O(entries under ``key``). Not a checkpoint.

        Raises:
          TypeError: ``key`` is not hashable, or ``predicate`` is neither None nor callable.
          Exception: whatever ``predicate`` raises, unchanged.
        """
        if predicate is not None:
            check_callable(predicate, "Registry.match's predicate", "None or a callable taking a value")
        try:
            entries = self._entries.get(key, ())
        except TypeError:
            _check_lookup_key(key, "match")
            raise
        if predicate is None:
            return list(entries)
        return [entry for entry in entries if predicate(entry.value)]

    def count_match(self, key: Hashable, predicate: Callable[[ValueT], bool] | None = None) -> int:
        """How many entries :meth:`match` would return (Elixir's ``Registry.count_match/4``),
        without building the list. O(entries under ``key``).

        Raises:
          TypeError, Exception: as :meth:`match`.
        """
        try:
            entries = self._entries.get(key, ())
        except TypeError:
            _check_lookup_key(key, "count_match")
            raise
        if predicate is None:
            return len(entries)
        check_callable(predicate, "Registry.count_match's predicate", "None or a callable taking a value")
        return sum(1 for entry in entries if predicate(entry.value))

    def values(self, key: Hashable, task: trio.lowlevel.Task | None = None) -> list[ValueT]:
        """The values ``task`` (default: the current task) registered under ``key``, oldest
        first; at most one in a unique registry (Elixir's ``Registry.values/3``). O(entries
        under ``key``).

        Raises:
          TypeError: ``key`` is not hashable, or ``task`` is neither None nor a Trio task.
        """
        check_instance(
            task, (trio.lowlevel.Task, type(None)), "Registry.values's task", "None or a Trio task"
        )
        owner = task or trio.lowlevel.current_task()
        try:
            entries = self._entries.get(key, ())
        except TypeError:
            _check_lookup_key(key, "values")
            raise
        return [entry.value for entry in entries if entry.owner is owner]

    def update_value(
        self, key: Hashable, function: Callable[[ValueT], ValueT]
    ) -> tuple[ValueT, ValueT] | None:
        """Replace the value of the current task's entry under ``key`` with
        ``function(old)``; returns ``(new, old)``, or ``None`` if the task has no entry
        there (Elixir's ``Registry.update_value/3``, whose ``:error`` this is). Only for a
        unique registry. Listeners are not told (Elixir's are not either): the entry stays
        registered, with a new :class:`Entry` holding the new value. O(entries under
        ``key``); not a checkpoint.

        Raises:
          ValueError: the registry has duplicate keys.
          TypeError: ``key`` is not hashable, or ``function`` is not callable.
          Exception: whatever ``function`` raises; the value is then unchanged.
        """
        if self.keys is not Keys.UNIQUE:
            msg = (
                f"Registry.update_value works on a unique registry (Keys.UNIQUE), not on {self!r}: "
                "in a group, unregister and register again"
            )
            raise ValueError(msg)
        check_callable(function, "Registry.update_value's function", "a callable taking the old value")
        task = trio.lowlevel.current_task()
        try:
            entries = self._entries.get(key)
        except TypeError:
            _check_lookup_key(key, "update_value")
            raise
        if not entries or entries[0].owner is not task:
            return None
        old = entries[0].value
        new = function(old)  # user code: before anything changes
        self._replace(key, entries[0], Entry(task, new, entries[0]._server))
        return new, old

    @protected
    def _replace(self, key: Hashable, old: Entry[ValueT], new: Entry[ValueT]) -> None:
        entries = self._entries.get(key)
        if entries and entries[0] is old:
            entries[0] = new

    def unregister_match(self, key: Hashable, predicate: Callable[[ValueT], bool]) -> int:
        """Remove the current task's entries under ``key`` whose value satisfies
        ``predicate`` (Elixir's ``Registry.unregister_match/4``); returns how many went.
        Listeners hear of each. O(entries under ``key``); not a checkpoint.

        Raises:
          TypeError: ``key`` is not hashable, or ``predicate`` is not callable.
          Exception: whatever ``predicate`` raises; nothing is then removed.
        """
        check_callable(predicate, "Registry.unregister_match's predicate", "a callable taking a value")
        task = trio.lowlevel.current_task()
        try:
            entries = self._entries.get(key, ())
        except TypeError:
            _check_lookup_key(key, "unregister_match")
            raise
        going = [entry for entry in entries if entry.owner is task and predicate(entry.value)]
        if going:
            self._remove_entries(task, key, going)
        return len(going)

    # -- queries over every entry, as Elixir's select: O(all entries) --

    def select(
        self, predicate: Callable[[Hashable, Entry[ValueT]], bool]
    ) -> list[tuple[Hashable, Entry[ValueT]]]:
        """Every ``(key, entry)`` for which ``predicate(key, entry)`` is true, key by key in
        the order keys were first registered (Elixir's ``Registry.select/2``, a predicate in
        place of the match spec: it can test the key, the owner and the value). Looks at
        every entry: O(all entries), as Elixir's. Not a checkpoint.

        Raises:
          TypeError: ``predicate`` is not callable.
          Exception: whatever ``predicate`` raises, unchanged.
        """
        check_callable(predicate, "Registry.select's predicate", "a callable taking a key and an Entry")
        return [(key, entry) for key, entry in self if predicate(key, entry)]

    def count_select(self, predicate: Callable[[Hashable, Entry[ValueT]], bool]) -> int:
        """How many entries :meth:`select` would return (Elixir's ``Registry.count_select/2``).
        O(all entries).

        Raises:
          TypeError, Exception: as :meth:`select`.
        """
        check_callable(predicate, "Registry.count_select's predicate", "a callable taking a key and an Entry")
        return sum(1 for key, entry in self if predicate(key, entry))

    # -- metadata, as Elixir's meta/put_meta/delete_meta: O(1) --

    def meta(self, key: Hashable, default: object = None) -> object:
        """The registry's metadata under ``key``, or ``default`` (Elixir's
        ``Registry.meta/2``, whose ``:error`` this is). O(1).

        Raises:
          TypeError: ``key`` is not hashable.
        """
        check_hashable(key, "Registry.meta's key")
        return self._meta.get(key, default)

    def put_meta(self, key: Hashable, value: object) -> None:
        """Store ``value`` as the registry's metadata under ``key`` (Elixir's
        ``Registry.put_meta/3``). Metadata belongs to the registry, not to a task: it stays
        when tasks end. O(1); not a checkpoint.

        Raises:
          TypeError: ``key`` is not hashable.
        """
        check_hashable(key, "Registry.put_meta's key")
        self._meta[key] = value

    def delete_meta(self, key: Hashable) -> None:
        """Remove the metadata under ``key``, if any (Elixir's ``Registry.delete_meta/2``). O(1).

        Raises:
          TypeError: ``key`` is not hashable.
        """
        check_hashable(key, "Registry.delete_meta's key")
        self._meta.pop(key, None)

    def __iter__(self) -> Iterator[tuple[Hashable, Entry[ValueT]]]:
        for key, entries in list(self._entries.items()):
            for entry in entries:
                yield key, entry

    # -- removal --

    @protected
    def _remove(self, task: trio.lowlevel.Task, key: Hashable) -> None:
        try:
            entries = self._entries.get(key)
        except TypeError:
            _check_lookup_key(key, "unregister")
            raise
        if not entries:
            return
        mine = [entry for entry in entries if entry.owner is task]
        if mine:
            self._remove_entries(task, key, mine)

    @protected
    def _remove_entries(self, task: trio.lowlevel.Task, key: Hashable, going: list[Entry[ValueT]]) -> None:
        """Remove ``going`` (entries of ``task`` under ``key``) from both indexes."""
        entries = self._entries.get(key, [])
        ids = {id(entry) for entry in going}
        rest = [entry for entry in entries if id(entry) not in ids]
        removed = len(entries) - len(rest)
        if removed == 0:
            return
        if rest:
            self._entries[key] = rest
        else:
            del self._entries[key]
        self._size -= removed
        keys = self._by_task.get(task)
        if keys is not None:
            left = keys.get(key, 0) - removed
            if left > 0:
                keys[key] = left
            else:
                keys.pop(key, None)
                if not keys:
                    del self._by_task[task]
                    _unwatch(task, self)
        for entry in going:
            self._tell("unregister", key, entry)

    @protected
    def _forget_task(self, task: trio.lowlevel.Task) -> None:
        # In one pass, O(the task's entries): removing key by key (as unregister does)
        # copies the task's remaining keys each time, n * n / 2 steps for n keys, all of
        # it inside Trio's scheduler.
        keys = self._by_task.pop(task, None)
        if keys is None:
            return
        _unwatch(task, self)
        for key in keys:
            entries = self._entries.get(key)
            if not entries:
                continue
            mine = [entry for entry in entries if entry.owner is task]
            if not mine:
                continue
            rest = [entry for entry in entries if entry.owner is not task]
            if rest:
                self._entries[key] = rest
            else:
                del self._entries[key]
            self._size -= len(mine)
            for entry in mine:
                self._tell("unregister", key, entry)

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
