"""Sphinx configuration of the seisbench-genie documentation.

Build with ``make docs`` (``sphinx-build -W -b html docs docs/_build/html``): warnings are
errors. The Markdown pages are read with MyST, the docstrings (numpydoc style) with numpydoc,
and the example scripts in ``docs/examples/`` are run by sphinx-gallery into
``docs/auto_examples/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # genie_scraper
os.environ.setdefault("OMP_NUM_THREADS", "1")  # examples run on one thread, as in CI

import seisbench_genie  # noqa: E402

project = "seisbench-genie"
author = "seisbench-genie developers"
copyright = "2026, seisbench-genie developers"  # noqa: A001 (Sphinx's name)
release = seisbench_genie.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "examples", "**.ipynb_checkpoints",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "sg_execution_times.rst"]

# --- MyST: GitHub-style anchors so that the Markdown pages' #links work in both places.
myst_heading_anchors = 4
myst_enable_extensions = ["dollarmath", "colon_fence"]

# --- autodoc + numpydoc
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's parameter lists carry the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- sphinx-gallery: the examples run on generated data, each in well under 30 s.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "image_scrapers": ("genie_scraper.figure_scraper",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "furo"
html_title = f"seisbench-genie {release}"
html_static_path: list[str] = []
