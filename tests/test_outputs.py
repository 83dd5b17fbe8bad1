"""Outputs that open right in QGIS and Excel: formats by extension, GeoPackage styles and
metadata, byte-identical files, round trips, XLSX cells, formula injection, unwritable folders."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest

from cpts_geo.cli import main
from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.stages import STAGE_COLORS, STAGES
from cpts_geo.domain.territories import build_territories, communes_with_cpts, summary_table
from cpts_geo.errors import CptsGeoWarning
from cpts_geo.io.formats import OutputError, check_writable, layer_format
from cpts_geo.io.layers import LAYER_FIELDS, write_layers, write_territories
from cpts_geo.io.registry import load_example_registry
from cpts_geo.io.tables import write_table, write_xlsx

PAYLOADS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


@pytest.fixture(scope="module")
def example(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    return checked, build_territories(checked, hdf_communes), communes_with_cpts(checked, hdf_communes)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_geopackage_for_qgis(example, tmp_path):
    _, terr, layer = example
    out = write_layers(tmp_path / "t.gpkg", terr, layer, registry="registre.csv",
                       registry_date="2025-03-01")
    path = out.paths[0]
    assert out.note == "Couches en RGF93 v1 / Lambert-93 (EPSG:2154)."
    layers = dict(pyogrio.list_layers(path))
    assert {"cpts", "communes", "zones_blanches", "layer_styles"} <= set(layers)
    info = pyogrio.read_info(path, layer="cpts")
    assert info["crs"] == "EPSG:2154"
    fields = dict(zip(info["fields"], info["ogr_types"]))
    assert list(fields)[:4] == ["id_cpts", "nom", "etape", "rang_etape"]
    for name in ("rang_etape", "taille", "population", "n_communes", "n_parties"):
        assert fields[name] == "OFTInteger64", name
    assert all(len(f) <= 10 for f in info["fields"])
    meta = info["layer_metadata"]
    assert meta["Millésime de population"] == "2021"
    assert meta["Date du registre"] == "2025-03-01"
    assert "Source des communes" in meta
    assert "COG 2025" in meta["DESCRIPTION"]
    back = pyogrio.read_dataframe(path, layer="cpts")
    order = back.sort_values("rang_etape")["etape"].drop_duplicates().tolist()
    assert order == [s for s in STAGES if s in set(back["etape"])]
    assert pyogrio.read_info(path, layer="zones_blanches")["features"] == (~layer["covered"]).sum()

    con = sqlite3.connect(path)
    styles = con.execute("SELECT f_table_name, styleQML, styleSLD, useAsDefault, f_geometry_column "
                         "FROM layer_styles").fetchall()
    last = {r[0] for r in con.execute("SELECT DISTINCT last_change FROM gpkg_contents")}
    con.close()
    assert last == {"2025-03-01T00:00:00.000Z"}
    by_layer = {r[0]: r for r in styles}
    assert set(by_layer) == {"cpts", "communes", "zones_blanches"}
    assert all(r[3] == 1 and r[4] == "geom" for r in styles)
    qml = ET.fromstring(by_layer["cpts"][1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == "etape"
    cats = [c.get("value") for c in renderer.iter("category")]
    assert cats[:5] == list(STAGES)
    colours = {}
    for sym in renderer.iter("symbol"):
        colour = next(o.get("value") for o in sym.iter("Option") if o.get("name") == "color")
        colours[sym.get("name")] = colour
    first = colours[next(c.get("symbol") for c in renderer.iter("category") if c.get("value") == STAGES[4])]
    hexa = STAGE_COLORS[STAGES[4]].lstrip("#")
    assert first == ",".join(str(int(hexa[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"
    assert qml.get("labelsEnabled") == "1"
    assert qml.find("labeling/settings/text-style").get("fieldName") == "nom"
    aliases = {a.get("field"): a.get("name") for a in qml.iter("alias")}
    assert aliases["etape"] == "Étape"
    assert aliases["surf_km2"] == "Superficie (km²)"
    blank = ET.fromstring(by_layer["zones_blanches"][1]).find("renderer-v2")
    assert blank.get("type") == "singleSymbol"
    ET.fromstring(by_layer["cpts"][2])  # the SLD is valid XML too


def test_geopackage_is_byte_identical(example, tmp_path):
    _, terr, layer = example
    a = write_layers(tmp_path / "a.gpkg", terr, layer).paths[0]
    b = write_layers(tmp_path / "b.gpkg", terr, layer).paths[0]
    assert _sha(a) == _sha(b)


def test_round_trips_gpkg_and_parquet(example, tmp_path):
    _, terr, layer = example
    for ext in ("gpkg", "parquet"):
        path = write_layers(tmp_path / f"t.{ext}", terr, layer).paths[0]
        back = gpd.read_file(path, layer="cpts") if ext == "gpkg" else gpd.read_parquet(path)
        back = back.set_index("id_cpts").loc[terr.index]
        np.testing.assert_allclose(back.geometry.area / 1e6, terr["area_km2"], rtol=1e-6)
        for ours, theirs in (("name", "nom"), ("population", "population"), ("tier", "taille"),
                             ("n_communes", "n_communes"), ("departments", "depts"),
                             ("single_part", "un_tenant")):
            assert back[theirs].tolist() == terr[ours].tolist(), ext
        assert back["etape"].tolist() == terr["stage"].astype(str).tolist()
    geo = json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert "covering" in geo["columns"]["geometry"]
    assert (tmp_path / "t_communes.parquet").exists()
    assert (tmp_path / "t_zones_blanches.parquet").exists()


def test_geojson_is_wgs84_and_shapefile_only_on_request(example, tmp_path):
    _, terr, layer = example
    out = write_layers(tmp_path / "t.geojson", terr, layer)
    assert pyogrio.read_info(out.paths[0])["crs"] == "EPSG:4326"
    assert "GeoJSON" in out.note
    with pytest.raises(ValueError, match=r"extension « \.shp » non prise en charge"):
        write_layers(tmp_path / "t.shp", terr, layer)
    shp = write_layers(tmp_path / "t.shp", terr, layer, shapefile=True)
    assert {p.name for p in shp.paths} == {"t.shp", "t_communes.shp", "t_zones_blanches.shp"}
    assert (tmp_path / "t.dbf").exists()
    assert (tmp_path / "t.prj").exists()
    assert list(pyogrio.read_info(shp.paths[0])["fields"]) == list(
        pyogrio.read_info(tmp_path / "t.geojson")["fields"])
    assert all(len(f) <= 10 for f in LAYER_FIELDS.values())
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_output_set_writes_every_file_or_none(example, tmp_path):
    """Shapefiles (with their .dbf, .shx, .prj, .cpg), a GeoPackage and a table: all renamed at the
    end of the set, or none when something fails before its end."""
    from cpts_geo.io.files import output_set

    _, terr, layer = example
    (tmp_path / "t.csv").write_text("ancien", encoding="utf-8")
    seen: list[str] = []

    def failing_set() -> None:
        with output_set():
            write_layers(tmp_path / "t.shp", terr, layer, shapefile=True)
            write_layers(tmp_path / "t.gpkg", terr, layer)
            write_table(summary_table(terr), tmp_path / "t.csv")
            seen.extend(sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")))
            raise OutputError("PostGIS : écriture refusée par la base")

    with pytest.raises(OutputError, match="refusée"):
        failing_set()
    assert seen == ["t.csv"]  # nothing renamed before the end of the set
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == "ancien"
    with output_set():
        write_layers(tmp_path / "t.shp", terr, layer, shapefile=True)
        write_table(summary_table(terr), tmp_path / "t.csv")
    names = {p.name for p in tmp_path.iterdir()}
    assert {"t.shp", "t.dbf", "t.shx", "t.prj", "t_communes.dbf", "t.csv"} <= names
    assert not any(n.startswith(".") for n in names)


def test_mainland_and_overseas_layers_by_crs(tmp_path):
    communes = load_communes(departments=["80", "974"])
    reg = pd.DataFrame({"cpts_id": ["A", "R"], "stage": ["5", "3"], "commune_code": ["80021", "97411"]})
    checked = validate_registry(reg, communes)
    terr, layer = build_territories(checked, communes), communes_with_cpts(checked, communes)
    out = write_layers(tmp_path / "t.gpkg", terr, layer)
    assert out.layers["cpts"].to_epsg() == 2154
    assert out.layers["cpts_974"].to_epsg() == 2975
    assert set(out.layers) == {"cpts", "communes", "zones_blanches", "cpts_974", "communes_974",
                               "zones_blanches_974"}
    assert "--crs" in out.note
    assert "EPSG:2975" in out.note
    assert pyogrio.read_dataframe(tmp_path / "t.gpkg", layer="cpts_974")["id_cpts"].tolist() == ["R"]
    one = write_layers(tmp_path / "u.gpkg", terr, layer, crs="EPSG:4326")
    assert set(one.layers) == {"cpts", "communes", "zones_blanches"}
    assert "utilisateur" in one.note


def test_unknown_extension_refused_before_anything(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"\.gpkg \(GeoPackage\), \.parquet"):
        layer_format("t.csv")
    reg = tmp_path / "base.csv"
    reg.write_text("cpts_id;etape;code_commune\nA;5;80021\n", encoding="utf-8")
    before = reg.read_bytes()
    assert main(["territoires", str(reg), "-o", str(reg)]) == 2
    err = capsys.readouterr().err
    assert "extension « .csv » non prise en charge" in err
    assert "--tableau" in err
    assert reg.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.csv"]
    assert main(["territoires", str(reg), "-o", str(tmp_path / "t.gpkg"), "--tableau", str(reg)]) == 2
    assert "est le registre lu" in capsys.readouterr().err
    assert reg.read_bytes() == before


@pytest.mark.slow
def test_territoires_cli_writes_each_format(tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    reg.write_text("cpts_id;etape;code_commune\nA;5;80021\nA;5;02026\n", encoding="utf-8")
    for ext in ("gpkg", "parquet", "geojson", "shp"):
        out = tmp_path / f"t.{ext}"
        assert main(["territoires", str(reg), "-o", str(out)]) == 0
        assert out.exists()
    text = capsys.readouterr().out
    assert "Lambert-93 (EPSG:2154)" in text
    assert "10 caractères" in text
    assert main(["territoires", str(reg), "-o", str(tmp_path / "x.gpkg"), "--tableau",
                 str(tmp_path / "x.xlsx")]) == 0
    sheets = pd.read_excel(tmp_path / "x.xlsx", sheet_name=None, dtype=str)
    assert list(sheets) == ["territoires", "communes", "zones blanches", "problèmes"]
    assert "02026" in sheets["problèmes"]["Code donné"].tolist()
    assert sheets["communes"]["Code commune"].str.len().eq(5).all()
    assert sheets["communes"]["Code commune"].str.startswith("0").any()


def test_xlsx_cells(tmp_path):
    from openpyxl import load_workbook

    table = pd.DataFrame({"Code commune": ["02001", "2A004"], "Département": ["02", "2A"],
                          "Population": [1234.0, 56.0], "Superficie (km²)": [12.345, 1.5],
                          "Part": [0.5, 1.0], "Couverte": [True, False]})
    path = write_xlsx(tmp_path / "t.xlsx", {"communes": table, "autre/feuille:[x]": table.head(1)})
    back = pd.read_excel(path, sheet_name=None)
    assert list(back) == ["communes", "autre_feuille__x_"]
    com = back["communes"]
    assert com["Code commune"].tolist() == ["02001", "2A004"]
    assert com["Département"].tolist() == ["02", "2A"]
    assert com["Population"].tolist() == [1234, 56]
    ws = load_workbook(path)["communes"]
    assert ws.freeze_panes == "A2"
    assert ws["A2"].data_type == "s"
    assert ws["C2"].data_type == "n"
    assert ws["C2"].number_format == "#,##0"
    assert ws["D2"].number_format == "#,##0.000"
    assert ws["F2"].value == "oui"
    assert ws.column_dimensions["D"].width >= len("Superficie (km²)")


def test_xlsx_object_columns_with_numbers(tmp_path):
    """A tier column with a gap (object dtype: 2, <NA>) crashed the writer with a traceback; a
    number among texts stays a number (issue 26: comparer wrote shares among stages as text)."""
    from openpyxl import load_workbook

    table = pd.DataFrame({"Taille": pd.Series([2, pd.NA], dtype=object),
                          "Mélange": pd.Series([1, "a"], dtype=object)})
    ws = load_workbook(write_xlsx(tmp_path / "t.xlsx", table))["tableau"]
    assert (ws["A2"].value, ws["A2"].data_type, ws["A2"].number_format) == (2, "n", "#,##0")
    assert ws["A3"].value is None
    assert (ws["B2"].value, ws["B2"].data_type, ws["B3"].value) == (1, "n", "a")


def test_csv_integers_without_decimal_and_leading_zeros_kept(tmp_path):
    path = write_table(pd.DataFrame({"Code": ["01091"], "Volume": [34.0], "Taux": [0.25]}),
                       tmp_path / "t.csv")
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["Code;Volume;Taux", "01091;34;0,25"]
    with pytest.raises(ValueError, match=r"\.csv .*\.xlsx"):
        write_table(pd.DataFrame(), tmp_path / "t.ods")


# --------------------------------------------------------------------------- formula injection


def _payload_registry(tmp_path):
    reg = tmp_path / "registre.csv"
    lines = ["cpts_id;cpts_name;etape;code_commune"]
    codes = ["80021", "80001", "60057", "02691"]
    for i, (payload, code) in enumerate(zip(PAYLOADS, codes)):
        name = payload.replace('"', '""')
        lines.append(f'P{i};"{name}";5;{code}')
    reg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return reg


def _assert_neutralised(values):
    values = [v for v in values if isinstance(v, str)]
    for payload in PAYLOADS:
        assert "'" + payload in values, payload
        assert payload not in values, payload


def _assert_text_cells(path):
    """An XLSX holds the payloads as they are, in typed text cells (never a formula, no apostrophe)."""
    from openpyxl import load_workbook

    cells = [c for ws in load_workbook(path) for row in ws.iter_rows() for c in row]
    values = [c.value for c in cells if isinstance(c.value, str)]
    for payload in PAYLOADS:
        assert payload in values, payload
        assert "'" + payload not in values, payload
    assert not [c.coordinate for c in cells if c.data_type == "f"]


@pytest.mark.slow
def test_injection_territories_csv_and_xlsx(tmp_path):
    reg = _payload_registry(tmp_path)
    assert main(["territoires", str(reg), "-o", str(tmp_path / "t.gpkg")]) == 0
    table = pd.read_csv(tmp_path / "t.csv", sep=";", encoding="utf-8-sig", dtype=str)
    _assert_neutralised(table["Nom"].tolist())
    assert main(["territoires", str(reg), "-o", str(tmp_path / "u.gpkg"), "--tableau",
                 str(tmp_path / "u.xlsx")]) == 0
    _assert_text_cells(tmp_path / "u.xlsx")
    # the layers keep the names as they are (a GIS does not evaluate formulas)
    assert set(PAYLOADS) <= set(pyogrio.read_dataframe(tmp_path / "t.gpkg", layer="cpts")["nom"])


def test_injection_funding_csv_and_xlsx(tmp_path):
    reg = _payload_registry(tmp_path)
    for ext in ("csv", "xlsx"):
        out = tmp_path / f"f.{ext}"
        assert main(["financement", "--registre", str(reg), "-o", str(out)]) == 0
        if ext == "csv":
            _assert_neutralised(pd.read_csv(out, sep=";", encoding="utf-8-sig", dtype=str)["Nom"].tolist())
        else:
            _assert_text_cells(out)


def test_injection_flow_indicators(tmp_path):
    from cpts_geo.io.flows import write_flow_table

    table = pd.DataFrame({"name": PAYLOADS, "resident_volume": [100.0] * 4, "retention": [0.5] * 4},
                         index=pd.Index(PAYLOADS, name="cpts_id"))
    for ext in ("csv", "xlsx"):
        path = write_flow_table(table, tmp_path / f"flux.{ext}")
        if ext == "xlsx":
            _assert_text_cells(path)
            continue
        back = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
        _assert_neutralised(back.iloc[:, 0].tolist())
        _assert_neutralised(back.iloc[:, 1].tolist())


def test_injection_summary_table_xlsx(example, tmp_path):
    _, terr, _ = example
    terr = terr.iloc[:4].copy()
    terr["name"] = PAYLOADS
    path = write_xlsx(tmp_path / "s.xlsx", {"territoires": summary_table(terr)})
    _assert_text_cells(path)
    assert pd.read_excel(path, dtype=str)["Nom"].tolist() == PAYLOADS


# --------------------------------------------------------------------------- unwritable outputs


def test_folder_checked_before_computing(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "fichier"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="Impossible d'écrire dans le dossier"):
        check_writable(blocker / "t.gpkg")
    import cpts_geo.domain.territories as T

    def never(*_args, **_kwargs):  # the computing must not start
        raise AssertionError("computing started before the folder was checked")

    monkeypatch.setattr(T, "build_territories", never)
    assert main(["territoires", "-o", str(blocker / "sous" / "t.gpkg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("Erreur : Impossible d'écrire dans le dossier")


@pytest.fixture
def small_mount(tmp_path):
    """A real read-only folder and a real full disk (tmpfs mounts; needs root)."""
    mounts = []

    def mount(name, options):
        target = tmp_path / name
        target.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                              capture_output=True)
        if done.returncode:
            pytest.skip(f"montage tmpfs impossible ici ({done.stderr.decode().strip()})")
        mounts.append(target)
        return target

    yield mount
    for target in mounts:
        subprocess.run(["umount", str(target)], capture_output=True)


def test_read_only_folder_and_full_disk(small_mount, tmp_path, capsys):
    reg = tmp_path / "registre.csv"
    reg.write_text("cpts_id;etape;code_commune\nA;5;80021\n", encoding="utf-8")
    ro = small_mount("lecture_seule", "ro,size=1m")
    assert main(["territoires", str(reg), "-o", str(ro / "t.gpkg")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"Erreur : Impossible d'écrire dans le dossier {ro} (système de fichiers en "
                           "lecture seule) : choisissez un autre dossier de sortie.")
    full = small_mount("plein", "size=300k")
    assert main(["territoires", str(reg), "-o", str(full / "t.gpkg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "disque plein" in err
    assert "Traceback" not in err
    assert list(full.iterdir()) == []  # nothing half-written
    assert main(["financement", "--registre", str(reg), "-o", str(full / "f.xlsx")]) in (0, 1)
    assert all(not p.name.startswith(".") for p in full.iterdir())


def test_write_territories_keeps_its_signature(example, tmp_path):
    _, terr, layer = example
    path = write_territories(tmp_path / "cpts.gpkg", terr, layer, csv=tmp_path / "cpts.csv")
    assert path == tmp_path / "cpts.gpkg"
    assert (tmp_path / "cpts.csv").exists()
    with pytest.raises(ValueError, match="non prise en charge"):
        write_territories(tmp_path / "cpts.txt", terr, layer)
    assert not (tmp_path / "cpts.txt").exists()


def test_changes_layer_between_two_registries(tmp_path, capsys):
    old, new = tmp_path / "ancien.csv", tmp_path / "nouveau.csv"
    old.write_text("cpts_id;etape;code_commune\nA;5;80021\nA;5;80001\nB;2;80016\n", encoding="utf-8")
    new.write_text("cpts_id;etape;code_commune\nA;5;80021\nA;5;80016\nC;3;80002\n", encoding="utf-8")
    out = tmp_path / "changements.gpkg"
    assert main(["comparer", str(old), str(new), "--departements", "80", "-o", str(out)]) == 0
    assert "Couche des changements écrite" in capsys.readouterr().out
    layer = pyogrio.read_dataframe(out, layer="changements")
    assert layer.crs.to_epsg() == 2154
    assert "commune changée de CPTS" in set(layer["changement"])
    assert {"code_insee", "id_avant", "id_apres"} <= set(layer.columns)
    con = sqlite3.connect(out)
    qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'changements'").fetchone()[0]
    con.close()
    assert ET.fromstring(qml).find("renderer-v2").get("attr") == "changement"
    assert main(["comparer", str(old), str(new), "--departements", "80", "-o",
                 str(tmp_path / "changements.geojson")]) == 0
    assert pyogrio.read_info(tmp_path / "changements.geojson")["crs"] == "EPSG:4326"


# --------------------------------------------------------------------------- limits of the formats


def test_shapefile_cuts_long_texts_itself_and_says_so_in_french(tmp_path):
    """GDAL cut texts over 254 bytes with one English warning per layer; the cut is now ours, on a
    character, marked « … », counted per layer and field in the note and a CptsGeoWarning."""
    import warnings

    communes = load_communes(departments="80")
    long_name = "CPTS " + "é" * 200 + " fin"
    reg = pd.DataFrame({"cpts_id": ["A", "A", "B"], "cpts_name": [long_name, long_name, "court"],
                        "stage": ["5"] * 3, "commune_code": ["80021", "80001", "80002"]})
    checked = validate_registry(reg, communes)
    terr, layer = build_territories(checked, communes), communes_with_cpts(checked, communes)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = write_layers(tmp_path / "t.shp", terr, layer, shapefile=True)
    assert [type(w.message) for w in seen] == [CptsGeoWarning]
    # the communes layer's list of CPTS (« A CPTS ééé… ») holds the long name too
    assert ("Shapefile : 5 textes de plus de 254 octets, la limite d'un champ dBase, coupés et terminés par "
            "« … » (couche cpts, champ nom (1) ; couche communes, champs nom_cpts (2), cpts_liste (2)) ; le "
            "GeoPackage (.gpkg) les garde entiers.") in out.note
    back = pyogrio.read_dataframe(tmp_path / "t.shp")
    assert back["nom"].tolist()[1] == "court"
    cut = back["nom"].tolist()[0]
    assert cut.endswith("é…")
    assert len(cut.encode()) <= 254
    assert long_name.startswith(cut[:-1])
    # the GeoPackage keeps them whole, without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpkg = write_layers(tmp_path / "t.gpkg", terr, layer)
    assert "Shapefile" not in gpkg.note
    assert pyogrio.read_dataframe(gpkg.paths[0], layer="cpts")["nom"].tolist()[0] == long_name


def test_xlsx_refuses_texts_longer_than_a_cell_and_writes_nothing(tmp_path):
    from cpts_geo.errors import ValidationError

    table = pd.DataFrame({"Nom": ["court", "x" * 40_000], "Parties": ["y" * 32_767, "z" * 32_768]})
    with pytest.raises(ValidationError, match="au plus 32 767 caractères") as err:
        write_table({"territoires": table}, tmp_path / "t.xlsx")
    assert err.value.problems["row"].tolist() == [3, 3]
    assert err.value.problems["problem"].tolist() == [
        "feuille « territoires », colonne « Nom » : 40 000 caractères",
        "feuille « territoires », colonne « Parties » : 32 768 caractères"]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValidationError, match="caractères de contrôle") as err:
        write_table({"territoires": pd.DataFrame({"Nom": ["a", "b\x00c"]})}, tmp_path / "t.xlsx")
    assert err.value.problems["problem"].tolist() == [
        "feuille « territoires », colonne « Nom » : caractère de contrôle dans « b␀c »"]
    assert list(tmp_path.iterdir()) == []
    write_table({"territoires": table}, tmp_path / "t.csv")  # a CSV keeps them whole
    assert pd.read_csv(tmp_path / "t.csv", sep=";", encoding="utf-8-sig")["Nom"].str.len().max() == 40_000


def test_xlsx_outputs_are_byte_identical_run_to_run(example, tmp_path):
    import zipfile

    from cpts_geo.domain.compare import compare_registries
    from cpts_geo.io.tables import write_comparison

    _, terr, _ = example
    paths = [write_table({"territoires": summary_table(terr)}, tmp_path / "t.xlsx")]
    reg = load_example_registry()
    paths.append(write_comparison(compare_registries(reg, reg.iloc[:-5]), tmp_path / "c.xlsx"))
    for path in paths:
        with zipfile.ZipFile(path) as z:
            assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}, path
            core = z.read("docProps/core.xml").decode()
        assert core.count("2000-01-01T00:00:00Z") == 2, core
    first = _sha(paths[0])
    again = write_table({"territoires": summary_table(terr)}, tmp_path / "t2.xlsx")
    assert _sha(again) == first


@pytest.mark.parametrize("kinds", ["mixed", "polygons", "empty", "missing", "points"])
def test_geopackage_layer_written_as_geopandas_writes_it(tmp_path: Path, kinds: str) -> None:
    """The Arrow writer of the GeoPackage layers gives the file ``to_file`` gives: geometry type
    (polygons promoted to multipolygons beside multipolygons), fields, types, CRS, rows."""
    import shapely

    from cpts_geo.io.layers import _write_gpkg_layer

    square = shapely.box(700_000, 6_600_000, 701_000, 6_601_000)
    two = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    geoms = {"mixed": [square, two, shapely.Polygon()], "polygons": [square, square], "empty": [],
             "missing": [square, None, two], "points": [shapely.Point(1, 2), shapely.Point(3, 4)]}[kinds]
    n = len(geoms)
    frame = gpd.GeoDataFrame({"code_insee": pd.array(["59350", None, "2A004"][:n], dtype="string"),
                              "population": pd.array([1, None, 3][:n], dtype="Int64"),
                              "surf_km2": [1.5, float("nan"), 2.0][:n], "couverte": [True, False, True][:n]},
                             geometry=geoms, crs="EPSG:2154")
    ours, theirs = tmp_path / "ours.gpkg", tmp_path / "theirs.gpkg"
    _write_gpkg_layer(frame, ours, "cpts", layer_options={"GEOMETRY_NAME": "geom"})
    frame.to_file(theirs, layer="cpts", driver="GPKG", engine="pyogrio", use_arrow=True,
                  layer_options={"GEOMETRY_NAME": "geom"})
    a, b = pyogrio.read_info(ours, layer="cpts"), pyogrio.read_info(theirs, layer="cpts")
    assert a["geometry_type"] == b["geometry_type"]
    assert a["crs"] == b["crs"]
    assert list(a["fields"]) == list(b["fields"])
    assert list(a["dtypes"]) == list(b["dtypes"])
    back, expected = gpd.read_file(ours, layer="cpts"), gpd.read_file(theirs, layer="cpts")
    pd.testing.assert_frame_equal(back.drop(columns="geometry"), expected.drop(columns="geometry"))
    assert back.geometry.to_wkb().tolist() == expected.geometry.to_wkb().tolist()
