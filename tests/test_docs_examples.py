"""Every example in docs/examples runs, on virtual time, so the docs cannot rot; where the
docs show an example's output (``docs/examples/<name>.out``), the run must print exactly
that."""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import re

import pytest
import trio
import trio.testing

import trio_otp

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "docs" / "examples").glob("*.py"))
RAY_REPORT = re.compile(r"(\x1b\[\d+m)?\((raylet|pid=[^)]*)\)")


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(
    path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    requires = _requires(path)
    for requirement in requires:  # an example of an optional extra, skipped without it
        pytest.importorskip(requirement)
    monkeypatch.syspath_prepend(str(path.parent))  # tutorial steps import the step before
    spec = importlib.util.spec_from_file_location(f"docs_example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "main"):
        trio.run(module.main, clock=trio.testing.MockClock(autojump_threshold=0))
    else:  # an example that runs trio itself, such as a property test
        module.run_example()
    printed = capsys.readouterr().out
    if "ray" in requires:
        # Ray's own reports to the driver ("(raylet) A worker died ..."), however it is set up.
        printed = "\n".join(line for line in printed.splitlines() if not RAY_REPORT.match(line))
    assert printed.strip()
    expected = path.with_suffix(".out")
    if expected.exists():
        assert _lines(printed) == _lines(expected.read_text()), f"{path.name} now prints otherwise"


def _requires(path: pathlib.Path) -> tuple[str, ...]:
    """The modules an example names in its top-level ``REQUIRES = (...)``, read without
    running it (its imports would fail without them)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == [
            "REQUIRES"
        ]:
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple), f"{path.name}: REQUIRES must be a tuple of module names"
            return tuple(str(name) for name in value)
    return ()


#: The top-level modules of the optional extras (pyproject.toml's ray, observer, otel).
EXTRA_MODULES = {"ray", "textual", "opentelemetry"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_an_example_that_imports_an_extra_declares_it_in_requires(path: pathlib.Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    declared = {name.split(".")[0] for name in _requires(path)}
    assert imported & EXTRA_MODULES <= declared, f"{path.name}: declare REQUIRES = (...) for its extras"


def _lines(text: str) -> list[str]:
    """The lines of an output, without trailing whitespace (nor trailing empty lines)."""
    return [line.rstrip() for line in text.rstrip().splitlines()]


def test_every_tutorial_step_shows_its_output() -> None:
    steps = [path for path in EXAMPLES if path.name.startswith("tutorial_")]
    assert steps
    tutorial = (pathlib.Path(__file__).parent.parent / "docs" / "tutorial.rst").read_text()
    for step in steps:
        assert step.with_suffix(".out").exists(), f"record the output of {step.name}"
        assert f"literalinclude:: examples/{step.stem}.out" in tutorial, f"show {step.stem}.out"


def test_readme_example_runs() -> None:
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    [block] = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    body, last_line = block.rstrip().rsplit("\n", 1)
    assert last_line == "trio.run(main)"
    namespace: dict[str, object] = {}
    exec(compile(body, "README.md", "exec"), namespace)
    with pytest.raises(trio_otp.RestartIntensityExceeded):
        trio.run(namespace["main"], clock=trio.testing.MockClock(autojump_threshold=0))  # type: ignore[arg-type]


def test_every_public_name_is_in_the_api_reference() -> None:
    reference = (pathlib.Path(__file__).parent.parent / "docs" / "reference.rst").read_text()
    documented = set(re.findall(r"\.\. auto\w+:: (?:trio_otp\.)?([\w.]+)", reference))
    missing = {
        name for name in trio_otp.__all__ if name not in documented and name not in {"__version__", "events"}
    }
    assert not missing, f"add to docs/reference.rst: {sorted(missing)}"


def test_the_api_reference_documents_no_private_path() -> None:
    reference = (pathlib.Path(__file__).parent.parent / "docs" / "reference.rst").read_text()
    private = re.findall(r"\.\. auto\w+:: (\S*\._\w+\S*)", reference)
    assert not private, f"docs/reference.rst documents private paths: {private}"
