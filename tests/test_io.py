"""The one reader of user tables (cpts_geo.io): every bad input gives a French ValidationError,
row numbers are those of the file, numbers are read the French way."""

from __future__ import annotations

import codecs

import numpy as np
import pandas as pd
import pytest

from cpts_geo.domain.headers import recognise_headers
from cpts_geo.domain.numbers import parse_number, parse_numbers
from cpts_geo.errors import ValidationError
from cpts_geo.io._read import read_table
from cpts_geo.io.registry import read_registry, read_registry_report

HEADER = "Identifiant CPTS;Étape;Code INSEE;Nom commune\n"


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- encodings


def test_utf16_as_excel_texte_unicode(tmp_path):
    # Excel's « Texte Unicode »: UTF-16 little endian with BOM, tab separated
    text = "cpts_id\tétape\tcode_commune\r\nA\tACI signé\t80021\r\n"
    path = write(tmp_path, "registre.txt", text.encode("utf-16"))
    t = read_table(path, kind="registry")
    assert list(t.table.columns) == ["cpts_id", "étape", "code_commune"]
    assert t.table.values.tolist() == [["A", "ACI signé", "80021"]]
    assert (t.encoding, t.separator) == ("utf-16", "\t")
    assert t.describe() == "encodage UTF-16, séparateur tabulation"


def test_utf8_bom_and_windows_1252(tmp_path):
    bom = write(tmp_path, "a.csv", codecs.BOM_UTF8 + (HEADER + "A;ACI signé;80021;Amiens\n").encode())
    cp = write(tmp_path, "b.csv", (HEADER + "A;ACI signé;80021;Amiens\n").encode("cp1252"))
    assert read_table(bom).table.columns[0] == "Identifiant CPTS"
    assert read_table(bom).encoding == "utf-8-sig"
    t = read_table(cp)
    assert t.encoding == "cp1252"
    assert t.table.iat[0, 1] == "ACI signé"
    assert t.table.columns[1] == "Étape"


def test_one_windows_1252_line_inside_utf8_is_decoded_and_reported(tmp_path):
    data = (HEADER + "A;ACI signé;80021;Amiens\n").encode() + "B;Association créée;02168;Château-Thierry\n" \
        .encode("cp1252") + "C;ACI signé;59350;Lille\n".encode()
    t = read_table(write(tmp_path, "mixte.csv", data))
    assert t.encoding == "utf-8"
    assert t.recoded_lines == (3,)
    assert t.table["Étape"].tolist() == ["ACI signé", "Association créée", "ACI signé"]
    assert t.table["Nom commune"].iat[1] == "Château-Thierry"
    assert "ligne(s) 3 en Windows-1252" in t.describe()
    assert read_registry_report(tmp_path / "mixte.csv").recoded_lines == (3,)


def test_forced_encoding_that_does_not_fit_names_the_line(tmp_path):
    path = write(tmp_path, "r.csv", (HEADER + "A;ACI signé;80021;Amiens\n").encode("cp1252"))
    with pytest.raises(ValidationError, match=r"pas en utf-8 \(ligne 1\)"):
        read_table(path, encoding="utf-8")
    with pytest.raises(ValidationError, match="encodage « klingon » inconnu"):
        read_table(path, encoding="klingon")
    assert read_table(path, encoding="Windows-1252").table.iat[0, 1] == "ACI signé"


# --------------------------------------------------------------------------- separators, rows


@pytest.mark.parametrize("sep", [";", ",", "\t", "|"])
def test_separators_detected(tmp_path, sep):
    path = write(tmp_path, "r.csv", sep.join(["cpts_id", "stage", "code"]).encode() + b"\n"
                 + sep.join(["A", "5", "80021"]).encode() + b"\n")
    t = read_table(path)
    assert t.separator == sep
    assert t.table.values.tolist() == [["A", "5", "80021"]]


def test_excel_sep_line_and_blank_lines_keep_row_numbers(tmp_path):
    # Excel hides the sep= line: the header shows as row 1; blank lines are rows of the file
    path = write(tmp_path, "r.csv", b"sep=,\ncpts_id,code\nA,80021\n\n;\n,\nB,59350\n")
    t = read_table(path)
    assert t.separator == ","
    assert t.table.values.tolist() == [["A", "80021"], ["B", "59350"]]
    assert t.rows.tolist() == [2, 6]
    reg = read_registry(tmp_path / "r.csv")
    assert reg["row"].tolist() == [2, 6]


