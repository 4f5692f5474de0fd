"""Sphinx configuration: numpydoc + autosummary + sphinx-gallery.

The API reference is generated here from the public modules' ``__all__`` (one
page per module), so a new module appears without editing the docs; the user
guide lists its pages in ``user_guide/index.rst`` (a page left out fails the
build); the gallery renders ``examples/``. MathJax is served from the build
(``sphinx-mathjax-offline``), so the site reads the same without network.
"""

import importlib
import inspect
import os
from pathlib import Path

from sphinx_gallery.sorting import ExplicitOrder

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
    # MathJax 3 copied into _static/mathjax: no CDN when the pages are read.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"mathlearn {release}"
html_static_path = ["_static"]
html_css_files = ["mathlearn.css"]
# Without an icon the browser asks for /favicon.ico and logs a 404.
html_favicon = "_static/favicon.svg"
# Without a default the theme logs a console error on a reader's first visit.
html_context = {"default_mode": "auto"}

autosummary_generate = True
# "On this page" lists "fit()", not "TraceNormImputer.fit()", which overflowed.
toc_object_entries_show_parents = "hide"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {}

DOCS = Path(__file__).parent


def _user_guide_order():
    """``(page, caption)`` for each page of the user guide's toctrees, in order.

    One order for the whole site: the API index and the gallery list their
    modules as the user guide does (a module's page is named after it; pages
    that are not modules, such as *Getting started*, are left out there).
    """
    order, caption = [], None
    lines = (DOCS / "user_guide" / "index.rst").read_text().splitlines()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(":caption:"):
            caption = stripped.removeprefix(":caption:").strip()
        elif line.startswith("   ") and stripped and not stripped.startswith(":"):
            order.append((stripped, caption))
    return order


USER_GUIDE_ORDER = _user_guide_order()

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Sections in the user guide's order (estimators, then functions).
    "subsection_order": ExplicitOrder(
        [
            f"../examples/{name}"
            for name, _ in USER_GUIDE_ORDER
            if (DOCS.parent / "examples" / name).is_dir()
        ]
        + ["*"]
    ),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    # The timing pages load jQuery and DataTables from a CDN: left out.
    "write_computation_times": False,
}


def _code_package(obj):
    """Top-level package whose code a method or property runs; None otherwise."""
    code = inspect.unwrap(getattr(obj, "fget", obj))
    if not inspect.isroutine(code):
        return None
    # Methods of built-in types (tuple.count) have no __module__.
    return (getattr(code, "__module__", None) or "builtins").split(".")[0]


def _defined_outside_mathlearn(obj):
    """Whether ``obj`` is a method or property whose code is not mathlearn's."""
    return _code_package(obj) not in {None, "mathlearn"}


def _sklearn_methods(cls):
    """Public methods of ``cls`` inherited from scikit-learn."""
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_") and _code_package(getattr(cls, name)) == "sklearn"
    )


def _write_api_pages():
    """One autosummary page per public module, listed in api/index.rst.

    Returns, for the class template, the methods each public class inherits
    from scikit-learn (listed by name on its page).
    """
    import pkgutil

    api = DOCS / "api"
    api.mkdir(exist_ok=True)
    modules = sorted(
        info.name
        for info in pkgutil.iter_modules(mathlearn.__path__)
        if not info.name.startswith("_")
    )
    # The user guide's sections and order, then the shared modules, the
    # warnings last.
    sections = [(name, group) for name, group in USER_GUIDE_ORDER if name in modules]
    sections += [
        (name, "Shared")
        for name in modules
        if name not in dict(USER_GUIDE_ORDER) and name != "exceptions"
    ]
    sections.append(("exceptions", "Shared"))
    names = [name for name, _ in sections]
    index = [
        "API reference",
        "=============",
        "",
        "Every public name, one page per module, in the user guide's order.",
    ]
    for caption in dict.fromkeys(caption for _, caption in sections):
        index += ["", ".. toctree::", "   :maxdepth: 1", f"   :caption: {caption}", ""]
        index += [f"   {name}" for name, section in sections if section == caption]
    sklearn_methods = {}
    for name in names:
        module = importlib.import_module(f"mathlearn.{name}")
        title = f"``mathlearn.{name}``"
        # The automodule directive prints the module docstring, summary first.
        lines = [
            title,
            "=" * len(title),
            "",
            f".. automodule:: mathlearn.{name}",
            "   :no-members:",
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
        for member in module.__all__:
            obj = getattr(module, member)
            if inspect.isclass(obj):
                sklearn_methods[f"mathlearn.{name}.{member}"] = _sklearn_methods(obj)
    (api / "index.rst").write_text("\n".join(index) + "\n")
    return sklearn_methods


autosummary_context = {"sklearn_methods": _write_api_pages()}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the methods and properties written in mathlearn.

    A class page documents the methods mathlearn defines, its private base
    classes' included (``fit``, ``predict_entries``, ``value``); those
    inherited from scikit-learn (``get_params``, ``set_output``, the
    generated ``set_*_request``) are listed by name and documented in
    scikit-learn's reference, whose cross-references would not resolve here.
    """
    # None leaves the decision to autodoc (False would force private names in).
    return True if _defined_outside_mathlearn(obj) else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
