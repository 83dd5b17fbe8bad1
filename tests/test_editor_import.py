"""The perimeter editor's drafts: import, export and browser storage, driven in Chromium.

Through the page's own controls (the file input, the export button, the import questions) with
Playwright and Debian's chromium, no network: an import adds drafts and can be undone, a failed
import changes nothing, the CSV is read as ``cpts-geo valider`` reads it (same headers, same
encodings), shares survive import and export, odd CPTS ids are ids like any other, each page
content has its own storage, and a damaged stored draft does not blank the page. A property
test imports random registries (shares, encodings, separators, odd ids) and checks that the
re-export validates to the same registry as the file imported.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from chromium import CHROMIUM, FLAGS, browser_only

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.headers import recognise_headers
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.stages import STAGES
from cpts_geo.io.registry import read_registry
from cpts_geo.render.editor import editor_data, perimeter_editor

FRENCH = ["Identifiant CPTS", "Nom de la CPTS", "Étape du projet", "Code INSEE commune", "Nom commune", "Part"]
ENGLISH = ["cpts_id", "cpts_name", "stage", "commune_code", "commune_name", "share"]


def _csv(rows, *, headers=FRENCH, sep=";", encoding="utf-8", sep_line=False) -> bytes:
    buf = io.StringIO()
    if sep_line:
        buf.write(f"sep={sep}\r\n")
    w = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    w.writerow(headers[:len(rows[0])] if rows else headers)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


@pytest.fixture(scope="module")
def somme():
    return load_communes(departments="80")


@pytest.fixture(scope="module")
def pages(tmp_path_factory, somme):
    """The Somme without registry, and with a registry sharing Amiens between two CPTS."""
    folder = tmp_path_factory.mktemp("editeur-import")
    registry = pd.DataFrame({"cpts_id": ["R1", "R1", "R2"], "cpts_name": ["CPTS Amiens Nord", "CPTS Amiens Nord",
                                                                          "CPTS Amiens Sud"],
                             "stage": ["ACI signé"] * 3, "commune_code": ["80021", "80001", "80021"],
                             "share": [0.5, None, 0.5]})
    return {"plain": perimeter_editor(somme, None, folder / "somme.html"),
            "registry": perimeter_editor(somme, registry, folder / "somme-registre.html")}


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                       args=FLAGS, headless=True, accept_downloads=True,
                                                       viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        context.close()


def _open(page, path):
    page.goto(path.as_uri())
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")


def _drafts(page):
    return page.evaluate("CptsEditor.instance().state().drafts.map(d => ({id: d.id, name: d.name, stage: d.stage, "
                         "communes: d.communes.slice(), shares: Object.assign({}, d.shares)}))")


def _import(page, content: bytes, name="brouillons.csv"):
    """Import through the page's file input; wait until the page has answered."""
    before = page.evaluate("document.querySelectorAll('.editor-message, .editor-ask').length ? "
                           "document.querySelector('.editor-message, .editor-ask').textContent : ''")
    page.set_input_files(".editor-import input", files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    page.wait_for_function("(b) => { const e = document.querySelector('.editor-message, .editor-ask');"
                           " return e && e.textContent !== b; }", arg=before)


def _export(page, tmp_path) -> Path:
    with page.expect_download() as info:
        page.click(".editor-export")
    out = tmp_path / "export.csv"
    info.value.save_as(out)
    return out


def _data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text.split('id="cpts-editor-data">', 1)[1].split("</script>", 1)[0])


# --- reading as the command line reads -----------------------------------------------------------