def test_multiline_cell_keeps_the_first_line_number(tmp_path):
    path = write(tmp_path, "r.csv", b'cpts_id;nom;code\nA;"CPTS\nde Lille";59350\n\nB;x;59009\n')
    t = read_table(path)
    assert t.rows.tolist() == [2, 5]
    assert t.table["nom"].iat[0] == "CPTS\nde Lille"


def test_row_with_too_many_fields_lists_every_row(tmp_path):
    path = write(tmp_path, "r.csv", b"cpts_id;code;part\nA;59350;0;5\nB;59009;1\nC;80021;0;2;1\n")
    with pytest.raises(ValidationError, match="plus de champs que l'en-tête") as err:
        read_table(path)
    assert err.value.problems["row"].tolist() == [2, 4]


def test_trailing_empty_fields_are_not_too_many(tmp_path):
    path = write(tmp_path, "r.csv", b"cpts_id;code\nA;59350;;\nB;59009\n")
    assert read_table(path).table.values.tolist() == [["A", "59350"], ["B", "59009"]]


def test_row_written_with_another_separator_is_named(tmp_path):
    path = write(tmp_path, "r.csv", b"cpts_id;stage;code\nA;5;59350\nB,5,59009\n")
    with pytest.raises(ValidationError, match="séparateur « , » au lieu de « ; »") as err:
        read_table(path)
    assert err.value.problems["row"].tolist() == [3]


def test_empty_file(tmp_path):
    with pytest.raises(ValidationError, match="vide"):
        read_table(write(tmp_path, "vide.csv", b""))
    with pytest.raises(ValidationError, match="vide"):
        read_registry(write(tmp_path, "blanc.csv", b"\n \n"))
    with pytest.raises(ValidationError, match="vide"):
        read_table(write(tmp_path, "vide.xlsx", b""))


# --------------------------------------------------------------------------- formats


def test_unknown_formats_are_french_errors(tmp_path):
    csv_text = (HEADER + "A;5;80021;Amiens\n").encode()
    with pytest.raises(ValidationError, match=r"n'est pas un classeur Excel.*renommez-le en \.csv"):
        read_registry(write(tmp_path, "registre.xlsx", csv_text))  # a CSV renamed .xlsx
    with pytest.raises(ValidationError, match=r"pas d'extension.*ressemble à du texte"):
        read_registry(write(tmp_path, "registre", csv_text))
    with pytest.raises(ValidationError, match=r"OpenDocument \(\.ods\)"):
        read_registry(write(tmp_path, "registre.ods", b"PK\x03\x04"))
    with pytest.raises(ValidationError, match=r"\.xls n'est pas lu"):
        read_registry(write(tmp_path, "registre.xls", b"\xd0\xcf\x11\xe0"))
    with pytest.raises(ValidationError, match="Parquet lisible"):
        read_table(write(tmp_path, "t.parquet", csv_text))
    with pytest.raises(ValidationError, match="fichier géographique illisible"):
        read_table(write(tmp_path, "t.gpkg", csv_text))
    with pytest.raises(FileNotFoundError, match="introuvable"):
        read_table(tmp_path / "absent.csv")


def _workbook(path, sheets):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_several_registry_sheets_are_refused_with_their_names(tmp_path):
    path = _workbook(tmp_path / "r.xlsx", {
        "Nord": [["cpts_id", "stage", "commune_code"], ["A", "5", 59350]],
        "Somme": [["cpts_id", "stage", "commune_code"], ["B", "5", 80021]],
        "Notes": [["Liste tenue par l'ARS"]],
    })
    with pytest.raises(ValidationError, match=r"« Nord », « Somme ».*--feuille") as err:
        read_registry(path)
    assert "Notes" not in str(err.value)
    read = read_registry_report(path, sheet="Somme")
    assert read.registry["cpts_id"].tolist() == ["B"]
    assert read.sheet == "Somme"
    assert read_table(path, sheet="somme").sheet == "Somme"
    with pytest.raises(ValidationError, match="pas de feuille « Pas-de-Calais »"):
        read_registry(path, sheet="Pas-de-Calais")


