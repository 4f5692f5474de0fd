"""Ratings of items by users, served by a low-rank matrix completer."""

import contextlib
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from mathlearn.exceptions import ColdStartWarning
from mathlearn.impute import TraceNormImputer
from mathlearn.recommend._dask import is_dask_collection, rated_pairs, rating_blocks
from mathlearn.recommend._ids import check_id_kind
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    HasMethods,
    Interval,
    _fit_context,
    validate_data,
    validate_params,
)

# recommend() scores at most this many (user, item) pairs at a time.
_BLOCK_PAIRS = 1 << 20
_ITEM_BLOCK = 8192


def _id_codes(values, column):
    """Sorted distinct ids of one column of X and each row's position in them."""
    check_id_kind(values, column)
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), np.asarray(uniques)


def _id_columns(X):
    """The (user id, item id) columns of a validated ``X``, with no missing id."""
    if X.shape[1] < 2:
        raise ValueError(
            f"X must have 2 columns (user id, item id), got "
            f"n_features = {X.shape[1]} (shape {X.shape})"
        )
    X = X[:, :2]
    if X.dtype == object:
        missing = pd.isna(X)
        if missing.any():
            row, column = np.argwhere(missing)[0]
            raise ValueError(
                f"X contains {int(missing.sum())} missing ids (NaN or None), "
                f"the first at row {row}, column {column}; every rating needs a "
                "user id and an item id"
            )
    return X


@contextlib.contextmanager
def _fit_errors(completer, shape, n_rated):
    """A completer's ValueError in fit, said in terms of users and items."""
    try:
        yield
    except ValueError as error:
        raise ValueError(
            f"{type(completer).__name__} cannot be fitted on the matrix of "
            f"{shape[0]} users (its n_samples) x {shape[1]} items (its "
            f"n_features) with {n_rated} rated pairs: {error}"
        ) from error


def folded_factors(completer):
    """The completer's model as one product: ``P @ Q.T``.

    A completer predicts entry ``(i, j)`` as
    ``mean + a_i + b_j + s_i t_j u_i . v_j``; this is
    ``[s_i u_i, mean + a_i, 1] . [t_j v_j, 1, b_j]``. Returns ``(P, Q)`` of
    shapes ``(n_rows, rank + 2)`` and ``(n_columns, rank + 2)``.
    """
    c = completer
    P = np.column_stack(
        [
            c.row_scales_[:, None] * c.row_factors_,
            c.mean_ + c.row_effects_,
            np.ones_like(c.row_effects_),
        ]
    )
    Q = np.column_stack(
        [
            c.column_scales_[:, None] * c.column_factors_,
            np.ones_like(c.column_effects_),
            c.column_effects_,
        ]
    )
    return P, Q


def _top_n(scores, positions, n):
    """Per row, the ``n`` best (score descending, then position ascending).

    ``positions`` label the columns of ``scores`` (one row broadcast to all,
    or one per row); a row with fewer than ``n`` columns keeps them all.
    Equal scores are taken in column order, so the result is the first ``n``
    of a stable sort of each row by decreasing score: when equal scores
    appear in increasing position along each row, as in a block of items or
    in a kept top-n followed by a block of later items, ties go to the
    smaller position.
    """
    n_rows, n_cols = scores.shape
    if n_cols > n:
        cut = -np.partition(-scores, n - 1, axis=1)[:, n - 1 : n]
        above = scores > cut
        tied = scores == cut
        room = n - above.sum(axis=1, keepdims=True)
        keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
        rows, cols = np.nonzero(keep)
        scores = scores[rows, cols].reshape(n_rows, n)
        positions = np.broadcast_to(positions, keep.shape)[rows, cols].reshape(
            n_rows, n
        )
    order = np.argsort(-scores, axis=1, kind="stable")
    return (
        np.take_along_axis(scores, order, axis=1),
        np.take_along_axis(np.broadcast_to(positions, scores.shape), order, axis=1),
    )