@browser_only
def test_headers_recognised_as_valider_does(page, pages):
    """The page applies cpts_geo.domain.headers' rules (given by Python): the same field for every
    header as recognise_headers, over every synonym dressed up and random words."""
    from cpts_geo.domain.headers import SYNONYMS

    _open(page, pages["plain"])
    rng = random.Random(3)
    dressings = [lambda s: s, lambda s: s.upper(), lambda s: s.replace("_", " ").title(),
                 lambda s: s.replace("_", "-") + " ", lambda s: "  " + s.replace("e", "é").replace("_", "’"),
                 lambda s: s.replace("oe", "œ").replace("_", " / ")]
    words = ["code", "commune", "cpts", "insee", "nom", "part", "id", "n°", "numéro", "étape", "Quote", "libellé",
             "denomination", "de", "la", "name", "share", "projet", "stade", "constructor", "__proto__", "toString"]
    cases = []
    for names in SYNONYMS["registry"].values():
        for name in sorted(names):
            cases.append([d(name) for d in dressings])
    for _ in range(300):
        cases.append([" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 6))])
    rules = _data(pages["plain"])["headers"]
    got = page.evaluate("""([cases, rules]) => cases.map(hs => {
        const m = CptsEditor.read.recognise(hs, rules), out = {};
        m.forEach((j, f) => { out[hs[j]] = f; });
        return out; })""", [cases, rules])
    for headers, page_says in zip(cases, got):
        expected = {str(h): f for h, f in recognise_headers(headers, "registry").items()}
        assert page_says == expected, headers
    assert page.errors == []


@browser_only
def test_import_with_french_headers_adds_drafts_and_can_be_undone(page, pages, tmp_path):
    from cpts_geo.cli import main

    content = _csv([["C1", "CPTS du Vimeu", "Association créée", "80001", "Abbeville"],
                    ["C1", "CPTS du Vimeu", "Association créée", "80016", ""],
                    ["C2", "CPTS de l'Est", "", "80021", "Amiens"]])
    file = tmp_path / "registre.csv"
    file.write_bytes(content)
    assert main(["valider", str(file), "--departements", "80"]) == 0  # the file valider accepts
    _open(page, pages["plain"])
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80054")
    assert len(_drafts(page)) == 1
    _import(page, content, "registre.csv")
    drafts = _drafts(page)
    assert [d["id"] for d in drafts] == ["BROUILLON-1", "C1", "C2"]  # added, the draft already there kept
    assert drafts[0]["communes"] == ["80054"]
    assert drafts[1]["communes"] == ["80001", "80016"]
    assert drafts[1]["stage"] == "Association créée"
    assert drafts[2]["stage"] == ""  # no stage given: none invented
    message = page.locator(".editor-message").text_content()
    assert "registre.csv" in message
    assert "UTF-8" in message
    assert "séparateur « ; »" in message
    page.screenshot(path=str(tmp_path / "editeur-import-ajoute.png"))
    page.click(".editor-undo")
    assert [d["id"] for d in _drafts(page)] == ["BROUILLON-1"]
    page.reload()
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
    assert [d["id"] for d in _drafts(page)] == ["BROUILLON-1"]  # the undo was saved
    assert page.errors == []


@browser_only
def test_failed_import_changes_nothing_and_lists_every_row(page, pages):
    _open(page, pages["plain"])
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80054")
    stored = page.evaluate("Object.keys(localStorage).map(k => [k, localStorage.getItem(k)])")
    bad = _csv([["C1", "A", "", "80001", "", "0,5"],
                ["C1", "A", "", "80016", "", "beaucoup"],
                ["", "B", "", "80021", "", ""],
                ["C3", "C", "", "", "", "1,5"]])
    _import(page, bad, "mauvais.csv")
    problems = page.locator(".editor-problem").all_text_contents()
    assert any(p.startswith("ligne 3 : part de population illisible : « beaucoup »") for p in problems)
    assert any(p.startswith("ligne 4 : identifiant de CPTS vide") for p in problems)
    assert any(p.startswith("ligne 5 : code commune vide") for p in problems)
    assert any(p.startswith("ligne 5 : part de population 1,5 hors de ]0, 1]") for p in problems)
    assert "aucun brouillon n'a été modifié" in page.locator(".editor-message").text_content()
    assert [d["communes"] for d in _drafts(page)] == [["80054"]]
    assert page.evaluate("Object.keys(localStorage).map(k => [k, localStorage.getItem(k)])") == stored
    # a file without the required columns
    _import(page, _csv([["x", "y"]], headers=["Remarque", "Autre"]), "sans-colonnes.csv")
    assert "colonnes obligatoires introuvables : identifiant de la CPTS, code INSEE de la commune" in \
        page.locator(".editor-problem").text_content()
    assert [d["communes"] for d in _drafts(page)] == [["80054"]]
    assert page.errors == []


@browser_only
def test_import_of_ids_already_there_asks(page, pages):
    content = _csv([["C1", "Vimeu", "", "80001", ""]])
    _open(page, pages["plain"])
    _import(page, content)
    _import(page, _csv([["C1", "Vimeu bis", "", "80016", ""]]))
    assert page.locator(".editor-ask").count() == 1
    assert "C1" in page.locator(".editor-ask").text_content()
    assert [d["id"] for d in _drafts(page)] == ["C1"]  # nothing done before the answer
    page.click(".editor-import-both")
    assert [(d["id"], d["name"]) for d in _drafts(page)] == [("C1", "Vimeu"), ("C1 (2)", "Vimeu bis")]
    _import(page, _csv([["C1", "Vimeu ter", "", "80021", ""]]))
    page.click(".editor-import-replace")
    assert [(d["id"], d["name"], d["communes"]) for d in _drafts(page)] == [
        ("C1", "Vimeu ter", ["80021"]), ("C1 (2)", "Vimeu bis", ["80016"])]
    _import(page, _csv([["C1", "Vimeu 4", "", "80054", ""]]))
    page.click(".editor-import-cancel")
    assert [d["name"] for d in _drafts(page)] == ["Vimeu ter", "Vimeu bis"]
    assert page.errors == []


@browser_only
def test_shares_survive_import_and_export(page, pages, somme, tmp_path):
    from cpts_geo.cli import main
    from cpts_geo.domain.territories import build_territories

    content = _csv([["X", "Amiens Nord", "ACI signé", "80021", "Amiens", "0,5"],
                    ["X", "Amiens Nord", "ACI signé", "80001", "Abbeville", ""],
                    ["Y", "Amiens Sud", "ACI signé", "80021", "Amiens", "50 %"]])
    _open(page, pages["plain"])
    _import(page, content)
    drafts = _drafts(page)
    assert drafts[0]["shares"] == {"80021": 0.5}
    assert drafts[1]["shares"] == {"80021": 0.5}
    assert page.locator(".editor-conflict").count() == 0  # declared shares are no conflict
    reg = pd.DataFrame({"cpts_id": ["X", "X"], "commune_code": ["80021", "80001"], "share": [0.5, None]})
    terr = build_territories(validate_registry(reg, somme), somme)
    figures = page.evaluate("CptsEditor.instance().figures(0)")
    assert figures["pop"] == int(terr.loc["X", "population"])
    assert figures["tier"] == int(terr.loc["X", "tier"])
    assert page.locator(".editor-shared-row").get_attribute("data-share") == "0.5"
    out = _export(page, tmp_path)
    assert main(["valider", str(out), "--departements", "80"]) == 0
    back = validate_registry(read_registry(out), load_communes(crs=None)).membership
    assert sorted(zip(back["cpts_id"], back["code"], back["share"])) == [("X", "80001", 1.0), ("X", "80021", 0.5),
                                                                         ("Y", "80021", 0.5)]
    assert page.errors == []


@browser_only
def test_windows_1252_is_read_as_the_command_line_reads_it(page, pages):
    _open(page, pages["plain"])
    _import(page, _csv([["É1", "CPTS Côte Picarde – Bray", "Lettre d’intention validée", "80001", "Abbeville"]],
                       encoding="cp1252"), "ansi.csv")
    drafts = _drafts(page)
    assert drafts[0]["id"] == "É1"
    assert drafts[0]["name"] == "CPTS Côte Picarde – Bray"
    assert drafts[0]["stage"] == "Lettre d’intention validée"
    assert "encodage Windows-1252" in page.locator(".editor-message").text_content()
    # a UTF-8 file with one Windows-1252 line (two files pasted together): that line is named
    mixed = _csv([["É2", "Vallée", "", "80016", ""]]) + "É3;Forêt;;80021;\r\n".encode("cp1252")
    _import(page, mixed, "colle.csv")
    message = page.locator(".editor-message").text_content()
    assert "encodage UTF-8" in message
    assert "ligne(s) 3 en Windows-1252" in message
    assert [d["name"] for d in _drafts(page)][1:] == ["Vallée", "Forêt"]
    assert page.errors == []


@browser_only
def test_odd_ids_are_ids(page, pages, tmp_path):
    from cpts_geo.cli import main

    odd = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]
    codes = ["80001", "80016", "80021", "80054", "80570"]
    _open(page, pages["plain"])
    _import(page, _csv([[i, i, "", c, ""] for i, c in zip(odd, codes)]))
    assert [d["id"] for d in _drafts(page)] == odd
    page.click(".editor-new")
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80001")  # held by « constructor »: asked
    assert page.locator(".editor-pending").count() == 1
    out = _export(page, tmp_path)
    assert main(["valider", str(out), "--departements", "80"]) == 0
    page.reload()
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
    assert [d["id"] for d in _drafts(page)][:5] == odd
    assert page.errors == []


@browser_only
def test_ids_starting_like_a_formula_come_back_from_the_editor_as_written(page, pages, tmp_path):
    """Our CSV (guarded ``'=1+1``) imported, exported, and read by the command line: same ids."""
    from cpts_geo.io.files import write_csv

    ids = ["=1+1", "'=E", "-B", "@C"]
    given = write_csv(pd.DataFrame({"cpts_id": ids, "cpts_name": ids, "stage": [STAGES[0]] * 4,
                                    "commune_code": ["80001", "80016", "80021", "80054"]}),
                      tmp_path / "registre.csv", index=False)
    assert read_registry(given)["cpts_id"].tolist() == ids
    _open(page, pages["plain"])
    _import(page, given.read_bytes())
    assert [d["id"] for d in _drafts(page)] == ids
    out = _export(page, tmp_path)
    back = read_registry(out)
    assert back["cpts_id"].tolist() == ids
    assert back["cpts_name"].tolist() == ids
    assert page.errors == []


# --- browser storage -----------------------------------------------------------------------------

def test_one_storage_key_per_page_content(somme):
    hdf = load_communes(region="32")
    reg = pd.DataFrame({"cpts_id": ["A"], "commune_code": ["80021"]})
    keys = {editor_data(hdf)["key"], editor_data(somme)["key"], editor_data(somme, reg)["key"],
            editor_data(load_communes(departments="60"))["key"]}
    assert len(keys) == 4
    assert editor_data(somme)["key"] == editor_data(load_communes(departments="80"))["key"]


@browser_only
def test_drafts_of_one_page_never_show_on_another(page, pages):
    _open(page, pages["plain"])
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80054")
    _open(page, pages["registry"])
    assert _drafts(page) == []
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80016")
    _open(page, pages["plain"])
    assert [d["communes"] for d in _drafts(page)] == [["80054"]]
    assert page.errors == []


@browser_only
def test_damaged_stored_drafts_do_not_blank_the_page(page, pages):
    key = _data(pages["plain"])["key"]
    _open(page, pages["plain"])
    damaged = json.dumps({"drafts": [{"id": "A", "name": "Sans communes"}, None,
                                     {"id": "B", "name": "Bon", "communes": ["80001", 7]}], "active": 5})
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, damaged])
    page.reload()
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
    note = page.locator(".editor-storage").text_content()
    assert "« Sans communes » sans liste de communes, gardé vide" in note
    assert "élément 2 illisible" in note
    assert [(d["id"], d["communes"]) for d in _drafts(page)] == [("A", []), ("B", ["80001"])]
    copies = page.evaluate("(k) => Object.keys(localStorage).filter(x => x.startsWith(k + ':copie-'))"
                           ".map(x => localStorage.getItem(x))", key)
    assert copies == [damaged]  # the record as it was, kept
    page.evaluate("(c) => CptsEditor.instance().clickCode(c)", "80016")  # the page works
    assert _drafts(page)[1]["communes"] == ["80001", "80016"]
    # not JSON at all
    page.evaluate("(k) => localStorage.setItem(k, '{{ pas du JSON')", key)
    page.reload()
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
    assert "illisible" in page.locator(".editor-storage").text_content()
    assert _drafts(page) == []
    assert page.locator(".editor-new").count() == 1
    assert page.errors == []


