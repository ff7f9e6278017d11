"""The demo a newcomer runs first must keep telling the truth."""

from __future__ import annotations

import io
import subprocess
import sys

from trio.testing import MockClock

from trio_otp import demo


async def test_demo_walks_through_restart_strategy_and_escalation(autojump_clock: MockClock) -> None:
    out = io.StringIO()
    assert await demo.main(out) == 0
    text = out.getvalue()
    assert "add 5 -> total 5" in text
    assert "restarted child 'counter' (rest_for_one" in text
    assert "crashed before replying: ValueError" in text
    assert text.count("auditor  | started") == 4  # restarted with the counter each time
    assert "restarted child 'counters' (one_for_one" in text
    assert "RestartIntensityExceeded: supervisor 'root' gave up" in text
    assert "ValueError: cannot remove 100" in text
    assert "└── counters  supervisor  running  (restarted 1x)" in text


def test_demo_runs_as_a_program_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trio_otp.demo"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "The tree is down" in result.stdout
    assert result.stderr == ""
