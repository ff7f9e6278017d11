"""Sphinx configuration.

Why Sphinx: Trio, attrs and hypothesis all document with Sphinx and autodoc, so our
readers know its look and our docstrings use the same roles as theirs. The build needs
nothing from the network (no intersphinx inventories are fetched), so it works in CI;
``nox -s docs`` builds nitpicky (``-n``: every cross-reference must resolve) with warnings
as errors.
"""

from __future__ import annotations

import sys
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

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
nitpicky = True
# Names outside trio_otp, whose docs we cannot link to offline (no inventories are
# fetched, and none of the installed packages ships one). trio_otp's own names are never
# listed here: each must resolve. (Type variables are handled by _type_variable below.)
_EXTERNAL = ["builtins", "collections", "contextlib", "enum", "exceptiongroup", "logging", "types"]
_EXTERNAL += ["typing", "typing_extensions", "trio", "attrs", "attr", "hypothesis", "outcome"]
_EXTERNAL += ["contextvars", "os", "pickle", "re", "signal", "subprocess"]
nitpick_ignore_regex = [
    (r"py:.*", rf"(?:{'|'.join(_EXTERNAL)})(?:\..+)?"),
]
# hypothesis's strategy type, which trio_otp.testing imports for annotations only.
nitpick_ignore = [("py:class", "SearchStrategy")]
# furo, as attrs uses: maintained, readable on a phone, prev/next links on every page.
html_theme = "furo"
html_title = f"trio_otp {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
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


_TYPE_PARAMETERS = {"TypeVar", "TypeVarTuple", "ParamSpec"}


def _type_parameter_name(target: str) -> str | None:
    """The short name of ``target`` if it is a type variable of trio_otp's (written in full,
    ``trio_otp._server_ref.ReplyT``, or as an annotation spells it, ``ReplyT``)."""
    module_name, _, name = target.rpartition(".")
    if module_name:
        modules = [sys.modules.get(module_name)] if module_name.startswith("trio_otp") else []
    else:
        modules = [module for key, module in sys.modules.items() if key.startswith("trio_otp.")]
    for module in modules:
        value = getattr(module, name, None)
        defined_in = getattr(value, "__module__", "")
        if type(value).__name__ in _TYPE_PARAMETERS and defined_in.startswith("trio_otp"):
            return name
    return None


def _type_variable(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Node | None:
    """A type variable in a signature (``ReplyT``) is a parameter of the generic, not an
    object with a page: it is shown by its short name, unlinked. Only names that really are
    trio_otp's type variables are resolved this way; any other missing target still warns."""
    target = node.get("reftarget", "")
    name = _type_parameter_name(target)
    if name is None:
        return _public_name(app, env, node, contnode)
    return nodes.literal(name, name)


def _public_name(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Node | None:
    """A public class spelled by its private module (``trio_otp._transitions.CallEvent``):
    a subscripted generic, such as ``CallEvent[RequestT, ReplyT]`` inside a type alias,
    keeps the module its class had when the alias was made, before ``trio_otp`` claimed
    it. It links to the public name; anything not public still warns."""
    module, _, name = node.get("reftarget", "").rpartition(".")
    if not module.startswith("trio_otp._") or name not in trio_otp.__all__:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], f"trio_otp.{name}", node, contnode
    )


def _public_bases(_app: Sphinx, _name: str, _obj: object, _options: object, bases: list[type]) -> None:
    """``Bases:`` lists only what readers can import: a private base (``Reply`` derives
    from ``trio_otp._gen_server._Action``) is an implementation detail with no page."""
    bases[:] = [base for base in bases if not base.__name__.startswith("_")]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", _type_variable)
    app.connect("autodoc-process-bases", _public_bases)
    # Before sphinx.ext.autodoc.typehints' handler (priority 500): the first result wins.
    app.connect("autodoc-process-signature", _no_public_constructor, priority=400)
    app.connect("autodoc-process-docstring", _say_no_public_constructor)
    return {"parallel_read_safe": True}
