"""Kohonen's self-organizing map as a scikit-learn clusterer and transformer."""

from numbers import Integral, Real

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from mathlearn.som import _core, _plot, _training
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _deprecate_positional_args,
    _fit_context,
    validate_data,
    validate_params,
)
from mathlearn.utils._threads import block_threads


def _best_units(X, W, center, n_best=1, block_map=map):
    """:func:`_core.best_units` of ``X`` among the units ``W`` (data units).

    Both are centred at ``center`` and scaled to work units first.
    """
    X_w, W_w, _ = _core.work_units(X, W, center)
    return _core.best_units(X_w, W_w, n_best=n_best, block_map=block_map)


def _block_labels(block, reading, W):
    """Best unit of each row of a block of :class:`_training.RowBlocks`.

    ``W`` is in the work units of the ``reading``; the rows are read a
    slice at a time.
    """
    units = [
        _core.best_units(x, W)[:, 0] for x, _ in reading.slices(block, max(W.shape))
    ]
    return np.concatenate(units) if units else np.empty(0, dtype=np.int64)


# Default map size: about this many units per square root of a training
# sample, rounded down (see the Notes of SelfOrganizingMap).
_UNITS_PER_SQRT_SAMPLE = 0.5


def _reject_nan(X, estimator_name):
    if np.isnan(X).any():
        raise ValueError(
            f"Input X contains NaN. {estimator_name} needs complete rows; "
            "to fill the missing entries with a self-organizing map, use "
            "mathlearn.impute.SOMImputer (it trains on rows with missing "
            "values through a masked distance)."
        )


