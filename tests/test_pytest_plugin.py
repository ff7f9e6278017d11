"""trio_otp.pytest_plugin, exercised as a user's suite would: each test writes a small
suite and runs pytest on it with pytester."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import trio_otp

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _same_trio_otp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suites under test import the trio_otp this run imported (the source tree, or
    the copy nox installed), not another one installed in the environment."""
    here = str(pathlib.Path(trio_otp.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))


TRIO_MODE_INI = "[pytest]\ntrio_mode = true\nfilterwarnings = error\n"
OPT_IN = 'pytest_plugins = ["trio_otp.pytest_plugin"]\n'

USER_TESTS = """
import trio
import trio_otp
from trio_otp.testing import ScriptedWorkers


async def test_start_tree_settle_and_exit_child(start_tree, settle, exit_child, autojump_clock):
    workers = ScriptedWorkers()
    root = await start_tree(trio_otp.Supervisor([workers.spec("a"), workers.spec("b")]))
    assert workers.trace == [("start", "a"), ("start", "b")]
    await exit_child(root, "a", RuntimeError("boom"))
    await settle()
    assert workers.trace[-1] == ("start", "a")
    await trio.sleep(3600)  # virtual time: an hour in no time
    assert root.alive


async def test_start_tree_from_specs_stops_at_the_end(start_tree, autojump_clock):
    workers = ScriptedWorkers()
    root = await start_tree([workers.spec("only")])
    assert [info.id for info in await root.which_children()] == ["only"]
    assert start_tree.started == [root]


async def test_captured_events(start_tree, captured_events, exit_child, autojump_clock):
    workers = ScriptedWorkers()
    root = await start_tree([workers.spec("a")])
    await exit_child(root, "a", RuntimeError("boom"))
    assert captured_events.names()[:1] == ["child_started"]
    assert [e.metadata["child_id"] for e in captured_events.named("child_restarted")] == ["a"]


async def test_the_next_test_sees_only_its_own_events(captured_events, start_tree, autojump_clock):
    await start_tree([])
    assert "child_restarted" not in captured_events.names()
"""


def test_the_fixtures_in_a_trio_mode_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE_INI)
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_fixtures_with_the_trio_marker_and_the_command_line_opt_in(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    marked = USER_TESTS.replace("\nasync def test_", "\n@pytest.mark.trio\nasync def test_")
    pytester.makepyfile(test_user="import pytest\n" + marked)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "trio_otp.pytest_plugin")
    result.assert_outcomes(passed=4)


def test_a_tree_that_gives_up_fails_the_test_with_its_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE_INI)
    pytester.makeconftest(OPT_IN)
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import trio_otp
            from trio_otp.testing import ScriptedWorkers

            async def test_gives_up(start_tree, settle, autojump_clock):
                workers = ScriptedWorkers()
                await start_tree(trio_otp.Supervisor([workers.spec("a")], max_restarts=0))
                workers.crash("a")
                await settle()
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*RestartIntensityExceeded*"])


def test_a_handler_a_test_leaves_attached_does_not_reach_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE_INI)
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import trio_otp

            SEEN = []

            async def run_a_tree():
                async def worker(*, task_status):
                    task_status.started()

                import trio
                async with trio.open_nursery() as nursery:
                    await nursery.start(trio_otp.Supervisor([trio_otp.ChildSpec("w", worker)]).run)
                    nursery.cancel_scope.cancel()

            async def test_attaches_and_forgets_to_detach(autojump_clock):
                trio_otp.events.attach(SEEN.append)
                await run_a_tree()
                assert SEEN

            async def test_next(autojump_clock):
                seen_before = len(SEEN)
                await run_a_tree()
                assert len(SEEN) == seen_before
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_suite_that_does_not_opt_in_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE_INI)
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest

            @pytest.fixture
            def settle():
                return "the project's own settle"

            def test_own_fixture(settle):
                assert settle == "the project's own settle"

            def test_no_trio_otp_fixtures(request):
                with pytest.raises(pytest.FixtureLookupError):
                    request.getfixturevalue("start_tree")
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("module", ["trio_otp.testing", "trio_otp.pytest_plugin"])
def test_importing_the_testing_kit_does_not_import_hypothesis(module: str) -> None:
    code = f"import sys, {module}\nassert 'hypothesis' not in sys.modules, 'hypothesis was imported'\n"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)