@browser_only
def test_drafts_of_the_earlier_shared_key_can_be_taken_back(page, pages):
    legacy = _data(pages["plain"])["legacyKey"]
    _open(page, pages["plain"])
    page.evaluate("([k, v]) => localStorage.setItem(k, v)",
                  [legacy, json.dumps({"drafts": [{"id": "BROUILLON-1", "name": "Ancien", "stage": STAGES[0],
                                                   "communes": ["80001", "59350"], "conflicts": []}],
                                       "active": 0, "seq": 1})])
    page.reload()
    page.wait_for_function("window.CptsEditor && CptsEditor.instance() !== null")
    assert _drafts(page) == []
    assert "1 brouillon(s) d'une version précédente" in page.locator(".editor-legacy").text_content()
    page.click(".editor-legacy-take")
    assert [(d["name"], d["communes"]) for d in _drafts(page)] == [("Ancien", ["80001", "59350"])]
    assert "59350" in page.locator(".editor-outside").text_content()  # not on this page: kept, said
    assert page.evaluate("(k) => localStorage.getItem(k) !== null", legacy)  # never deleted
    assert page.errors == []


# --- property: import, export, validate ----------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

ODD_IDS = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "A;B", 'Q"uote', "Côte, Nord",
           "1", "0042", "l'Île"]
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 éèàçôÉœ’-';,\"",
               min_size=1, max_size=12)
