"""Synthetic ratings: heavy-tailed activity and a low-rank truth."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from mathlearn.utils._sklearn_compat import Interval, validate_params

# Pairs are drawn in rounds until there are enough distinct ones; a round
# that adds too few of them means the request is close to the full matrix.
_MAX_ROUNDS = 200
# Up to this many pairs per rating, the pairs are chosen among all pairs at
# once (memory O(n_ratings) still); above, drawn in rounds.
_DENSE_FACTOR = 4
# The truth of the pairs is computed this many pairs at a time.
_CHUNK = 1 << 20


def _weighted_draws(n, size, p, rng):
    """``size`` draws of ``range(n)`` with probabilities ``p``, sorted.

    A multinomial count per value, repeated: ``O(n + size)``, much faster
    than one binary search per draw.
    """
    return np.repeat(np.arange(n, dtype=np.int64), rng.multinomial(size, p))


def _draw_pairs(n_users, n_items, n_ratings, user_weights, item_weights, rng):
    """``n_ratings`` distinct (user, item) keys ``user * n_items + item``, sorted.

    Every user and every item gets one pair first (its partner drawn by
    weight); then, when the pairs are a large fraction of all pairs, the rest
    are chosen among all pairs by weighted sampling without replacement;
    otherwise, in rounds, pairs are drawn with probability proportional
    to ``user_weights[u] * item_weights[i]``, the repeats and the pairs
    already drawn are dropped, and a random subset of the new ones, as many
    as are missing, is kept. Memory is ``O(n_ratings)``.
    """
    p_user = user_weights / user_weights.sum()
    p_item = item_weights / item_weights.sum()
    seeds = np.concatenate(
        [
            np.arange(n_users) * n_items + rng.choice(n_items, n_users, p=p_item),
            rng.choice(n_users, n_items, p=p_user) * n_items + np.arange(n_items),
        ]
    )
    if n_users * n_items <= _DENSE_FACTOR * n_ratings:
        # A dense request, where rejecting repeats would take many rounds:
        # weighted sampling without replacement over every pair at once
        # (Efraimidis & Spirakis 2006), the seeds kept.
        weights = np.outer(p_user, p_item).ravel()
        with np.errstate(divide="ignore"):
            priority = np.log(rng.random_sample(weights.shape[0])) / weights
        priority[seeds] = np.inf
        return np.sort(np.argpartition(-priority, n_ratings - 1)[:n_ratings])
    keys = np.sort(seeds)
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    acceptance = 1.0
    for _ in range(_MAX_ROUNDS):
        missing = n_ratings - keys.shape[0]
        if missing <= 0:
            break
        size = int(min(1.1 * missing / acceptance + 1000, 4 * n_ratings + 1000))
        # Users sorted and items shuffled: independent pairs, in any order.
        drawn = _weighted_draws(n_users, size, p_user, rng) * n_items
        drawn += rng.permutation(_weighted_draws(n_items, size, p_item, rng))
        drawn.sort()
        distinct = np.concatenate([[True], drawn[1:] != drawn[:-1]])
        drawn = drawn[distinct]
        where = np.minimum(np.searchsorted(keys, drawn), keys.shape[0] - 1)
        drawn = drawn[keys[where] != drawn]
        acceptance = max(drawn.shape[0] / size, 1e-3)
        if drawn.shape[0] > missing:
            drawn = drawn[np.sort(rng.permutation(drawn.shape[0])[:missing])]
        keys = np.concatenate([keys, drawn])
        keys.sort(kind="stable")  # merges the two sorted runs in linear time
    else:
        raise ValueError(
            f"could not draw n_ratings={n_ratings} distinct pairs of "
            f"n_users={n_users} and n_items={n_items} with this activity skew: "
            "ask for fewer ratings, or lower user_skew and item_skew"
        )
    return keys


@validate_params(
    {
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_items": [Interval(Integral, 1, None, closed="left")],
        "n_ratings": [Interval(Integral, 1, None, closed="left")],
        "rank": [Interval(Integral, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "low_rank_scale": [Interval(Real, 0, None, closed="left")],
        "effects_scale": [Interval(Real, 0, None, closed="left")],
        "mean": [Interval(Real, None, None, closed="neither")],
        "user_skew": [Interval(Real, 0, None, closed="left")],
        "item_skew": [Interval(Real, 0, None, closed="left")],
        "rating_scale": [tuple, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_ratings(
    n_users=610,
    n_items=9724,
    n_ratings=100_836,
    *,
    rank=10,
    noise=0.8,
    low_rank_scale=0.4,
    effects_scale=0.4,
    mean=3.5,
    user_skew=1.3,
    item_skew=1.9,
    rating_scale=(0.5, 5.0, 0.5),
    random_state=None,
):
    """Synthetic ratings of items by users, with MovieLens-like activity.

    The true rating of item ``j`` by user ``i`` is

    ``truth_ij = mean + a_i + b_j + low_rank_scale * u_i . v_j / sqrt(rank)``,

    with user and item effects ``a_i, b_j ~ N(0, effects_scale^2)`` and
    factors ``u_i, v_j ~ N(0, I_rank)`` (so the low-rank part has standard
    deviation ``low_rank_scale``). A rating is the truth plus
    ``N(0, noise^2)``, rounded to the nearest step of ``rating_scale`` and
    clipped to its range.

    Which pairs are rated follows heavy-tailed activity, as in real ratings
    data: each user has a log-normal activity weight of spread
    ``user_skew``, each item a log-normal popularity of spread
    ``item_skew``, and pair ``(i, j)`` is drawn with probability proportional
    to their product (successively, without replacement). Every user and
    every item has at least one rating. The defaults give the shape and skew
    of MovieLens latest-small (610 users, 9,724 items, 100,836 ratings; there
    the 10% most active users hold about half the ratings, a user has a median
    of 70.5 ratings, and a movie a median of 3, a quarter of the movies one)
    and a rating standard deviation near its 1.04. Unlike latest-small, whose
    users were kept only if they had rated at least 20 movies, a user may
    have fewer ratings (down to one).

    Parameters
    ----------
    n_users : int, default=610
        Number of users.
    n_items : int, default=9724
        Number of items.
    n_ratings : int, default=100_836
        Number of ratings (distinct pairs), from ``max(n_users, n_items)``
        to ``n_users * n_items``.
    rank : int, default=10
        Rank of the interaction part of the truth (0 for effects only).
    noise : float, default=0.8
        Standard deviation of the rating noise, before rounding.
    low_rank_scale : float, default=0.4
        Standard deviation of the low-rank part of the truth.
    effects_scale : float, default=0.4
        Standard deviation of the user effects and of the item effects.
    mean : float, default=3.5
        Global mean of the truth.
    user_skew : float, default=1.3
        Spread (``sigma``) of the log-normal user activity weights; 0 gives
        every user the same expected number of ratings.
    item_skew : float, default=1.9
        Spread of the log-normal item popularity weights.
    rating_scale : tuple of (low, high, step) or None, default=(0.5, 5.0, 0.5)
        Ratings are rounded to ``low + k * step`` and clipped to
        ``[low, high]``; ``None`` keeps the continuous noisy values.
    random_state : int, RandomState instance or None, default=None
        Seeds the activity, the pairs, the truth and the noise.

    Returns
    -------
    ratings : DataFrame of shape (n_ratings, 3)
        Columns ``user`` (in ``range(n_users)``), ``item`` (in
        ``range(n_items)``) and ``rating``, sorted by user then item, each
        pair once.
    truth : ndarray of shape (n_ratings,)
        The noiseless, unrounded true rating of each row of ``ratings``: the
        target to score a completion's predictions against.

    Notes
    -----
    The pairs are drawn in rounds of independent weighted draws, repeats
    dropped, without forming the ``n_users x n_items`` matrix: time is
    ``O(n_ratings log n_ratings)`` and memory ``O(n_ratings + (n_users +
    n_items) rank)``; MovieLens 25M's shape (162,541 users, 59,047 items,
    25 million ratings) takes about 25 s of CPU. When the ratings are more
    than a quarter of all pairs, they are chosen among all pairs by weighted
    sampling without replacement instead (Efraimidis & Spirakis 2006).

    References
    ----------
    F. M. Harper and J. A. Konstan (2015). The MovieLens datasets: history
    and context. ACM Transactions on Interactive Intelligent Systems 5(4).

    P. S. Efraimidis and P. G. Spirakis (2006). Weighted random sampling
    with a reservoir. Information Processing Letters 97(5), 181-185.

    Examples
    --------
    >>> from mathlearn.datasets import make_ratings
    >>> ratings, truth = make_ratings(random_state=0)
    >>> ratings.shape, truth.shape
    ((100836, 3), (100836,))
    >>> ratings["user"].nunique(), ratings["item"].nunique()
    (610, 9724)
    >>> sorted(ratings["rating"].unique())[:3]
    [np.float64(0.5), np.float64(1.0), np.float64(1.5)]
    >>> per_user = ratings["user"].value_counts().to_numpy()
    >>> top_share = per_user[: len(per_user) // 10].sum() / len(ratings)
    >>> bool(0.4 < top_share < 0.6)
    True
    """
    if not max(n_users, n_items) <= n_ratings <= n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings} must be between max(n_users, n_items) = "
            f"{max(n_users, n_items)} (every user and item is rated) and "
            f"n_users * n_items = {n_users * n_items}"
        )
    if rating_scale is not None:
        if len(rating_scale) != 3 or not all(isinstance(v, Real) for v in rating_scale):
            raise ValueError(
                f"rating_scale={rating_scale!r} must be a tuple (low, high, step) "
                "of numbers, or None"
            )
        low, high, step = rating_scale
        if not (low < high and step > 0):
            raise ValueError(
                f"rating_scale={rating_scale!r} must have low < high and step > 0"
            )
    rng = check_random_state(random_state)
    user_weights = rng.lognormal(0.0, user_skew, n_users)
    item_weights = rng.lognormal(0.0, item_skew, n_items)
    keys = _draw_pairs(n_users, n_items, n_ratings, user_weights, item_weights, rng)
    users, items = np.divmod(keys, n_items)
    del keys
    user_effects = rng.normal(0.0, effects_scale, n_users)
    item_effects = rng.normal(0.0, effects_scale, n_items)
    U = rng.standard_normal((n_users, rank))
    V = rng.standard_normal((n_items, rank)) * (low_rank_scale / np.sqrt(max(rank, 1)))
    truth = np.empty(n_ratings)
    for start in range(0, n_ratings, _CHUNK):
        u, i = users[start : start + _CHUNK], items[start : start + _CHUNK]
        truth[start : start + _CHUNK] = (
            mean + user_effects[u] + item_effects[i] + np.einsum("ij,ij->i", U[u], V[i])
        )
    rating = truth + noise * rng.standard_normal(n_ratings)
    if rating_scale is not None:
        rating = np.clip(low + step * np.round((rating - low) / step), low, high)
    ratings = pd.DataFrame({"user": users, "item": items, "rating": rating})
    return ratings, truth
