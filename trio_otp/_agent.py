"""Agents: a value behind get, update and get-and-update (Elixir's Agent).

An agent is a GenServer whose only state is a value and whose requests are functions
applied to it, in its own task, one at a time. The functions are plain (synchronous)
callables: an agent is for state, not for work, so a function that needs to ``await``
belongs in a GenServer of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast, final, overload

import trio

from ._caller import Caller
from ._checks import check_callable
from ._child_spec import ChildSpec, Restart, ShutdownPolicy
from ._gen_server import GenServer, server_spec, start_server
from ._server_ref import DEFAULT_CALL_TIMEOUT, ServerRef, lookup
from ._util import NoPublicConstructor

StateT = TypeVar("StateT")
ResultT = TypeVar("ResultT")


#: What an agent's server is called with: a function of the state, giving (reply, new state).
_AgentRequest = Callable[[Any], tuple[Any, Any]]


class _AgentServer(GenServer[_AgentRequest, Any]):
    def __init__(self, initial: Callable[[], Any]) -> None:
        self._initial = initial
        self.state: Any = None

    async def init(self) -> None:
        self.state = self._initial()

    async def handle_call(self, request: _AgentRequest, caller: Caller[Any]) -> Any:
        result, self.state = request(self.state)
        return result

    async def handle_cast(self, request: Any) -> None:
        _, self.state = request(self.state)

    def format_status(self) -> object:
        return self.state  # what get_status and crash reports show: the agent's value


@final
class AgentRef(Generic[StateT], metaclass=NoPublicConstructor):
    """A handle on a running agent. Calls raise as :meth:`ServerRef.call` does; a
    function that raises crashes the agent (and the caller gets :class:`ServerExited`)."""

    __slots__ = ("server",)

    def __init__(self, server: ServerRef[Any, Any]) -> None:
        #: The agent's server, for monitors, timers and ``stop``.
        self.server: ServerRef[_AgentRequest, Any] = server

    def __repr__(self) -> str:
        return f"<AgentRef {self.server!r}>"

    # Without a function the result is the state itself: an overload says so, since a
    # default argument cannot bind ResultT (mypy would infer Never).
    @overload
    async def get(
        self,
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
    ) -> StateT: ...
    @overload
    async def get(
        self,
        function: Callable[[StateT], ResultT],
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
    ) -> ResultT: ...
    async def get(
        self,
        function: Callable[[StateT], Any] = lambda state: state,
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109 - as ServerRef.call's
    ) -> Any:
        """``function(state)``, computed in the agent (default: the state itself)."""
        check_callable(function, "AgentRef.get's function", "a callable taking the state")
        return await self.server.call(lambda state: (function(state), state), timeout=timeout)

    async def update(
        self,
        function: Callable[[StateT], StateT],
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109
    ) -> None:
        """Replace the state with ``function(state)`` and wait until it is done."""
        check_callable(function, "AgentRef.update's function", "a callable taking the state")
        await self.server.call(lambda state: (None, function(state)), timeout=timeout)

    async def get_and_update(
        self,
        function: Callable[[StateT], tuple[ResultT, StateT]],
        *,
        timeout: float | None = DEFAULT_CALL_TIMEOUT,  # noqa: ASYNC109
    ) -> ResultT:
        """``function(state)`` returns ``(result, new_state)``: store the new state,
        return the result, in one step."""
        check_callable(function, "AgentRef.get_and_update's function", "a callable taking the state")
        result: ResultT = await self.server.call(function, timeout=timeout)
        return result

    def cast_update(self, function: Callable[[StateT], StateT]) -> None:
        """Replace the state with ``function(state)`` without waiting. Not a checkpoint."""
        check_callable(function, "AgentRef.cast_update's function", "a callable taking the state")

        def update(state: StateT) -> tuple[None, StateT]:
            return None, function(state)

        self.server.cast(update)

    async def stop(self, *, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> None:  # noqa: ASYNC109
        await self.server.stop(timeout=timeout)


async def start_agent(
    nursery: trio.Nursery, initial: Callable[[], StateT], *, name: Hashable | None = None
) -> AgentRef[StateT]:
    """Start an agent whose state is ``initial()``; returns once it is set. A checkpoint."""
    check_callable(initial, "an agent's initial", "a callable that returns the first state")
    server = await start_server(nursery, lambda: _AgentServer(initial), name=name)
    return cast("AgentRef[StateT]", AgentRef._create(server))


def agent_spec(
    id: Hashable,  # noqa: A002
    initial: Callable[[], Any],
    *,
    name: Hashable | None = None,
    restart: Restart = Restart.PERMANENT,
    shutdown: ShutdownPolicy = 5.0,
) -> ChildSpec[ServerRef[Any, Any]]:
    """A :class:`ChildSpec` for an agent; each (re)start calls ``initial()`` afresh. The
    child's reference is the agent's :class:`ServerRef` (wrap it with :func:`agent`), and
    a ``name`` lets :func:`agent` find the current one."""
    check_callable(initial, "an agent's initial", "a callable that returns the first state")
    return server_spec(id, lambda: _AgentServer(initial), name=name, restart=restart, shutdown=shutdown)


def agent(server: ServerRef[Any, Any] | Hashable) -> AgentRef[Any]:
    """An :class:`AgentRef` for an agent's server or name (for supervised agents).

    Raises:
      ServerNotRunning: a name that no server has.
    """
    return cast("AgentRef[Any]", AgentRef._create(lookup(server)))
