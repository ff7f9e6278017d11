"""OTP itself, the model and trio_otp agree on a sample of generated scenarios (supervisors,
and gen_statem at the end of this module).

Runs only when asked (``TRIO_OTP_CHECK_AGAINST_OTP=1``, as ``nox -s otp`` does) because it
runs real Erlang/OTP supervisors in real time: ``escript`` comes from Debian's
``erlang-base``. Each scenario is played three ways: in ``otp_model``, in trio_otp under
``MockClock``, and by ``otp/supervisor_check.escript`` in an OTP node; all three traces must
agree.

What is compared, and the known differences (they are also in docs/differences.rst):

* The scenarios use whole-second time steps, started just after a second boundary, so
  OTP's whole-second restart window and trio_otp's exact one give the same answers;
  with fractional steps they can differ by design.
* OTP's trace has worker starts and stops, supervisor starts, and API outcomes. It has no
  "stop" for a nested supervisor nor "escalate"/"auto_shutdown" events (an OTP
  supervisor exits with ``shutdown`` in all three cases), so those are projected out of
  the model's trace before comparing; their effects (the children's stops and restarts)
  are compared.
* An auto-shutdown ends an OTP root with ``shutdown`` and a trio_otp root by returning;
  both are reported as "returned" here.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import random
import shutil
import subprocess
from typing import Any

import attrs
import pytest

from .otp_model import Model, SupSpec, TraceEvent, WorkerSpec
from .statem_model import Model as StatemModel
from .statem_model import random_scenario, run_in_trio
from .test_conformance import run_both

SCRIPT = pathlib.Path(__file__).parent / "otp" / "supervisor_check.escript"
SCENARIOS = int(os.environ.get("TRIO_OTP_OTP_SCENARIOS", "60"))

pytestmark = pytest.mark.skipif(
    os.environ.get("TRIO_OTP_CHECK_AGAINST_OTP") != "1",
    reason="set TRIO_OTP_CHECK_AGAINST_OTP=1 (nox -s otp)",
)

Schedule = list[tuple[float, tuple[object, ...]]]


def random_tree(rng: random.Random, sup_id: str = "root", depth: int = 0) -> SupSpec:
    auto = rng.choice(("never", "never", "any_significant", "all_significant"))
    children: list[WorkerSpec | SupSpec] = []
    for i in range(rng.randint(1, 4 if depth == 0 else 3)):
        restart = rng.choice(("permanent", "transient", "temporary"))
        significant = auto != "never" and restart != "permanent" and rng.random() < 0.5
        if depth == 0 and rng.random() < 0.3:
            nested = random_tree(rng, f"c{i}", 1)
            children.append(attrs.evolve(nested, restart=restart, significant=significant))
        else:
            children.append(WorkerSpec(f"c{i}", restart=restart, significant=significant))  # type: ignore[arg-type]
    return SupSpec(
        sup_id,
        tuple(children),
        strategy=rng.choice(("one_for_one", "one_for_all", "rest_for_one")),
        max_restarts=rng.randint(0, 3),
        max_seconds=float(rng.choice((1, 2))),
        auto_shutdown=auto,  # type: ignore[arg-type]
    )


def _paths(
    spec: SupSpec, path: tuple[str, ...]
) -> tuple[list[tuple[str, ...]], list[tuple[tuple[str, ...], SupSpec]]]:
    workers: list[tuple[str, ...]] = []
    sups = [(path, spec)]
    for child in spec.children:
        if isinstance(child, WorkerSpec):
            workers.append((*path, child.id))
        else:
            nested_workers, nested_sups = _paths(child, (*path, child.id))
            workers += nested_workers
            sups += nested_sups
    return workers, sups


def random_schedule(rng: random.Random, tree: SupSpec) -> Schedule:
    workers, sups = _paths(tree, ("root",))
    schedule: Schedule = []
    for _ in range(rng.randint(1, 8)):
        delay = float(rng.choice((0, 0, 1, 1, 2)))
        roll = rng.random()
        if roll < 0.6:
            event: tuple[object, ...] = (
                "exit",
                rng.choice(workers),
                rng.choice(("crash", "crash", "normal", "shutdown")),
            )
        elif roll < 0.7:
            event = ("fail_starts", rng.choice(workers), rng.randint(1, 2))
        elif roll < 0.8:
            event = ("ignore_starts", rng.choice(workers), rng.randint(1, 2))
        else:
            sup_path, spec = rng.choice(sups)
            event = (
                "api",
                sup_path,
                rng.choice(("terminate_child", "restart_child")),
                rng.choice(spec.children).id,
            )
        schedule.append((delay, event))
    return schedule


def erlang_tree(spec: SupSpec) -> str:
    def child(c: WorkerSpec | SupSpec) -> str:
        if isinstance(c, WorkerSpec):
            return f'{{worker, "{c.id}", {c.restart}, {str(c.significant).lower()}}}'
        return node(c)

    def node(s: SupSpec) -> str:
        children = ", ".join(child(c) for c in s.children)
        return (
            f'{{sup, "{s.id}", {s.strategy}, {s.max_restarts}, {int(s.max_seconds)}, {s.auto_shutdown}, '
            f"{s.restart}, {str(s.significant).lower()}, [{children}]}}"
        )

    return node(spec)


def erlang_path(path: object) -> str:
    assert isinstance(path, tuple)
    return "[" + ", ".join(f'"{part}"' for part in path) + "]"


def erlang_schedule(schedule: Schedule) -> str:
    events = []
    for delay, event in schedule:
        if event[0] == "exit":
            term = f"{{exit, {erlang_path(event[1])}, {event[2]}}}"
        elif event[0] in ("fail_starts", "ignore_starts"):
            term = f"{{{event[0]}, {erlang_path(event[1])}, {event[2]}}}"
        else:
            term = f'{{api, {erlang_path(event[1])}, {event[2]}, "{event[3]}"}}'
        events.append(f"{{{int(delay)}, {term}}}")
    return "[" + ", ".join(events) + "]"


def project(trace: list[TraceEvent], tree: SupSpec) -> list[tuple[str, ...]]:
    """The model's trace as OTP can show it: no stop/escalate/auto_shutdown of supervisors."""
    workers, _ = _paths(tree, ("root",))
    projected = []
    for event in trace:
        kind = event[0]
        if kind == "start":
            projected.append(("start", "/".join(event[1])))  # type: ignore[arg-type]
        elif kind == "stop" and event[1] in workers:
            projected.append(("stop", "/".join(event[1])))  # type: ignore[arg-type]
        elif kind == "api":
            _, sup_path, operation, child_id, outcome = event
            projected.append(("api", "/".join(sup_path), str(operation), str(child_id), str(outcome)))  # type: ignore[arg-type]
    return projected


