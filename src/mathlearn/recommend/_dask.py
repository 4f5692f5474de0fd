"""Ratings held as a dask DataFrame: the blocks a completer fits on.

A dask DataFrame of (user id, item id) pairs, with its ratings as a dask
Series of the same partitions, becomes the completer's
:class:`~mathlearn.impute._blocks.EntryBlocks` in two passes over the
partitions: one counts the ratings of every id (the ids' positions, and the
blocks' boundaries), the other turns every partition's ids into positions
and splits its ratings by block of users and by block of items. The ratings
are never gathered in one process.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mathlearn.impute._blocks import EntryBlocks
from mathlearn.recommend._ids import check_id_kind


def is_dask_collection(X):
    """Whether ``X`` is a dask DataFrame or Series (without importing dask)."""
    return type(X).__module__.partition(".")[0] == "dask" and hasattr(X, "npartitions")


def _sorted_ids(counts, column):
    """The distinct ids of a column, sorted, and the ratings of each."""
    ids = counts.index
    if ids.dtype == object or pd.api.types.is_string_dtype(ids.dtype):
        # pandas' (and the in-memory fit's) ids of text: Python strings.
        ids = pd.Index(np.asarray(ids, dtype=object))
    check_id_kind(np.asarray(ids), column)
    order = ids.argsort()
    return np.asarray(ids[order]), np.asarray(counts, dtype=np.int64)[order]


def _block_starts(counts, n_blocks):
    """Cuts of the ids into ``n_blocks`` runs of about equal ratings."""
    total = np.cumsum(counts)
    cuts = np.searchsorted(total, total[-1] * np.arange(1, n_blocks) / n_blocks) + 1
    return np.unique(np.concatenate([[0], cuts, [counts.shape[0]]]))


def _coded_part(X, y, users, items):
    """A partition's (user position, item position, rating) triples."""
    vals = np.asarray(y, dtype=np.float64)
    bad = ~np.isfinite(vals)
    if bad.any():
        raise ValueError(
            f"y contains {int(bad.sum())} ratings that are NaN or infinite in "
            f"one partition (the first: {vals[bad][0]!r}); every rating must be "
            "a finite number"
        )
    return pd.DataFrame(
        {
            "row": users.get_indexer(X.iloc[:, 0]).astype(np.intp),
            "col": items.get_indexer(X.iloc[:, 1]).astype(np.intp),
            "val": vals,
        }
    )


def _triple(part):
    """A coded partition's columns as arrays."""
    return part["row"].to_numpy(), part["col"].to_numpy(), part["val"].to_numpy()


def rating_blocks(X, y):
    """The users x items :class:`EntryBlocks` of the ratings ``y`` of ``X``.

    ``X`` is a dask DataFrame whose first two columns are the user and the
    item ids, ``y`` a dask Series (or one-column DataFrame) of the same
    partitions.
    The users and the items are cut into about ``X.npartitions`` blocks of
    about equal ratings each (repartition ``X`` and ``y`` to change their
    size). Returns the blocks and the sorted user and item ids.
    """
    import dask
    import dask.dataframe as dd

    if len(X.columns) < 2:
        raise ValueError(
            f"X must have 2 columns (user id, item id), got n_features = "
            f"{len(X.columns)}"
        )
    if not is_dask_collection(y) or y.npartitions != X.npartitions:
        raise TypeError(
            "y must be a dask Series with the partitions of X (X.npartitions = "
            f"{X.npartitions}), got {type(y).__name__}"
            + (f" of {y.npartitions} partitions" if hasattr(y, "npartitions") else "")
        )
    if getattr(y, "ndim", 1) == 2:
        if len(y.columns) != 1:
            raise ValueError(f"y must be one column of ratings, got {len(y.columns)}")
        y = y.iloc[:, 0]
    if not pd.api.types.is_numeric_dtype(y.dtype):
        raise ValueError(f"y must hold numbers (ratings), got dtype {y.dtype}")
    ids = X.iloc[:, :2]
    # Counted by a tree reduction (split_out=1), not a shuffle: the counts
    # of a few million ids fit in one process, and a shuffle would need the
    # distributed scheduler.
    user_counts, item_counts, n_missing = dask.compute(
        ids.iloc[:, 0].value_counts(split_out=1),
        ids.iloc[:, 1].value_counts(split_out=1),
        ids.isna().sum().sum(),
    )
    if n_missing:
        raise ValueError(
            f"X contains {int(n_missing)} missing ids (NaN or None) in its first "
            "two columns; every rating needs a user id and an item id"
        )
    user_ids, user_counts = _sorted_ids(user_counts, 0)
    item_ids, item_counts = _sorted_ids(item_counts, 1)
    shape = (user_ids.shape[0], item_ids.shape[0])
    # Partition by partition, X's with y's: each collection's own graph
    # optimisation may fuse its partitions otherwise.
    coded = dd.map_partitions(
        _coded_part,
        ids,
        y,
        dask.delayed(pd.Index(user_ids), pure=True),
        dask.delayed(pd.Index(item_ids), pure=True),
        meta=pd.DataFrame(
            {
                "row": pd.Series(dtype=np.intp),
                "col": pd.Series(dtype=np.intp),
                "val": pd.Series(dtype=np.float64),
            }
        ),
        align_dataframes=False,
    )
    triple = dask.delayed(_triple, pure=True)
    parts = [triple(part) for part in coded.to_delayed()]
    n_blocks = max(X.npartitions, 1)
    blocks = EntryBlocks.of_triples(
        parts,
        shape,
        _block_starts(user_counts, n_blocks),
        _block_starts(item_counts, n_blocks),
    )
    return blocks, user_ids, item_ids


def _pattern_task(entries):
    """A row block's entries per row and their columns."""
    return np.bincount(entries.rows, minlength=entries.shape[0]), entries.cols


def rated_pairs(blocks):
    """The users x items boolean CSR of the rated pairs of ``blocks``."""
    counts, cols = zip(*blocks.map(_pattern_task), strict=True)
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
    indices = np.concatenate(cols)
    return sp.csr_matrix(
        (np.ones(indices.shape[0], dtype=bool), indices, indptr), shape=blocks.shape
    )
