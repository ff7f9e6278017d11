"""Test automation: ``nox`` runs every session; ``nox -s tests`` just the test matrix.

Sessions install what they need themselves, so a fresh machine with Python and nox
is enough. Outside CI a Python that is not installed is skipped; ``.ci/run`` decides
how strict CI is about that. So that a green run cannot be misread, the last default
session, ``interpreters``, prints which Pythons the test sessions ran on and which were
skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = False
# `nox` alone runs the checks. On demand: `bench` (never pass/fail), `soak` and `otp`
# (the conformance properties at length, and against real Erlang/OTP) and `signals` (real
# signals into busy trees, hundreds of times), `ray` (Ray actors under supervisors, on a
# local Ray instance and a simulated two-node cluster), `observer` and `otel` (the extras
# of those names), which CI also runs.
nox.options.sessions = ["tests", "tests_oldest", "lint", "typecheck", "docs", "interpreters"]

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# trio_otp's own test dependencies. Sessions install the package with its `testing` extra
# (what users get for trio_otp.testing and trio_otp.pytest_plugin: hypothesis, pytest,
# pytest-trio), so the suite also checks that the extra is enough; then these, which only
# this suite uses (anyio: the tests that trio_otp refuses asyncio clearly). Not an extra.
PACKAGE = ".[testing]"
TEST_DEPS = ["pytest>=8.4", "pytest-trio>=0.8", "hypothesis>=6.100", "anyio>=4.0"]
# The oldest versions pyproject.toml promises to work with.
OLDEST = ["trio==0.31.0", "attrs==23.2.0", "typing_extensions==4.6.0"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on every supported Python with the newest trio and attrs."""
    session.install(PACKAGE, *TEST_DEPS)
    _record_interpreter(session)
    session.run("pytest", *session.posargs)


@nox.session(python="3.10")
def tests_oldest(session: nox.Session) -> None:
    """The test suite on the oldest Python with the oldest supported trio and attrs.

    Without anyio: the releases the oldest typing_extensions allows carry a pytest plugin
    that imports a name pytest 9 deprecates, which stops any run that loads it (the anyio
    tests run in ``tests``)."""
    session.install(PACKAGE, *[dep for dep in TEST_DEPS if not dep.startswith("anyio")], *OLDEST)
    _record_interpreter(session)
    session.run(
        "python", "-c", "import trio, attrs; print('trio', trio.__version__, 'attrs', attrs.__version__)"
    )
    session.run("pytest", *session.posargs)


# Session name -> the interpreter version it ran on, filled in as this nox run goes.
_INTERPRETERS_USED: dict[str, str] = {}


def _record_interpreter(session: nox.Session) -> None:
    version = session.run("python", "-c", "import platform; print(platform.python_version())", silent=True)
    if isinstance(version, str):  # None under --no-install reuse or a skipped run
        _INTERPRETERS_USED[session.name] = version.strip()


