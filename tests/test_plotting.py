"""Print maps, checked through their artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from cpts_geo.plotting import TIER_COLORS, plot_indicator, plot_stages, plot_tiers, save_figure  # noqa: E402
from cpts_geo.registry import validate_registry  # noqa: E402
from cpts_geo.stages import STAGE_COLORS, STAGES  # noqa: E402
from cpts_geo.territories import build_territories, communes_with_cpts, load_example_registry  # noqa: E402


@pytest.fixture(scope="module")
def hdf(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    return build_territories(checked, hdf_communes, parts=False), communes_with_cpts(checked, hdf_communes)


def test_stage_map_colours_legend_scale_caption(hdf):
    terr, layer = hdf
    ax = plot_stages(terr, layer, title="CPTS — Hauts-de-France", caption="Sources : test")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*STAGES, "Zone blanche (non couverte)"]
    fills = [c for c in ax.collections if c.get_gid() == "cpts"][0].get_facecolors()
    expected = terr["stage"].astype(str).map(STAGE_COLORS)
    got = [to_hex(c) for c in fills]
    assert sorted(set(got)) == sorted(set(expected))
    assert [to_hex(c) for c in fills] == list(expected)  # one colour per CPTS, in order
    assert any(p.get_gid() == "scale-bar" for p in ax.patches)
    assert any(t.get_text().endswith(" km") for t in ax.texts)
    assert ax.get_title(loc="left") == "CPTS — Hauts-de-France"


def test_tier_and_indicator_maps(hdf, tmp_path):
    terr, layer = hdf
    ax = plot_tiers(terr)
    fills = [c for c in ax.collections if c.get_gid() == "cpts"][0].get_facecolors()
    assert {to_hex(c) for c in fills} <= set(TIER_COLORS.values())
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("Taille 1")
    data = terr.assign(density=terr["population"] / terr["area_km2"])
    data.loc[data.index[:2], "density"] = np.nan
    ax = plot_indicator(data, "density", k=4, legend_title="Habitants par km²")
    assert ax.get_legend().get_title().get_text() == "Habitants par km²"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 5 and texts[-1] == "non disponible"
    assert all("." not in t and " – " in t for t in texts[:4]), texts  # French numbers: 42,4 – 90,1
    assert any(c.get_gid() == "missing" for c in ax.collections)
    # the same classes and colours as the HTML layer
    from cpts_geo.maps import indicator_layer

    spec = indicator_layer(data, "density", k=4)
    assert spec["labels"] == texts[:4]
    fills = [c for c in ax.collections if c.get_gid() == "indicator"][0].get_facecolors()
    assert {to_hex(c) for c in fills} == set(spec["colors"])
    for suffix in ("png", "svg", "pdf"):
        out = save_figure(plot_stages(terr, layer), tmp_path / f"carte.{suffix}", dpi=150)
        assert out.stat().st_size > 10_000
