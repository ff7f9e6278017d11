"""A Ray actor as a supervised child: Ray places, transports and detects; trio_otp restarts.

The division of labour
----------------------
Ray's own restarts are a count with no time window, no strategies and no escalation, so
they are switched off: every actor is created with ``max_restarts=0`` and
``max_task_retries=0``. A death that Ray detects (the worker process gone, the node
declared dead by the GCS health checks) fails the supervisor's pending ``watch`` call
with ``ActorDiedError``; the child's start function raises it, and the supervisor's
restart rules (restart type, strategy, intensity, escalation) decide what happens next.
A restart creates a *new* actor: new process, state rebuilt by the constructor, as an
OTP restart starts a new process.

One run of the child
--------------------
1. Take the trio_otp name, if any (before anything remote exists, so a taken name fails
   without creating an actor).
2. Create the actor (``.options(**options, max_restarts=0, ...)``) and wait for its
   constructor within ``start_timeout``; a constructor that raises or a timeout is a
   start failure, and the half-made actor is killed.
3. ``task_status.started(ActorRef)``; send ``watch`` and wait on it.
4. ``watch`` fails with ``ActorDiedError``: a crash. It fails with
   ``ActorUnavailableError`` (the actor cannot be reached but Ray has not declared it
   dead): probes in the control group, backing off, for ``unavailable_grace`` seconds;
   one that answers resumes the watch, ``ActorDiedError`` is a crash, and a grace that
   runs out is a crash with the unavailability error (the actor is killed, which fences
   it off if it was only unreachable). ``watch`` returns: the actor ended itself with
   :func:`end_actor` (a normal exit, or :class:`trio_otp.Shutdown`); a ``ready`` call
   queued behind the method that asked lets that method's reply go out before the kill.
5. Stopped by the supervisor (the child is cancelled): inside :func:`trio_otp.cleanup_scope`,
   so within the shutdown budget, the cooperative ``stop`` call runs the class's
   ``terminate()`` after the calls already queued; at the deadline, or at once for
   BRUTAL_KILL, it is abandoned.
6. Always, last: ``ray.kill(actor, no_restart=True)``, so the process is gone when the
   child's task has ended, however it ended.

Names
-----
The client's way to a restarted actor is the trio_otp name (the run's registry, or a
:class:`trio_otp.Via`), never a Ray actor name: after a node loss, a Ray name stays
taken until the GCS has declared the old actor dead, so a replacement under the same
Ray name could fail to start. Actors are anonymous to Ray.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar, final, overload

import trio
from typing_extensions import TypeVarTuple, Unpack

from .._checks import check_seconds, check_timeout
from .._child import cleanup_scope
from .._child_spec import ChildSpec, Restart, ShutdownPolicy
from .._exceptions import CallTimeout, ServerExited, ServerNotRunning, Shutdown
from .._ki import protected
from .._names import check_name, name_label, register_name, unregister_name, whereis
from .._server_ref import DEFAULT_CALL_TIMEOUT
from .._util import NoPublicConstructor, describe
from . import _host
from ._bridge import wait_object_ref

ActorT = TypeVar("ActorT")
_ReplyT = TypeVar("_ReplyT")
_ArgsT = TypeVarTuple("_ArgsT")

#: Ray options that trio_otp sets itself, and why a user may not.
_RESERVED_OPTIONS = {
    "max_restarts": "trio_otp's supervisor does the restarts (Ray's are set to 0)",
    "max_task_retries": "a call is sent once; a retried call could run twice on a new actor",
    "name": "use the trio_otp name (actor_spec's name=): a Ray name stays taken after a node loss",
    "namespace": "actors are anonymous to Ray",
    "get_if_exists": "each start creates a new actor",
    "lifetime": "a supervised actor shares the fate of its driver; a detached one would outlive it",
    "concurrency_groups": "trio_otp uses a concurrency group of its own for its watch call",
    "max_concurrency": "the user's methods run one at a time, in order",
}


#: How long an actor that ended itself may take to send the reply of the call that
#: asked, before it is killed.
_REPLY_GRACE = 5.0


class ActorStartTimeout(TimeoutError):
    """A Ray actor's constructor had not finished within ``start_timeout`` (Ray could
    not place it, or ``__init__`` is slow). The half-made actor was killed."""


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError as error:  # pragma: no cover - the ray session has it
        msg = "trio_otp.ray needs Ray: pip install 'trio_otp[ray]'"
        raise ImportError(msg) from error


@functools.cache
def _remote_host() -> Any:
    return _ray().remote(concurrency_groups={_host.CONTROL_GROUP: _host.CONTROL_THREADS})(_host.ActorHost)


def _check_actor_class(cls: object) -> None:
    if not isinstance(cls, type):
        hint = ""
        if hasattr(cls, "remote") and hasattr(cls, "options"):
            hint = "; pass the plain class, without @ray.remote: trio_otp creates the actor itself"
        msg = f"actor_spec's cls must be a class, got {describe(cls)}{hint}"
        raise TypeError(msg)
    for attribute, value in inspect.getmembers(cls):
        if inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value):
            msg = (
                f"actor_spec's cls {cls.__qualname__} has an async method {attribute!r}: trio_otp runs "
                "Ray actors as threaded actors, whose methods are plain functions"
            )
            raise TypeError(msg)


def _check_options(options: object) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        msg = f"actor_spec's options must be a mapping of Ray actor options, got {describe(options)}"
        raise TypeError(msg)
    checked: dict[str, Any] = {}
    items = typing.cast("Mapping[object, Any]", options).items()
    for key, value in items:
        if not isinstance(key, str):
            msg = f"actor_spec's options must have str keys (Ray option names), got {describe(key)}"
            raise TypeError(msg)
        if key in _RESERVED_OPTIONS:
            msg = f"actor_spec's options may not set {key!r}: {_RESERVED_OPTIONS[key]}"
            raise ValueError(msg)
        checked[key] = value
    return checked


def _check_args(value: object, argument: str) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        msg = f"{argument} must be a tuple of positional arguments, got {describe(value)}"
        raise TypeError(msg)
    return tuple(typing.cast("tuple[Any, ...]", value))


class _Config:
    """What a start needs, built and checked once by :func:`actor_spec`."""

    __slots__ = ("args", "cls", "kwargs", "name", "options", "start_timeout", "unavailable_grace")

    def __init__(  # noqa: PLR0917 - private, one call site
        self,
        cls: type[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: Hashable | None,
        options: dict[str, Any],
        start_timeout: float,
        unavailable_grace: float,
    ) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.options = options
        self.start_timeout = start_timeout
        self.unavailable_grace = unavailable_grace


class _ActorCalls(Generic[ActorT]):
    """The ``call`` of :class:`ActorRef` and :class:`ActorClient`, typed by the actor's
    class; each of them says how a call reaches its actor (``_call``)."""

    __slots__ = ()

    @overload
    async def call(
        self,
        method: Callable[[ActorT, Unpack[_ArgsT]], _ReplyT],
        *args: Unpack[_ArgsT],
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as trio_otp.call's
    ) -> _ReplyT: ...
    @overload
    async def call(
        self,
        method: str,
        *args: Any,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as trio_otp.call's
    ) -> Any: ...
    async def call(  # type: ignore[misc]  # mypy reads *args: Any as narrower than Unpack
        self,
        method: Any,
        *args: Any,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as trio_otp.call's
    ) -> Any:
        """Call ``method`` on the actor with ``args`` and wait for its reply: for an
        :class:`ActorClient`, on the actor running under its name now. A checkpoint.

        ``method`` is the method's name, or the method itself (``Counter.add``), which
        type-checks the arguments and the reply. The call is sent once (no Ray retries).
        Methods run one at a time, in the order the calls arrive, as in a plain Ray
        actor.

        Args:
          method: a method of the actor's class, or its name.
          *args: its positional arguments (pickled by Ray).
          timeout: seconds to wait for the reply, ``None`` for ever (default 5, as
            :func:`trio_otp.call`).

        Raises:
          ServerNotRunning: the actor had already ended (or is ending); for an
            :class:`ActorClient`, no actor runs under the name (not started yet, or
            between a death and its restart).
          ServerExited: the actor died before it replied (``reason`` is Ray's
            ``ActorDiedError``), or could not be reached (``ActorUnavailableError``: the
            call may or may not have run).
          CallTimeout: no reply within ``timeout``. The actor was not told; the call
            still runs and its reply is dropped.
          AttributeError: the class has no such method.
          TypeError: for an :class:`ActorClient`, what runs under the name is not a
            supervised Ray actor.
          Exception: what the method raised, as Ray re-raises it (an instance of both the
            method's exception class and ``ray.exceptions.RayTaskError``); the actor goes
            on running, as a plain Ray actor does.
          trio.Cancelled: the waiting task was cancelled; as for a timeout, the call
            still runs and its reply is dropped.
        """
        return await self._call(method, args, timeout)

    async def _call(self, method: object, args: tuple[Any, ...], wait: float | None) -> Any:
        raise NotImplementedError


@final
class ActorRef(_ActorCalls[ActorT], metaclass=NoPublicConstructor):
    """A handle on one Ray actor that a supervisor runs (one start of it: a restart makes
    a new actor and a new ``ActorRef``).

    To reach whichever actor currently runs under a name, use :class:`ActorClient`.
    ``ActorRef[Counter]`` is typed by the actor's class, so that
    ``await ref.call(Counter.add, 2)`` checks the arguments and types the reply.
    """

    __slots__ = ("_alive", "_cls", "_handle", "_name")

    def __init__(self, handle: Any, cls: type[ActorT], name: Hashable | None) -> None:
        self._handle = handle
        self._cls = cls
        self._name = name
        self._alive = False

    @property
    def alive(self) -> bool:
        """Whether the actor is running and accepting calls (not yet ending)."""
        return self._alive

    @property
    def actor_class(self) -> type[ActorT]:
        """The user's class the actor runs."""
        return self._cls

    @property
    def name(self) -> Hashable | None:
        """The trio_otp name it runs under, or ``None``."""
        return self._name

    @property
    def actor_id(self) -> str:
        """Ray's id of this actor, in hex (new at each restart)."""
        return str(self._handle._actor_id.hex())

    async def _call(self, method: object, args: tuple[Any, ...], wait: float | None) -> Any:
        method_name = _method_name(self._cls, method)
        seconds = check_timeout(wait)
        if not self._alive:
            msg = f"{self!r} has ended"
            raise ServerNotRunning(msg)
        object_ref = self._handle.call.remote(method_name, args)
        errors = _ray().exceptions
        try:
            with trio.fail_after(seconds):
                return await wait_object_ref(object_ref)
        except trio.TooSlowError:
            msg = f"{self!r} did not reply to {method_name!r} within {seconds:g} s"
            raise CallTimeout(msg) from None
        except errors.RayActorError as error:
            if isinstance(error, errors.ActorUnavailableError):
                what = "could not be reached"
            else:
                what = "died"
                # Its name must not lead the next call here while the supervisor, told
                # by its own watch call a moment later, has not yet begun the restart.
                self._alive = False
            msg = f"{self!r} {what} before it replied to {method_name!r}"
            raise ServerExited(msg, error) from error

    def __repr__(self) -> str:
        label = "" if self._name is None else f" {name_label(self._name)}"
        return f"<trio_otp.ray.ActorRef{label} {self._cls.__qualname__} actor {self.actor_id[:8]}>"


def _method_name(cls: type[Any], method: object) -> str:
    if isinstance(method, str):
        name = method
    elif callable(method) and isinstance(getattr(method, "__name__", None), str):
        name = str(getattr(method, "__name__"))  # noqa: B009 - the checker sees object
    else:
        msg = (
            "ActorRef.call's method must be a method of the actor's class or its name, "
            f"got {describe(method)}"
        )
        raise TypeError(msg)
    if not callable(getattr(cls, name, None)):
        msg = f"{cls.__qualname__} has no method {name!r}"
        raise AttributeError(msg)
    return name


@final
class ActorClient(_ActorCalls[ActorT]):
    """Calls whichever supervised actor currently runs under ``name``: it follows restarts.

    Each call looks the name up in this Trio run's names (the default registry, or a
    :class:`trio_otp.Via`), as :func:`trio_otp.call` does for a named server; the actor's
    :func:`actor_spec` must have the same ``name``. Make it once and keep it::

        counter = ActorClient("counter", Counter)
        await counter.call(Counter.add, 1)

    Args:
      name: the trio_otp name of the actor.
      actor_class: the actor's class, for types (and to check method names before
        anything is sent); optional.

    Raises:
      TypeError: ``name`` is not hashable.
    """

    __slots__ = ("_class", "_name")

    def __init__(self, name: Hashable, actor_class: type[ActorT] | None = None) -> None:
        check_name(name)
        self._name = name
        self._class = actor_class

    @property
    def name(self) -> Hashable:
        return self._name

    def whereis(self) -> ActorRef[ActorT] | None:
        """The actor running under the name now, or ``None``. Not a checkpoint."""
        return typing.cast("ActorRef[ActorT] | None", whereis(self._name, typing.cast(Any, ActorRef)))

    async def _call(self, method: object, args: tuple[Any, ...], wait: float | None) -> Any:
        ref = self.whereis()
        if ref is None:
            await trio.lowlevel.checkpoint()
            msg = f"no Ray actor is running under the name {name_label(self._name)}"
            raise ServerNotRunning(msg)
        return await ref._call(method, args, wait)

    def __repr__(self) -> str:
        return f"<trio_otp.ray.ActorClient {name_label(self._name)}>"


def actor_spec(
    id: Hashable,  # noqa: A002
    cls: type[ActorT],
    *,
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    name: Hashable | None = None,
    options: Mapping[str, Any] | None = None,
    start_timeout: float = 30.0,
    unavailable_grace: float = 10.0,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
    significant: bool = False,
) -> ChildSpec[ActorRef[ActorT]]:
    """A :class:`trio_otp.ChildSpec` that runs ``cls(*args, **kwargs)`` as a Ray actor.

    Each start (and restart) creates a new actor, anonymous to Ray, with Ray's own
    restarts off; the child's reference is its :class:`ActorRef`. Needs a connected Ray
    (``ray.init()``) in the process that runs the supervisor. The class's methods are
    plain functions; if it defines ``terminate()``, a stop by the supervisor calls it
    (within the shutdown budget). See :doc:`/beyond_one_machine`.

    Args:
      id: the child's id.
      cls: the actor's class: a plain class, not decorated with ``@ray.remote``.
      args, kwargs: for its constructor (pickled by Ray).
      name: a trio_otp name (a key of the run's default registry, or a
        :class:`trio_otp.Via`) for :class:`ActorClient`; taken at each start.
      options: Ray actor options (``num_cpus``, ``resources``, ``scheduling_strategy``
        for node and placement-group hints, ``runtime_env``, ...), passed to
        ``.options()``. Not the ones trio_otp sets: ``max_restarts``,
        ``max_task_retries``, ``name``, ``namespace``, ``get_if_exists``, ``lifetime``,
        ``concurrency_groups``, ``max_concurrency``.
      start_timeout: seconds for Ray to place the actor and run its constructor; past
        it the start fails with :class:`ActorStartTimeout`.
      unavailable_grace: seconds an actor may stay unreachable
        (``ActorUnavailableError``) without Ray declaring it dead before trio_otp
        declares it dead itself: kills it and reports a crash.
      restart, shutdown, significant: as for :class:`trio_otp.ChildSpec`. The shutdown
        budget bounds the cooperative stop; at its end the actor is killed
        (``ray.kill(no_restart=True)``); BRUTAL_KILL kills at once.

    Raises:
      TypeError, ValueError: a bad argument (named in the message), including a
        reserved Ray option or a class with async methods.
    """
    _check_actor_class(cls)
    checked_args = _check_args(args, "actor_spec's args")
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(key, str) for key in kwargs):  # pyright: ignore[reportUnnecessaryIsInstance]
        msg = f"actor_spec's kwargs must be a mapping of str keyword arguments, got {describe(kwargs)}"
        raise TypeError(msg)
    if name is not None:
        check_name(name)
    checked_options = _check_options({} if options is None else options)
    config = _Config(
        cls,
        checked_args,
        dict(kwargs),
        name,
        checked_options,
        check_seconds(start_timeout, "actor_spec's start_timeout", rule="> 0"),
        check_seconds(unavailable_grace, "actor_spec's unavailable_grace"),
    )
    return ChildSpec(
        id, _run_actor, args=(config,), restart=restart, shutdown=shutdown, significant=significant
    )


