"""Child specifications: what a supervisor needs to know to start and stop a child."""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias, final, overload

import attrs
import trio
from typing_extensions import TypeVar, TypeVarTuple, Unpack

from ._ki import is_self_protecting
from ._util import describe, enum_validator


class Restart(enum.Enum):
    """When a child that exited is started again (OTP's ``restart`` key).

    ========== ============== ======================= =========================
    type       normal return  :class:`Shutdown` exit  any other exception
    ========== ============== ======================= =========================
    PERMANENT  restarted      restarted               restarted
    TRANSIENT  kept, stopped  kept, stopped           restarted
    TEMPORARY  spec removed   spec removed            spec removed
    ========== ============== ======================= =========================
    """

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class ChildType(enum.Enum):
    """Whether a child is a worker or a supervisor (OTP's ``type`` key).

    It sets the default shutdown (5 s for a worker, :data:`INFINITY` for a supervisor)
    and what :meth:`SupervisorRef.count_children` counts.
    """

    WORKER = "worker"
    SUPERVISOR = "supervisor"


class ShutdownMode(enum.Enum):
    """The two shutdown policies that are not a budget in seconds."""

    #: Cancel the child at once; its cleanup gets no time for async work.
    BRUTAL_KILL = "brutal_kill"
    #: Cancel the child and wait for it to finish cleaning up, however long that takes.
    INFINITY = "infinity"


@final
class Ignore:
    """Returned from a server's ``init`` (or a start function): "do not start me" (OTP's ``ignore``).

    It is the class itself that is returned, never an instance: ``return trio_otp.Ignore``.
    A :class:`GenServer`'s or :class:`StateMachine`'s ``init`` returning it ends the
    server normally before it is running. Outside a supervisor the start raises
    :class:`InitIgnored`. Under a supervisor it is not a failure: a static child is kept
    in the child list, not running; a temporary one is removed; a
    :class:`DynamicSupervisor` adds nothing. A start function of your own may return it
    without calling ``task_status.started()`` to the same effect under a supervisor.
    """

    def __new__(cls) -> Ignore:  # never returns: no instance is ever made
        msg = "trio_otp.Ignore is a marker: return the class itself (return trio_otp.Ignore), not Ignore()"
        raise TypeError(msg)


BRUTAL_KILL: Literal[ShutdownMode.BRUTAL_KILL] = ShutdownMode.BRUTAL_KILL
INFINITY: Literal[ShutdownMode.INFINITY] = ShutdownMode.INFINITY

#: A shutdown policy: a budget in seconds (a finite number > 0), BRUTAL_KILL or INFINITY.
ShutdownPolicy: TypeAlias = "float | ShutdownMode"

DEFAULT_WORKER_SHUTDOWN = 5.0

#: The type of a child's reference: what its start function passes to
#: ``task_status.started()``. A bare ``ChildSpec`` is ``ChildSpec[object]``.
RefT_co = TypeVar("RefT_co", covariant=True, default=object)
_RefT = TypeVar("_RefT")
_StartRefT_co = TypeVar("_StartRefT_co", covariant=True)
_ArgsT = TypeVarTuple("_ArgsT")


class _Start(Protocol[_StartRefT_co]):
    """A start function that takes no positional arguments."""

    def __call__(self, *, task_status: trio.TaskStatus[_StartRefT_co]) -> Awaitable[object]: ...


class _StartWithArgs(Protocol[_StartRefT_co, Unpack[_ArgsT]]):
    """A start function for ``ChildSpec(id, start, args=(...))``."""

    def __call__(
        self, *args: Unpack[_ArgsT], task_status: trio.TaskStatus[_StartRefT_co]
    ) -> Awaitable[object]: ...


def _convert_shutdown(value: object) -> object:
    # Budgets become floats so that the rest of the code can tell them from the modes
    # with one isinstance; bools are left for the validator to reject.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return INFINITY if value == math.inf else float(value)
    return value