class SelfOrganizingMap(
    _training.GridMixin,
    DocLinkMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
):
    """Kohonen self-organizing map (SOM), trained in batch or online.

    A SOM is a grid of ``n_rows * n_cols`` units, each with a weight vector
    in the input space. Training pulls every unit towards the samples that
    it or its grid neighbours represent best, so that neighbouring units end
    up with similar weights: the map is a two-dimensional, topology-keeping
    picture of the data. As a clusterer, each sample belongs to its
    best-matching unit (BMU); as a transformer, a sample becomes its
    distances to all units.

    Parameters
    ----------
    n_rows : int, default=None
        Number of rows of the grid. ``None``: chosen from the training data
        (or the shape of an array ``init``), see Notes.
    n_cols : int, default=None
        Number of columns of the grid. ``None``: chosen from the training
        data (or the shape of an array ``init``), see Notes.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
        Arrangement of the units: square cells, each touching 8 others, or
        hexagonal cells (odd rows shifted right by half a unit), each
        touching 6. Grid distances are Euclidean distances between unit
        positions, see ``grid_coordinates_``.
    neighborhood : {"gaussian", "bubble"}, default="gaussian"
        Neighbourhood function of the grid distance ``d``:
        ``exp(-d**2 / (2 sigma**2))``, or ``1`` for ``d <= sigma`` and ``0``
        beyond.
    sigma : float, default=None
        Initial neighbourhood radius, in grid units. ``None`` uses
        ``max(n_rows_, n_cols_) / 2``. It decays to ``sigma_end`` over
        training (see Notes).
    sigma_end : float, default=None
        Final neighbourhood radius, at most ``sigma``. ``None`` uses
        ``min(sigma, 0.8)`` for the Gaussian neighbourhood, where an adjacent
        unit then weighs ``exp(-1 / 1.28) = 0.46``, and ``min(sigma, 1)`` for
        the bubble, whose neighbourhood is empty below 1. Smaller values give
        a lower quantization error and a higher topographic error (see
        Notes).
    learning_rate : float, default=0.5
        Initial learning rate of the online rule; it decays linearly to 0.
        Ignored by ``algorithm="batch"``, whose update has no learning rate.
    n_epochs : int, default=10
        Number of passes over the data.
    algorithm : {"batch", "online"}, default="batch"
        ``"batch"``: Kohonen's batch map, each epoch sets every unit to the
        neighbourhood-weighted mean of the data, a few matrix products per
        epoch. ``"online"``: Kohonen's original rule, one sample at a time in
        a random order; faithful but slow (a Python loop over samples), for
        small data.
    init : {"pca", "random"} or array-like of shape (n_rows, n_cols, \
n_features), default="pca"
        Initial weights. ``"pca"`` spreads the grid over the plane of the
        first two principal components (one standard deviation each way);
        ``"random"`` uses randomly drawn samples; an array is used as given.
    random_state : int, RandomState instance or None, default=None
        Seeds ``init="random"`` and the presentation order of
        ``algorithm="online"``. Pass an int for reproducible results.
    n_jobs : int, default=None
        Number of threads over which the blocks of each batch epoch (and of
        ``predict``, ``transform`` and the errors) are spread, each calling
        BLAS on one thread. ``None`` uses as many threads as BLAS may use
        here: every usable core, unless limited by ``threadpoolctl``, the
        ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` variables, or a joblib
        or dask worker (which limit their BLAS to share the machine). So,
        unlike joblib's ``n_jobs=None``, the default is parallel, as
        scikit-learn's ``KMeans`` is with its OpenMP threads. ``-1`` uses
        every usable core, ``1`` no extra thread. The map does not depend
        on ``n_jobs``. See Notes.
    verbose : int, default=0
        If positive, print one line per epoch: radius, learning rate and the
        quantization error of the weights at the start of the epoch.

    Attributes
    ----------
    weights_ : ndarray of shape (`n_rows_`, `n_cols_`, n_features)
        Weight vector of every unit.
    n_rows_ : int
        Number of rows of the grid actually used.
    n_cols_ : int
        Number of columns of the grid actually used.
    cluster_centers_ : ndarray of shape (`n_rows_` * `n_cols_`, n_features)
        The same weights, one row per unit in flat (row-major) order; the
        ``predict`` labels index these rows.
    grid_coordinates_ : ndarray of shape (`n_rows_` * `n_cols_`, 2)
        Position of each unit in the plane (vertical, horizontal). Rows and
        columns are 1 apart; on a hexagonal grid all 6 neighbours of a unit
        are 1 away.
    labels_ : ndarray of shape (n_samples,)
        Flat index of the best-matching unit of each training sample.
    sigma_ : float
        Initial neighbourhood radius actually used.
    sigma_end_ : float
        Final neighbourhood radius actually used.
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
    mathlearn.impute.SOMImputer : Fills missing entries from a SOM trained
        with a masked distance.
    sklearn.cluster.KMeans : A SOM whose neighbourhood has shrunk to one unit.

    Notes
    -----
    *Grid.* Unless given, the grid has about ``sqrt(n_samples) / 2`` units
    (rounded down, at least 1; ``n_samples`` counts sample weights), its
    sides in the ratio of the two largest singular values of the centred
    data, the longer side along the first principal component (the SOM
    Toolbox rule); with one of ``n_rows``, ``n_cols`` given, the other makes
    about that many units. So every unit stands for many samples (on
    average twice the square root of their number) and the labels are
    clusters: 3 units for 50 samples, 50 for 10,000. For a detailed picture
    of the data, where many units between the clusters hold no sample and
    the U-matrix draws the borders, ask for a larger map: Vesanto's
    ``5 * sqrt(n_samples)`` units, or the 10 x 10 maps of the first
    versions of this class (the old default).

    Epoch ``t = 0, ..., T - 1`` (``T = n_epochs``) uses the radius
    ``sigma_t = sigma / (1 + t (sigma / sigma_end - 1) / (T - 1))`` (a single
    epoch uses ``sigma_end``): an inverse-time decay, as MiniSom's, which
    leaves the last few epochs near ``sigma_end``.

    Why this schedule and the end at 0.8: the batch map at a fixed radius
    converges to a fixed point, and the fixed point at radius 1 smooths more
    than an online map that ends at radius 1 (its learning rate stops it
    short of that point). With the same initial weights and number of
    presentations, on the benchmark data and five other data sets with maps
    of 8 x 8 to 30 x 30 units, a batch map decaying geometrically to 1 had a
    quantization error up to 18% above MiniSom's online map; with this
    schedule and end it is below MiniSom's ``train_batch`` on 15 of 16
    (1.5% above on an 8 x 8 map of a uniform 2-D sheet), with a topographic
    error of the same size or smaller. Ending at 0.5 lowers the quantization
    error further but triples the topographic error.

    *Batch.* With ``c_i`` the best unit of sample ``x_i`` under the current
    weights and ``h`` the neighbourhood at radius ``sigma_t``, every unit
    becomes ``w_v = sum_i h(r_v, r_{c_i}) x_i / sum_i h(r_v, r_{c_i})``. The
    best units come from ``|x|^2 - 2 x.w + |w|^2`` in blocks of rows, the sums
    from a sparse one-hot product and ``H @ S``: an epoch costs
    ``O(n_samples * n_units * n_features)`` in BLAS, plus
    ``O(n_units**2 * n_features)``.

    *Precision.* Training, ``predict``, ``transform`` and the errors work on
    the data and weights centred at the training mean and divided by a power
    of two (exact) that brings the largest magnitude near 1. Uncentred, the
    three terms of ``|x|^2 - 2 x.w + |w|^2`` cancel for data with an offset
    (values near 1e8, or near 1000 in float32); unscaled, they overflow for
    values beyond 1e154. So the answers do not depend on where the data sit.
    Any radius far below 1 is winner-take-all (a batch epoch is a k-means
    step), down to the smallest positive float.

    *Sample weights.* ``fit(X, sample_weight=s)`` weights the batch update,
    ``w_v = sum_i s_i h(r_v, r_{c_i}) x_i / sum_i s_i h(r_v, r_{c_i})``, and
    the initialisation (weighted mean and principal components, or rows
    drawn with probability proportional to ``s``), so an integer weight
    trains the same map as repeating the row and a zero weight the same as
    dropping it. The online rule raises a ``ValueError`` for weights: scaling
    its learning rate by ``s_i`` is not the same as presenting the sample
    ``s_i`` times, and can exceed 1 and overshoot.

    *Online.* Sample presentations ``s = 0, ..., N - 1`` (``N = T *
    n_samples``, a new random order each epoch) move every unit,
    ``w_v <- w_v + alpha_s h(r_v, r_c) (x - w_v)``, with
    ``alpha_s = learning_rate * (1 - s / N)`` and the radius interpolated
    per presentation as above. Cost ``O(N * n_units *
    n_features)`` with a Python-level step per sample.

    *Dask.* ``fit`` with ``algorithm="batch"`` also takes a dask array: the
    mean, the scale and the PCA initialisation (the R factors of the
    chunks' QR decompositions, stacked into one small SVD) are computed
    over its chunks, and each epoch maps the best units and per-unit sums
    over the row blocks (on the workers) and adds them up before the
    neighbourhood update, so the map equals the in-memory one to
    round-off. Every pass is one task per chunk of rows, which works
    through its chunk a few MB at a time: a worker holds about one chunk,
    plus what reading it costs. :meth:`partial_fit` trains on one chunk at
    a time (``dask_ml.wrappers.Incremental``).

    *Threads.* An epoch is many small products: the distances of a block
    of rows to the codebook, and a block of the neighbourhood matrix times
    the per-unit sums. Left to a multi-threaded BLAS, each product hands
    half its work to a second thread and waits for it, and when another
    program holds a core that wait took 2-3 times the product's own time.
    So the blocks are spread over ``n_jobs`` threads, each calling BLAS on
    one thread (``threadpoolctl``), as scikit-learn's ``KMeans`` runs its
    chunks: a thread that loses its core delays only its own blocks. The
    best units of a row do not depend on the block it is in, and the sums
    are taken over all rows at once, so the map is the same, bit for bit,
    for every ``n_jobs``.

    The plot helpers (:meth:`plot_u_matrix`, :meth:`plot_component_planes`,
    :meth:`plot_hit_map`) need matplotlib, imported only when they run.

    References
    ----------
    T. Kohonen (1982). Self-organized formation of topologically correct
    feature maps. Biological Cybernetics 43, 59-69.

    T. Kohonen (2013). Essentials of the self-organizing map. Neural
    Networks 37, 52-65.

    K. Kiviluoto (1996). Topology preservation in self-organizing maps.
    Proceedings of ICNN'96, 294-299 (the topographic error).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.som import SelfOrganizingMap
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(c, 0.1, size=(50, 3)) for c in (0, 3)])
    >>> som = SelfOrganizingMap(n_rows=4, n_cols=4, random_state=0).fit(X)
    >>> som.weights_.shape
    (4, 4, 3)
    >>> len(set(som.labels_[:50]) & set(som.labels_[50:]))
    0
    >>> round(som.quantization_error(X), 2)
    0.13
    >>> som.transform(X[:2]).shape
    (2, 16)
    >>> SelfOrganizingMap().fit(X).weights_.shape  # grid of sqrt(100) / 2 units
    (5, 1, 3)
    """

    _parameter_constraints = {
        "n_rows": [Interval(Integral, 1, None, closed="left"), None],
        "n_cols": [Interval(Integral, 1, None, closed="left"), None],
        "topology": [StrOptions({"rectangular", "hexagonal"})],
        "neighborhood": [StrOptions({"gaussian", "bubble"})],
        "sigma": [Interval(Real, 0, None, closed="neither"), None],
        "sigma_end": [Interval(Real, 0, None, closed="neither"), None],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"batch", "online"})],
        "init": [StrOptions({"pca", "random"}), "array-like"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    @_deprecate_positional_args(version="0.2")
    def __init__(
        self,
        *,
        n_rows=None,
        n_cols=None,
        topology="rectangular",
        neighborhood="gaussian",
        sigma=None,
        sigma_end=None,
        learning_rate=0.5,
        n_epochs=10,
        algorithm="batch",
        init="pca",
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.topology = topology
        self.neighborhood = neighborhood
        self.sigma = sigma
        self.sigma_end = sigma_end
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.algorithm = algorithm
        self.init = init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _validate_X(self, X, *, reset):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=reset,
        )
        _reject_nan(X, type(self).__name__)
        return X

    def _array_init(self, X):
        """The ``init`` array as ``X``'s dtype, checked against the grid."""
        W = np.asarray(self.init, dtype=X.dtype)
        grid = W.shape[:2] if W.ndim == 3 else ("n_rows", "n_cols")
        expected = (
            grid[0] if self.n_rows is None else self.n_rows,
            grid[1] if self.n_cols is None else self.n_cols,
            X.shape[1],
        )
        if W.shape != expected:
            raise ValueError(
                f"init has shape {W.shape}; an array init must have shape "
                f"(n_rows, n_cols, n_features) = {expected}"
            )
        if not np.isfinite(W).all():
            raise ValueError("init contains NaN or infinity")
        return W

    def _initial_weights(self, X_c, largest, center, rng, sample_weight):
        """Training data, initial codebook and grid (see ``_core``).

        ``X_c`` is the data centred at ``center`` (an ndarray, overwritten,
        or :class:`_training.RowBlocks`), ``largest`` its largest magnitude. Returns
        ``(X_w, W_w, e, n_rows, n_cols)``: data and codebook centred at
        ``center`` and divided by ``2**e``. The grid is the parameters, the
        shape of an array init, or chosen from the data (see Notes). The PCA
        and random inits are drawn from ``X_w`` (weighted by
        ``sample_weight``); an array init counts in the choice of ``e``.
        """
        if not isinstance(self.init, str):
            W = self._array_init(X_c)
            n_rows, n_cols = W.shape[:2]
            W_c = W.reshape(n_rows * n_cols, -1) - center
            e = _core.unit_exponent(np.float64(largest), W_c)
            X_w = _training.scale_down(X_c, e)
            return X_w, np.ldexp(W_c, -e, out=W_c), e, n_rows, n_cols
        e = _core.unit_exponent(np.float64(largest))
        X_w = _training.scale_down(X_c, e)
        sized_from_data = self.n_rows is None or self.n_cols is None
        svd = None
        if self.init == "pca" or sized_from_data:
            svd = _training.centred_svd(X_w, sample_weight)
        n_samples = X_c.shape[0] if sample_weight is None else sample_weight.sum()
        n_rows, n_cols = _training.grid_size(
            self.n_rows,
            self.n_cols,
            _training.units_per_sqrt_sample(n_samples, _UNITS_PER_SQRT_SAMPLE),
            X_w,
            svd=svd,
        )
        coords = _core.grid_coordinates(n_rows, n_cols, self.topology)
        if self.init == "pca":
            W_w = _core.pca_init(
                X_w, n_rows, n_cols, coords, svd=svd, sample_weight=sample_weight
            )
        else:
            W_w = _core.random_init(X_w, n_rows * n_cols, rng, sample_weight)
        return X_w, np.asarray(W_w), e, n_rows, n_cols

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the map on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, without missing values. With ``algorithm="batch"``
            it may also be a dask array, trained on chunk by chunk (see
            Notes).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the batch update (and in
            the PCA or random initialisation); None gives each weight 1.
            Weights count repetitions: an integer weight trains the map of
            the repeated row, a zero weight that of the dropped row. Only
            ``algorithm="batch"`` accepts weights (see Notes).

        Returns
        -------
        self : SelfOrganizingMap
            The fitted map.
        """
        if _training.is_dask_array(X):
            return self._fit_chunked(X, sample_weight)
        X = self._validate_X(X, reset=True)
        if sample_weight is not None:
            if self.algorithm != "batch":
                raise ValueError(
                    f"sample_weight needs algorithm='batch'; got algorithm="
                    f"{self.algorithm!r}, whose one-sample-at-a-time rule has no "
                    "weighted form that equals repeating samples"
                )
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        rng = check_random_state(self.random_state)
        # Training runs in work units: centred at the training mean, scaled by
        # a power of two (see _core), so that no distance loses its digits.
        center = np.average(
            X.astype(np.float64, copy=False), axis=0, weights=sample_weight
        ).astype(X.dtype)
        X_c = X - center
        largest = _training.largest_magnitude(X_c)
        with block_threads(self.n_jobs) as block_map:
            X_w, W_w, e, n_rows, n_cols = self._initial_weights(
                X_c, largest, center, rng, sample_weight
            )
            grid = self._grid(n_rows, n_cols)
            if self.verbose:
                print(f"{'epoch':>5} {'sigma':>8} {'rate':>8} {'quant. error':>13}")
            if self.algorithm == "batch":
                W_w = self._fit_batch(X_w, W_w, e, grid, sample_weight, block_map)
            else:
                for epoch in range(self.n_epochs):
                    self._online_pass(X_w, W_w, e, grid, epoch, rng, block_map)
            W = _core.to_data_units(W_w, e) + center
            units = _best_units(X, W, center, block_map=block_map)
        self._set_fitted(grid, center, W, units[:, 0], self.n_epochs)
        self._partial_rng = None
        return self

    def _fit_chunked(self, X, sample_weight):
        """:meth:`fit` on a dask array: batch epochs over its row blocks."""
        if self.algorithm != "batch" or sample_weight is not None:
            raise ValueError(
                "a dask array X needs algorithm='batch' and no sample_weight; "
                f"got algorithm={self.algorithm!r}"
                + ("" if sample_weight is None else " and a sample_weight")
            )
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        # Every pass reads these blocks (see _training.RowBlocks).
        data = _training.RowBlocks.of(X)
        # n_features_in_ and the checks of shape and dtype, on the first row;
        # NaN and infinity are looked for in the pass that takes the mean.
        self._validate_X(data.blocks[0][:1].compute(), reset=True)
        rng = check_random_state(self.random_state)
        X_c, _, largest = _training.center_chunked(data)
        center = X_c.center
        with block_threads(self.n_jobs) as block_map:
            X_w, W_w, e, n_rows, n_cols = self._initial_weights(
                X_c, largest, center, rng, None
            )
            grid = self._grid(n_rows, n_cols)
            if self.verbose:
                print(f"{'epoch':>5} {'sigma':>8} {'rate':>8} {'quant. error':>13}")
            W_w = self._fit_batch(X_w, W_w, e, grid, None, block_map)
        labels = np.concatenate(X_w.map(_block_labels, W_w))
        W = _core.to_data_units(W_w, e) + center
        self._set_fitted(grid, center, W, labels, self.n_epochs)
        self._partial_rng = None
        return self

    def _set_fitted(self, grid, center, W, labels, n_iter):
        self._set_grid(grid)
        self._grid_sq_dist = grid.sq_dist
        self._center = center
        self.cluster_centers_ = W
        self.weights_ = W.reshape(grid.n_rows, grid.n_cols, -1)
        self.labels_ = labels
        self.n_iter_ = n_iter
        self._n_features_out = W.shape[0]

    def _fit_batch(self, X, W, e, grid, sample_weight, block_map):
        """Batch epochs on ``X`` and ``W`` in work units of ``2**e``."""

        def report(epoch, sigma_t, error):
            print(f"{epoch + 1:>5} {sigma_t:>8.3f} {'-':>8} {error:>13.6g}")

        return _training.train_batch(
            X,
            W,
            grid.sq_dist,
            _core.radius_schedule(grid.sigma, grid.sigma_end, self.n_epochs),
            self.neighborhood,
            sample_weight=sample_weight,
            e=e,
            report=report if self.verbose else None,
            block_map=block_map,
        )

    def _online_pass(self, X, W, e, grid, epoch, rng, block_map):
        """Online epoch ``epoch`` of ``n_epochs`` on ``X`` (work units of ``2**e``)."""

        def report(sigma_t, rate, error):
            print(f"{epoch + 1:>5} {sigma_t:>8.3f} {rate:>8.3f} {error:>13.6g}")

        _training.train_online_pass(
            X,
            W,
            grid,
            self.neighborhood,
            _training.OnlineSchedule(epoch, self.n_epochs, self.learning_rate),
            rng,
            e=e,
            report=report if self.verbose else None,
            block_map=block_map,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One online pass over ``X``: train the map a chunk at a time.

        Kohonen's online rule is the incremental one, so ``partial_fit``
        uses it whatever ``algorithm`` (which only chooses how :meth:`fit`
        trains), without sample weights. The first call sets up the map from
        ``X`` as :meth:`fit` does (grid, training mean, initial weights,
        random state); every call presents the rows of ``X`` once, in a
        random order. Call ``k`` (from 0) is epoch ``k`` of the online
        schedule of :meth:`fit` over ``n_epochs`` epochs of ``len(X)`` rows,
        so ``n_epochs`` calls on the same ``X`` train the map that
        ``fit(X)`` with ``algorithm="online"`` trains. From call
        ``n_epochs`` on the learning rate is 0: set ``n_epochs`` to the
        number of chunks you will present (times the passes over them). Calls
        after :meth:`fit` continue its schedule. ``dask_ml``'s
        ``Incremental`` calls this on each block of a dask array.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data, without missing values.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : SelfOrganizingMap
            The map, trained on one more chunk.
        """
        first_call = not hasattr(self, "n_iter_")
        X = self._validate_X(X, reset=first_call)
        if getattr(self, "_partial_rng", None) is None:
            self._partial_rng = check_random_state(self.random_state)
        with block_threads(self.n_jobs) as block_map:
            if first_call:
                center = X.mean(axis=0, dtype=np.float64).astype(X.dtype)
                X_c = X - center
                X_w, W_w, e, n_rows, n_cols = self._initial_weights(
                    X_c,
                    np.max(np.abs(X_c), initial=0.0),
                    center,
                    self._partial_rng,
                    None,
                )
                grid = self._grid(n_rows, n_cols)
                epoch = 0
            else:
                center = self._center
                X_w, W_w, e = _core.work_units(X, self.cluster_centers_, center)
                grid = self._grid(self.n_rows_, self.n_cols_)
                epoch = self.n_iter_
            self._online_pass(X_w, W_w, e, grid, epoch, self._partial_rng, block_map)
            W = _core.to_data_units(W_w, e) + center
            units = _best_units(X, W, center, block_map=block_map)
        self._set_fitted(grid, center, W, units[:, 0], epoch + 1)
        return self

    def predict(self, X):
        """Flat index of the best-matching unit of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to map.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``row * n_cols + col`` of the closest unit (Euclidean distance).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with block_threads(self.n_jobs) as block_map:
            units = _best_units(
                X, self.cluster_centers_, self._center, block_map=block_map
            )
        return units[:, 0]

    def transform(self, X):
        """Euclidean distance from each sample to every unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_rows * n_cols)
            Column ``u`` is the distance to unit ``u`` in flat order.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        X_w, W_w, e = _core.work_units(X, self.cluster_centers_, self._center)
        with block_threads(self.n_jobs) as block_map:
            distances = _core.all_distances(X_w, W_w, block_map=block_map)
        return _core.to_data_units(distances, e)

    def quantization_error(self, X):
        """Mean distance between each sample and its best-matching unit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        error : float
            ``mean_i |x_i - w_{c_i}|``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        X_w, W_w, e = _core.work_units(X, self.cluster_centers_, self._center)
        with block_threads(self.n_jobs) as block_map:
            units = _core.best_units(X_w, W_w, block_map=block_map)[:, 0]
        return _training.mean_distance(X_w, W_w, units, e)

    def score(self, X, y=None):
        """Negative quantization error of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            ``-quantization_error(X)``.
        """
        return -self.quantization_error(X)

    def topographic_error(self, X):
        """Fraction of samples whose two best units are not grid neighbours.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        error : float
            In ``[0, 1]``; 0 means the map keeps the topology of ``X``
            everywhere. Neighbours are units whose cells touch: the 8
            surrounding squares (diagonals included, as in MiniSom) or the 6
            surrounding hexagons.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if self.cluster_centers_.shape[0] < 2:
            raise ValueError(
                "topographic_error needs at least 2 units; the map has "
                f"n_rows_ * n_cols_ = {self.n_rows_ * self.n_cols_}"
            )
        with block_threads(self.n_jobs) as block_map:
            units = _best_units(
                X, self.cluster_centers_, self._center, n_best=2, block_map=block_map
            )
        adjacent = _core.adjacency(self._grid_sq_dist, self.topology)
        return float(1.0 - adjacent[units[:, 0], units[:, 1]].mean())

    def u_matrix(self):
        """Mean distance between each unit's weights and its neighbours'.

        High values mark borders between clusters; low values their
        interiors.

        Returns
        -------
        u_matrix : ndarray of shape (n_rows, n_cols)
            Unit ``(i, j)`` holds the mean Euclidean distance from
            ``weights_[i, j]`` to the weights of the units whose cells touch
            its cell: 8 squares or 6 hexagons (fewer on the border); 0 for a
            unit without neighbours.
        """
        check_is_fitted(self)
        W = self.cluster_centers_.astype(np.float64)
        # Differences (cdist) in units of a power of two: no square overflows.
        W_w = W - W.mean(axis=0)
        e = _core.unit_exponent(W_w)
        np.ldexp(W_w, -e, out=W_w)
        adjacent = _core.adjacency(self._grid_sq_dist, self.topology)
        distances = _core.to_data_units(cdist(W_w, W_w), e)
        total = np.where(adjacent, distances, 0.0).sum(axis=1)
        counts = adjacent.sum(axis=1)
        mean = np.divide(total, counts, out=np.zeros_like(total), where=counts > 0)
        return mean.reshape(self.n_rows_, self.n_cols_)

    def plot_u_matrix(self, ax=None, *, cmap="bone_r", labels=None):
        """Draw the U-matrix, one cell (square or hexagon) per unit.

        Needs matplotlib. Unit ``k``, at ``(row, col) = grid_coordinates_[k]``,
        is drawn centred at ``x = col, y = -row``: columns run left to right
        and rows top to bottom, as in :meth:`u_matrix`; on a hexagonal grid
        ``col`` holds the half-unit shift of odd rows and ``row`` is a
        multiple of ``sqrt(3) / 2``. Pass ``labels`` to write on the cells,
        or use ``ax.text(col, -row, text)`` to write on unit ``k``'s cell.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` uses the current axes.
        cmap : str, default="bone_r"
            Colormap; with the default, dark cells are cluster borders.
        labels : array-like of shape (`n_rows_` * `n_cols_`,) or \
(`n_rows_`, `n_cols_`), default=None
            One text per unit (flat order, or laid out as the grid), written
            in the middle of its cell, white on dark cells and black on light
            ones; ``None`` or ``""`` leaves a cell blank.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on (hidden, equal aspect), with a colour bar.
        """
        return _plot.plot_grid_values(
            self,
            self.u_matrix().ravel(),
            ax=ax,
            cmap=cmap,
            label="U-matrix",
            labels=labels,
        )

    @validate_params(
        {"n_cols": [Interval(Integral, 1, None, closed="left")]},
        prefer_skip_nested_validation=True,
    )
    def plot_component_planes(self, features=None, *, n_cols=4, cmap="viridis"):
        """Draw one map per feature, coloured by that feature's weight.

        Needs matplotlib. Each panel is laid out as in :meth:`plot_u_matrix`:
        unit ``k``, at ``(row, col) = grid_coordinates_[k]``, is drawn
        centred at ``x = col, y = -row``.

        Parameters
        ----------
        features : list of int, default=None
            Indices of the features to draw; ``None`` draws all.
        n_cols : int, default=4
            Number of panels per row of the figure.
        cmap : str, default="viridis"
            Colormap.

        Returns
        -------
        fig : matplotlib Figure
            A new figure, one panel per feature, titled with the feature's
            name (``feature_names_in_``) or index. ``fig.axes`` starts with
            the panels, in the order of ``features``; their colour bars
            follow.
        """
        check_is_fitted(self)
        return _plot.plot_component_planes(self, features, n_cols=n_cols, cmap=cmap)

    def plot_hit_map(self, X, ax=None, *, cmap="Blues", labels=None):
        """Draw how many samples of ``X`` each unit is the best match for.

        Needs matplotlib. Unit ``k``, at ``(row, col) = grid_coordinates_[k]``,
        is drawn centred at ``x = col, y = -row``, as in
        :meth:`plot_u_matrix`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to count.
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` uses the current axes.
        cmap : str, default="Blues"
            Colormap.
        labels : array-like of shape (`n_rows_` * `n_cols_`,) or \
(`n_rows_`, `n_cols_`), default=None
            One text per unit, written on its cell as in
            :meth:`plot_u_matrix`.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on (hidden, equal aspect), with a colour bar.
        """
        hits = np.bincount(self.predict(X), minlength=self.cluster_centers_.shape[0])
        return _plot.plot_grid_values(
            self, hits, ax=ax, cmap=cmap, label="hits", labels=labels
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ClusterMixin leaves preserves_dtype empty; the map keeps float32.
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
