"""Sphinx configuration of the pyscep documentation site (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE / "_ext"))

from pyscep import __version__  # noqa: E402

project = "pyscep"
author = "the pyscep authors"
copyright = "2026, the pyscep authors"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "pyscep_cli", "pyscep_tables"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "README.md"]

# Links to headings of other pages (``page.md#a-heading``) resolve, checked by -W.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "furo"
html_title = f"pyscep {release}"
html_static_path: list[str] = []