def end_actor(*, shutdown: bool = False) -> None:
    """Called in a method of a supervised actor: end the actor once the method returns.

    Its supervisor sees a normal exit (a *transient* actor is not restarted), or, with
    ``shutdown=True``, a :class:`trio_otp.Shutdown` exit. Use it instead of
    ``ray.actor.exit_actor()``, which would wait for trio_otp's pending watch call. Not
    a checkpoint (it runs in the actor's worker, not in Trio).

    Raises:
      RuntimeError: not called in an actor that trio_otp supervises.
    """
    host = _host.current_host()
    if host is None:
        msg = "trio_otp.ray.end_actor() must be called in a method of an actor that trio_otp supervises"
        raise RuntimeError(msg)
    host.end_after_call(_host.SHUTDOWN if shutdown else _host.NORMAL)


async def _run_actor(config: _Config, *, task_status: trio.TaskStatus[ActorRef[Any]]) -> None:
    # Run as a user's start function would be (not KI-protected): it only awaits Ray
    # and Trio primitives, and an interrupt here must not wait for an actor to die.
    ray = _ray()
    if config.name is not None:
        register_name(config.name, _PendingName())
    handle = (
        _remote_host()
        .options(
            **config.options,
            max_restarts=0,
            max_task_retries=0,
        )
        .remote(config.cls, config.args, config.kwargs)
    )
    try:
        ref: ActorRef[Any] = ActorRef[Any]._create(handle, config.cls, config.name)
        try:
            with trio.fail_after(config.start_timeout):
                await wait_object_ref(handle.ready.remote())
        except trio.TooSlowError:
            msg = (
                f"the Ray actor {config.cls.__qualname__} was not ready within start_timeout="
                f"{config.start_timeout:g} s (not placed, or a slow constructor)"
            )
            raise ActorStartTimeout(msg) from None
        watch = handle.watch.options(concurrency_group=_host.CONTROL_GROUP).remote()
        if config.name is not None:
            _replace_name(config.name, ref)
        ref._alive = True
        task_status.started(ref)
        try:
            how = await _watch(ray, handle, watch, config.unavailable_grace)
        except trio.Cancelled:
            ref._alive = False
            await _cooperative_stop(handle)
            raise
        finally:
            ref._alive = False
        # It ended itself: let the reply of the call that asked reach its caller first
        # (a call queued behind it is answered once that reply has been sent).
        with trio.move_on_after(_REPLY_GRACE):
            try:
                await wait_object_ref(handle.ready.remote())
            except Exception:
                pass  # dead meanwhile: killed next all the same
        if how == _host.SHUTDOWN:
            msg = f"the Ray actor {config.cls.__qualname__} ended itself with end_actor(shutdown=True)"
            raise Shutdown(msg)
    finally:
        ray.kill(handle, no_restart=True)


