"""
==============================================
Recommending from ratings with their own ids
==============================================

Ratings come as (user, item, rating) rows with the users' and items' own
ids, a few very active users and popular items, and many with a handful of
ratings. :func:`~mathlearn.datasets.make_ratings` draws such data with a
known noiseless truth; :class:`~mathlearn.recommend.RatingsRecommender`
fits a low-rank completer on it, predicts held-out pairs (users and items
with no training rating from the fitted effects), recommends each user's
best unrated items and exports the model as Spark ALS factors.
"""

# %%
# Ratings with heavy-tailed activity
# ----------------------------------
# 1,000 users, 800 items and 30,000 half-star ratings. Each user's activity
# and each item's popularity is log-normal, so the 10% most active users
# hold about half of the ratings, as in MovieLens.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from mathlearn.datasets import make_ratings
from mathlearn.exceptions import ColdStartWarning
from mathlearn.impute import TraceNormImputer
from mathlearn.recommend import RatingsRecommender

ratings, truth = make_ratings(1000, 800, 30_000, random_state=0)
per_user = np.sort(ratings["user"].value_counts().to_numpy())[::-1]
per_item = np.sort(ratings["item"].value_counts().to_numpy())[::-1]
print(ratings.head(3))
print(f"top 10% of users hold {per_user[:100].sum() / len(ratings):.0%} of the ratings")
print(f"median ratings per item: {np.median(per_item):.0f}, most: {per_item[0]}")

# %%
# Fit on 80%, score the other 20%
# -------------------------------
# ``X`` is the two id columns, ``y`` the rating. The completer's settings
# here trade a little accuracy for speed: one held-out split, a short path of
# shrinkages, nuclear norm only, user and item effects, rank at most 10.
rng = np.random.RandomState(0)
test = rng.rand(len(ratings)) < 0.2
X, y = ratings[["user", "item"]], ratings["rating"]
completer = TraceNormImputer(
    n_components=10,
    n_shrinkages=8,
    n_folds=1,
    shrinkage_power=1,
    center="both",
    random_state=0,
)
model = RatingsRecommender(completer)
start = time.perf_counter()
model.fit(X[~test], y[~test])
seconds = time.perf_counter() - start
print(f"fit in {seconds:.1f} s, rank {model.completer_.n_components_}")

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ColdStartWarning)
    predicted = np.clip(model.predict(X[test]), 0.5, 5.0)
print(caught[0].message if caught else "no cold pairs")


def rmse(values, target):
    return np.sqrt(np.mean((values - target) ** 2))


mean_only = np.full(test.sum(), y[~test].mean())
print(
    f"test RMSE {rmse(predicted, y[test]):.3f} (training mean: "
    f"{rmse(mean_only, y[test]):.3f}); against the noiseless truth "
    f"{rmse(predicted, truth[test]):.3f} ({rmse(mean_only, truth[test]):.3f})"
)

# %%
# Top-5 unrated items
# -------------------
# Scored in blocks of users and items, so a large catalogue never becomes a
# dense users x items array; a user not seen in fit (here 99999) gets the
# items with the largest effects.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ColdStartWarning)
    top = model.recommend([0, 1, 99999], n=5)
print(top)

# %%
# The Spark hand-off
# ------------------
# ``mean + a_i + b_j + u_i . v_j`` is one dot product of factors two longer
# than the rank, which is the layout of Spark MLlib's ALSModel.
users, items = model.to_als_factors()
P = np.array(users["features"].tolist())
Q = np.array(items["features"].tolist())
pair = X[test].iloc[:1]
u, i = (
    np.searchsorted(model.user_ids_, pair["user"]),
    np.searchsorted(model.item_ids_, pair["item"]),
)
print(f"ALS dot product {P[u[0]] @ Q[i[0]]:.6f}, predict {model.predict(pair)[0]:.6f}")

# %%
# Activity and accuracy
# ---------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.loglog(np.arange(1, len(per_user) + 1), per_user, label="users")
left.loglog(np.arange(1, len(per_item) + 1), per_item, label="items")
left.set_xlabel("rank by activity")
left.set_ylabel("number of ratings")
left.legend()
left.set_title("Heavy-tailed activity")
right.scatter(truth[test], predicted, s=2, alpha=0.3)
right.plot([1, 6], [1, 6], color="black", linewidth=1)
right.set_xlabel("true rating (noiseless)")
right.set_ylabel("predicted rating")
right.set_title("Held-out predictions")
fig.tight_layout()
plt.show()