def run_otp(
    scenarios: list[tuple[SupSpec, Schedule]], tmp_path: pathlib.Path
) -> dict[int, tuple[str, list[tuple[str, ...]]]]:
    terms = tmp_path / "scenarios.terms"
    terms.write_text(
        "".join(
            f"{{scenario, {n}, {erlang_tree(tree)}, {erlang_schedule(schedule)}}}.\n"
            for n, (tree, schedule) in enumerate(scenarios)
        )
    )
    escript = shutil.which("escript")
    assert escript is not None, "escript not found: apt-get install -y erlang-base"
    output = subprocess.run(
        [escript, str(SCRIPT), str(terms)], capture_output=True, text=True, timeout=600, check=True
    ).stdout
    results: dict[int, tuple[str, list[tuple[str, ...]]]] = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if fields[0] == "result":
            results[int(fields[1])] = (fields[2], [])
        elif fields[0] == "event":
            results[int(fields[1])][1].append(tuple(fields[2:]))
    return results


def test_otp_model_and_trio_otp_agree(tmp_path: pathlib.Path) -> None:
    rng = random.Random(int(os.environ.get("TRIO_OTP_OTP_SEED", "2026")))
    scenarios = []
    for _ in range(SCENARIOS):
        tree = random_tree(rng)
        scenarios.append((tree, random_schedule(rng, tree)))
    otp = run_otp(scenarios, tmp_path)
    disagreements = []
    for n, (tree, schedule) in enumerate(scenarios):
        model, driver, trio_outcome = run_both(tree, schedule)
        assert driver.trace == model.trace, f"scenario {n}: trio_otp and the model disagree"
        otp_outcome, otp_trace = otp[n]
        if (otp_outcome, otp_trace) != (model.root_outcome, project(model.trace, tree)):
            disagreements.append(
                (n, tree, schedule, otp_outcome, otp_trace, model.root_outcome, project(model.trace, tree))
            )
        assert trio_outcome == model.root_outcome
    assert not disagreements, "\n\n".join(map(repr, disagreements[:3]))


