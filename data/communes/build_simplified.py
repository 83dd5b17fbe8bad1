"""Precompute the simplification of the embedded communes drawn on the interactive maps.

Usage (from the repository root, after ``build.py``)::

    python data/communes/build_simplified.py

The maps draw the communes simplified with :func:`shapely.coverage_simplify` (GEOS coverage
simplification: each border shared by two communes is simplified once, so neighbours keep
identical borders) in the metric CRS of each territory. For all of France this takes seconds;
it only removes vertices, so it is stored here once as *which vertices are kept*: one row per
coordinate of ``communes.parquet`` (in :func:`shapely.get_coordinates` order, commune after
commune), the columns ``ring_start`` and ``polygon_start`` (first coordinate of a ring, of a
polygon: the layout of the geometries, so that they are rebuilt without taking them apart) and
one column ``keep_<tolerance>`` per tolerance of :data:`cpts_geo.render.maps.PRECOMPUTED_TOLERANCES`
(ring closings ``False``). The file's metadata
records the sha256 of the ``communes.parquet`` it was computed from.
The map rebuilds the simplified communes from the embedded geometries and these bits
(:func:`cpts_geo.render.maps._keep_vertices`) when it draws the embedded communes.

The simplification is that of all of France at once (a region drawn from it keeps the borders
it has on the national map). The script checks that the rebuilt communes equal GEOS' output
vertex for vertex, and that they form a valid coverage.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from cpts_geo.domain.communes import load_communes  # noqa: E402
from cpts_geo.render.maps import (  # noqa: E402
    _SIMPLIFIED_FILE,
    PRECOMPUTED_TOLERANCES,
    _keep_vertices,
    _kept_vertices,
    _simplify_metric,
)


def masks(communes, tolerance: float) -> np.ndarray:
    """The kept-vertex flags of the communes' coordinates for ``tolerance`` (checked)."""
    counts = shapely.get_num_coordinates(communes.geometry.to_numpy())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.zeros(int(counts.sum()), dtype=bool)
    for crs, sel, metric, present, simplified in _simplify_metric(communes, tolerance):
        original = metric[present]
        keep = _kept_vertices(original, simplified)
        rebuilt = _keep_vertices(original, keep)
        same = shapely.equals_exact(shapely.normalize(rebuilt), shapely.normalize(simplified), tolerance=0)
        if not same.all():
            sys.exit(f"{crs}: {int((~same).sum())} communes rebuilt differently from coverage_simplify")
        if not shapely.coverage_is_valid(rebuilt):
            sys.exit(f"{crs}: the rebuilt communes are not a valid coverage")
        rows = np.flatnonzero(sel)[present]
        for row, flags in zip(rows, np.split(keep, np.cumsum(counts[rows])[:-1])):
            out[starts[row]:starts[row] + counts[row]] = flags
        print(f"{crs}: {len(rows)} communes, {int(keep.sum())} of {len(keep)} vertices kept at {tolerance:g} m")
    return out


def main() -> None:
    communes = load_communes()
    source = hashlib.sha256((HERE / "communes.parquet").read_bytes()).hexdigest()
    parts = shapely.get_parts(communes.geometry.to_numpy())
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_of = shapely.get_coordinates(rings, return_index=True)[1]
    ring_start = np.r_[True, ring_of[1:] != ring_of[:-1]]
    polygon_start = ring_start.copy()
    polygon_start[np.flatnonzero(ring_start)] = np.r_[True, ring_part[1:] != ring_part[:-1]]
    columns = {"ring_start": pa.array(ring_start), "polygon_start": pa.array(polygon_start)}
    columns.update({f"keep_{tolerance:g}": pa.array(masks(communes, tolerance)) for tolerance in PRECOMPUTED_TOLERANCES})
    table = pa.table(columns).replace_schema_metadata({
        "description": "layout of the rings of communes.parquet and the vertices kept by shapely.coverage_simplify",
        "tolerances_m": ",".join(f"{t:g}" for t in PRECOMPUTED_TOLERANCES),
        "geos": shapely.geos_version_string, "communes_sha256": source})
    path = HERE / _SIMPLIFIED_FILE
    pq.write_table(table, path, compression="zstd")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB sha256 {digest}")


if __name__ == "__main__":
    main()
