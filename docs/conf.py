"""Sphinx configuration of the sklcm documentation.

Build with ``make -C docs html`` (or ``sphinx-build -W -b html docs docs/_build/html``).
The build works offline: intersphinx links to other projects are only enabled
when ``SKLCM_DOCS_ONLINE=1``, and MathJax is served from the build when the
``sphinx-mathjax-offline`` package is installed.
"""
# License: BSD 3 clause

import importlib.util
import os
import re
import sys
import warnings
from datetime import date

import sklcm

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "sphinxext"))

os.environ.setdefault("OMP_NUM_THREADS", "1")

# -- Project -----------------------------------------------------------------
project = "sklcm"
author = "The sklcm developers"
copyright = f"{date.today().year}, {author}"
release = sklcm.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    # serves MathJax from _static, so formulas render without network access
    extensions.append("sphinx-mathjax-offline")

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"  # `x` in docstrings renders as code, never warns
toc_object_entries_show_parents = "hide"  # "fit()", not "Class.fit()", in page TOCs

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"
# The class template lists the members itself; numpydoc's own member tables
# would repeat them and pull in inherited scikit-learn / torch methods.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- intersphinx (network only on request) -----------------------------------
if os.environ.get("SKLCM_DOCS_ONLINE") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }
else:
    intersphinx_mapping = {}

# -- sphinx-gallery ----------------------------------------------------------
# SKLCM_DOCS_GALLERY selects which examples are executed:
#   "all" (default) runs every example; "fast" only those listed in
#   _FAST_EXAMPLES; "none" renders the code without running it.
_FAST_EXAMPLES = [
    "plot_quick_start.py",
    "plot_coupled_ica.py",
    "plot_precomputed_embeddings.py",
    "plot_identifiability_display.py",
]
_gallery_mode = os.environ.get("SKLCM_DOCS_GALLERY", "all")
if _gallery_mode == "fast":
    _filename_pattern = "/(" + "|".join(map(re.escape, _FAST_EXAMPLES)) + ")$"
else:
    _filename_pattern = "/plot_"

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _filename_pattern,
    "plot_gallery": "False" if _gallery_mode == "none" else "True",
    "doc_module": ("sklcm",),
    "reference_url": {"sklcm": None},
    "backreferences_dir": "generated/backreferences",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "min_reported_time": 1,
}

# Headless figures; examples must not spin threads on a small machine.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklcm {release}"
html_static_path = ["_static"]
html_css_files = ["sklcm.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}


# -- API pages ---------------------------------------------------------------
_METADATA_REQUEST = re.compile(r"^set_\w+_request$")


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_<method>_request`` methods
    (metadata routing plumbing, documented by scikit-learn itself)."""
    return True if _METADATA_REQUEST.match(name) else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
