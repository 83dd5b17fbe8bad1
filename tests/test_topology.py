"""Dissolving communes from their shared borders (``cpts_geo.domain._topology``) gives GEOS' unions."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from cpts_geo.data.communes import data_file
from cpts_geo.domain._topology import TOPOLOGY_FILE, arcs_of, dissolve, embedded_topology, topology_from_arcs
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.territories import _dissolve, _embedded_union, build_territories


def grid(n: int, ccw: bool = True) -> np.ndarray:
    """An n × n grid of unit squares, row after row (counter-clockwise rings unless told)."""
    boxes = [shapely.box(x, y, x + 1, y + 1) for y in range(n) for x in range(n)]
    return np.array(boxes if ccw else [shapely.reverse(b) for b in boxes], dtype=object)


def same(a, b) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=0))


def union_of(squares, groups):
    """Dissolve ``squares`` by ``groups`` (one label per square, -1: not a member)."""
    groups = np.asarray(groups)
    rows = np.flatnonzero(groups >= 0)
    topo = topology_from_arcs(arcs_of(squares), squares)
    return dissolve(topo, squares, rows, groups[rows], int(groups.max()) + 1)


@pytest.mark.parametrize("ccw", [True, False])
def test_ring_around_a_hole_and_separate_parts(ccw):
    squares = grid(3, ccw)
    # group 0: the eight squares around the centre (a ring with a hole); group 1: the centre
    out, done = union_of(squares, [0, 0, 0, 0, 1, 0, 0, 0, 0])
    assert done.all()
    assert out[0].geom_type == "Polygon"
    assert len(out[0].interiors) == 1
    assert out[0].area == 8
    assert same(out[0], shapely.coverage_union_all(squares[[0, 1, 2, 3, 5, 6, 7, 8]]))
    assert same(out[1], squares[4])
    # two opposite sides, apart: a multipolygon
    out, done = union_of(squares, [0, 0, 0, 1, 1, 1, 0, 0, 0])
    assert done.all()
    assert out[0].geom_type == "MultiPolygon"
    assert out[0].area == 6
    assert same(out[0], shapely.coverage_union_all(squares[[0, 1, 2, 6, 7, 8]]))
    assert shapely.is_valid(out).all()


def test_parts_and_holes_touching_at_a_point_are_valid():
    squares = grid(3)
    cases = [
        [0, 1, 1, 1, 0, 1, 1, 1, 1],  # two squares touching at a corner: two parts
        [0, 0, 0, 0, 1, 0, 0, 0, 2],  # a hole touching the shell at a point
    ]
    big = grid(5)
    ring_and_apart = np.ones(25, dtype=int)
    ring_and_apart[[0, 1, 2, 5, 7, 10, 11, 12, 24]] = 0  # a ring around square 6, square 24 apart
    for coverage, labels in [(squares, c) for c in cases] + [(big, ring_and_apart)]:
        labels = np.asarray(labels)
        out, done = union_of(coverage, labels)
        assert done.all()
        for g in range(labels.max() + 1):
            assert shapely.is_valid(out[g])
            assert same(out[g], shapely.coverage_union_all(coverage[labels == g]))
    out, _ = union_of(squares, cases[0])
    assert out[0].geom_type == "MultiPolygon"
    assert len(out[0].geoms) == 2
    out, _ = union_of(squares, cases[1])
    assert out[0].geom_type == "Polygon"
    assert len(out[0].interiors) == 1
    out, _ = union_of(big, ring_and_apart)
    assert out[0].geom_type == "MultiPolygon"
    assert [len(p.interiors) for p in out[0].geoms] in ([1, 0], [0, 1])


def test_groups_left_to_geos():
    # six triangles around a point, of two groups in turn: each boundary passes three times
    angles = np.linspace(0, 2 * np.pi, 7)[:-1]
    rim = np.round(np.c_[np.cos(angles), np.sin(angles)], 12)
    fan = np.array([shapely.Polygon([(0, 0), rim[i], rim[(i + 1) % 6]]) for i in range(6)], dtype=object)
    assert shapely.coverage_is_valid(fan)
    out, done = union_of(fan, [0, 1, 0, 1, 0, 1])
    assert done.tolist() == [False, False]
    assert out.tolist() == [None, None]
    # a commune in two groups (a split commune) and a member outside the coverage
    squares = grid(3)
    topo = topology_from_arcs(arcs_of(squares), squares)
    out, done = dissolve(topo, squares, np.array([0, 1, 1, 2, -1]), np.array([0, 0, 1, 2, 3]), 5)
    assert done.tolist() == [False, False, True, False, True]
    assert same(out[2], squares[2])
    assert out[3] is None
    assert out[4].is_empty


def test_groups_without_members_or_geometry():
    squares = grid(2)
    squares[3] = None
    out, done = union_of(squares, [0, 0, -1, 2])
    assert done.all()
    assert same(out[0], shapely.coverage_union_all(squares[:2]))
    assert out[1].is_empty
    assert out[2].is_empty


def test_embedded_topology_derives_from_the_embedded_communes():
    path = data_file(TOPOLOGY_FILE)
    meta = pq.read_schema(path).metadata
    digest = hashlib.sha256(data_file("communes.parquet").read_bytes()).hexdigest()
    assert meta[b"communes_sha256"].decode() == digest, "run data/communes/build_topology.py again"
    topo = embedded_topology()
    assert topo is not None
    assert (topo.length >= 1).all()


def test_embedded_union_equals_geos_for_every_epci_and_department():
    france = load_communes()
    geoms = france.geometry.to_numpy()
    for column in ("epci", "department"):
        group, names = pd.factorize(france[column])
        rows = np.flatnonzero(group >= 0)
        out, done = _embedded_union(pd.Index(france.index[rows]), geoms[rows], france.crs, group[rows], len(names))
        ref = _dissolve(geoms[rows], group[rows], len(names), clean=True)
        assert done.all()  # (none of them has a node its boundary passes three times)
        assert shapely.equals_exact(shapely.normalize(out[done]), shapely.normalize(ref[done]), tolerance=0).all()
        assert shapely.is_valid(out[done]).all()


def test_embedded_union_only_for_unchanged_embedded_communes(hdf_communes):
    geoms = hdf_communes.geometry.to_numpy()
    group, _ = pd.factorize(hdf_communes["department"])
    assert _embedded_union(hdf_communes.index, geoms, "EPSG:2154", group, 5) is None
    _, done = _embedded_union(hdf_communes.index, geoms, hdf_communes.crs, group, 5)
    moved = geoms.copy()
    moved[0] = shapely.affinity.translate(moved[0], 0.001)
    _, done_moved = _embedded_union(hdf_communes.index, moved, hdf_communes.crs, group, 5)
    # the department holding the moved commune goes to GEOS, the others do not change
    expected = done.copy()
    expected[group[0]] = False
    assert done_moved.tolist() == expected.tolist()
    assert done.all()


def test_build_territories_same_with_and_without_the_borders(hdf_communes):
    """The example registry (Lille split between two CPTS) and a Paris registry by
    arrondissement, on the embedded layer (shared borders) and on the same layer in Lambert-93
    (GEOS): the same territories."""
    from cpts_geo.io.registry import load_example_registry

    paris = load_communes(departments=["75", "92"])
    paris_registry = pd.DataFrame({"cpts_id": ["P1", "P1", "P2", "P2"], "stage": "ACI signé",
                                   "commune_code": ["75101", "75102", "92012", "92040"]})
    for registry, layer in ((load_example_registry(), hdf_communes), (paris_registry, paris)):
        fast = build_territories(registry, layer)
        slow = build_territories(registry, layer.to_crs(2154))
        pd.testing.assert_frame_equal(fast.drop(columns=["geometry", "area_km2"]),
                                      slow.drop(columns=["geometry", "area_km2"]))
        np.testing.assert_allclose(fast["area_km2"], slow["area_km2"], rtol=1e-9)
        back = shapely.normalize(slow.to_crs(layer.crs).geometry.to_numpy())
        assert shapely.equals_exact(shapely.normalize(fast.geometry.to_numpy()), back, tolerance=1e-7).all()
        assert shapely.is_valid(fast.geometry.to_numpy()).all()


def test_random_groupings_equal_geos(hdf_communes):
    """Communes of the Somme dealt at random into groups, a fifth left out: scattered parts,
    holes and parts touching at points everywhere; each union is GEOS' own, vertex for vertex."""
    somme = hdf_communes[hdf_communes["department"] == "80"]
    geoms = somme.geometry.to_numpy()
    rng = np.random.default_rng(19)
    for k in (5, 40):
        group = rng.integers(0, k, len(somme))
        rows = np.flatnonzero(rng.random(len(somme)) > 0.2)
        out, done = _embedded_union(somme.index[rows], geoms[rows], somme.crs, group[rows], k)
        ref = _dissolve(geoms[rows], group[rows], k, clean=True)
        assert done.mean() > 0.9
        assert shapely.equals_exact(shapely.normalize(out[done]), shapely.normalize(ref[done]), tolerance=0).all()
        assert shapely.is_valid(out[done]).all()
