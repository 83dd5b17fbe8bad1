"""Text labels hashed by pyarrow (private helpers).

pandas hashes object strings one by one, and its ``get_indexer`` and ``isin`` on Arrow text
convert the values first (``isin`` builds one pyarrow scalar per value); on the tens of
thousands of commune codes of a national table that is most of the time of an otherwise
integer computation. These helpers hash the text once with pyarrow and fall back to pandas,
with the same result, when the labels are not all text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def text_array(values):
    """``values`` (labels) as a pyarrow ``large_string`` array, or ``None`` when they are not
    all text (missing values allowed). A pyarrow array is taken as it is: convert a column
    once and pass its array to several look-ups.

    >>> text_array(pd.Index(["59350", "62041"])).to_pylist()
    ['59350', '62041']
    >>> text_array(pd.Index([59350, 62041])) is None
    True
    """
    import pyarrow as pa

    if isinstance(values, pd.Index | pd.Series):
        values = values.array
    if isinstance(values, pa.Array | pa.ChunkedArray):  # already converted
        arr = values
    else:
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr.cast(pa.large_string())


def positions(index: pd.Index, values) -> np.ndarray:
    """``index.get_indexer(values)`` (-1 where absent) for a unique ``index``.

    >>> positions(pd.Index(["a", "b", "c"]), pd.Series(["c", "x", "a"])).tolist()
    [2, -1, 0]
    """
    import pyarrow.compute as pc

    where, labels = text_array(index), text_array(values)
    if where is None or labels is None or where.null_count:
        if hasattr(values, "to_pylist"):  # a pyarrow array
            values = np.asarray(values.to_pylist(), dtype=object)
        return index.get_indexer(values)
    found = pc.index_in(labels, value_set=where)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def is_in(values, labels) -> np.ndarray:
    """Whether each of ``values`` is one of ``labels``, as a boolean array (missing: False).

    ``labels`` may be a few codes or a whole index (a set, list, Index, Series or array).

    >>> is_in(pd.Index(["75056", "59350"]), ["75056", "69123"]).tolist()
    [True, False]
    >>> is_in(pd.Series(["59350", None]), {"59350"}).tolist()
    [True, False]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(labels, pd.Index | pd.Series | np.ndarray | pa.Array | pa.ChunkedArray | list | tuple):
        labels = list(labels)  # a set, a dict's keys…
    text, label_text = text_array(values), text_array(labels)
    if text is None or label_text is None:
        return np.asarray(pd.Index(values, dtype=object).isin(pd.Index(labels, dtype=object)))
    found = pc.is_in(text, value_set=label_text)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def unify(parts: Sequence) -> tuple[pd.Index, list[np.ndarray]]:
    """Every distinct label of several arrays of distinct labels, in order of first
    appearance (like ``pd.unique`` of their concatenation), and the position of each array's
    labels in it.

    >>> labels, (a, b) = unify([["x", "y"], ["y", "z"]])
    >>> list(labels), a.tolist(), b.tolist()
    (['x', 'y', 'z'], [0, 1], [1, 2])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [text_array(p) for p in parts]
    sizes = np.cumsum([len(p) for p in parts])[:-1]
    if any(a is None for a in arrays):
        objects = [np.asarray(p, dtype=object) for p in parts]
        labels = pd.Index(pd.unique(np.concatenate(objects)))
        return labels, [labels.get_indexer(p) for p in objects]
    encoded = pc.dictionary_encode(pa.concat_arrays(arrays))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return pd.Index(pd.array(encoded.dictionary, dtype="str")), np.split(codes, sizes)