def _check_shutdown(_instance: object, _attribute: object, value: Any) -> None:
    if isinstance(value, ShutdownMode):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = (
            "ChildSpec.shutdown must be a budget in seconds (a number > 0), "
            f"trio_otp.BRUTAL_KILL or trio_otp.INFINITY; got {describe(value)}"
        )
        raise TypeError(msg)
    if not value > 0:  # also rejects NaN
        msg = (
            f"ChildSpec.shutdown must be a budget in seconds greater than 0, got {value!r}; "
            "use trio_otp.BRUTAL_KILL to stop a child with no grace period"
        )
        raise ValueError(msg)


def _check_id(_instance: object, _attribute: object, value: Any) -> None:
    try:
        hash(value)
    except TypeError:
        msg = f"ChildSpec.id must be hashable (a str, int, tuple, ...), got {describe(value)}"
        raise TypeError(msg) from None


def _check_start(_instance: object, _attribute: object, value: Any) -> None:
    if inspect.iscoroutine(value):
        value.close()
        msg = (
            "ChildSpec.start must be an async function, not a coroutine object: "
            "write start=worker (and args=(...)), not start=worker()"
        )
        raise TypeError(msg)
    if not callable(value):
        msg = f"ChildSpec.start must be an async function that accepts task_status, got {describe(value)}"
        raise TypeError(msg)


def _to_args(args: Iterable[Any]) -> tuple[Any, ...]:
    # Checked for callers that are not type-checked.
    if isinstance(args, (str, bytes)) or not isinstance(args, Iterable):  # pyright: ignore[reportUnnecessaryIsInstance]
        msg = f"ChildSpec.args must be a tuple (or iterable) of positional arguments, got {describe(args)}"
        raise TypeError(msg)
    return tuple(args)


def _default_shutdown(spec: ChildSpec[Any]) -> ShutdownPolicy:
    return INFINITY if spec.type is ChildType.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN


