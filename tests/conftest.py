"""Shared fixtures.

Real data sets for tests live outside the repository, in ``../shared/data`` next to the
checkout (or where ``CPTS_GEO_SHARED_DATA`` points). Tests that need them skip with a
reason when the folder is absent, as it is in a user's clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("CPTS_GEO_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "données réelles de test absentes : ../shared/data (ou CPTS_GEO_SHARED_DATA) "
            "n'existe pas dans ce clone"
        )
    return path


@pytest.fixture(scope="session")
def hdf_communes():
    """The embedded Hauts-de-France communes (EPSG:4326). Do not modify: copy first."""
    from cpts_geo.domain.communes import load_communes

    return load_communes(region="32")


@pytest.fixture(scope="session")
def hdf_map(tmp_path_factory, hdf_communes):
    """The Hauts-de-France stage map of the example registry, written once: ``(path, terr, layer)``."""
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.territories import build_territories, communes_with_cpts
    from cpts_geo.io.registry import load_example_registry
    from cpts_geo.render.maps import save_map, stage_map

    checked = validate_registry(load_example_registry(), hdf_communes)
    terr = build_territories(checked, hdf_communes, parts=False)
    layer = communes_with_cpts(checked, hdf_communes)
    path = tmp_path_factory.mktemp("map") / "hauts-de-france.html"
    save_map(stage_map(terr, layer, membership=checked.membership, subtitle="Registre illustratif"), path)
    return path, terr, layer


@pytest.fixture(scope="session")
def ars_export(tmp_path_factory):
    """A regional listing without stages, shaped like an ARS export: 70 CPTS of Pays de la Loire,
    one per EPCI (built from the embedded communes; the 71st EPCI left in no CPTS), its own
    headers, no stage column. ``(path, communes of the region, table, neighbours)``: the pairs of
    CPTS whose communes touch, from the commune layer (independently of the package's own
    adjacency)."""
    import geopandas as gpd
    import pandas as pd

    from cpts_geo.domain.communes import load_communes

    pdl = load_communes(region="52", crs=None)
    epcis = sorted(pdl["epci"].dropna().unique())
    assert len(epcis) == 71
    chosen = pdl[pdl["epci"].isin(epcis[:70])]
    ids = {e: f"CPTS-{i + 1:02d}" for i, e in enumerate(epcis[:70])}
    table = pd.DataFrame({"Code CPTS": chosen["epci"].map(ids).to_numpy(),
                          "Nom CPTS": ("CPTS " + chosen["epci_name"].astype(str)).to_numpy(),
                          "Code commune": chosen.index.to_numpy(), "Nom commune": chosen["name"].to_numpy()})
    path = tmp_path_factory.mktemp("ars") / "export_ars.csv"
    table.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    cpts_of = dict(zip(table["Code commune"], table["Code CPTS"]))
    layer = pdl[pdl.index.isin(list(cpts_of))][["geometry"]].reset_index(names="code")
    pairs = gpd.sjoin(layer, layer, predicate="intersects")
    a, b = pairs["code_left"].map(cpts_of), pairs["code_right"].map(cpts_of)
    neighbours = {frozenset(p) for p in zip(a, b) if p[0] != p[1]}
    return path, pdl, table, neighbours


def pytest_collection_modifyitems(items):
    """Mark tests by what they need, so that ``-m "not real_data"`` or ``-m browser`` select them."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "shared_data" in names:
            item.add_marker(pytest.mark.real_data)
        # a test skipped when chromium is absent drives chromium
        needs_chromium = any("chromium" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif"))
        if "browser" in item.nodeid or "chromium" in names or "page" in names or needs_chromium:
            item.add_marker(pytest.mark.browser)
