"""Warnings and errors raised by mathlearn.

Every warning mathlearn issues is either one of scikit-learn's
(:class:`~sklearn.exceptions.ConvergenceWarning`,
:class:`~sklearn.exceptions.DataDimensionalityWarning`) or a subclass of
:class:`MathlearnWarning` defined here, so that it can be filtered precisely.
"""

__all__ = ["ColdStartWarning", "EmptyRowWarning", "MathlearnWarning"]


class MathlearnWarning(UserWarning):
    """Base class of the warnings that mathlearn defines itself.

    Filter every mathlearn-specific warning at once with
    ``warnings.simplefilter("ignore", MathlearnWarning)``.

    Examples
    --------
    >>> import warnings
    >>> from mathlearn.exceptions import MathlearnWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("plots skipped", MathlearnWarning)
    >>> caught[0].category.__name__
    'MathlearnWarning'
    """


class ColdStartWarning(MathlearnWarning):
    """Some users or items were not seen in fit: they get the fitted effects.

    Issued once per call by :meth:`~mathlearn.recommend.RatingsRecommender.predict`
    and :meth:`~mathlearn.recommend.RatingsRecommender.recommend`, with the
    number of such pairs or users. A pair whose user (item) is unknown is
    predicted as the global mean plus the known item's (user's) effect.

    Examples
    --------
    >>> import warnings
    >>> from mathlearn.exceptions import ColdStartWarning
    >>> from mathlearn.impute import SVDImputer
    >>> from mathlearn.recommend import RatingsRecommender
    >>> X = [[1, 7], [1, 8], [2, 7], [2, 9], [3, 8]]
    >>> model = RatingsRecommender(SVDImputer(n_components=1, random_state=0))
    >>> model = model.fit(X, [4.0, 3.0, 5.0, 2.0, 3.5])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     y_pred = model.predict([[1, 7], [4, 7], [5, 6]])
    >>> caught[0].category.__name__
    'ColdStartWarning'
    >>> print(caught[0].message)
    2 of 3 pairs have a user or an item not seen in fit (2 with an unseen user,
    1 with an unseen item); they are predicted from the fitted effects: mean_
    plus the effect of the side that was seen
    """


class EmptyRowWarning(MathlearnWarning):
    """A row or column of X has no observed entry, so it is filled from the rest.

    Raised once per call by the imputers when some rows (or, for the low-rank
    completers, columns) of ``X`` have no observed value: such a row carries
    no information of its own. :class:`~mathlearn.impute.SOMImputer` fills
    it with the feature means; :class:`~mathlearn.impute.TraceNormImputer` and
    :class:`~mathlearn.impute.SVDImputer` fill it from their fitted effects
    (``mean_ + column_effects_`` in an empty row, ``mean_ + row_effects_`` in
    an empty column). The message says how many rows and columns were
    affected. Drop such rows first, or silence the warning with
    ``warnings.simplefilter("ignore", EmptyRowWarning)`` when this is
    expected (a ratings matrix with cold-start users or items).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from mathlearn.exceptions import EmptyRowWarning
    >>> from mathlearn.impute import SOMImputer
    >>> X = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0], [2.0, 3.0]])
    >>> imputer = SOMImputer(n_rows=2, n_cols=1, random_state=0).fit(X)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = imputer.transform(X)
    >>> [w.category.__name__ for w in caught]
    ['EmptyRowWarning']
    """
