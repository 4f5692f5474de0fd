"""Imputation from a self-organizing map trained with a masked distance."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from mathlearn.exceptions import EmptyRowWarning
from mathlearn.som import _core, _training
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _deprecate_positional_args,
    _fit_context,
    validate_data,
)
from mathlearn.utils._threads import block_threads

# Default map size: about this many units per square root of a training row
# (twice Vesanto's 5 * sqrt(n), see the Notes of SOMImputer).
_UNITS_PER_SQRT_ROW = 10


class SOMImputer(
    _training.GridMixin,
    DocLinkMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Fill missing entries from the best-matching units of a self-organizing map.

    The map is trained with Kohonen's batch rule, but every distance and every
    unit update only uses the features a row has: the best-matching unit of a
    row is the one closest on its observed features, and a unit's weight for a
    feature is the neighbourhood-weighted mean of the rows that observe it. A
    missing entry is then read from a distance-weighted mix of the row's
    ``n_neighbors_units`` best units (or from its best unit alone). Observed
    entries are never changed.

    Parameters
    ----------
    n_rows : int, default=None
        Number of rows of the map's grid. ``None``: chosen from the training
        rows, see Notes.
    n_cols : int, default=None
        Number of columns of the map's grid. ``None``: chosen from the
        training rows, see Notes.
    train_on : {"all", "complete"}, default="all"
        ``"all"`` trains on every row that has at least one observed value,
        with the masked distance; ``"complete"`` trains on the rows without
        missing values only, and needs at least ``n_rows * n_cols`` of them
        (at least one if the map is sized from the data).
    n_neighbors_units : int, default=5
        Number of best units whose weights are mixed, with weights inversely
        proportional to their masked distance, to fill a row; 1 reads the
        best unit alone.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
        Arrangement of the units, as in
        :class:`~mathlearn.som.SelfOrganizingMap`.
    neighborhood : {"gaussian", "bubble"}, default="gaussian"
        Neighbourhood function, as in :class:`~mathlearn.som.SelfOrganizingMap`.
    sigma : float, default=None
        Initial neighbourhood radius; ``None`` uses ``max(n_rows, n_cols) / 2``.
        It decays over the epochs to ``sigma_end``, as in
        :class:`~mathlearn.som.SelfOrganizingMap`.
    sigma_end : float, default=None
        Final neighbourhood radius, at most ``sigma``. ``None`` uses
        ``min(sigma, 0.5)`` for the Gaussian neighbourhood (smaller than the
        map's 0.8: imputation wants sharp prototypes, not a smooth picture)
        and ``min(sigma, 1)`` for the bubble.
    n_epochs : int, default=10
        Number of batch epochs of :meth:`fit`; for :meth:`partial_fit`, the
        number of calls over which the radius and the learning rate decay.
    learning_rate : float, default=0.5
        Initial learning rate of the online rule of :meth:`partial_fit`; it
        decays linearly to 0 over ``n_epochs`` calls. :meth:`fit` trains
        with the batch rule, which has no learning rate.
    init : {"pca", "random"}, default="pca"
        ``"pca"`` spreads the grid over the first two principal components of
        the training rows with missing entries replaced by the feature means;
        ``"random"`` uses randomly drawn training rows (mean-filled).
    missing_values : float or np.nan, default=np.nan
        The placeholder for missing values.
    random_state : int, RandomState instance or None, default=None
        Seeds ``init="random"``.
    n_jobs : int, default=None
        Number of threads over which the blocks of each batch epoch and of
        ``transform`` are spread, each calling BLAS on one thread, as in
        :class:`~mathlearn.som.SelfOrganizingMap`. ``None`` uses as many
        threads as BLAS may use here (every usable core unless limited, e.g.
        in a joblib or dask worker); ``-1`` every usable core. The result
        does not depend on ``n_jobs``.
    verbose : int, default=0
        If positive, print one line per epoch with the masked quantization
        error.

    Attributes
    ----------
    weights_ : ndarray of shape (`n_rows_`, `n_cols_`, n_features)
        Weights of the trained map.
    n_rows_ : int
        Number of rows of the grid actually used.
    n_cols_ : int
        Number of columns of the grid actually used.
    sigma_ : float
        Initial neighbourhood radius actually used.
    sigma_end_ : float
        Final neighbourhood radius actually used.
    grid_coordinates_ : ndarray of shape (n_rows * n_cols, 2)
        Position of each unit in the plane (vertical, horizontal).
    statistics_ : ndarray of shape (n_features,)
        Mean of each feature over its observed training values; fills the
        rows of ``transform`` that have no observed feature.
    n_iter_ : int
        Number of epochs run (by :meth:`fit`, or one per :meth:`partial_fit`
        call).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    mathlearn.som.SelfOrganizingMap : The map itself, for complete data.
    sklearn.impute.KNNImputer : Fills from the nearest training rows.
    sklearn.impute.SimpleImputer : Fills with a per-feature statistic.

    Notes
    -----
    *Defaults.* Unless given, the grid has about ``10 * sqrt(n_train)``
    units (at most ``n_train``), ``n_train`` being the number of training
    rows, its sides in the ratio of the two largest singular values of the
    mean-filled training rows (the SOM Toolbox rule, with twice Vesanto's
    ``5 * sqrt(n)`` units: a map drawn for the eye can be coarse, one that
    fills in values cannot). With one of ``n_rows``, ``n_cols`` given, the
    other makes about ``10 * sqrt(n_train)`` units. On the digits, wine,
    breast-cancer and diabetes data with 20% and 50% of the entries missing,
    these defaults (with ``sigma_end=0.5`` and ``n_neighbors_units=5``) took
    the RMSE from 0.93-1.22 times KNNImputer's to 0.88-1.07 times over two
    draws of the missing entries (old defaults: a 10 x 10 map, radius
    ending at 1, the best unit alone).

    With ``m`` the 0/1 mask of observed entries and missing entries of ``x``
    set to 0, the masked squared distance of all rows to all units is
    ``(m * x)**2 @ 1 - 2 (m * x) @ W.T + m @ (W**2).T``: three matrix
    products. They are taken on data and weights centred at ``statistics_``
    and divided by a common power of two, so that an offset shared by the
    rows (sensor readings near 1e8, float32 values near 1000) or magnitudes
    near the limits of the dtype cost no digits. A batch epoch sets
    ``W[v, j] = sum_i h(v, c_i) m_ij x_ij / sum_i h(v, c_i) m_ij``, again as
    matrix products. An epoch costs
    ``O(n_samples * n_units * n_features)``; so does ``transform``, against
    ``O(n_samples * n_train * n_features)`` for a nearest-neighbour imputer.

    *Dask.* ``fit`` also takes a dask array: one pass over its chunks checks
    them and takes the statistics, the scale and the number of training
    rows, the PCA initialisation is a tall-and-skinny QR of the chunks, and
    each epoch maps the best units and per-unit sums over the chunks and
    adds them up, so the map equals the in-memory one to round-off. Every
    pass is one task per chunk of rows, which finds the missing entries,
    selects the training rows and centres them a few MB at a time: a worker
    holds about one chunk, plus what reading it costs. ``transform`` works
    block by block under dask-ml's ``ParallelPostFit``.

    A row with no observed feature has no best unit: ``fit`` skips it, and
    ``transform`` fills it with ``statistics_`` and issues an
    :class:`~mathlearn.exceptions.EmptyRowWarning`. A feature with no
    observed training value cannot be learnt and raises a ``ValueError``.

    References
    ----------
    T. Kohonen (2013). Essentials of the self-organizing map. Neural
    Networks 37, 52-65.

    F. Fessant and S. Midenet (2002). Self-organising map for data
    imputation and correction in surveys. Neural Computing & Applications
    10, 300-310.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.impute import SOMImputer
    >>> rng = np.random.RandomState(0)
    >>> t = rng.uniform(0, 3, size=(300, 2))
    >>> X = np.column_stack([t, np.sin(t[:, 0]) + t[:, 1], t[:, 0] * t[:, 1] / 3])
    >>> X_missing = X.copy()
    >>> X_missing[rng.rand(*X.shape) < 0.2] = np.nan
    >>> imputer = SOMImputer(random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> imputer.n_rows_, imputer.n_cols_  # about 10 * sqrt(300) units
    (16, 11)
    >>> missing = np.isnan(X_missing)
    >>> som_rmse = np.sqrt(np.mean((X_filled - X)[missing] ** 2))
    >>> mean_rmse = np.sqrt(np.mean((np.nanmean(X_missing, 0) - X)[missing] ** 2))
    >>> print(f"SOM {som_rmse:.2f} vs column means {mean_rmse:.2f}")
    SOM 0.30 vs column means 0.88
    >>> bool(som_rmse < 0.5 * mean_rmse)
    True
    """

    # sigma_end=None: the Gaussian neighbourhood ends sharper than the map's
    # 0.8 (imputation wants sharp prototypes, see the sigma_end parameter);
    # the bubble keeps the map's 1.
    _default_sigma_end = {**_core._DEFAULT_SIGMA_END, "gaussian": 0.5}

    _parameter_constraints = {
        "n_rows": [Interval(Integral, 1, None, closed="left"), None],
        "n_cols": [Interval(Integral, 1, None, closed="left"), None],
        "train_on": [StrOptions({"all", "complete"})],
        "n_neighbors_units": [Interval(Integral, 1, None, closed="left")],
        "topology": [StrOptions({"rectangular", "hexagonal"})],
        "neighborhood": [StrOptions({"gaussian", "bubble"})],
        "sigma": [Interval(Real, 0, None, closed="neither"), None],
        "sigma_end": [Interval(Real, 0, None, closed="neither"), None],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "init": [StrOptions({"pca", "random"})],
        "missing_values": [Real],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    _test_params = {"n_rows": 3, "n_cols": 3}

    @_deprecate_positional_args(version="0.2")
    def __init__(
        self,
        *,
        n_rows=None,
        n_cols=None,
        train_on="all",
        n_neighbors_units=5,
        topology="rectangular",
        neighborhood="gaussian",
        sigma=None,
        sigma_end=None,
        n_epochs=10,
        learning_rate=0.5,
        init="pca",
        missing_values=np.nan,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.train_on = train_on
        self.n_neighbors_units = n_neighbors_units
        self.topology = topology
        self.neighborhood = neighborhood
        self.sigma = sigma
        self.sigma_end = sigma_end
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.missing_values = missing_values
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _validate_X(self, X, *, reset):
        nan_is_missing = np.isnan(self.missing_values)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if nan_is_missing else True,
            reset=reset,
        )
        observed = ~np.isnan(X) if nan_is_missing else X != self.missing_values
        return X, observed

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the map on the observed entries of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries marked by ``missing_values``; or a
            dask array, trained on chunk by chunk (see Notes).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : SOMImputer
            The fitted imputer.
        """
        if _training.is_dask_array(X):
            # The row blocks read their own mask.
            X_w, largest = self._chunked_training_data(X)
            statistics, mask = X_w.center, None
        else:
            X, observed = self._validate_X(X, reset=True)
            statistics = self._statistics(X, observed)
            X_w, mask = self._training_data(X, observed, statistics)
            largest = _training.largest_magnitude(X_w)
        rng = check_random_state(self.random_state)
        e = _core.unit_exponent(np.float64(largest))
        X_w = _training.scale_down(X_w, e)

        def report(epoch, sigma_t, error):
            print(f"{epoch + 1:>5} {sigma_t:>8.3f} {error:>20.6g}")

        with block_threads(self.n_jobs) as block_map:
            W, grid = self._initial_map(X_w, rng)
            if self.verbose:
                print(f"{'epoch':>5} {'sigma':>8} {'masked quant. error':>20}")
            W = _training.train_batch(
                X_w,
                W,
                grid.sq_dist,
                _core.radius_schedule(grid.sigma, grid.sigma_end, self.n_epochs),
                self.neighborhood,
                mask=None if self.train_on == "complete" else mask,
                e=e,
                report=report if self.verbose else None,
                block_map=block_map,
            )
        self._set_fitted(grid, _core.to_data_units(W, e) + statistics, statistics)
        self.n_iter_ = self.n_epochs
        self._partial_rng = None
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass of the online rule over ``X``: train a chunk at a time.

        The first call sets up the imputer from ``X`` as :meth:`fit` does
        (``statistics_``, grid, initial weights, random state); every call
        then presents the training rows of ``X`` once, in a random order, to
        Kohonen's online rule with the masked distance: the best unit of a
        row is the closest on its observed features, and only those move,
        ``w_v <- w_v + alpha h(r_v, r_c) m * (x - w_v)``. Call ``k`` (from
        0) is epoch ``k`` of ``n_epochs`` with ``len(X)`` rows, as for
        :meth:`~mathlearn.som.SelfOrganizingMap.partial_fit`: the learning
        rate decays from ``learning_rate`` to 0 at call ``n_epochs`` and the
        radius from ``sigma`` to ``sigma_end``. ``dask_ml``'s
        ``Incremental`` calls this on each block of a dask array.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of data with missing entries marked by
            ``missing_values``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : SOMImputer
            The imputer, trained on one more chunk.
        """
        first_call = not hasattr(self, "n_iter_")
        X, observed = self._validate_X(X, reset=first_call)
        if getattr(self, "_partial_rng", None) is None:
            self._partial_rng = check_random_state(self.random_state)
        statistics = self._statistics(X, observed) if first_call else self.statistics_
        X_c, mask = self._training_data(X, observed, statistics, check=first_call)
        # One sample at a time: no blocks to spread, BLAS on one thread.
        with block_threads(1):
            if first_call:
                e = _core.unit_exponent(X_c)
                X_w = np.ldexp(X_c, -e, out=X_c)
                W, grid = self._initial_map(X_w, self._partial_rng)
                epoch = 0
            else:
                W_c = self.weights_.reshape(-1, X.shape[1]).astype(X.dtype) - statistics
                e = _core.unit_exponent(X_c, W_c)
                X_w, W = np.ldexp(X_c, -e, out=X_c), np.ldexp(W_c, -e, out=W_c)
                grid = self._grid(self.n_rows_, self.n_cols_)
                epoch = self.n_iter_
            _training.train_online_pass(
                X_w,
                W,
                grid,
                self.neighborhood,
                _training.OnlineSchedule(epoch, self.n_epochs, self.learning_rate),
                self._partial_rng,
                mask=None if self.train_on == "complete" else mask,
            )
        self._set_fitted(grid, _core.to_data_units(W, e) + statistics, statistics)
        self.n_iter_ = epoch + 1
        return self

    def _statistics(self, X, observed):
        """``statistics_``: the mean of each feature's observed values.

        Raises a ``ValueError`` for a feature without any.
        """
        n_observed = observed.sum(axis=0)
        self._check_observed(n_observed)
        statistics = np.where(observed, X, 0.0).sum(axis=0, dtype=np.float64)
        return (statistics / n_observed).astype(X.dtype)

    def _check_observed(self, n_observed):
        """Raise a ``ValueError`` naming the features without observed values."""
        never_observed = np.flatnonzero(n_observed == 0)
        if never_observed.size:
            raise ValueError(
                f"features {never_observed.tolist()} have no observed value in X; "
                "SOMImputer cannot learn them: drop these columns first"
            )

    def _training_data(self, X, observed, statistics, check=True):
        """Training rows centred at ``statistics`` (0 where missing), and mask.

        Training runs in work units (see mathlearn.som._core): centred at the
        feature means and divided by a power of two. A missing entry is 0
        there, so the rows are at once the zero-filled data that the masked
        distance needs and the mean-filled data of the inits. ``check``
        checks that there are enough rows to train on.
        """
        rows = self._training_rows(observed, check=check)
        X_train, mask = X[rows], observed[rows].astype(X.dtype)
        return np.where(mask > 0, X_train - statistics, 0.0), mask

    def _set_fitted(self, grid, W, statistics):
        self.weights_ = W.reshape(grid.n_rows, grid.n_cols, -1)
        self._set_grid(grid)
        self.statistics_ = statistics

    def _chunked_training_data(self, X):
        """The training rows of the dask array ``X``, centred, and their spread.

        Returns ``(X_c, largest)``: :class:`~mathlearn.som._training.RowBlocks`
        of ``X`` that read the training rows centred at ``statistics`` (their
        ``center``), 0 where missing (with ``train_on="all"``, each with its
        mask); and the largest magnitude of their observed entries. Shape and
        dtype are checked on the first row (which sets ``n_features_in_``);
        infinity (where not the placeholder), the statistics and the training
        rows are found in one pass.
        """
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        # Every pass reads these blocks (see _training.RowBlocks).
        data = _training.RowBlocks.of(
            X, missing_values=self.missing_values, train_on=self.train_on
        )
        self._validate_X(data.blocks[0][:1].compute(), reset=True)
        X_c, n_observed, largest = _training.center_chunked(data)
        self._check_observed(n_observed)
        if self.train_on == "complete":
            self._check_complete_rows(X_c.shape[0])
        return X_c, largest

    def _training_rows(self, observed, check=True):
        """Rows the map trains on (boolean); ``check``: that there are enough."""
        if self.train_on != "complete":
            return observed.any(axis=1)
        rows = observed.all(axis=1)
        if check:
            self._check_complete_rows(int(rows.sum()))
        return rows

    def _check_complete_rows(self, n_complete):
        """Raise a ``ValueError`` if ``train_on='complete'`` has too few rows."""
        hint = (
            "use train_on='all', which trains on every row through the masked distance"
        )
        if self.n_rows is not None and self.n_cols is not None:
            needed = self.n_rows * self.n_cols
            if n_complete < needed:
                raise ValueError(
                    f"train_on='complete' needs at least n_rows * n_cols = "
                    f"{needed} rows without missing values, but X has "
                    f"{n_complete}; {hint}, or a smaller map"
                )
        elif n_complete == 0:
            # A map sized from the data fits any number of rows but zero.
            raise ValueError(
                "train_on='complete' needs at least one row without "
                f"missing values, but X has 0; {hint}"
            )

    def _initial_map(self, X_w, rng):
        """Initial weights (work units) and grid, from the training rows ``X_w``.

        ``X_w`` holds the training rows in work units, 0 where missing.
        """
        # The PCA init and the default grid shape share one SVD.
        svd = _training.centred_svd(X_w) if self.init == "pca" else None
        n_rows, n_cols = _training.grid_size(
            self.n_rows,
            self.n_cols,
            min(
                X_w.shape[0],
                max(1, round(_UNITS_PER_SQRT_ROW * np.sqrt(X_w.shape[0]))),
            ),
            X_w,
            svd=svd,
        )
        grid = self._grid(n_rows, n_cols)
        if self.init == "pca":
            W = _core.pca_init(X_w, n_rows, n_cols, grid.coords, svd=svd)
        else:
            W = np.asarray(_core.random_init(X_w, n_rows * n_cols, rng))
        return W, grid

    def transform(self, X):
        """Fill the missing entries of ``X``; observed entries are kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries marked by ``missing_values``.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            ``X`` with every missing entry replaced by the weights of its
            row's best unit(s), computed on the row's observed features.
        """
        check_is_fitted(self)
        X, observed = self._validate_X(X, reset=False)
        X_filled = X.copy()
        missing = ~observed
        if not missing.any():
            return X_filled
        empty = ~observed.any(axis=1)
        if empty.any():
            warnings.warn(
                f"{int(empty.sum())} rows of X have no observed feature; they "
                "are filled with the training feature means (statistics_)",
                EmptyRowWarning,
                stacklevel=2,
            )
            X_filled[empty] = self.statistics_
        rows = np.flatnonzero(missing.any(axis=1) & ~empty)
        if rows.size:
            X_filled[rows] = self._fill_rows(X[rows], observed[rows])
        return X_filled

    def _fill_rows(self, X, observed):
        """Rows with both observed and missing entries, filled."""
        W = self.weights_.reshape(-1, self.weights_.shape[-1]).astype(X.dtype)
        center = self.statistics_.astype(X.dtype)
        # Work units as in fit; the distances' common factor 2**e cancels in
        # the choice of units and in their inverse-distance weights.
        X_w = np.where(observed, X - center, 0.0).astype(X.dtype, copy=False)
        W_w = W - center
        e = _core.unit_exponent(X_w, W_w)
        np.ldexp(X_w, -e, out=X_w)
        np.ldexp(W_w, -e, out=W_w)
        mask = observed.astype(X.dtype)
        with block_threads(self.n_jobs) as block_map:
            units = _core.best_units(
                X_w, W_w, n_best=self.n_neighbors_units, mask=mask, block_map=block_map
            )
        if units.shape[1] == 1:
            estimate = W[units[:, 0]]
        else:
            distance = np.sqrt(_core.unit_sq_distances(X_w, W_w, units, mask=mask))
            exact = distance == 0
            weight = np.where(
                exact.any(axis=1, keepdims=True),
                exact.astype(X.dtype),
                1.0 / np.where(exact, 1.0, distance),
            )
            weight /= weight.sum(axis=1, keepdims=True)
            estimate = np.einsum("ik,ikj->ij", weight, W[units])
        return np.where(observed, X, estimate)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = bool(np.isnan(self.missing_values))
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
