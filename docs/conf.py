"""Sphinx configuration of the cpts_geo site: French user guide, English API reference.

    python -m pip install -e ".[docs]"
    sphinx-build -W -b html docs docs/_build/html

Builds offline: no intersphinx, no remote image, the theme's assets are local. The notebooks of
``notebooks/`` are copied here and executed at build time (myst-nb); the API pages are written
from ``cpts_geo.API`` by ``_ext/cpts_docs.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path[:0] = [str(REPO), str(DOCS / "_ext")]
# the notebook kernels import this checkout, as the tests do, and write their files in a temporary folder
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("CPTS_GEO_OUTPUT_DIR", tempfile.mkdtemp(prefix="cpts_geo_docs_"))
os.environ.setdefault("MPLBACKEND", "Agg")
if "CPTS_GEO_SHARED_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
    os.environ["CPTS_GEO_SHARED_DATA"] = str(REPO.parent / "shared" / "data")

import cpts_geo  # noqa: E402

# The notebooks live in notebooks/ (tests/test_notebooks.py runs them there): a copy is rendered here.
(DOCS / "notebooks").mkdir(exist_ok=True)
for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
    target = DOCS / "notebooks" / notebook.name
    if not target.exists() or target.read_bytes() != notebook.read_bytes():
        shutil.copyfile(notebook, target)

project = "cpts_geo"
author = "les contributeurs de cpts_geo"
copyright = "2026, les contributeurs de cpts_geo (licence MIT)"
version = release = cpts_geo.__version__
language = "fr"

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "cpts_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# notebooks: executed at build time (a few tens of seconds), an error fails the build
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = f"cpts_geo {release}"
html_static_path = ["_static"]
html_css_files = ["cpts.css"]
html_copy_source = False
html_last_updated_fmt = None
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}