class RatingsRecommender(DocLinkMixin, RegressorMixin, BaseEstimator):
    """Predict and recommend from (user, item, rating) triples.

    The ratings are the observed entries of a users x items matrix, which a
    low-rank matrix completer (by default
    :class:`~mathlearn.impute.TraceNormImputer`) fits; this estimator keeps
    the maps between the users' and items' own ids (integers or strings, in
    any order) and the matrix positions, so that ``X`` is the table of
    (user id, item id) pairs that ratings data come in and ``y`` the
    ratings. :meth:`predict` scores any pairs, including users and items not
    seen in ``fit`` (from the fitted effects, with one
    :class:`~mathlearn.exceptions.ColdStartWarning`), :meth:`recommend`
    returns each user's best unrated items, and :meth:`to_als_factors`
    exports the model as Spark MLlib ALS factors.

    Parameters
    ----------
    completer : estimator, default=None
        The matrix completer, cloned in ``fit``. It is fitted on the sparse
        matrix whose stored entries are the observed ratings (rows are users,
        columns items) and must provide ``predict_entries`` and the fitted
        model ``mean_ + row_effects_[i] + column_effects_[j] + row_scales_[i]
        * column_scales_[j] * row_factors_[i] @ column_factors_[j]``, as
        :class:`~mathlearn.impute.TraceNormImputer` and
        :class:`~mathlearn.impute.SVDImputer` do. ``None`` means
        ``TraceNormImputer()``; set its ``random_state`` for a reproducible
        fit.

    Attributes
    ----------
    completer_ : estimator
        The fitted clone of ``completer``.
    user_ids_ : ndarray of shape (n_users,)
        The distinct user ids of the training ratings, sorted; user
        ``user_ids_[i]`` is row ``i`` of the completer's matrix.
    item_ids_ : ndarray of shape (n_items,)
        The distinct item ids, sorted; item ``item_ids_[j]`` is column ``j``.
    n_features_in_ : int
        Number of columns of ``X`` seen during fit (2, unless ``X`` carries
        further, unused columns).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns of ``X`` seen during fit. Defined only when
        ``X`` has column names that are all strings.

    See Also
    --------
    mathlearn.impute.TraceNormImputer : The default completer.
    mathlearn.impute.SVDImputer : A fixed-rank completer.
    mathlearn.datasets.load_movielens : Read MovieLens ratings from disk.
    mathlearn.datasets.make_ratings : Synthetic ratings with a known truth.

    Notes
    -----
    A pair rated more than once is a single observed entry, the mean of its
    ratings (the matrix has one entry per pair); the model does not depend
    on the order of the rating rows, since users and items are numbered in
    sorted order. A rating ``y`` must be finite.

    A pair whose user (item) was not seen in ``fit`` is predicted as
    ``mean_ + column_effects_[j]`` (``mean_ + row_effects_[i]``), the
    expectation of the model when the unknown side's effect and factors are
    drawn around zero; a pair with neither seen gets ``mean_`` (the
    attributes are the completer's). ``fit`` costs what the completer's fit
    costs, plus ``O(n_ratings log n_ratings)`` to number the ids;
    ``predict`` costs ``O(n_pairs rank)``.

    **Ratings beyond one machine.** ``fit`` accepts a dask DataFrame ``X``
    (read from parquet, say) with its ratings ``y`` a dask Series of the same
    partitions. One pass counts the ratings of every id; a second turns each
    partition's ids into matrix positions and splits its ratings by block of
    users and by block of items, about ``X.npartitions`` blocks of each with
    about equal ratings (a shuffle, kept on the workers); the completer
    (:class:`~mathlearn.impute.TraceNormImputer` or
    :class:`~mathlearn.impute.SVDImputer`) then fits block by block as on a
    dask array of ratings, and equals the fit on the same ratings in memory
    to round-off. The ids, the fitted factors and the rated pairs (one bit
    and one 32-bit index a rating, for ``recommend``) are held in this
    process; the ratings themselves never are.

    Because ``X`` holds labels, not measurements, a model fitted on ids
    shifted by a constant (or renamed in any order-preserving way) predicts
    exactly the same.

    Examples
    --------
    >>> import pandas as pd
    >>> from mathlearn.impute import TraceNormImputer
    >>> from mathlearn.recommend import RatingsRecommender
    >>> ratings = pd.DataFrame({
    ...     "user": ["ann", "ann", "bob", "bob", "cy", "cy", "dee"],
    ...     "item": ["film", "book", "film", "game", "book", "game", "film"],
    ...     "rating": [5.0, 3.0, 4.0, 2.0, 4.0, 1.0, 5.0],
    ... })
    >>> model = RatingsRecommender(TraceNormImputer(random_state=0))
    >>> model = model.fit(ratings[["user", "item"]], ratings["rating"])
    >>> model.user_ids_, model.item_ids_
    (array(['ann', 'bob', 'cy', 'dee'], dtype=object),
     array(['book', 'film', 'game'], dtype=object))
    >>> model.recommend(["ann", "dee"], n=1)[["user", "item", "rank"]]
      user  item  rank
    0  ann  game     1
    1  dee  book     1
    """

    _test_params = {
        "completer": TraceNormImputer(n_shrinkages=5, n_folds=1, random_state=0)
    }
    _test_grid = {"completer__shrinkage_power": [1, 2]}

    _parameter_constraints = {
        "completer": [HasMethods(["fit", "predict_entries"]), None],
    }

    def __init__(self, completer=None):
        self.completer = completer

    @_fit_context(
        # the completer validates its own parameters in its fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit the completer on the ratings ``y`` of the pairs ``X``.

        Parameters
        ----------
        X : array-like of shape (n_ratings, 2)
            The (user id, item id) of each rating, as a 2-column array or
            DataFrame; ids are integers, floats or strings (all numbers or
            all strings in a column), never missing. Further columns (a
            timestamp, say) are allowed and not used; :meth:`predict` then
            expects the same columns. A dask DataFrame is fitted on its
            scheduler's workers, block by block (see Notes).
        y : array-like of shape (n_ratings,)
            The ratings, finite numbers; a dask Series with the partitions
            of ``X`` when ``X`` is a dask DataFrame.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        completer = TraceNormImputer() if self.completer is None else self.completer
        completer = clone(completer)
        if is_dask_collection(X):
            return self._fit_dask(completer, X, y)
        matrix, user_ids, item_ids, y_dtype = self._ratings_matrix(X, y)
        with _fit_errors(completer, matrix.shape, matrix.nnz):
            completer.fit(matrix)
        rated = sp.csr_matrix(
            (np.ones(matrix.nnz, dtype=bool), matrix.indices, matrix.indptr),
            shape=matrix.shape,
        )
        return self._set_fitted(completer, user_ids, item_ids, rated, y_dtype)

    def _fit_dask(self, completer, X, y):
        """:meth:`fit` on a dask DataFrame: the completer fits on its blocks."""
        from dask.dataframe.utils import make_meta

        if not hasattr(completer, "_fit_entry_blocks"):
            raise TypeError(
                "fitting on a dask DataFrame needs a completer that fits block "
                "by block (TraceNormImputer or SVDImputer), got "
                f"{type(completer).__name__}"
            )
        # n_features_in_ and feature_names_in_, from X's columns.
        validate_data(self, make_meta(X), dtype=None, ensure_min_samples=0)
        blocks, user_ids, item_ids = rating_blocks(X, y)
        rated = rated_pairs(blocks)
        with _fit_errors(completer, blocks.shape, rated.nnz):
            completer._fit_entry_blocks(blocks, np.dtype(np.float64))
        y_dtype = np.float32 if y.dtype == np.float32 else np.float64
        return self._set_fitted(completer, user_ids, item_ids, rated, y_dtype)

    def _set_fitted(self, completer, user_ids, item_ids, rated, y_dtype):
        self.completer_ = completer
        self.user_ids_ = user_ids
        self.item_ids_ = item_ids
        self._user_index = pd.Index(user_ids)
        self._item_index = pd.Index(item_ids)
        self._rated = rated
        self._y_dtype = y_dtype
        return self

    def _ratings_matrix(self, X, y):
        """The users x items CSR matrix of the ratings, the ids, y's dtype.

        A pair rated more than once gets the mean of its ratings. Written as
        a method of its own so that its temporaries (several arrays as long
        as the ratings, 1.5 GB at 20 million) are freed before the fit.
        """
        X, y = validate_data(self, X, y, dtype=None, y_numeric=True)
        X = _id_columns(X)
        # Predictions keep float32 ratings' dtype (the completer works in
        # float64 either way).
        y_dtype = np.float32 if y.dtype == np.float32 else np.float64
        y = np.asarray(y, dtype=np.float64)
        users, user_ids = _id_codes(X[:, 0], column=0)
        items, item_ids = _id_codes(X[:, 1], column=1)
        shape = (user_ids.shape[0], item_ids.shape[0])
        pairs, inverse, counts = np.unique(
            users.astype(np.int64) * shape[1] + items,
            return_inverse=True,
            return_counts=True,
        )
        ratings = np.bincount(inverse, weights=y) / counts
        rows, cols = np.divmod(pairs, shape[1])
        # Rows sorted, columns sorted within each row: a canonical CSR.
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
        matrix = sp.csr_matrix((ratings, cols, indptr), shape=shape)
        return matrix, user_ids, item_ids, y_dtype

    def _positions(self, X):
        """Matrix positions of the pairs of ``X``; -1 marks an unseen id."""
        users = self._user_index.get_indexer(X[:, 0])
        items = self._item_index.get_indexer(X[:, 1])
        return users.astype(np.intp), items.astype(np.intp)

    def predict(self, X):
        """Predict the ratings of (user, item) pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2)
            The (user id, item id) pairs, seen in ``fit`` or not.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
            The completer's prediction for pairs of a known user and item;
            the fitted effects for the others (see Notes), with one
            :class:`~mathlearn.exceptions.ColdStartWarning` that counts them.
            float32 when the ratings given to :meth:`fit` were float32,
            float64 otherwise.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=None, reset=False)
        X = _id_columns(X)
        users, items = self._positions(X)
        known_user, known_item = users >= 0, items >= 0
        both = known_user & known_item
        c = self.completer_
        y_pred = np.full(X.shape[0], c.mean_, dtype=np.float64)
        y_pred[both] = c.predict_entries(users[both], items[both])
        only_user = known_user & ~known_item
        only_item = known_item & ~known_user
        y_pred[only_user] += c.row_effects_[users[only_user]]
        y_pred[only_item] += c.column_effects_[items[only_item]]
        n_cold = int(X.shape[0] - both.sum())
        if n_cold:
            warnings.warn(
                f"{n_cold} of {X.shape[0]} pairs have a user or an item not seen "
                f"in fit ({int((~known_user).sum())} with an unseen user, "
                f"{int((~known_item).sum())} with an unseen item); they are "
                "predicted from the fitted effects: mean_ plus the effect of the "
                "side that was seen",
                ColdStartWarning,
                stacklevel=2,
            )
        return y_pred.astype(self._y_dtype, copy=False)

    @validate_params(
        {
            "users": ["array-like"],
            "n": [Interval(Integral, 1, None, closed="left")],
            "exclude_rated": ["boolean"],
        },
        prefer_skip_nested_validation=True,
    )
    def recommend(self, users, n=10, *, exclude_rated=True):
        """The ``n`` items with the highest predicted rating, for each user.

        Parameters
        ----------
        users : array-like of shape (n_users,)
            User ids, seen in ``fit`` or not. A user not seen in ``fit``
            gets the items with the largest effects (one
            :class:`~mathlearn.exceptions.ColdStartWarning` counts them).
        n : int, default=10
            Number of items per user.
        exclude_rated : bool, default=True
            Leave out the items the user rated in the training data.

        Returns
        -------
        recommendations : DataFrame
            Columns ``user``, ``item``, ``score`` (the predicted rating, as
            :meth:`predict` gives it) and ``rank`` (1 for the best item), one
            row per recommendation, users in the order of ``users`` and each
            user's items by decreasing score (ties by the order of
            ``item_ids_``). A user gets fewer than ``n`` rows when fewer
            items are left.

        Notes
        -----
        The scores are computed for blocks of users and items, at most about
        a million pairs at a time, keeping each user's best ``n`` items so
        far: memory is ``O(n_users n + block)``, not
        ``O(n_users n_items)``, and time ``O(n_users n_items rank)``.
        """
        check_is_fitted(self)
        users = np.asarray(users)
        if users.ndim != 1:
            raise ValueError(
                f"users must be a 1-D array-like of user ids, got shape {users.shape}"
            )
        positions = self._user_index.get_indexer(users).astype(np.intp)
        n_cold = int((positions < 0).sum())
        if n_cold:
            warnings.warn(
                f"{n_cold} of {users.shape[0]} users were not seen in fit; they "
                "are recommended the items with the largest mean_ + "
                "column_effects_",
                ColdStartWarning,
                stacklevel=2,
            )
        P, Q = folded_factors(self.completer_)
        # A user not seen in fit: no factors, no effect (see predict).
        cold_row = np.zeros(P.shape[1])
        cold_row[-2:] = [self.completer_.mean_, 1.0]
        n_items = Q.shape[0]
        item_block = min(n_items, _ITEM_BLOCK)
        user_block = max(1, _BLOCK_PAIRS // item_block)
        kept_scores, kept_items = [], []
        for start in range(0, users.shape[0], user_block):
            block = positions[start : start + user_block]
            P_block = np.where((block >= 0)[:, None], P[block], cold_row)
            # The (user in block, item) pairs rated in fit; none for a cold user.
            rated = self._rated[np.maximum(block, 0)].tocoo()
            known = block[rated.row] >= 0
            rated_users, rated_items = rated.row[known], rated.col[known]
            best = np.full((block.shape[0], 0), -np.inf)
            best_items = np.zeros((block.shape[0], 0), dtype=np.intp)
            for item_start in range(0, n_items, item_block):
                item_stop = min(item_start + item_block, n_items)
                scores = P_block @ Q[item_start:item_stop].T
                if exclude_rated:
                    inside = (rated_items >= item_start) & (rated_items < item_stop)
                    scores[
                        rated_users[inside], rated_items[inside] - item_start
                    ] = -np.inf
                candidates = np.arange(item_start, item_stop)
                block_scores, block_items = _top_n(scores, candidates[None, :], n)
                best, best_items = _top_n(
                    np.hstack([best, block_scores]),
                    np.hstack([best_items, block_items]),
                    n,
                )
            kept_scores.append(best)
            kept_items.append(best_items)
        scores = np.vstack(kept_scores) if kept_scores else np.zeros((0, 0))
        items = np.vstack(kept_items) if kept_items else np.zeros((0, 0), np.intp)
        valid = np.isfinite(scores)
        user_rows, rank = np.nonzero(valid)
        return pd.DataFrame(
            {
                "user": users[user_rows],
                "item": self.item_ids_[items[valid]],
                "score": scores[valid],
                "rank": rank + 1,
            }
        )

    def to_als_factors(self):
        """The model as the user and item factors of a Spark MLlib ALS model.

        Spark's ``ALSModel`` predicts the pair ``(u, i)`` by the dot product
        of the user's and the item's factors. The completer's model
        ``mean + a_i + b_j + s_i t_j u_i . v_j`` is that dot product for the
        factors ``[s_i u_i, mean + a_i, 1]`` and ``[t_j v_j, 1, b_j]``, of
        length ``rank + 2``.

        Returns
        -------
        user_factors : DataFrame
            Columns ``id`` (the user ids, ``user_ids_``) and ``features``
            (one list of ``rank + 2`` floats per user), the layout of
            ``ALSModel.userFactors``.
        item_factors : DataFrame
            The same for the items, the layout of ``ALSModel.itemFactors``.

        Notes
        -----
        Spark needs integer ids in the 32-bit range; index string ids first
        (for example with the positions ``range(len(user_ids_))``, mapped back
        through ``user_ids_``). Spark stores the factors in single precision,
        so its predictions agree with :meth:`predict` to about ``1e-6``
        relative.

        What does not carry over: the cold start (Spark predicts NaN for a
        user or item without factors, or drops the pair with
        ``coldStartStrategy="drop"``, where :meth:`predict` uses the fitted
        effects), and the fold-in of new rows (the completer's ``transform``
        fits a new user's effect and factors from their ratings; ALS has no
        such step, so a new user needs a refit). Spark's
        ``recommendForAllUsers`` does not leave out rated items, unlike
        :meth:`recommend`.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from mathlearn.impute import SVDImputer
        >>> from mathlearn.recommend import RatingsRecommender
        >>> X = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [7, 8, 7, 9, 8]})
        >>> y = [4.0, 3.0, 5.0, 2.0, 3.5]
        >>> completer = SVDImputer(n_components=1, alpha=1.0, random_state=0)
        >>> model = RatingsRecommender(completer).fit(X, y)
        >>> users, items = model.to_als_factors()
        >>> users.columns.tolist(), len(users["features"][0])
        (['id', 'features'], 3)
        >>> spark_like = [np.dot(users["features"][0], items["features"][1])]
        >>> pair = pd.DataFrame({"user": [1], "item": [8]})
        >>> bool(np.allclose(spark_like, model.predict(pair)))
        True
        """
        check_is_fitted(self)
        P, Q = folded_factors(self.completer_)
        return (
            pd.DataFrame({"id": self.user_ids_, "features": P.tolist()}),
            pd.DataFrame({"id": self.item_ids_, "features": Q.tolist()}),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        # The score on the training ratings is poor by nature when X carries
        # features rather than ids: check_regressors_train rounds its 10
        # continuous features to small integers (categorical data), and only
        # the first two columns, as ids, are used; the pairs repeat, so the
        # fit can only reproduce the mean rating of each pair.
        tags.regressor_tags.poor_score = True
        return tags