def test_the_one_sheet_holding_the_table_is_chosen_and_said(tmp_path):
    path = _workbook(tmp_path / "r.xlsx", {
        "Notes": [["Liste tenue par l'ARS"]],
        "Registre": [[], ["cpts_id", "stage", "commune_code"], ["A", "5", 59350]],
    })
    t = read_table(path, kind="registry")
    assert (t.sheet, t.header_row, t.rows.tolist()) == ("Registre", 2, [3])
    assert t.describe() == "feuille « Registre » (en-tête ligne 2)"
    with pytest.raises(ValidationError, match="plusieurs feuilles sont remplies"):
        read_table(path)  # no kind: nothing tells which sheet


def test_xlsx_float_first_id_and_empty_first_id(tmp_path):
    path = _workbook(tmp_path / "r.xlsx", {"R": [
        ["cpts_id", "stage", "commune_code", "share"], [1.0, "5", 59350.0, 0.5],
        [None, "5", 59009, None], [], ["B", "5", 80021, 0.25]]})
    reg = read_registry(path)
    assert reg["row"].tolist() == [2, 3, 5]
    assert reg["cpts_id"].iat[0] == "1"
    assert pd.isna(reg["cpts_id"].iat[1])
    assert reg["cpts_id"].iat[2] == "B"
    assert reg["commune_code"].tolist() == ["59350", "59009", "80021"]
    assert reg["share"].iat[0] == "0.5"
    assert pd.isna(reg["share"].iat[1])
    assert reg["share"].iat[2] == "0.25"


def test_xlsx_formula_without_value_is_kept_and_listed(tmp_path):
    path = _workbook(tmp_path / "r.xlsx", {"R": [
        ["cpts_id", "stage", "commune_code", "share"], ["A", "5", 59350, "=1/2"], ["B", "5", 59350, 0.5]]})
    t = read_table(path, kind="registry")
    assert t.formulas == frozenset({(2, "share")})
    assert t.table["share"].tolist() == ["=1/2", "0.5"]
    read = read_registry_report(path)
    reg = read.registry
    assert read.formulas == ((2, "share"),)
    _, bad = parse_numbers(reg["share"])
    assert bad.tolist() == [True, False]  # never read as an empty share (« the whole commune »)


def test_our_formula_guard_is_undone_when_a_csv_is_read_back(tmp_path):
    """A CSV we wrote (``'=1+1``) read back gives the ids and names we wrote, not new ones."""
    from cpts_geo.io.files import write_csv

    registry = pd.DataFrame({"cpts_id": ["=1+1", "+A", "-B", "@C", "'D", "'=E"],
                             "cpts_name": ["=HYPERLINK(\"x\")", "CPTS +", "-2+3", "@SUM(1)", "L'Aigle", "x"],
                             "stage": ["ACI signé"] * 6,
                             "commune_code": ["59350", "59009", "59017", "59360", "61214", "61001"]})
    path = write_csv(registry, tmp_path / "registre.csv", index=False)
    text = path.read_text(encoding="utf-8-sig")
    assert "'=1+1;" in text
    assert "'-B;" in text
    back = read_registry(path)
    assert back["cpts_id"].tolist() == registry["cpts_id"].tolist()
    assert back["cpts_name"].tolist() == registry["cpts_name"].tolist()
    assert "''=E;" in text  # a user's own apostrophe before « = » is guarded too, and comes back
    # only our guard: an apostrophe before anything else is the user's
    path.write_text("cpts_id;stage;commune_code\n'x;ACI signé;59350\n' =1;ACI signé;59009\n",
                    encoding="utf-8")
    assert read_registry(path)["cpts_id"].tolist() == ["'x", "' =1"]
    # a header guarded too
    path.write_text("'=X;cpts_id;stage;commune_code\nv;A;ACI signé;59350\n", encoding="utf-8")
    assert read_table(path).table.columns[0] == "=X"


