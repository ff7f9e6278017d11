"""The restart-intensity arithmetic, without an event loop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from trio_otp._intensity import RestartIntensity


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_allows_max_restarts_then_refuses() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(3, 5, clock)
    assert [intensity.add_restart() for _ in range(3)] == [True, True, True]
    assert intensity.add_restart() is False


def test_zero_means_the_first_request_escalates() -> None:
    assert RestartIntensity(0, 5, FakeClock()).add_restart() is False


def test_window_boundary_is_inclusive() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(1, 5, clock)
    assert intensity.add_restart()
    clock.now = 5.0  # exactly max_seconds later: the first restart still counts
    assert intensity.add_restart() is False


def test_restart_just_outside_the_window_is_forgotten() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(1, 5, clock)
    assert intensity.add_restart()
    clock.now = 5.000001
    assert intensity.add_restart()
    assert intensity.restarts_in_window() == 1


def test_window_slides() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(2, 10, clock)
    for now in (0, 4, 10.5, 14.5):
        clock.now = now
        assert intensity.add_restart(), now
    clock.now = 14.6  # 4 fell out 10.6 s ago; 10.5 and 14.5 are in, with this one 3 > 2
    assert intensity.add_restart() is False


def test_history_stays_bounded() -> None:
    clock = FakeClock()
    intensity = RestartIntensity(2, 1, clock)
    for step in range(1000):
        clock.now = step * 2.0
        assert intensity.add_restart()
    assert len(intensity._restarts) == 1


@pytest.mark.parametrize(("restarts", "seconds"), [(-1, 5), (1, 0), (1, -2)])
def test_bad_values(restarts: int, seconds: float) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked in test_child_spec
        RestartIntensity(restarts, seconds, FakeClock())


@given(
    max_restarts=st.integers(0, 5),
    max_seconds=st.sampled_from([0.5, 1.0, 3.0, 5.0]),
    gaps=st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 6.0]), max_size=30),
)
def test_matches_the_definition(max_restarts: int, max_seconds: float, gaps: list[float]) -> None:
    """Each decision is allowed iff the decisions within max_seconds, this one included,
    number at most max_restarts: the definition, computed from the full history."""
    clock = FakeClock()
    intensity = RestartIntensity(max_restarts, max_seconds, clock)
    history: list[float] = []
    for gap in gaps:
        clock.now += gap
        history.append(clock.now)
        in_window = [stamp for stamp in history if clock.now - stamp <= max_seconds]
        expected = len(in_window) <= max_restarts
        assert intensity.add_restart() is expected
        if not expected:
            return  # the supervisor escalates; nothing is asked after this


class IntensityMachine(RuleBasedStateMachine):
    """The intensity class against the definition, over any sequence of clock steps and
    restart decisions, including after it has refused one."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.intensity: RestartIntensity | None = None
        self.history: list[float] = []

    @initialize(max_restarts=st.integers(0, 4), max_seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    def build(self, max_restarts: int, max_seconds: float) -> None:
        self.intensity = RestartIntensity(max_restarts, max_seconds, self.clock)

    @rule(step=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 5.0, 5.5]))
    def advance(self, step: float) -> None:
        self.clock.now += step

    @rule()
    def restart(self) -> None:
        assert self.intensity is not None
        now = self.clock.now
        self.history.append(now)
        window = [t for t in self.history if now - t <= self.intensity.max_seconds]
        assert self.intensity.add_restart() is (len(window) <= self.intensity.max_restarts)

    @invariant()
    def bounded(self) -> None:
        if self.intensity is not None:
            assert len(self.intensity._restarts) <= max(len(self.history), 0)
            assert self.intensity.restarts_in_window() == sum(
                1 for t in self.history if self.clock.now - t <= self.intensity.max_seconds
            )


TestIntensityMachine = IntensityMachine.TestCase
