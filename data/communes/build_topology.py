"""Precompute the shared borders of the embedded communes, used to dissolve territories.

Usage (from the repository root, after ``build.py``)::

    python data/communes/build_topology.py

The embedded communes are a clean coverage (checked here with
:func:`shapely.coverage_is_valid`): neighbours share their borders vertex for vertex. This
script cuts those borders into arcs (:func:`cpts_geo.domain._topology.arcs_of`): runs of segments of a
commune's ring with the same commune across, cut at ring starts and at every vertex where
communes meet or touch. ``topology.parquet`` has one row per arc, in coordinate order
(:func:`shapely.get_coordinates` of ``communes.parquet``, commune after commune): ``start``
(first coordinate), ``twin`` (row of the commune across, -1 for none), ``node`` (node id of the
first coordinate), ``ring_last`` and ``forward`` (the ring runs clockwise around its commune).
The file's metadata records the sha256 of the ``communes.parquet`` it was computed from.

:func:`cpts_geo.domain.territories.build_territories` dissolves the embedded communes from these arcs
(:func:`cpts_geo.domain._topology.dissolve`). Before writing, the script checks that this gives the
same geometries as :func:`shapely.coverage_union_all`, vertex for vertex after
:func:`shapely.normalize`, for every department, region and EPCI of France, and valid ones.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from cpts_geo.data.communes import read_embedded  # noqa: E402
from cpts_geo.domain._topology import TOPOLOGY_FILE, arcs_of, dissolve, topology_from_arcs  # noqa: E402


def check(communes, arcs) -> None:
    """Exit unless the arcs dissolve departments, regions and EPCI as GEOS does."""
    geoms = communes.geometry.to_numpy()
    topo = topology_from_arcs(arcs, geoms)
    for column in ("department", "region", "epci"):
        group, names = pd.factorize(communes[column])
        rows = np.flatnonzero(group >= 0)
        out, done = dissolve(topo, geoms, rows, group[rows], len(names))
        ref = np.array([shapely.coverage_union_all(geoms[group == i]) for i in range(len(names))], dtype=object)
        same = shapely.equals_exact(shapely.normalize(out[done]), shapely.normalize(ref[done]), tolerance=0)
        if not same.all() or not shapely.is_valid(out[done]).all():
            sys.exit(f"{column}: {int((~same).sum())} unions differ from coverage_union_all")
        print(f"{column}: {int(done.sum())} of {len(names)} unions from the arcs, identical to GEOS; "
              f"{int((~done).sum())} left to GEOS (a node their boundary passes more than twice)")


def main() -> None:
    communes = read_embedded("communes.parquet")  # the rows and coordinates the arcs number
    source = hashlib.sha256((HERE / "communes.parquet").read_bytes()).hexdigest()
    geoms = communes.geometry.to_numpy()
    if not shapely.coverage_is_valid(geoms[~shapely.is_missing(geoms)]):
        sys.exit("communes.parquet is not a valid coverage")
    arcs = arcs_of(geoms)
    print(f"{len(communes)} communes, {len(arcs)} arcs, {int(arcs['node'].max()) + 1} nodes")
    check(communes, arcs)
    table = pa.table({
        "start": pa.array(arcs["start"].to_numpy(dtype=np.int32)),
        "twin": pa.array(arcs["twin"].to_numpy(dtype=np.int32)),
        "node": pa.array(arcs["node"].to_numpy(dtype=np.int32)),
        "ring_last": pa.array(arcs["ring_last"].to_numpy()),
        "forward": pa.array(arcs["forward"].to_numpy()),
    }).replace_schema_metadata({
        "description": "borders of the communes of communes.parquet cut into arcs (cpts_geo.domain._topology)",
        "geos": shapely.geos_version_string, "communes_sha256": source})
    path = HERE / TOPOLOGY_FILE
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".parquet.tmp")
    os.close(fd)
    pq.write_table(table, tmp, compression="zstd", compression_level=19, use_dictionary=False,
                   column_encoding={"start": "DELTA_BINARY_PACKED", "node": "DELTA_BINARY_PACKED",
                                    "twin": "PLAIN", "ring_last": "PLAIN", "forward": "PLAIN"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB sha256 {digest}")


if __name__ == "__main__":
    main()
