"""Sphinx configuration.

Why Sphinx: Trio, attrs and hypothesis all document with Sphinx and autodoc, so our
readers know its look and our docstrings use the same roles as theirs. The build needs
nothing from the network (no intersphinx inventories are fetched), so it works in CI;
``nox -s docs`` builds with warnings as errors.
"""

from __future__ import annotations

import trio_otp

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
