"""Names: how servers and supervisors are found by callers who hold no reference.

One namespace for every kind of process, as in OTP: a GenServer, a Supervisor, a
DynamicSupervisor and a TaskSupervisor started under the same name conflict. A name is a
key of the run's default :class:`Registry` (made at the first registration of the run),
or a :class:`Via` naming a key of a registry of your own.

A process takes its name when it starts, in its own task (the server's task, the
supervisor's control loop), before anything else, and keeps it until that task has
ended, so that no second process can take the name while the first is still finishing.
Lookups skip a process that has stopped accepting requests (it is in ``terminate``, or
stopping its children): it could only refuse. A restart takes the name again, so a
caller that looks the name up at each request follows the process across restarts.
"""

from __future__ import annotations

import typing
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
import trio

from ._checks import check_hashable
from ._exceptions import AlreadyRegistered, NameTaken
from ._ki import protected
from ._registry import Keys, Registry
from ._util import describe, safe_repr

if TYPE_CHECKING:
    from typing import TypeAlias

    from ._dynamic_supervisor import DynamicSupervisorRef
    from ._server_ref import ServerRef
    from ._supervisor import SupervisorRef
    from ._task_supervisor import TaskSupervisorRef
    from ._worker_pool import WorkerPoolRef

    #: What a name can stand for.
    ProcessRef: TypeAlias = (
        "ServerRef[Any, Any] | SupervisorRef | DynamicSupervisorRef | TaskSupervisorRef | WorkerPoolRef"
    )

RefT = TypeVar("RefT")


class NamedRef(Protocol):
    """What a name can be registered to: a reference that says whether it still accepts
    requests."""

    @property
    def alive(self) -> bool: ...


def _check_via_registry(_instance: object, _attribute: object, registry: object) -> None:
    if not isinstance(registry, Registry):
        msg = f"Via.registry must be a trio_otp.Registry, got {describe(registry)}"
        raise TypeError(msg)
    if registry.keys is not Keys.UNIQUE:
        msg = (
            f"Via.registry must have unique keys (Keys.UNIQUE): a name names one process, "
            f"but {registry!r} lets many tasks share a key; use Registry.register for groups"
        )
        raise ValueError(msg)


def _check_via_key(_instance: object, _attribute: object, key: object) -> None:
    check_hashable(key, "Via.key")


@attrs.frozen
class Via:
    """A name kept in a :class:`Registry` of your own rather than the default one
    (Elixir's ``{:via, Registry, {registry, key}}``), for a server or a supervisor.

    Raises:
      TypeError: ``registry`` is not a :class:`Registry`, or ``key`` is not hashable.
      ValueError: the registry has ``Keys.DUPLICATE``: a name must name one process, as
        Elixir refuses a duplicate registry in a ``:via`` name.
    """

    registry: Registry[Any] = attrs.field(validator=_check_via_registry)
    key: Hashable = attrs.field(validator=_check_via_key)


def _check_partition_name(_instance: object, _attribute: object, name: object) -> None:
    check_hashable(name, "Partition.name")
    if isinstance(name, Partition):
        msg = f"Partition.name names a PartitionSupervisor, not another partition: got {safe_repr(name)}"
        raise TypeError(msg)


def _check_partition_key(_instance: object, _attribute: object, key: object) -> None:
    check_hashable(key, "Partition.key")


@attrs.frozen
class Partition:
    """The partition that ``key`` routes to, of the :class:`PartitionSupervisor` named
    ``name`` (Elixir's ``{:via, PartitionSupervisor, {name, key}}``): a name for
    :func:`call`, :func:`cast`, :func:`send`, :func:`whereis`, :func:`monitor`,
    :func:`send_after` and the supervisor functions, looked up at each use, in O(1).

    A whole number ``key`` routes to partition ``abs(key) % partitions``, as Elixir's;
    any other key to ``hash(key) % partitions``, the same partition for the same key
    within a process (Python salts the hashes of strings per process, so not across
    processes). A Partition names a running partition; no process can be started under
    one.

    Raises:
      TypeError: ``name`` or ``key`` is not hashable, or ``name`` is itself a Partition.
    """

    name: Hashable = attrs.field(validator=_check_partition_name)
    key: Hashable = attrs.field(validator=_check_partition_key)


def partition_index(key: Hashable, partitions: int) -> int:
    """Which of ``partitions`` partitions ``key`` routes to (see :class:`Partition`)."""
    if isinstance(key, int):
        return abs(key) % partitions
    return hash(key) % partitions


def _whereis_partition(name: Partition) -> object:
    registry, key = _resolve(name.name)
    parent = registry.whereis(key)
    if getattr(parent, "alive", None) is not True:
        return None
    state = getattr(parent, "_state", None)
    route = getattr(state, "partition_ref", None)
    if route is None:
        msg = (
            f"{safe_repr(name)}: the process named {safe_repr(name.name)} is {safe_repr(parent)}, "
            "not a PartitionSupervisor"
        )
        raise TypeError(msg)
    return route(name.key)


_default_names: trio.lowlevel.RunVar[Registry[Any]] = trio.lowlevel.RunVar("trio_otp_names")