POOL = ["80001", "80016", "80021", "80054", "80570", "80093", "80112", "80230", "80259", "80386", "80465", "80620",
        "60054", "59350"]  # two communes outside the page (Oise, Nord)
SHARES = [[0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0.25, 0.75], [0.2, 0.3], [0.6]]


@st.composite
def registries(draw):
    ids = draw(st.lists(st.one_of(st.sampled_from(ODD_IDS), TEXT), min_size=1, max_size=4,
                        unique_by=lambda s: s.strip()))
    ids = [i for i in ids if i.strip() and i.strip()[0] not in "=+-@'"]
    hypothesis.assume(ids)
    codes = draw(st.permutations(POOL))
    rows, at = [], 0
    for cid in ids:
        k = draw(st.integers(1, 3))
        name = draw(st.one_of(st.none(), TEXT.filter(lambda s: s.strip() and s.strip()[0] not in "=+-@'")))
        stage = draw(st.sampled_from([None, *STAGES]))
        for code in codes[at:at + k]:
            rows.append([cid, name, stage, code, None])
        at += k
    for code in codes[at:at + draw(st.integers(0, 2))]:  # communes shared between CPTS
        parts = draw(st.sampled_from([s for s in SHARES if len(s) <= len(ids)]))
        owners = draw(st.permutations(ids))[:len(parts)]
        for cid, share in zip(owners, parts):
            first = next(r for r in rows if r[0] == cid)
            rows.append([cid, first[1], first[2], code, share])
    return rows


