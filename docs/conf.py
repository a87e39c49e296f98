"""Sphinx configuration of the crossbar-sim documentation site.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (after
``pip install -c constraints.txt -e ".[docs]"``) and open ``docs/_build/html/index.html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import crossbar

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "crossbar-sim"
author = "crossbar-sim developers"
copyright = "2026, crossbar-sim developers"
release = crossbar.__version__
version = release

extensions = [
    "myst_parser",  # the guides are Markdown, read on GitHub as well as here
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # the docstrings are numpydoc
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "cli_help",  # docs/_ext: the command-line reference, from the program's own parser
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "results", "Thumbs.db", ".DS_Store"]

# Markdown: "$...$" maths, heading anchors for the guides' "page.md#section" links.
myst_enable_extensions = ["dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 4

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # not torch's "Initialize internal Module state" on every layer
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False

html_theme = "furo"
html_title = f"crossbar-sim {release}"
html_static_path: list[str] = []
