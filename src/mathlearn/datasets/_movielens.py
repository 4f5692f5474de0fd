"""Read MovieLens ratings that are already on disk (nothing is downloaded)."""

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from mathlearn.utils._sklearn_compat import validate_params

_COLUMNS = ["userId", "movieId", "rating", "timestamp"]
_DTYPES = {"userId": np.int32, "movieId": np.int32, "rating": np.float64}
# The ratings file of each MovieLens layout, in the order they are looked for:
# ml-latest(-small), ml-20m, ml-25m, ml-32m (CSV with a header); ml-1m and
# ml-10m ("::"-separated, no header); ml-100k (tab-separated, no header).
_RATINGS_FILES = ("ratings.csv", "ratings.dat", "u.data")


def _read(source, name):
    """Parse the ratings file ``name`` (its layout) from a path or file object."""
    if name.endswith(".csv"):
        ratings = pd.read_csv(source, dtype=_DTYPES)
        missing = [c for c in _COLUMNS[:3] if c not in ratings.columns]
        if missing:
            raise ValueError(
                f"{name} has no column {missing}: a MovieLens ratings.csv has the "
                f"header userId,movieId,rating,timestamp, got "
                f"{ratings.columns.tolist()}"
            )
        return ratings
    if name.endswith(".dat"):
        # "1::1193::5::978300760": splitting on ":" leaves empty fields between
        # the values, which the C parser reads much faster than a "::" regex.
        ratings = pd.read_csv(
            source, sep=":", header=None, usecols=[0, 2, 4, 6], names=range(7)
        )
    else:
        ratings = pd.read_csv(source, sep="\t", header=None)
    if ratings.shape[1] != 4:
        raise ValueError(
            f"{name} must have 4 fields per line (user, movie, rating, "
            f"timestamp), got {ratings.shape[1]}"
        )
    ratings.columns = _COLUMNS
    return ratings.astype(_DTYPES)


def _find(path):
    """The ratings file in ``path`` (a file, a directory or a zip archive)."""
    if path.is_dir():
        for name in _RATINGS_FILES:
            if (path / name).is_file():
                return path / name, None
        raise FileNotFoundError(
            f"path={str(path)!r} is a directory with none of the MovieLens "
            f"ratings files {list(_RATINGS_FILES)}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
        for name in _RATINGS_FILES:
            found = [m for m in members if m.rsplit("/", 1)[-1] == name]
            if found:
                return path, min(found, key=len)
        raise FileNotFoundError(
            f"path={str(path)!r} is a zip archive with none of the MovieLens "
            f"ratings files {list(_RATINGS_FILES)}"
        )
    if path.name.endswith((".csv", ".dat", ".data")):
        return path, None
    raise ValueError(
        f"path={str(path)!r} is not a MovieLens ratings file: expected one of "
        f"{list(_RATINGS_FILES)} (or any .csv in the ratings.csv layout), a "
        "directory holding one, or a zip archive of such a directory"
    )


@validate_params(
    {"path": [str, os.PathLike]},
    prefer_skip_nested_validation=True,
)
def load_movielens(path):
    """Load MovieLens ratings from a file the user already has.

    Reads the ratings of any GroupLens MovieLens release, without
    downloading anything: ``ratings.csv`` (ml-latest, ml-latest-small,
    ml-20m, ml-25m, ml-32m: a header ``userId,movieId,rating,timestamp``),
    ``ratings.dat`` (ml-1m, ml-10m: ``UserID::MovieID::Rating::Timestamp``)
    or ``u.data`` (ml-100k: tab-separated user, item, rating, timestamp).

    Parameters
    ----------
    path : str or path-like
        The ratings file, the directory that holds it (as unpacked from the
        release, e.g. ``ml-latest-small/``), or the release's zip archive.

    Returns
    -------
    ratings : DataFrame of shape (n_ratings, 4)
        Columns ``userId`` and ``movieId`` (int32), ``rating`` (float64) and
        ``timestamp`` (seconds since 1970, int64), in the file's order.

    See Also
    --------
    make_ratings : Synthetic ratings with the same shape and a known truth.
    mathlearn.recommend.RatingsRecommender : Fit, predict and recommend.

    Notes
    -----
    The MovieLens data sets are published by GroupLens Research
    (https://grouplens.org/datasets/movielens/) under their own terms of
    use, which the user accepts when downloading them; mathlearn ships none
    of them.

    References
    ----------
    F. M. Harper and J. A. Konstan (2015). The MovieLens datasets: history
    and context. ACM Transactions on Interactive Intelligent Systems 5(4),
    19:1-19:19.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mathlearn.datasets import load_movielens
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "ratings.csv").write_text(
    ...     "userId,movieId,rating,timestamp\\n"
    ...     "1,1,4.0,964982703\\n1,3,4.5,964981247\\n2,1,2.5,1445714835\\n"
    ... )
    >>> ratings = load_movielens(folder)
    >>> ratings
       userId  movieId  rating   timestamp
    0       1        1     4.0   964982703
    1       1        3     4.5   964981247
    2       2        1     2.5  1445714835
    >>> ratings.dtypes.tolist()
    [dtype('int32'), dtype('int32'), dtype('float64'), dtype('int64')]
    """
    path = Path(path)
    found, member = _find(path)
    if member is None:
        return _read(found, found.name)
    with zipfile.ZipFile(found) as archive, archive.open(member) as handle:
        return _read(io.BufferedReader(handle), member)