def _runnable(python: str) -> bool:
    try:
        done = subprocess.run([f"python{python}", "-c", "pass"], capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


@nox.session(python=False)
def interpreters(session: nox.Session) -> None:
    """Which Pythons the test sessions of this nox run ran on, and which were skipped.

    nox skips a session whose Python is missing and still reports success (outside CI);
    this says so at the end. It only reports: under ``CI``, nox itself fails on a missing
    Python unless told not to (``--no-error-on-missing-interpreters``, as ``.ci/run`` does
    without pyenv). Only sessions run in the same ``nox`` invocation count: run it after
    the others (``nox`` alone does).
    """
    ran = [f"{name} on Python {version}" for name, version in _INTERPRETERS_USED.items()]
    wanted = {f"tests-{python}": python for python in PYTHONS} | {"tests_oldest": "3.10"}
    missing = [name for name in wanted if name not in _INTERPRETERS_USED]
    skipped = [name for name in missing if not _runnable(wanted[name])]
    not_run = [name for name in missing if name not in skipped]
    session.log("test sessions that ran: " + (", ".join(ran) or "none"))
    if skipped:
        session.warn("SKIPPED, Python not installed: " + ", ".join(skipped))
    if not_run:
        session.log("not run in this nox invocation (not selected, or failed first): " + ", ".join(not_run))


@nox.session(python="3.11")
def observer(session: nox.Session) -> None:
    """The observer extra: the terminal view driven by Textual's Pilot, next to the
    endpoint and log-field tests (structlog too); then mypy --strict over the module that
    imports Textual, which the typecheck session sees without it."""
    session.install(".[testing,observer]", *TEST_DEPS, "structlog>=24.1", "mypy>=1.15", "exceptiongroup")
    session.run(
        "pytest",
        "tests/test_observer_view.py",
        "tests/test_observer.py",
        "tests/test_log_fields.py",
        *session.posargs,
    )
    session.run("mypy", "trio_otp/observer")


@nox.session(python="3.11")
def otel(session: nox.Session) -> None:
    """The otel extra, read back through the OpenTelemetry SDK's in-memory exporters; then
    mypy --strict over the module that imports OpenTelemetry."""
    session.install(".[testing,otel]", *TEST_DEPS, "opentelemetry-sdk>=1.20", "mypy>=1.15", "exceptiongroup")
    session.run("pytest", "tests/test_otel.py", "tests/test_docs_examples.py", *session.posargs)
    session.run("mypy", "trio_otp/otel", "docs/examples/tracing_calls.py")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


TYPECHECKED = ["trio_otp", "docs/examples", "tests/typing_public_api.py"]
# pyright --verifytypes: the share of the public API whose types a checker does not have
# to guess. Trio is at 99.6%, attrs at 100%.
MIN_TYPE_COMPLETENESS = 0.99


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright --strict over the package, the docs' examples (user code
    must type-check too) and the types users should see (tests/typing_public_api.py), on
    the oldest and newest Python we support; then pyright --verifytypes on the public API."""
    # The testing extra: trio_otp.testing and trio_otp.pytest_plugin import hypothesis and pytest.
    session.install(PACKAGE, "mypy>=1.15", "pyright>=1.1.400", "exceptiongroup")
    for version in ("3.10", "3.13"):
        session.run("mypy", "--python-version", version, *TYPECHECKED)
        # Strictness and the paths come from [tool.pyright] in pyproject.toml.
        session.run("pyright", "--pythonversion", version)
    _check_type_completeness(session)


def _check_type_completeness(session: nox.Session) -> None:
    # Of the installed package, not the source tree: what users get. pyright exits 1 for
    # any symbol short of complete, so the session judges the score itself.
    output = session.run(
        "pyright",
        "--verifytypes",
        "trio_otp",
        "--ignoreexternal",
        "--outputjson",
        silent=True,
        success_codes=[0, 1],
    )
    if not isinstance(output, str):  # nox returns None when a run is skipped (--no-install ...)
        return
    report = json.loads(output)["typeCompleteness"]
    score = report["completenessScore"]
    counts = report["exportedSymbolCounts"]
    session.log(
        f"pyright --verifytypes trio_otp: {score:.1%} complete "
        f"({counts['withKnownType']} known, {counts['withAmbiguousType']} ambiguous, "
        f"{counts['withUnknownType']} unknown exported symbols)"
    )
    if score < MIN_TYPE_COMPLETENESS:
        for symbol in report["symbols"]:
            for diagnostic in symbol["diagnostics"]:
                if diagnostic["severity"] == "error":
                    session.log(f"{symbol['name']}: {diagnostic['message']}")
        session.error(f"type completeness {score:.1%} is below {MIN_TYPE_COMPLETENESS:.0%}")


# py:type (the aliases in the API reference) is new in Sphinx 7.4.
DOCS_DEPS = ["sphinx>=7.4", "furo>=2024.8.6"]


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the docs with Sphinx, nitpicky (every cross-reference must resolve) and with
    warnings as errors (the examples run in ``tests``)."""
    # The reference documents the pytest plugin, which imports pytest.
    session.install(".[testing]", *DOCS_DEPS)
    session.run("sphinx-build", "-n", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks: ratios against raw Trio measured in the same run. Not a test.

    ``nox -s bench -- --quick`` for a short run (``-- --quick --pools`` for the worker-pool
    rows only). Installs trio-parallel, which trio_otp does not need, for the per-job
    overhead row against ``trio_parallel.run_sync``. Then runs the peer comparison with
    triotp, which needs Python 3.13.
    """
    session.install(".", "trio-parallel")
    session.run("python", "bench/suite.py", *session.posargs)
    session.notify("bench_peer", session.posargs)


@nox.session(python="3.13")
def bench_peer(session: nox.Session) -> None:
    """triotp on the same workloads as trio_otp and raw Trio, in one process."""
    session.install(".", "triotp")
    session.run("python", "bench/peer_triotp.py", *session.posargs)


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """The conformance properties with many more examples (default 5,000 per property)."""
    session.install(PACKAGE, *TEST_DEPS)
    examples = session.env.get("TRIO_OTP_CONFORMANCE_EXAMPLES", "5000")
    session.run(
        "pytest",
        "tests/test_conformance.py",
        *session.posargs,
        env={"TRIO_OTP_CONFORMANCE_EXAMPLES": examples},
    )


@nox.session(python="3.11")
def signals(session: nox.Session) -> None:
    """Real SIGINTs and SIGTERMs at random moments into busy trees in subprocesses, and
    interrupts raised at hundreds of lines of a running tree; fails on any bad ending."""
    session.install(PACKAGE, *TEST_DEPS)
    session.run(
        "pytest",
        "-s",
        "tests/test_signals.py",
        "tests/test_keyboard_interrupt.py",
        *session.posargs,
        env={
            "TRIO_OTP_SIGNAL_TRIALS": session.env.get("TRIO_OTP_SIGNAL_TRIALS", "250"),
            "TRIO_OTP_INTERRUPT_POINTS": session.env.get("TRIO_OTP_INTERRUPT_POINTS", "600"),
        },
    )


@nox.session(python="3.11")
def otp(session: nox.Session) -> None:
    """Generated scenarios through real Erlang/OTP supervisors and gen_statem, the models and trio_otp.

    Needs ``escript`` (Debian: ``apt-get install -y erlang-base``); fails without it.
    """
    if shutil.which("escript") is None:
        session.error("escript not found: install Erlang/OTP (Debian: apt-get install -y erlang-base)")
    session.install(PACKAGE, *TEST_DEPS)
    session.run(
        "pytest", "tests/test_otp_agreement.py", *session.posargs, env={"TRIO_OTP_CHECK_AGAINST_OTP": "1"}
    )


# Ray has wheels for 3.10 to 3.13; two of them keep the session to a few minutes in CI.
RAY_PYTHONS = ["3.11", "3.13"]


@nox.session(python=RAY_PYTHONS)
def ray(session: nox.Session) -> None:
    """trio_otp.ray on real Ray: a local instance and a two-node cluster simulated on this
    machine (started by the tests themselves, small fixed resources), the docs' Ray
    example, then the call benchmark against raw Ray (printed, never pass/fail)."""
    session.install(".[testing,ray]", *TEST_DEPS)
    session.run(
        "pytest",
        "-s",
        "tests/test_ray.py",
        "tests/test_ray_cluster.py",
        "tests/test_docs_examples.py",
        "-k",
        "ray",
        *session.posargs,
    )
    session.run("python", "bench/ray_calls.py", "--quick")
