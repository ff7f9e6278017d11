"""Sphinx configuration.

Why Sphinx: Trio, attrs and hypothesis all document with Sphinx and autodoc, so our
readers know its look and our docstrings use the same roles as theirs. The build needs
nothing from the network (no intersphinx inventories are fetched), so it works in CI;
``nox -s docs`` builds with warnings as errors.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

import trio_otp
from trio_otp._util import NoPublicConstructor

project = "trio_otp"
author = "trio_otp developers"
copyright = "2026, trio_otp developers"  # noqa: A001
release = trio_otp.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
default_role = "py:obj"
nitpicky = False
html_theme = "alabaster"
exclude_patterns = ["_build", "examples"]


def _no_public_constructor(
    app: Sphinx, what: str, name: str, obj: object, _options: object, _signature: str, _annotation: str
) -> tuple[str, str] | None:
    """Handles only trio_otp makes (ServerRef, SupervisorRef, Caller, TaskHandle, ...) are
    shown as classes without a call signature. Left alone, autodoc reads the metaclass's
    refusing ``__call__`` and shows ``(*args, **kwargs)``, its parameters and a NoReturn
    return type, as if they were to be called."""
    if what != "class" or not isinstance(obj, NoPublicConstructor):
        return None
    # The type hints autodoc recorded for the description (from Sphinx 9, before this
    # event; before that, in a later handler of it, which this result pre-empts).
    document = getattr(app.env, "current_document", None)
    recorded = getattr(document, "autodoc_annotations", None)
    if recorded is None:
        recorded = app.env.temp_data.get("annotations", {})
    recorded.pop(name, None)
    return "", ""


def _say_no_public_constructor(
    _app: Sphinx, what: str, _name: str, obj: object, _options: object, lines: list[str]
) -> None:
    if what == "class" and isinstance(obj, NoPublicConstructor):
        lines.extend(["", "Only trio_otp creates these: calling the class raises :exc:`TypeError`."])


def setup(app: Sphinx) -> dict[str, Any]:
    # Before sphinx.ext.autodoc.typehints' handler (priority 500): the first result wins.
    app.connect("autodoc-process-signature", _no_public_constructor, priority=400)
    app.connect("autodoc-process-docstring", _say_no_public_constructor)
    return {"parallel_read_safe": True}