def _resolve(name: Hashable) -> tuple[Registry[Any], Hashable]:
    if isinstance(name, Via):
        return name.registry, name.key
    try:
        return _default_names.get(), name
    except LookupError:
        registry: Registry[Any] = Registry(Keys.UNIQUE, name="trio_otp names")
        _default_names.set(registry)
        return registry, name


def registered_value(key: Hashable) -> object:
    """What this run's default registry holds under ``key`` (a plain name, not a
    :class:`Via` or a :class:`Partition`), or None: :func:`whereis` without its checks,
    for the calls and casts by name, which fall back to it for anything else. Raises
    TypeError for an unhashable ``key``."""
    try:
        entries = _default_names.get()._entries.get(key)  # Registry.whereis, inlined
    except (LookupError, RuntimeError):  # no names yet, or outside a run: whereis says which
        return None
    return entries[0].value if entries else None


def check_name(name: object, argument: str = "name") -> None:
    """A name: any hashable value, or a :class:`Via`."""
    check_hashable(name, argument)


def name_label(name: Hashable) -> str:
    """How a name reads in reports: the key of a :class:`Via`, the name itself otherwise."""
    return safe_repr(name.key if isinstance(name, Via) else name)


@protected
def register_name(name: Hashable, ref: NamedRef) -> None:
    """Give ``name`` to the current task, with ``ref`` as its value. Not a checkpoint.

    Raises:
      NameTaken: another process holds the name (still ending, if it is not alive).
      TypeError: ``name`` is a :class:`Partition`, which routes to a process rather
        than naming one.
    """
    if isinstance(name, Partition):
        msg = (
            f"{safe_repr(name)} routes to a partition of a PartitionSupervisor; "
            "no process can take it as a name"
        )
        raise TypeError(msg)
    registry, key = _resolve(name)
    try:
        registry.register(key, ref)
    except AlreadyRegistered as taken:
        value: object = taken.entry.value
        msg = f"name {safe_repr(name)} is already taken by {safe_repr(value)}"
        if not getattr(value, "alive", True):
            msg += ", which is still ending"
        raise NameTaken(msg, value) from None


@protected
def unregister_name(name: Hashable) -> None:
    """Give up ``name``, held by the current task. Not a checkpoint."""
    registry, key = _resolve(name)
    registry.unregister(key)


@typing.overload
def whereis(name: Hashable) -> ProcessRef | None: ...


@typing.overload
def whereis(name: Hashable, kind: type[RefT]) -> RefT | None: ...


def whereis(name: Hashable, kind: type[Any] | None = None) -> Any:
    """The process running under ``name`` (a key of the default registry, a
    :class:`Via`, or a :class:`Partition`) in this Trio run, or ``None``. Not a checkpoint.

    With ``kind`` (:class:`ServerRef`, :class:`SupervisorRef`,
    :class:`DynamicSupervisorRef`, :class:`TaskSupervisorRef`, :class:`WorkerPoolRef`), the result is typed as
    that class, and a process of another kind under that name is an error rather than a
    result; without it, check the result with ``isinstance``. ``ServerRef[str, int]``
    types the reply too (its type arguments are checked by type checkers only).

    A process that has stopped accepting requests (a server in ``terminate``, a
    supervisor stopping its children) is not returned: it could only refuse. It keeps its
    name until it has ended, though, so no second process can take the name while the
    first is still finishing.

    Raises:
      TypeError: ``name`` is not hashable, ``kind`` is not a class, the process under
        ``name`` is not a ``kind``, or a :class:`Partition`'s ``name`` names a process
        that is not a PartitionSupervisor.
    """
    if kind is None and not isinstance(name, (Via, Partition)):
        # The usual case, a plain name: one dict lookup, without the checks below (two
        # thirds of a whereis), which a failure falls back to for its error.
        try:
            entries = _default_names.get()._entries.get(name)  # Registry.whereis, inlined
        except (TypeError, RuntimeError, LookupError):  # unhashable, outside a run, no names yet
            pass
        else:
            ref = entries[0].value if entries else None
            return ref if getattr(ref, "alive", None) is True else None
    check_name(name)
    # ServerRef[str, int] is checked as ServerRef: its type arguments are the caller's word.
    given: object = kind if kind is None else typing.get_origin(kind) or kind
    if given is not None and not isinstance(given, type):
        msg = f"whereis's kind must be a reference class such as trio_otp.ServerRef, got {describe(kind)}"
        raise TypeError(msg)
    if isinstance(name, Partition):
        ref = _whereis_partition(name)
        if ref is None or getattr(ref, "alive", True) is not True:
            return None  # not running, restarting, or ending
    else:
        registry, key = _resolve(name)
        ref = registry.whereis(key)
        if getattr(ref, "alive", None) is not True:
            return None  # nothing, a process that is ending, or a value of the user's own
    if given is not None and not isinstance(ref, given):
        msg = f"the process named {safe_repr(name)} is {safe_repr(ref)}, not a {given.__name__}"
        raise TypeError(msg)
    return ref
