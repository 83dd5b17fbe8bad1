"""Metadata of a commune layer (population vintage, COG vintage, source, clean coverage).

Metadata describes the data, it is not a report: :func:`layer_metadata` reads it and
:func:`set_layer_metadata` records it; no other module reads ``DataFrame.attrs``. It is kept
in ``attrs`` (plain values, so a GeoParquet file keeps it), and when an operation lost it (a
merge, a dissolve, a GeoPackage round trip) :func:`layer_metadata` recovers the vintage of an
embedded layer from its figures, or says it is not known (``None``): it never guesses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd

from cpts_geo.data.communes import COG_VINTAGE, POPULATION_VINTAGE, POPULATION_VINTAGES, SOURCES, embedded_layer

__all__ = [
    "LayerMetadata",
    "layer_metadata",
    "set_layer_metadata",
]

# --- layer metadata ----------------------------------------------------------------------

class LayerMetadata(NamedTuple):
    """What describes a commune layer (or a table derived from it, such as territories).

    Metadata, not a report: it says what the figures are, it lists nothing that was changed.
    Read it with :func:`layer_metadata`, record it with :func:`set_layer_metadata`.
    """

    #: Vintage of ``population`` (e.g. 2021), ``None`` when not known.
    population_vintage: int | None = None
    #: Vintage of the commune codes (Code officiel géographique), ``None`` when not known.
    cog_vintage: int | None = None
    #: Where the communes and their population come from, in French.
    source: str | None = None
    #: Whether neighbours share identical borders (territories are then dissolved with
    #: :func:`shapely.coverage_union_all`); ``False`` when not known.
    clean_coverage: bool = False


_Frame = TypeVar("_Frame", pd.DataFrame, pd.Series)



def layer_metadata(frame: pd.DataFrame | pd.Series) -> LayerMetadata:
    """The metadata of a commune layer, of a territory table or of a tier series.

    The one reader of that metadata (no module reads ``DataFrame.attrs`` itself). pandas
    keeps ``attrs`` through selections, projections, sorting and concatenations of layers of
    the same vintage, but not through a merge, a dissolve or a GeoPackage file: then the
    population vintage of a layer whose ``population`` is the embedded figures of one
    vintage (columns ``population`` and ``population_2016``, indexed by code, or with a
    ``code`` column) is recovered from those figures; otherwise every field is ``None``
    (not known), never a guess.

    Parameters
    ----------
    frame : DataFrame, GeoDataFrame or Series

    Returns
    -------
    LayerMetadata

    Examples
    --------
    >>> hdf = load_communes(departments="80")
    >>> layer_metadata(hdf).population_vintage
    2021
    >>> merged = hdf.merge(pd.DataFrame({"x": [1]}, index=["80021"]), left_index=True,
    ...                    right_index=True, how="left")  # a merge loses pandas' attrs
    >>> layer_metadata(merged).population_vintage, layer_metadata(merged).clean_coverage
    (2021, False)
    >>> layer_metadata(pd.DataFrame({"population": [1]})).population_vintage is None
    True
    """
    attrs = frame.attrs
    if any(key in attrs for key in LayerMetadata._fields):
        return LayerMetadata(
            population_vintage=attrs.get("population_vintage"),
            cog_vintage=attrs.get("cog_vintage"),
            source=attrs.get("source"),
            clean_coverage=bool(attrs.get("clean_coverage", False)),
        )
    return _recovered_metadata(frame)



def set_layer_metadata(frame: _Frame, metadata: LayerMetadata | None = None, /, *,
                       inplace: bool = False, **fields: Any) -> _Frame:
    """Record the metadata of a layer: ``metadata``, updated by ``fields``.

    Parameters
    ----------
    frame : DataFrame, GeoDataFrame or Series
    metadata : LayerMetadata, optional
        Starting point (default: the current :func:`layer_metadata` of ``frame``).
    inplace : bool, default False
        Record it on ``frame`` itself; by default on a shallow copy (the caller's frame is
        left alone).
    **fields
        Fields of :class:`LayerMetadata` to change (``population_vintage=2022``…).

    Returns
    -------
    The frame with its metadata (``frame`` itself when ``inplace=True``).

    Examples
    --------
    >>> t = set_layer_metadata(pd.DataFrame({"population": [1]}), population_vintage=2022)
    >>> layer_metadata(t).population_vintage
    2022
    """
    unknown = set(fields) - set(LayerMetadata._fields)
    if unknown:
        raise TypeError(f"set_layer_metadata : champ(s) inconnu(s) {', '.join(sorted(unknown))} ; "
                        f"champs permis : {', '.join(LayerMetadata._fields)}.")
    meta = (metadata if metadata is not None else layer_metadata(frame))._replace(**fields)
    out = frame if inplace else frame.copy(deep=False)
    # plain values only: pandas writes attrs into GeoParquet files as JSON
    out.attrs.update({k: (None if v is None else bool(v) if k == "clean_coverage" else
                          str(v) if k == "source" else int(v))
                      for k, v in meta._asdict().items()})
    return out



@lru_cache(maxsize=1)
def _embedded_populations() -> pd.DataFrame:
    """Population of every embedded unit (communes and arrondissements) per vintage."""
    parts = []
    for name in ("communes.parquet", "arrondissements.parquet"):
        parts.append(pd.DataFrame({v: embedded_layer(name, v)["population"].astype("float64").to_numpy()
                                   for v in POPULATION_VINTAGES},
                                  index=embedded_layer(name, POPULATION_VINTAGE).index.astype(str)))
    table = pd.concat(parts)
    return table[~table.index.duplicated()]



def _recovered_metadata(frame: pd.DataFrame) -> LayerMetadata:
    """The vintage of a layer whose ``population`` is the embedded figures of one vintage."""
    columns = getattr(frame, "columns", ())
    if "population" not in columns or "population_2016" not in columns or len(frame) == 0:
        return LayerMetadata()
    codes = frame["code"] if "code" in columns else frame.index
    ref = _embedded_populations()
    pos = ref.index.get_indexer(pd.Index(codes).astype(str))
    if (pos < 0).any():
        return LayerMetadata()
    given = pd.to_numeric(frame["population"], errors="coerce").astype("float64").to_numpy()
    same = [v for v in POPULATION_VINTAGES
            if np.array_equal(given, ref[v].to_numpy()[pos], equal_nan=True)]
    if len(same) != 1:  # figures equal in both vintages (or in none): not known
        return LayerMetadata()
    return LayerMetadata(population_vintage=same[0], cog_vintage=COG_VINTAGE, source=SOURCES[same[0]])
