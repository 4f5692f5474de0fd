"""Sphinx configuration: numpydoc + autosummary + sphinx-gallery.

The API reference is generated here from the public modules' ``__all__`` (one
page per module), so a new module appears without editing the docs; the user
guide picks up every page in ``user_guide/``; the gallery renders
``examples/``.
"""

import importlib
import os
from pathlib import Path

import mathlearn

os.environ.setdefault("MPLBACKEND", "Agg")

project = "mathlearn"
copyright = "2026, the mathlearn developers"
release = mathlearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"mathlearn {release}"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
}

DOCS = Path(__file__).parent


def _write_api_pages():
    """One autosummary page per public module, listed in api/index.rst."""
    import pkgutil

    api = DOCS / "api"
    api.mkdir(exist_ok=True)
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(mathlearn.__path__)
        if not info.name.startswith("_") and info.name not in {"exceptions"}
    ) + ["exceptions"]
    index = [
        "API reference",
        "=============",
        "",
        "Every public name, one page per module.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    for name in names:
        module = importlib.import_module(f"mathlearn.{name}")
        title = f"``mathlearn.{name}``"
        summary = (module.__doc__ or "").strip().splitlines()[0]
        lines = [
            title,
            "=" * len(title),
            "",
            f".. automodule:: mathlearn.{name}",
            "   :no-members:",
            "",
            summary,
            "",
            f".. currentmodule:: mathlearn.{name}",
            "",
            ".. autosummary::",
            "   :toctree: generated/",
            "   :template: public.rst",
            "",
        ]
        lines += [f"   {member}" for member in module.__all__]
        (api / f"{name}.rst").write_text("\n".join(lines) + "\n")
        index.append(f"   {name}")
    (api / "index.rst").write_text("\n".join(index) + "\n")


_write_api_pages()


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods.

    They document scikit-learn's metadata routing, with cross-references into
    scikit-learn's glossary that do not resolve here; scikit-learn's own
    documentation is the place to read about them.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