def test_xlsx_cells_are_typed_text_without_an_added_apostrophe(tmp_path):
    from openpyxl import load_workbook

    from cpts_geo.io.tables import write_xlsx

    table = pd.DataFrame({"=Id": ["=1+1", "+A", "-B", "@C", "x"], "Part": [0.5, 1.0, 0.25, 1.0, 1.0]})
    path = write_xlsx(tmp_path / "t.xlsx", {"registre": table})
    ws = load_workbook(path)["registre"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert [c.value for c in cells] == ["=Id", "Part", "=1+1", "+A", "-B", "@C", "x"]
    assert all(c.data_type == "s" for c in cells)  # text, never a formula
    assert ws["A2"].quotePrefix  # and Excel keeps it text when the cell is edited
    assert read_table(path).table["=Id"].tolist() == table["=Id"].tolist()


def test_xlsx_header_below_a_long_title_block_is_found_and_never_called_empty(tmp_path):
    from openpyxl import Workbook

    def workbook(name, above):
        wb = Workbook()
        ws = wb.active
        for row in above:
            ws.append(row)
        ws.append(["cpts_id", "stage", "commune_code"])
        ws.append(["A", "ACI signé", "80021"])
        wb.save(tmp_path / name)
        return tmp_path / name

    blank_rows = workbook("blancs.xlsx", [["Registre des CPTS"]] + [[]] * 15)  # header on row 17
    notes = workbook("notes.xlsx", [["Registre des CPTS"]] + [["note", i] for i in range(15)])
    for path in (blank_rows, notes):
        read = read_registry_report(path)
        assert read.registry["cpts_id"].tolist() == ["A"]
        assert read.registry["row"].tolist() == [18]
    too_far = workbook("loin.xlsx", [["Registre des CPTS"]] + [["note", i] for i in range(60)])
    with pytest.raises(ValidationError) as err:
        read_registry(too_far)
    assert "vide" not in str(err.value)
    assert "aucune ligne d'en-tête reconnue dans les 50 premières lignes remplies de la feuille « Sheet »" \
        in str(err.value)


def test_geopackage_with_several_layers_is_refused(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "r.gpkg"
    for name, cid in (("nord", "A"), ("somme", "B")):
        gpd.GeoDataFrame({"cpts_id": [cid], "commune_code": ["59350"]}, geometry=[Point(3, 50)],
                         crs=4326).to_file(path, layer=name)
    with pytest.raises(ValidationError, match=r"2 couches \(« nord », « somme »\).*--couche"):
        read_registry(path)
    read = read_registry_report(path, layer="somme")
    assert read.registry["cpts_id"].tolist() == ["B"]
    assert read.layer == "somme"
    with pytest.raises(ValidationError, match="pas de couche « pas-de-calais »"):
        read_table(path, layer="pas-de-calais")
    t = read_table(path, layer="nord", geometry=True)
    assert t.table.geometry.iat[0].x == 3
    assert t.describe() == "couche « nord »"


def test_parquet_and_geoparquet(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    pd.DataFrame({"code": ["59350"], "population": [236710]}).to_parquet(tmp_path / "p.parquet")
    t = read_table(tmp_path / "p.parquet", kind="population")
    assert t.table["population"].tolist() == [236710]
    assert t.rows.tolist() == [1]
    assert t.fields == {"code": "code", "population": "population"}
    gpd.GeoDataFrame({"code": ["59350"]}, geometry=[Point(3, 50)], crs=4326).to_parquet(tmp_path / "g.parquet")
    assert list(read_table(tmp_path / "g.parquet").table.columns) == ["code"]
    assert read_table(tmp_path / "g.parquet", geometry=True).table.crs.to_epsg() == 4326


# --------------------------------------------------------------------------- headers, numbers


def test_headers_per_kind():
    assert recognise_headers(["Commune d'origine", "Commune de destination", "Temps de trajet"],
                             "costs") == {"Commune d'origine": "origin",
                                          "Commune de destination": "destination",
                                          "Temps de trajet": "minutes"}
    assert recognise_headers(["CODGEO", "Population municipale"], "population") == {
        "CODGEO": "code", "Population municipale": "population"}
    with pytest.raises(ValueError, match="champ"):
        recognise_headers(["x"], "supply", columns={"x": "volume"})


@pytest.mark.parametrize(("text", "value"), [
    ("1234", 1234.0), ("1 234", 1234.0), ("1\u00a0234", 1234.0), ("1\u202f234,5", 1234.5),
    ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("12,5", 12.5), ("12.5", 12.5), ("-3", -3.0),
    ("1.234.567", 1234567.0), ("1e3", 1000.0), (" 7 ", 7.0), ("inf", np.inf),
])
def test_french_numbers(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["beaucoup", "nan", "1,2,3", "1 23", "12,5 %", "=1/2", "1.2.3"])
def test_unreadable_numbers(text):
    with pytest.raises(ValueError, match="illisible"):
        parse_number(text)
    assert parse_numbers([text])[1].tolist() == [True]


def test_percentages_only_when_allowed():
    num, bad = parse_numbers(["12,5 %", "50%", "0,3", "", None], percent=True)
    assert num[:3].tolist() == [0.125, 0.5, 0.3]
    assert bad.tolist() == [False] * 5
    num, bad = parse_numbers([1, 2.5, True, "3"])
    assert num[:2].tolist() == [1.0, 2.5]
    assert bad.tolist() == [False, False, True, False]


# --------------------------------------------------------------------------- property test

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = st.text(alphabet="ABCDEFabcdefxyzéèàçôÉ -", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.strip())
_ROW = st.fixed_dictionaries({
    "cpts_id": _TEXT,
    "stage": st.sampled_from(["ACI signé", "Association créée", "3", "Projet de santé validé"]),
    "commune_code": st.sampled_from(["59350", "80021", "02168", "2A004", "59009"]),
    "share": st.sampled_from(["", "0,5", "0.25", "40 %"]),
    # defects injected around this row
    "blank_before": st.integers(0, 2),
    "duplicate": st.booleans(),
    "wrong_sep": st.booleans(),
    "cp1252": st.booleans(),
})
_COLUMNS = ["cpts_id", "stage", "commune_code", "share"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=1, max_size=8), sep=st.sampled_from([";", ",", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]), sep_line=st.booleans())
def test_csv_rows_kept_with_their_file_row_or_rejected_naming_it(rows, sep, encoding, sep_line):
    import tempfile
    from pathlib import Path

    lines: list[bytes] = []  # physical lines, encoded
    expected: list[tuple[int, list[str]]] = []
    wrong: list[int] = []
    enc = "utf-16-le" if encoding == "utf-16" else encoding
    if sep_line:
        lines.append(f"sep={sep}".encode(enc))
    lines.append(sep.join(_COLUMNS).encode(enc))
    base = 0 if sep_line else 1  # spreadsheet row of physical line index i is i + base

    for rec in rows:
        for _ in range(rec["blank_before"]):
            lines.append(b"")
        values = [rec[c] for c in _COLUMNS]
        for _ in range(2 if rec["duplicate"] else 1):
            if rec["wrong_sep"]:
                other = next(s for s in (";", ",", "|") if s != sep)
                lines.append(other.join(values).encode(enc))
                wrong.append(len(lines) - 1 + base)
                continue
            line_enc = "cp1252" if rec["cp1252"] and encoding == "utf-8" else enc
            quoted = [f'"{v}"' if sep in v else v for v in values]  # as Excel writes them
            lines.append(sep.join(quoted).encode(line_enc))
            expected.append((len(lines) - 1 + base, values))
    newline = "\n".encode(enc)
    data = newline.join(lines) + newline
    if encoding == "utf-16":
        data = codecs.BOM_UTF16_LE + data
    elif encoding == "utf-8-sig":  # the codec writes a BOM on each line: one at the start only
        data = codecs.BOM_UTF8 + data.replace(codecs.BOM_UTF8, b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registre.csv"
        path.write_bytes(data)
        if wrong:  # rows with another separator are refused, each with its row
            with pytest.raises(ValidationError) as refused:
                read_registry(path)
            assert sorted(refused.value.problems["row"].tolist()) == sorted(wrong)
            return
        reg = read_registry(path)  # refused without a wrong row: the error says why
    assert reg["row"].tolist() == [r for r, _ in expected]
    got = reg[_COLUMNS].astype(object).where(reg[_COLUMNS].notna(), "").values.tolist()
    assert got == [v for _, v in expected]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({
    "cpts_id": st.one_of(_TEXT, st.integers(1, 99), st.integers(1, 99).map(float)),
    "code": st.sampled_from([59350, 80021.0, "02168", "2A004"]),
    "share": st.sampled_from([None, 0.5, "0,5", "=1/2", "=A2*2"]),
    "blank_before": st.integers(0, 2),
}), min_size=1, max_size=8), title=st.booleans())
def test_xlsx_rows_and_formulas_keep_their_sheet_row(rows, title):
    import tempfile
    from pathlib import Path

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append(["Registre des CPTS"])
    ws.append(["cpts_id", "stage", "commune_code", "share"])
    expected, formulas = [], set()
    for rec in rows:
        for _ in range(rec["blank_before"]):
            ws.append([])
        ws.append([rec["cpts_id"], "5", rec["code"], rec["share"]])
        r = ws.max_row
        cid = rec["cpts_id"]
        text_id = str(int(cid)) if isinstance(cid, (int, float)) else cid
        code = rec["code"]
        text_code = str(int(code)) if isinstance(code, (int, float)) else code
        share = rec["share"]
        if isinstance(share, str) and share.startswith("="):
            formulas.add((r, "share"))
        expected.append((r, [text_id, "5", text_code, None if share is None else str(share)]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registre.xlsx"
        wb.save(path)
        read = read_registry_report(path)
        reg = read.registry
        t = read_table(path, kind="registry")
    assert reg["row"].tolist() == [r for r, _ in expected]
    got = [[None if pd.isna(v) else v for v in row] for row in reg[_COLUMNS].values.tolist()]
    assert got == [v for _, v in expected]
    assert t.formulas == frozenset(formulas)
    assert set(read.formulas) == formulas


# --------------------------------------------------------------------------- callers


def test_professionals_read_french_numbers_with_file_rows(tmp_path):
    import warnings

    from cpts_geo.io.supply import read_professionals

    path = write(tmp_path, "offre.csv", "code;profession;count\n59350;Médecin généraliste;1 234\n\n"
                 "80021;Infirmière;12,5\n".encode("cp1252"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_professionals(path)
    out = read.table
    assert out["row"].tolist() == [2, 4]
    assert out["count"].tolist() == [1234.0, 12.5]
    assert read.reading == "encodage Windows-1252, séparateur « ; »"
    assert read.file_rows == 2  # the blank line is no data row
    bad = write(tmp_path, "bad.csv", b"code;profession;count\n59350;infirmier;beaucoup\n\n80021;kine;3\n")
    with pytest.raises(ValidationError, match="non numérique « beaucoup »") as err:
        read_professionals(bad)
    assert err.value.problems["row"].tolist() == [2]


def test_share_nan_text_and_formula_without_value_are_errors(tmp_path, hdf_communes):
    from cpts_geo.domain.registry import validate_registry

    path = _workbook(tmp_path / "r.xlsx", {"R": [
        ["cpts_id", "stage", "commune_code", "share"], ["A", "5", 59350, "=1/2"], ["B", "5", 59350, 0.5]]})
    with pytest.raises(ValidationError, match="formule « =1/2 » sans valeur calculée") as err:
        validate_registry(read_registry(path), hdf_communes)
    probs = err.value.problems
    assert probs.loc[probs["problem"].str.contains("formule"), "row"].tolist() == [2]
    csv_path = write(tmp_path, "r.csv", b"cpts_id;stage;commune_code;share\nA;5;59350;nan\n\nB;5;59350;0,5\n")
    with pytest.raises(ValidationError, match="illisible : 'nan'") as err:
        validate_registry(read_registry(csv_path), hdf_communes)
    probs = err.value.problems
    assert probs.loc[probs["problem"].str.contains("illisible"), "row"].tolist() == [2]


def test_cli_says_how_it_read_and_takes_feuille_couche_sep_encodage(tmp_path, capsys):
    from cpts_geo.cli import main

    path = _workbook(tmp_path / "r.xlsx", {
        "Nord": [["cpts_id", "stage", "commune_code"], ["A", "5", 59350]],
        "Somme": [["cpts_id", "stage", "commune_code"], ["B", "5", 80021]]})
    assert main(["valider", str(path), "--region", "32"]) != 0
    err = capsys.readouterr().err
    assert "« Nord », « Somme »" in err
    assert "--feuille" in err
    assert "Traceback" not in err
    assert main(["valider", str(path), "--region", "32", "--feuille", "Somme"]) == 0
    assert "Registre lu : feuille « Somme »." in capsys.readouterr().out
    csv_path = write(tmp_path, "r.csv", "cpts_id|stage|commune_code\nA|Association créée|80021\n"
                     .encode("cp1252"))
    assert main(["valider", str(csv_path), "--region", "32"]) == 0
    assert "Registre lu : encodage Windows-1252, séparateur « | »." in capsys.readouterr().out
    assert main(["valider", str(csv_path), "--region", "32", "--encodage", "utf-8"]) != 0
    assert "pas en utf-8 (ligne 2)" in capsys.readouterr().err
    assert main(["valider", str(csv_path), "--region", "32", "--sep", ";"]) != 0
    assert "introuvables" in capsys.readouterr().err


def test_user_commune_layer_and_perimeters_with_several_layers_are_refused(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from cpts_geo.io.communes import read_communes
    from cpts_geo.io.registry import read_perimeters

    path = tmp_path / "communes.gpkg"
    layer = gpd.GeoDataFrame({"INSEE_COM": ["59350"], "NOM": ["Lille"], "POPULATION": [236710]},
                             geometry=[box(700000, 7050000, 710000, 7060000)], crs=2154)
    layer.to_file(path, layer="communes")
    layer.to_file(path, layer="arrondissements")
    with pytest.raises(ValidationError, match=r"« communes », « arrondissements ».*--couche"):
        read_communes(path)
    with pytest.raises(ValidationError, match="--couche"):
        read_perimeters(path)
    assert len(read_perimeters(path, layer="communes")) == 1


def test_passage_table_read_through_the_reader(tmp_path):
    from cpts_geo.io.history import read_passage_table

    path = write(tmp_path, "passage.csv", "sep=;\nold_code;new_code;libellé\n\n05120;05001;Abriès\n"
                 .encode("cp1252"))
    frame = read_table(path).table
    assert frame.values.tolist() == [["05120", "05001", "Abriès"]]
    assert read_passage_table(path) == read_passage_table(frame) == {"05120": {"05001"}}


# --------------------------------------------------------------------------- control characters


def test_control_characters_are_refused_at_reading_with_their_rows(tmp_path):
    """A NUL or an escape in a cell: one error naming every cell, whatever the format; tab and
    line breaks inside a cell stay text. (An XLSX cannot hold them: openpyxl reads Excel's
    ``_x0000_`` as that text.)"""
    rows = [["A", "CPTS A\x00", "59350"], ["A", "CPTS A\x00", "59009"], ["B", "CPTS \x1b[31mB", "59512"],
            ["C", "Deux\nlignes\tet tab", "59599"]]
    frame = pd.DataFrame(rows, columns=["cpts_id", "cpts_name", "commune_code"])
    csv_path = tmp_path / "r.csv"
    frame.to_csv(csv_path, sep=";", index=False)
    parquet_path = tmp_path / "r.parquet"
    frame.to_parquet(parquet_path)
    for source, first in ((csv_path, 2), (parquet_path, 1), (frame, 2)):
        with pytest.raises(ValidationError, match="caractères de contrôle") as err:
            read_table(source, kind="registry")
        problems = err.value.problems
        assert problems["row"].tolist() == [first, first + 1, first + 2], source
        assert set(problems["kind"]) == {"caractère de contrôle"}
        assert problems["problem"].iloc[0] == ("colonne « cpts_name » : caractère de contrôle U+0000 invisible "
                                               "dans « CPTS A␀ » ; supprimez-le")
        assert "\x1b" not in str(err.value)
        assert "␛[31mB" in str(err.value)
    ok = read_table(frame.iloc[[3]], kind="registry").table
    assert ok["cpts_name"].tolist() == ["Deux\nlignes\tet tab"]


def test_validate_registry_refuses_control_characters_given_as_a_dataframe(hdf_communes):
    from cpts_geo.domain.registry import validate_registry

    reg = pd.DataFrame({"cpts_id": ["A\x07", "A\x07"], "cpts_name": ["CPTS\x00", "CPTS\x00"],
                        "commune_code": ["59350", "59009"], "row": [2, 3], "stage": None,
                        "commune_name": None, "share": None})
    with pytest.raises(ValidationError, match="ne respecte pas") as err:
        validate_registry(reg, hdf_communes)
    assert (err.value.problems["kind"] == "caractère de contrôle").sum() == 4
    assert "\x07" not in str(err.value)
    assert "A␇" in str(err.value)
