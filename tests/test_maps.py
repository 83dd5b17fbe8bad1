"""The HTML map: offline, compact, borders shared, user text inert."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.io.registry import load_example_registry
from cpts_geo.render.maps import encode_geometry, indicator_layer, save_map, stage_map


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
    assert page.count("var CptsMap = (function") == 1
    assert page.count("CptsMap.start(map_") == 1


def test_indicator_layer_classes_and_legend(hdf):
    checked, terr, layer = hdf
    data = terr.assign(density=terr["population"] / terr["area_km2"])
    data.loc[data.index[0], "density"] = np.nan
    spec = indicator_layer(data, "density", name="Densité", legend_kwds={"title": "Habitants par km²"}, k=4)
    with pytest.raises(TypeError, match="title"):  # no alias for names never released
        indicator_layer(data, "density", title="Habitants par km²", k=4)
    assert len(spec["colors"]) == len(spec["labels"]) == 4
    assert spec["has_missing"]
    assert spec["features"][0]["k"] is None
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
    assert "\\u003c/script>\\u003cb>{\\u007b x }}{\\u0025 raw \\u0025}50 \\u0025" in page


def _reference_encode(geom, origin, scale):
    """The previous pure-Python encoder, kept as the reference of the vectorised one."""
    import shapely

    def chars(values):
        out = []
        for v in values.tolist():
            v = ~(v << 1) if v < 0 else (v << 1)
            while v >= 0x20:
                out.append(chr((0x20 | (v & 0x1F)) + 63))
                v >>= 5
            out.append(chr(v + 63))
        return "".join(out)

    polys = []
    for part in shapely.get_parts(geom):
        rings = []
        for i, ring in enumerate([part.exterior, *part.interiors]):
            q = np.round((np.asarray(ring.coords)[:-1, :2] - np.asarray(origin)) * scale).astype(np.int64)
            keep = np.ones(len(q), dtype=bool)
            keep[1:] = np.any(q[1:] != q[:-1], axis=1)
            q = q[keep]
            if len(q) < 3:
                if i == 0:
                    break
                continue
            rings.append(chars(np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()))
        if rings:
            polys.append(rings)
    return polys


def test_vectorised_encoder_matches_the_reference(hdf_communes):
    from cpts_geo.render.maps import encode_geometries

    geoms = hdf_communes.geometry.to_numpy()[::7]
    got = encode_geometries(geoms, (1.5, 49.0), 10_000)
    assert got == [_reference_encode(g, (1.5, 49.0), 10_000) for g in geoms]
    assert encode_geometries([None], (0, 0), 1) == [[]]


def test_same_input_same_bytes(hdf, tmp_path):
    import hashlib

    checked, terr, layer = hdf
    digests = []
    for name in ("a.html", "b.html"):
        path = save_map(stage_map(terr, layer, membership=checked.membership, title="Même carte"),
                        tmp_path / name)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_user_text_is_never_a_template(hdf_communes):
    somme = hdf_communes[hdf_communes["department"] == "80"]
    reg = pd.DataFrame({"cpts_id": ["X"], "cpts_name": ["A"], "stage": ["1"], "commune_code": ["80021"]})
    checked = validate_registry(reg, somme)
    spec = indicator_layer(build_territories(checked, somme).assign(v=1.0), "v", name="{{ 8*8 }}",
                           legend_kwds={"title": "{% if 1 %}T{% endif %}"})
    page = stage_map(build_territories(checked, somme), communes_with_cpts(checked, somme),
                     title="{{ 7*7 }} {{ self.__init__.__globals__ }}", subtitle="{{ 6*6 }}",
                     caption="{{ 5*5 }}", indicators=[spec]).get_root().render()
    assert "49" not in re.search(r"<title>(.*?)</title>", page).group(1)
    assert "&#123;&#123; 7*7 &#125;&#125;" in page
    assert "__builtins__" not in page
    assert "{\\u007b 6*6 }}" in page
    assert "{\\u007b 8*8 }}" in page
    assert "{\\u0025 if 1 \\u0025}" in page


@pytest.mark.slow
def test_fond_named_url_and_french_errors(hdf):
    from cpts_geo.render.maps import FONDS

    checked, terr, layer = hdf
    page = stage_map(terr, layer, membership=checked.membership, fond="ign-plan").get_root().render()
    assert "data.geopf.fr" in page
    assert "Géoplateforme" in page
    assert set(FONDS) == {"osm", "ign-plan", "ign-ortho"}
    with pytest.raises(ValueError, match="doit avoir une attribution"):
        stage_map(terr, layer, fond="https://tuiles.example/{z}/{x}/{y}.png")
    with pytest.raises(ValueError, match=r"doit contenir \{z\}, \{x\} et \{y\}"):
        stage_map(terr, layer, fond="https://tuiles.example/wmts", fond_attribution="X")
    with pytest.raises(ValueError, match="Fond de carte « satellite » inconnu"):
        stage_map(terr, layer, fond="satellite")
    page = stage_map(terr, layer, fond="https://t.example/{z}/{x}/{y}.png", fond_attribution="© T").get_root().render()
    assert "t.example" in page
    with pytest.raises(TypeError, match="tiles"):
        stage_map(terr, layer, tiles="OpenStreetMap")


def test_dpi_is_checked_before_the_html_is_written(tmp_path):
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.render.batch import area_maps

    france = load_communes(departments=["80"])
    checked = validate_registry(pd.DataFrame({"cpts_id": ["X"], "stage": ["1"], "commune_code": ["80021"]}), france)
    out = tmp_path / "carte.html"
    with pytest.raises(ValueError, match="Résolution invalide : 0 ppp"):
        area_maps(checked, department="80", html_path=out, dpi=0)
    with pytest.raises(ValueError, match="attribution"):
        area_maps(checked, department="80", html_path=out, fond="https://x.example/{z}/{x}/{y}.png")
    # a resolution matplotlib cannot draw (65 536 pixels a side), or that takes tens of gigabytes
    with pytest.raises(ValueError, match=r"Résolution trop élevée : 100 000 ppp ; au plus 1 200 ppp"):
        area_maps(checked, department="80", html_path=out, dpi=100_000)
    with pytest.raises(ValueError, match=r"Résolution trop élevée : 7 000 ppp"):
        area_maps(checked, department="80", html_path=out, dpi=7000)
    assert list(tmp_path.iterdir()) == []


def test_dpi_bounds_resolution_and_pixels_and_the_cli_refuses_before_reading(tmp_path, capsys):
    from cpts_geo.cli import main
    from cpts_geo.render.plotting import check_dpi

    assert check_dpi(1200) == 1200
    assert check_dpi("300") == 300
    with pytest.raises(ValueError, match=r"Image trop grande : 16 000 × 16 000 pixels à 800 ppp \(256 millions de "
                                         r"pixels, au plus 100\) ; donnez au plus 500 ppp"):
        check_dpi(800, size=(20, 20))
    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;stage;commune_code\nX;1;80021\n", encoding="utf-8")
    for dpi in ("7000", "100000", "0", "abc"):
        with pytest.raises(SystemExit) as exit_:
            main(["carte", str(registry), "-o", str(tmp_path / "carte.html"), "--dpi", dpi])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --dpi" in err
        assert "Traceback" not in err
    assert "Résolution trop élevée : 7 000 ppp" not in err  # the last one: « abc »
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registre.csv"]


def test_cpts_data_tooltip_funding_and_labels_inside(hdf):
    import json

    import shapely

    from cpts_geo.domain.funding import aci_funding

    checked, terr, layer = hdf
    page = stage_map(terr, layer, membership=checked.membership).get_root().render()
    payload = re.search(r"CptsMap\.start\(map_\w+, (\{.*\})\);", page).group(1)
    data = json.loads(payload.replace("{\\u007b", "{{"))
    assert len(data["cpts"]) == 59
    assert data["vintage"] == layer_metadata(terr).population_vintage
    for c in data["cpts"]:
        rec = terr.loc[c["id"]]
        assert c["fund"].replace("\u202f", "") == str(int(aci_funding(int(rec["tier"])).loc["Total", "Total"]))
    zooms = data["labels"]["zooms"]
    assert len(zooms) >= 4
    geoms = terr.geometry.loc[[c["id"] for c in data["cpts"]]].to_numpy()
    for z, placed in zooms.items():
        assert len(placed) == 59
        assert shapely.contains_xy(geoms, [p[2] for p in placed], [p[1] for p in placed]).mean() > 0.97, z
    # from the regional zoom + 3 on, most CPTS carry their name
    assert sum(p[0] < 2 for p in zooms[str(data["labels"]["max"])]) >= 40


# --- precomputed simplification of the embedded communes ------------------------------------

def test_precomputed_simplification_belongs_to_the_embedded_layer():
    import hashlib

    import pyarrow.parquet as pq
    import shapely

    from cpts_geo.data.communes import data_file, read_embedded
    from cpts_geo.render.maps import _SIMPLIFIED_FILE, PRECOMPUTED_TOLERANCES

    meta = pq.read_schema(data_file(_SIMPLIFIED_FILE)).metadata
    digest = hashlib.sha256(data_file("communes.parquet").read_bytes()).hexdigest()
    assert meta[b"communes_sha256"].decode() == digest, "run data/communes/build_simplified.py again"
    table = pq.read_table(data_file(_SIMPLIFIED_FILE))
    assert table.column_names == ["ring_start", "polygon_start", *(f"keep_{t:g}" for t in PRECOMPUTED_TOLERANCES)]
    assert table.num_rows == int(shapely.get_num_coordinates(read_embedded("communes.parquet").geometry).sum())


def test_precomputed_simplification_keeps_shared_borders(hdf_communes):
    import shapely

    from cpts_geo.render.maps import _precomputed_simplified

    simple = _precomputed_simplified(hdf_communes, 80.0)
    assert simple is not None
    assert len(simple) == len(hdf_communes)
    assert shapely.is_valid(simple).all()
    assert shapely.coverage_is_valid(simple)  # no gap, no overlap between neighbours
    # only vertices of the embedded geometry, fewer of them
    orig = hdf_communes.geometry.to_numpy()
    assert (shapely.get_num_coordinates(simple) <= shapely.get_num_coordinates(orig)).all()
    lille = hdf_communes.index.get_loc("59350")
    assert set(map(tuple, shapely.get_coordinates(simple[lille]))) <= set(map(tuple, shapely.get_coordinates(orig[lille])))
    # the drawing stays within the tolerance of the commune (80 m ≈ 0.0012° of latitude)
    assert shapely.hausdorff_distance(simple[lille], orig[lille]) < 0.002
    coarse = _precomputed_simplified(hdf_communes, 300.0)
    assert shapely.get_num_coordinates(coarse).sum() < shapely.get_num_coordinates(simple).sum()


def test_precomputed_simplification_only_for_the_embedded_geometries(hdf_communes):
    import shapely

    from cpts_geo.render.maps import _precomputed_simplified, _simplified

    part = hdf_communes[hdf_communes["department"] == "60"].iloc[:40]
    assert _precomputed_simplified(part, 80.0) is not None
    assert _precomputed_simplified(part, 120.0) is None  # not a precomputed tolerance
    assert _precomputed_simplified(part.to_crs(2154), 80.0) is None
    moved = part.copy()
    moved.geometry = moved.geometry.translate(0.001, 0)
    assert _precomputed_simplified(moved, 80.0) is None
    renamed = part.rename(index={part.index[0]: "99999"})
    assert _precomputed_simplified(renamed, 80.0) is None
    # computed then, and still a coverage
    out = _simplified(moved, 80.0)
    assert shapely.coverage_is_valid(out)
    assert len(out) == len(moved)


def test_vertex_flags_round_trip_with_holes_and_parts():
    import shapely

    from cpts_geo.render.maps import _keep_vertices, _kept_vertices

    ring = [(0, 0), (4, 0), (8, 0), (8, 8), (4, 8), (0, 8)]
    hole = [(2, 2), (3, 2), (6, 2), (6, 6), (2, 6)]
    geoms = np.array([shapely.Polygon(ring, [hole]), None,
                      shapely.MultiPolygon([shapely.box(10, 0, 11, 1), shapely.Polygon(ring)])], dtype=object)
    simplified = shapely.simplify(geoms, 0.5)
    keep = _kept_vertices(geoms[[0, 2]], simplified[[0, 2]])
    rebuilt = _keep_vertices(geoms, keep)  # the missing geometry has no coordinates
    assert rebuilt[1] is None
    assert shapely.get_type_id(rebuilt[2]) == shapely.GeometryType.MULTIPOLYGON
    assert shapely.equals_exact(shapely.normalize(rebuilt[[0, 2]]), shapely.normalize(simplified[[0, 2]])).all()


@pytest.mark.slow
def test_precomputed_national_simplification_is_a_coverage():
    import shapely

    from cpts_geo.domain.communes import load_communes
    from cpts_geo.render.maps import _precomputed_simplified

    france = load_communes()
    simple = _precomputed_simplified(france, 300.0)
    assert simple is not None
    drawn = simple[~shapely.is_missing(simple)]
    assert len(drawn) == 34_875 - 4  # the 4 communes without geometry in the source
    assert shapely.is_valid(drawn).all()
    assert shapely.coverage_is_valid(drawn)  # neighbours share their borders: no gap, no sliver


# --- a regional listing without stages (an ARS export) ------------------------------------------

def test_carte_without_stages_gives_neighbours_distinct_colours(ars_export, tmp_path, capsys):
    import json

    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from cpts_geo.cli import main
    from cpts_geo.render.plotting import plot_stages
    from cpts_geo.render.style import DISTINCT_COLORS

    path, pdl, table, neighbours = ars_export
    assert len(neighbours) > 150  # a real regional map: many touching CPTS
    out = tmp_path / "carte.html"
    assert main(["carte", str(path), "-o", str(out), "--dpi", "60"]) == 0
    assert "70 CPTS" in capsys.readouterr().out
    assert out.with_suffix(".png").stat().st_size > 20_000
    page = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r"CptsMap\.start\(map_\w+, (\{.*\})\);", page).group(1).replace("{\\u007b", "{{"))
    fill = {c["id"]: c["f"] for c in data["cpts"]}
    assert len(fill) == 70
    assert set(fill.values()) <= set(DISTINCT_COLORS)
    assert not [p for p in neighbours if len({fill[c] for c in p}) == 1]
    # the legend lists only what is on the map: no empty stage, the zones blanches
    entries = data["legend"]["entries"]
    assert [e[0] for e in entries] == ["70 CPTS (étape non renseignée) : une couleur par CPTS, différente "
                                       "de ses voisines"]
    assert set(entries[0][1]) == set(fill.values())
    assert data["uncovered"]
    # the print map: the same colours, the same legend
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.territories import build_territories, communes_with_cpts

    checked = validate_registry(table, pdl)
    terr = build_territories(checked, pdl, parts=False)
    ax = plot_stages(terr, communes_with_cpts(checked, pdl), labels=False)
    drawn = next(c for c in ax.collections if c.get_gid() == "cpts").get_facecolors()
    printed = {cid: to_hex(c).upper() for cid, c in zip(terr.index, drawn)}
    assert printed == {k: v.upper() for k, v in fill.items()}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [entries[0][0], "Zone blanche (non couverte)"]
    plt.close(ax.figure)


def test_carte_couleur_choices_and_legends_without_empty_classes(ars_export, tmp_path, capsys):
    import json

    from cpts_geo.cli import main

    path = ars_export[0]
    out = tmp_path / "taille.html"
    assert main(["carte", str(path), "-o", str(out), "--couleur", "taille", "--sans-png"]) == 0
    data = json.loads(re.search(r"CptsMap\.start\(map_\w+, (\{.*\})\);", out.read_text(encoding="utf-8"))
                      .group(1).replace("{\\u007b", "{{"))
    labels = [e[0] for e in data["legend"]["entries"]]
    assert labels
    assert all(label.startswith("Taille ") for label in labels)
    tiers = {c["tier"] for c in data["cpts"]}
    assert len(labels) == len(tiers)  # only the tiers present
    assert main(["carte", str(path), "-o", str(tmp_path / "x.html"), "--couleur", "densité"]) == 2
    assert "Couleur « densité » inconnue" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def _page_data(page: str) -> dict:
    import json

    return json.loads(re.search(r"CptsMap\.start\(map_\w+, (\{.*\})\);", page).group(1).replace("{\\u007b", "{{"))


@pytest.fixture(scope="module")
def listing_map(tmp_path_factory):
    """The regional map of the real-listing fixture (Nice shared by three CPTS, Toulon by two)."""
    from test_real_listing import ROWS

    import cpts_geo
    from cpts_geo.io.registry import read_registry
    from cpts_geo.render.batch import area_maps

    folder = tmp_path_factory.mktemp("listing-map")
    frame = pd.DataFrame(ROWS, columns=["N° CPTS", "Nom CPTS", "Code INSEE", "Code arrondissement", "Part"])
    frame.to_csv(folder / "export.csv", sep=";", index=False, encoding="utf-8")
    checked = validate_registry(read_registry(folder / "export.csv"), cpts_geo.load_communes(crs=None))
    area_maps(checked, region="93", html_path=folder / "carte.html", png=False)
    return _page_data((folder / "carte.html").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_shared_commune_is_drawn_once_with_its_cpts_by_name_and_share(listing_map):
    """Nice was drawn once per CPTS (three overlapping polygons), its tooltip giving the others by id."""
    import shapely

    data = listing_map
    nice = [s for s in data["shared"] if s["c"] == "06088"]
    assert len(nice) == 1
    assert [p[1:] for p in nice[0]["parts"]] == [["CPTS Nice Ouest", "40,0 %"], ["CPTS Nice Est", "35,0 %"],
                                                 ["CPTS Nice Nord", "25,0 %"]]
    ids = [c["id"] for c in data["cpts"]]
    assert [p[0] for p in nice[0]["parts"]] == [ids.index("N1"), ids.index("N2"), ids.index("N3")]
    toulon = next(s for s in data["shared"] if s["c"] == "83137")
    assert [p[1:] for p in toulon["parts"]] == [["CPTS Toulon Ouest", "50,0 %"], ["CPTS Toulon Est", "50,0 %"]]
    # no CPTS fills Nice: it is drawn once, as a shared commune
    inside = shapely.Polygon(decode(nice[0]["g"][0][0], data["origin"], data["scale"])).representative_point()
    for c in data["cpts"]:
        for poly in c["g"]:
            assert not shapely.Polygon(decode(poly[0], data["origin"], data["scale"])).contains(inside), c["id"]
    # the commune layer points to the shared entry (its tooltip lists the CPTS by name)
    com = data["communes"]
    assert com["s"][com["c"].index("06088")] == data["shared"].index(nice[0])
    assert "all" not in com
    # N3 holds only Nice: no fill of its own, labelled on Nice at every zoom level
    n3 = ids.index("N3")
    assert data["cpts"][n3]["g"] == []
    x0, y0 = decode(nice[0]["g"][0][0], data["origin"], data["scale"]).min(axis=0)
    x1, y1 = decode(nice[0]["g"][0][0], data["origin"], data["scale"]).max(axis=0)
    for placed in data["labels"]["zooms"].values():
        _kind, lat, lng = placed[n3]
        assert lat is not None
        assert x0 <= lng <= x1
        assert y0 <= lat <= y1