def _file(rows, fmt) -> bytes:
    encoding, sep, french, percent, sep_line, blank = fmt
    out = []
    for cid, name, stage, code, share in rows:
        cell = ""
        if share is not None:
            cell = f"{repr(share * 100).replace('.', ',')} %" if percent else repr(share).replace(".", ",")
        out.append([cid, name or "", stage or "", code, "", cell])
    if blank:
        out.insert(len(out) // 2, [""] * 6)
    return _csv(out, headers=FRENCH if french else ENGLISH, sep=sep, encoding=encoding, sep_line=sep_line)


def _same(checked):
    m = checked.membership
    cpts = checked.cpts
    return (sorted(zip(m["cpts_id"], m["code"], m["share"])),
            sorted((str(i), str(cpts.at[i, "name"]), str(cpts.at[i, "stage"])) for i in cpts.index))


@pytest.fixture(scope="module")
def property_page(pages):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pg = browser.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        _open(pg, pages["plain"])
        yield pg
        browser.close()


@browser_only
@hypothesis.settings(max_examples=60, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture,
                                            hypothesis.HealthCheck.too_slow])
@hypothesis.given(rows=registries(),
                  fmt=st.tuples(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]), st.sampled_from([";", ","]),
                                st.booleans(), st.booleans(), st.booleans(), st.booleans()))
def test_import_then_export_validates_to_the_same_registry(property_page, tmp_path_factory, rows, fmt):
    import warnings

    page = property_page
    france = load_communes(crs=None)
    folder = tmp_path_factory.mktemp("propriete")
    given = folder / "registre.csv"
    given.write_bytes(_file(rows, fmt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = validate_registry(read_registry(given), france)
    page.evaluate("CptsEditor.instance().reset()")
    page.evaluate("([b, n]) => CptsEditor.instance().importBytes(b, n)", [list(given.read_bytes()), given.name])
    problems = page.locator(".editor-problem").all_text_contents()
    assert problems == []
    exported = folder / "export.csv"
    exported.write_text(page.evaluate("CptsEditor.instance().exportCsv()"), encoding="utf-8", newline="")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = validate_registry(read_registry(exported), france)
    assert _same(got) == _same(expected)
    assert page.errors == []
