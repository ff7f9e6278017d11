"""Child specs and supervisor flags are checked where they are written."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

import trio_otp
from trio_otp import BRUTAL_KILL, INFINITY, ChildSpec, ChildType, Restart


async def worker(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()


def test_defaults_follow_otp() -> None:
    spec = ChildSpec("a", worker)
    assert spec.restart is Restart.PERMANENT
    assert spec.type is ChildType.WORKER
    assert spec.shutdown == 5.0
    assert spec.significant is False
    assert spec.args == ()


def test_supervisor_children_default_to_infinity_shutdown() -> None:
    assert ChildSpec("s", worker, type=ChildType.SUPERVISOR).shutdown is INFINITY
    assert ChildSpec("s", worker, type=ChildType.SUPERVISOR, shutdown=2).shutdown == 2.0


def test_shutdown_forms() -> None:
    assert ChildSpec("a", worker, shutdown=BRUTAL_KILL).shutdown is BRUTAL_KILL
    assert ChildSpec("a", worker, shutdown=math.inf).shutdown is INFINITY
    assert ChildSpec("a", worker, shutdown=3).shutdown == 3.0
    assert isinstance(ChildSpec("a", worker, shutdown=3).shutdown, float)


@pytest.mark.parametrize("budget", [0, -1, -0.5, math.nan, -math.inf])
def test_shutdown_budget_must_be_positive(budget: float) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        ChildSpec("a", worker, shutdown=budget)


@pytest.mark.parametrize("bad", ["5", True, None, "brutal_kill"])
def test_shutdown_of_wrong_type(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"BRUTAL_KILL or trio_otp\.INFINITY"):
        ChildSpec("a", worker, shutdown=bad)


def test_permanent_child_cannot_be_significant() -> None:
    with pytest.raises(ValueError, match="permanent child cannot be significant"):
        ChildSpec("a", worker, significant=True)
    ChildSpec("a", worker, significant=True, restart=Restart.TRANSIENT)
    ChildSpec("a", worker, significant=True, restart=Restart.TEMPORARY)


def test_start_must_be_the_function_not_a_coroutine() -> None:
    with pytest.raises(TypeError, match=r"not start=worker\(\)"):
        ChildSpec("a", worker())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async function"):
        ChildSpec("a", 42)  # type: ignore[arg-type]


def test_id_must_be_hashable() -> None:
    with pytest.raises(TypeError, match="hashable"):
        ChildSpec(["a"], worker)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("restart", "permanent", "Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY"),
        ("type", "worker", "ChildType.WORKER, ChildType.SUPERVISOR"),
        ("significant", 1, "True or False"),
    ],
)
def test_enum_fields_list_the_accepted_values(field: str, value: object, expected: str) -> None:
    with pytest.raises(TypeError, match=expected):
        ChildSpec("a", worker, **{field: value})


def test_specs_are_immutable_and_comparable() -> None:
    spec = ChildSpec("a", worker, args=[1, 2])
    assert spec.args == (1, 2)
    assert spec == ChildSpec("a", worker, args=(1, 2))
    with pytest.raises(AttributeError):
        spec.id = "b"  # type: ignore[misc]


def test_supervisor_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate child id 'a'"):
        trio_otp.Supervisor([ChildSpec("a", worker), ChildSpec("b", worker), ChildSpec("a", worker)])


def test_supervisor_rejects_significant_child_under_never() -> None:
    spec = ChildSpec("a", worker, restart=Restart.TRANSIENT, significant=True)
    with pytest.raises(ValueError, match="auto_shutdown is NEVER"):
        trio_otp.Supervisor([spec])
    trio_otp.Supervisor([spec], auto_shutdown=trio_otp.AutoShutdown.ANY_SIGNIFICANT)


@pytest.mark.parametrize(
    ("flags", "error", "message"),
    [
        ({"max_restarts": -1}, ValueError, "max_restarts must be >= 0"),
        ({"max_restarts": 1.5}, TypeError, "whole number"),
        ({"max_restarts": True}, TypeError, "whole number"),
        ({"max_seconds": 0}, ValueError, "max_seconds must be a finite number of seconds > 0"),
        ({"max_seconds": math.inf}, ValueError, "finite"),
        ({"max_seconds": "5"}, TypeError, "max_seconds"),
        ({"strategy": "one_for_one"}, TypeError, "RestartStrategy.ONE_FOR_ONE"),
        ({"auto_shutdown": None}, TypeError, "AutoShutdown.NEVER"),
    ],
)
def test_supervisor_flags_are_checked(flags: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        trio_otp.Supervisor([], **flags)


def test_supervisor_children_must_be_specs() -> None:
    with pytest.raises(TypeError, match="ChildSpec instances"):
        trio_otp.Supervisor([worker])  # type: ignore[list-item]


def test_supervisor_defaults_follow_otp() -> None:
    sup = trio_otp.Supervisor([])
    assert sup.strategy is trio_otp.RestartStrategy.ONE_FOR_ONE
    assert (sup.max_restarts, sup.max_seconds) == (1, 5.0)
    assert sup.auto_shutdown is trio_otp.AutoShutdown.NEVER


def test_nested_supervisor_spec() -> None:
    inner = trio_otp.Supervisor([ChildSpec("a", worker)])
    spec = inner.child_spec("inner", restart=Restart.TRANSIENT)
    assert spec.type is ChildType.SUPERVISOR
    assert spec.shutdown is INFINITY
    assert spec.restart is Restart.TRANSIENT


def test_handles_have_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="no public constructor"):
        trio_otp.SupervisorRef()
