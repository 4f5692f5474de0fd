"""Recommenders: ratings of items by users, with the users' and items' own ids.

:class:`RatingsRecommender` fits a low-rank matrix completer of
:mod:`mathlearn.impute` on (user id, item id, rating) triples, predicts any
pair (users and items not seen in fit from the fitted effects), recommends
each user's best unrated items in blocks, and exports the model as Spark
MLlib ALS factors.
"""

from mathlearn.recommend._ratings import RatingsRecommender

__all__ = ["RatingsRecommender"]