class _PendingName:
    """Holds a name while the actor is being created: taken, but nothing to call."""

    alive = False

    def __repr__(self) -> str:
        return "<a Ray actor being started>"


@protected
def _replace_name(name: Hashable, ref: ActorRef[Any]) -> None:
    unregister_name(name)
    register_name(name, ref)


async def _watch(ray: Any, handle: Any, watch: Any, grace: float) -> str:
    """Wait for the actor's end: its ``watch`` call's result (how it ended itself), or
    the crash Ray reports, after the grace period for an unreachable actor."""
    errors = ray.exceptions
    while True:
        try:
            how: str = await wait_object_ref(watch)
            return how
        except errors.ActorUnavailableError as unavailable:
            await _wait_reachable(handle, unavailable, grace, errors)
            watch = handle.watch.options(concurrency_group=_host.CONTROL_GROUP).remote()


async def _wait_reachable(handle: Any, unavailable: BaseException, grace: float, errors: Any) -> None:
    """Probe an unreachable actor until it answers (returns), Ray declares it dead
    (``ActorDiedError``) or ``grace`` runs out (``unavailable`` is raised)."""
    deadline = trio.current_time() + grace
    delay = 0.05
    while True:
        with trio.move_on_at(deadline):
            try:
                await wait_object_ref(handle.ping.options(concurrency_group=_host.CONTROL_GROUP).remote())
                return
            except errors.ActorUnavailableError:
                await trio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
        raise unavailable


async def _cooperative_stop(handle: Any) -> None:
    """The supervisor's stop: ``terminate()`` in the actor, within the shutdown budget
    (the cleanup scope's deadline); abandoned at the deadline, skipped for BRUTAL_KILL."""
    with cleanup_scope() as scope:
        if scope.deadline <= trio.current_time():
            return
        try:
            await wait_object_ref(handle.stop.remote())
        except Exception:
            pass  # terminate() raised, or the actor is already dead: it is killed next
