"""The HTML map: offline, compact, borders shared, user text inert."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cpts_geo.maps import encode_geometry, indicator_layer, save_map, stage_map
from cpts_geo.registry import validate_registry
from cpts_geo.territories import build_territories, communes_with_cpts, load_example_registry


def decode(ring: str, origin, scale):
    """Python twin of decodeRing in cpts_map.js."""
    values, i = [], 0
    while i < len(ring):
        shift = res = 0
        while True:
            b = ord(ring[i]) - 63
            i += 1
            res |= (b & 0x1F) << shift
            shift += 5
            if b < 0x20:
                break
        values.append(~(res >> 1) if res & 1 else res >> 1)
    q = np.cumsum(np.array(values).reshape(-1, 2), axis=0)
    return q / scale + np.asarray(origin)


@pytest.fixture(scope="module")
def hdf(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    terr = build_territories(checked, hdf_communes, parts=False)
    return checked, terr, communes_with_cpts(checked, hdf_communes)


def test_encoding_round_trip_and_shared_borders(hdf_communes):
    origin, scale = (1.5, 49.0), 10_000
    poly = hdf_communes.geometry.loc["80021"]
    rings = encode_geometry(poly, origin, scale)
    xy = decode(rings[0][0], origin, scale)
    assert np.abs(xy - np.asarray(poly.exterior.coords)[:-1][: len(xy)]).max() <= 0.5 / scale + 1e-12
    # neighbours encode their common border with the same quantised points
    a, b = hdf_communes.geometry.loc["80021"], hdf_communes.geometry.loc["80489"]  # Amiens, Longueau
    pa = {tuple(p) for p in np.round(decode(encode_geometry(a, origin, scale)[0][0], origin, scale) * scale)}
    pb = {tuple(p) for p in np.round(decode(encode_geometry(b, origin, scale)[0][0], origin, scale) * scale)}
    assert len(pa & pb) >= 2


def test_hdf_map_is_offline_and_small(hdf, tmp_path):
    checked, terr, layer = hdf
    path = save_map(stage_map(terr, layer, membership=checked.membership), tmp_path / "m.html")
    page = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 1_500_000
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://', page)
    assert "cdn." not in page.replace("leafletjs.com", "")
    assert page.count("window.cptsGeoMap = function") == 1 and page.count("cptsGeoMap(") == 1


def test_indicator_layer_classes_and_legend(hdf):
    checked, terr, layer = hdf
    data = terr.assign(density=terr["population"] / terr["area_km2"])
    data.loc[data.index[0], "density"] = np.nan
    spec = indicator_layer(data, "density", name="Densité", title="Habitants par km²", k=4)
    assert len(spec["colors"]) == len(spec["labels"]) == 4
    assert spec["has_missing"] and spec["features"][0]["k"] is None
    m = stage_map(terr, layer, membership=checked.membership, indicators=[spec])
    assert "Habitants par km²" in m.get_root().render()


def test_user_text_cannot_break_out_of_the_script(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    reg = pd.DataFrame({"cpts_id": ["X"], "cpts_name": ["</script><b>{{ x }}{% raw %}50 %"],
                        "stage": ["1"], "commune_code": ["80021"]})
    checked = validate_registry(reg, somme)
    page = stage_map(build_territories(checked, somme), communes_with_cpts(checked, somme)) \
        .get_root().render()
    assert "</script><b>" not in page
    assert "\\u003c/script>\\u003cb>{{ x }}{\\u0025 raw \\u0025}50 \\u0025" in page