def test_model_runs_standalone() -> None:
    model = Model(SupSpec("root", (WorkerSpec("a"),)))
    model.boot()
    model.exit(("root", "a"), "crash")
    assert model.trace == [("start", ("root",)), ("start", ("root", "a")), ("start", ("root", "a"))]


# --- gen_statem ------------------------------------------------------------------------------
#
# Generated state machine scenarios (tests/statem_model.py) run through a real gen_statem
# (otp/statem_check.escript, real time, STATEM_UNIT_MS per unit of the scenario's time),
# through the model and through trio_otp (MockClock). Compared: the events handled, in
# order, with their states (the inserted, postponed and timeout events included), and
# each call's outcome. Real time cannot split near ties, so only scenarios in which no
# two arrivals (outside events, timeouts firing) come within STATEM_MIN_GAP units of
# each other are played.

STATEM_SCRIPT = pathlib.Path(__file__).parent / "otp" / "statem_check.escript"
STATEM_UNIT_MS = 300
STATEM_MIN_GAP = 0.25
STATEM_SCENARIOS = int(os.environ.get("TRIO_OTP_STATEM_SCENARIOS", "20"))


def _erlang(value: object) -> str:
    """A Python value of a scenario as an Erlang term: tuples, lists, atoms, numbers."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        inner = ", ".join(map(_erlang, value))
        return f"{{{inner}}}" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


def _statem_terms(n: int, scenario: Any) -> str:
    table = [
        ((state, key), (next_state, list(actions)))
        for (state, key), (next_state, actions) in scenario.table.items()
    ]
    enter = "true" if scenario.state_enter else "false"
    schedule = _erlang(list(scenario.schedule))
    return f"{{scenario, {n}, {enter}, {_erlang(table)}, {schedule}, {scenario.end!r}}}.\n"


def _well_spaced(scenario: Any) -> bool:
    model = StatemModel(scenario)
    model.run()
    times = sorted(model.arrivals)
    return all(later - earlier >= STATEM_MIN_GAP for earlier, later in itertools.pairwise(times))


def run_statem_otp(
    scenarios: list[Any], tmp_path: pathlib.Path
) -> dict[int, tuple[list[Any], dict[str, Any]]]:
    terms = tmp_path / "statem_scenarios.terms"
    terms.write_text("".join(_statem_terms(n, scenario) for n, scenario in enumerate(scenarios)))
    escript = shutil.which("escript")
    assert escript is not None, "escript not found: apt-get install -y erlang-base"
    output = subprocess.run(
        [escript, str(STATEM_SCRIPT), str(terms), str(STATEM_UNIT_MS)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    results: dict[int, tuple[list[Any], dict[str, Any]]] = {n: ([], {}) for n in range(len(scenarios))}
    for line in output.splitlines():
        fields = line.split("\t")
        if fields[0] == "handled":
            state, key, extra = fields[2:5]
            results[int(fields[1])][0].append((state, key, None if extra == "-" else extra))
        elif fields[0] == "reply":
            outcome = fields[3]
            results[int(fields[1])][1][fields[2]] = (
                outcome if outcome == "exited" else tuple(outcome.split(","))
            )
    return results


def test_gen_statem_the_model_and_trio_otp_agree(tmp_path: pathlib.Path) -> None:
    rng = random.Random(int(os.environ.get("TRIO_OTP_OTP_SEED", "2026")))
    scenarios: list[Any] = []
    while len(scenarios) < STATEM_SCENARIOS:
        scenario = random_scenario(rng, spaced=True)
        if _well_spaced(scenario):
            scenarios.append(scenario)
    otp = run_statem_otp(scenarios, tmp_path)
    disagreements = []
    for n, scenario in enumerate(scenarios):
        model = StatemModel(scenario).run()
        assert run_in_trio(scenario) == model, f"scenario {n}: trio_otp and the model disagree"
        if otp[n] != model:
            disagreements.append((n, scenario, otp[n], model))
    assert not disagreements, "\n\n".join(map(repr, disagreements[:3]))
