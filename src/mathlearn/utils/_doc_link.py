"""The documentation link of the estimators' HTML representation."""


class DocLinkMixin:
    """Link the "?" of an estimator's HTML repr to its mathlearn API page.

    scikit-learn's HTML representation links an estimator to its API page
    when the estimator's top-level package is ``_doc_link_module``; the
    template is filled with the public module (``mathlearn.impute`` for a
    class defined in ``mathlearn.impute._svd``) and the class name, which is
    how the API pages of the docs are named. Put this mixin first in the
    bases of every public estimator.
    """

    _doc_link_module = "mathlearn"
    _doc_link_template = (
        "https://mathlearn.readthedocs.io/en/latest/api/generated/"
        "{estimator_module}.{estimator_name}.html"
    )
