"""Shared hypothesis strategies: supervision trees and timed schedules of events."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st

from .otp_model import Path, SupSpec, WorkerSpec

RESTART_TYPES = ("permanent", "transient", "temporary")
STRATEGIES = ("one_for_one", "one_for_all", "rest_for_one")
AUTO_SHUTDOWN = ("never", "any_significant", "all_significant")
# Time steps chosen to land inside, exactly at, and beyond the windows (max_seconds is
# drawn from 1, 2 and 5): sums of these hit every edge.
TIME_STEPS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 6.0)


@st.composite
def _child(draw: st.DrawFn, child_id: str, depth: int, parent_auto: str) -> WorkerSpec | SupSpec:
    restart = draw(st.sampled_from(RESTART_TYPES))
    significant = parent_auto != "never" and restart != "permanent" and draw(st.booleans())
    if depth < 1 and draw(st.integers(0, 3)) == 0:
        nested = draw(supervisors(child_id, depth + 1))
        return attrs.evolve(nested, restart=restart, significant=significant)
    shutdown = draw(st.sampled_from(("brutal_kill", "budget", "infinity")))
    return WorkerSpec(child_id, restart=restart, significant=significant, shutdown=shutdown)  # type: ignore[arg-type]


@st.composite
def supervisors(draw: st.DrawFn, sup_id: str = "root", depth: int = 0) -> SupSpec:
    """A supervisor with 1-4 children; one level of nested supervisors at most."""
    auto = draw(st.sampled_from(AUTO_SHUTDOWN))
    count = draw(st.integers(1, 4 if depth == 0 else 3))
    children = tuple(draw(_child(f"c{i}", depth, auto)) for i in range(count))
    return SupSpec(
        sup_id,
        children,
        strategy=draw(st.sampled_from(STRATEGIES)),
        max_restarts=draw(st.integers(0, 3)),
        max_seconds=draw(st.sampled_from((1.0, 2.0, 5.0))),
        auto_shutdown=auto,  # type: ignore[arg-type]
    )


def worker_paths(spec: SupSpec, path: Path = ("root",)) -> list[Path]:
    paths: list[Path] = []
    for child in spec.children:
        if isinstance(child, WorkerSpec):
            paths.append((*path, child.id))
        else:
            paths.extend(worker_paths(child, (*path, child.id)))
    return paths


def supervisor_paths(spec: SupSpec, path: Path = ("root",)) -> list[tuple[Path, SupSpec]]:
    found = [(path, spec)]
    for child in spec.children:
        if isinstance(child, SupSpec):
            found.extend(supervisor_paths(child, (*path, child.id)))
    return found


Event = tuple[object, ...]


@st.composite
def schedules(draw: st.DrawFn, tree: SupSpec, max_events: int = 12) -> list[tuple[float, Event]]:
    """Timed events against ``tree``: exits of workers, start failures armed on workers,
    and runtime API requests. Events may name processes that are not running then."""
    workers = worker_paths(tree)
    sups = supervisor_paths(tree)
    exit_event = st.tuples(
        st.just("exit"),
        st.sampled_from(workers),
        st.sampled_from(("crash", "crash", "crash", "normal", "shutdown")),
    )
    fail_event = st.tuples(st.just("fail_starts"), st.sampled_from(workers), st.integers(1, 3))
    ignore_event = st.tuples(st.just("ignore_starts"), st.sampled_from(workers), st.integers(1, 3))
    api_event = st.sampled_from(sups).flatmap(
        lambda found: st.tuples(
            st.just("api"),
            st.just(found[0]),
            st.sampled_from(("terminate_child", "restart_child")),
            st.sampled_from([child.id for child in found[1].children]),
        )
    )
    event = st.one_of(exit_event, exit_event, fail_event, ignore_event, api_event)
    # Steps of exactly a window's width (and just under and over it) make restarts land
    # on the edges, where an off-by-one in the window would show.
    periods = sorted({spec.max_seconds for _, spec in sups})
    edges = [step for period in periods for step in (period, period - 0.5, period + 0.5)]
    steps = st.one_of(st.sampled_from(TIME_STEPS), st.sampled_from(edges))
    return draw(st.lists(st.tuples(steps, event), max_size=max_events))


# --- state machine scenarios (tests/statem_model.py) ---------------------------------------


def statem_scenarios(max_events: int = 8) -> st.SearchStrategy[Any]:
    """Scenarios of ``statem_model.random_scenario``, drawn through hypothesis's Random."""
    from .statem_model import random_scenario  # noqa: PLC0415 - it imports trio_otp

    return st.randoms(use_true_random=False).map(lambda rng: random_scenario(rng, max_events))