def _check_bool(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        msg = f"ChildSpec.{attribute.name} must be True or False, got {describe(value)}"
        raise TypeError(msg)


@attrs.frozen
class ChildSpec(Generic[RefT_co]):
    """How a supervisor starts, restarts and stops one child (OTP's child spec map).

    Every field is checked when the spec is built, so a bad spec fails where it is
    written, not at the first restart.

    ``ChildSpec[RefT]`` is generic over the child's reference type, what ``start`` passes
    to ``task_status.started()``: :meth:`SupervisorRef.start_child` returns a ``RefT``.
    The specs trio_otp builds say it (``server_spec`` gives a
    ``ChildSpec[ServerRef[Req, Rep]]``); for your own start function, pyright reads it
    from the ``task_status: trio.TaskStatus[RefT]`` annotation, and mypy from the type
    you declare (``spec: ChildSpec[MyRef] = ChildSpec(...)``). A bare ``ChildSpec`` is
    ``ChildSpec[object]``. See :ref:`typed-refs`.

    Args:
      id: names the child within its supervisor; any hashable value.
      start: an async function run as ``await start(*args, task_status=status)``, the
        protocol of :meth:`trio.Nursery.start`. It calls ``task_status.started(ref)``
        once it is ready; ``ref`` (default ``None``) becomes the child's reference, as
        returned by :meth:`SupervisorRef.start_child` and listed by
        :meth:`SupervisorRef.which_children`. The supervisor starts the next child only
        after that call. Raising before it is a start failure, and so is returning
        without ever calling it. After it, returning is a *normal* exit, raising
        :class:`Shutdown` a *shutdown* exit, and raising any other exception a crash.
      args: positional arguments for ``start``.
      restart: :class:`Restart`, default ``PERMANENT``.
      type: :class:`ChildType`, default ``WORKER``.
      shutdown: how the child is stopped: a budget in seconds for its cleanup (see
        :func:`cleanup_scope`), :data:`BRUTAL_KILL` or :data:`INFINITY`. The default is
        5 seconds for a worker and :data:`INFINITY` for a supervisor; ``math.inf`` means
        :data:`INFINITY`.
      significant: whether this child ending on its own may stop the supervisor (see
        ``auto_shutdown`` in :class:`Supervisor`). A permanent child can never end for
        good, so it cannot be significant.

    Raises:
      TypeError: a field of the wrong type (including ``start=worker()``).
      ValueError: a shutdown budget <= 0, or a permanent child marked significant.
    """

    id: Hashable = attrs.field(validator=_check_id)
    start: Callable[..., Awaitable[object]] = attrs.field(validator=_check_start)
    args: tuple[Any, ...] = attrs.field(default=(), kw_only=True, converter=_to_args)
    restart: Restart = attrs.field(
        default=Restart.PERMANENT, kw_only=True, validator=enum_validator("ChildSpec", Restart)
    )
    type: ChildType = attrs.field(
        default=ChildType.WORKER, kw_only=True, validator=enum_validator("ChildSpec", ChildType)
    )
    shutdown: ShutdownPolicy = attrs.field(
        default=attrs.Factory(_default_shutdown, takes_self=True),
        kw_only=True,
        converter=_convert_shutdown,
        validator=_check_shutdown,
    )
    significant: bool = attrs.field(default=False, kw_only=True, validator=_check_bool)
    # Whether ``start`` is trio_otp's own, which a child's task awaits directly; user code
    # goes through an unprotecting frame (see _ki.py).
    _self_protecting: bool = attrs.field(init=False, default=False, eq=False, repr=False)
    # The name of its children's Trio tasks, made at the first start: a DynamicSupervisor
    # may start 100,000 children from one spec.
    _task_name: str | None = attrs.field(init=False, default=None, eq=False, repr=False)
    # Set by server_spec: the args it checked and the start timeout in seconds, so that a
    # start from this spec skips the checks (serve makes them again for other args).
    _checked_server_args: tuple[tuple[object, ...], float] | None = attrs.field(
        init=False, default=None, eq=False, repr=False
    )

    def task_name(self) -> str:
        """The name of the Trio task a child of this spec runs in (made once)."""
        name = self._task_name
        if name is None:
            name = f"trio_otp child {self.id!r}"
            object.__setattr__(self, "_task_name", name)
        return name

    if TYPE_CHECKING:
        # The signature attrs generates, spelled out so that a checker can read RefT from
        # ``start`` (pyright does; mypy's attrs plugin uses its own, which gives the
        # declared type or object). Runtime uses attrs' __init__, with its converters.
        @overload
        def __init__(
            self: ChildSpec[_RefT],
            id: Hashable,
            start: _Start[_RefT],
            *,
            restart: Restart = ...,
            type: ChildType = ...,
            shutdown: ShutdownPolicy = ...,
            significant: bool = ...,
        ) -> None: ...
        @overload
        def __init__(
            self: ChildSpec[_RefT],
            id: Hashable,
            start: _StartWithArgs[_RefT, Unpack[_ArgsT]],
            *,
            args: tuple[Unpack[_ArgsT]],
            restart: Restart = ...,
            type: ChildType = ...,
            shutdown: ShutdownPolicy = ...,
            significant: bool = ...,
        ) -> None: ...
        @overload
        def __init__(
            self,
            id: Hashable,
            start: Callable[..., Awaitable[object]],
            *,
            args: Iterable[Any] = ...,
            restart: Restart = ...,
            type: ChildType = ...,
            shutdown: ShutdownPolicy = ...,
            significant: bool = ...,
        ) -> None: ...
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_self_protecting", is_self_protecting(self.start))
        if self.significant and self.restart is Restart.PERMANENT:
            msg = (
                f"child {self.id!r}: a permanent child cannot be significant, because it is "
                "restarted whenever it exits and so never ends on its own; use "
                "restart=Restart.TRANSIENT or Restart.TEMPORARY, or significant=False"
            )
            raise ValueError(msg)
