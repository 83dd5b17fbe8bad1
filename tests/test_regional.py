"""The regional report (issue 28): every printed figure is the library's own value."""

from __future__ import annotations

import warnings
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import cpts_geo
from cpts_geo.cli import main
from cpts_geo.domain.french import number, percent
from cpts_geo.indicators.regional import coverage_over_time, regional_diagnosis
from cpts_geo.io.registry import load_example_registry
from cpts_geo.render.portrait import SEP
from cpts_geo.render.report import regional_report_html


class _Figures(HTMLParser):
    """The text of every ``data-fig`` span, by key."""

    def __init__(self):
        super().__init__()
        self.figs: dict[str, str] = {}
        self._open: list[tuple[str | None, list[str]]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self._open.append((dict(attrs).get("data-fig"), []))

    def handle_endtag(self, tag):  # noqa: ARG002 (HTMLParser's signature; every end closes the last open tag)
        key, text = self._open.pop()
        if key is not None:
            self.figs[key] = "".join(text)
        if self._open:
            self._open[-1][1].append("".join(text))

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


def _parse(html: str) -> dict[str, str]:
    parser = _Figures()
    parser.feed(html)
    assert parser.scripts == 0
    return parser.figs


@pytest.fixture(scope="module")
def france():
    return cpts_geo.load_communes(crs=None)


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _listing_without_stages(france) -> pd.DataFrame:
    """A regional listing as ARS export them: one row per (CPTS, commune), no stage, 70 CPTS
    (the EPCIs of Provence-Alpes-Côte d'Azur, the largest split until there are 70)."""
    paca = france[france["region"] == "93"]
    groups = [list(g.index) for _, g in paca.groupby("epci")]
    while len(groups) < 70:
        groups.sort(key=len)
        big = groups.pop()
        groups += [big[: len(big) // 2], big[len(big) // 2:]]
    rows = [(f"P{k:02d}", f"CPTS n°{k}", code) for k, codes in enumerate(sorted(groups), 1) for code in codes[:-1]]
    return pd.DataFrame(rows, columns=["N° CPTS", "Nom CPTS", "Code commune"])  # last commune of each: uncovered


def test_every_figure_of_the_page_is_the_library_value(france):
    checked = _quiet(cpts_geo.validate_registry, load_example_registry(), france)
    diag = regional_diagnosis(checked, france, region="32")
    report = regional_report_html(diag, map=False)
    figs = _parse(report.html)
    assert figs == {k: f.text for k, f in report.figures.items()}  # every figure printed is one kept
    cov = cpts_geo.coverage(checked, france[france["region"] == "32"])
    assert figs["coverage.total.population"] == number(cov.loc["Total", "population"], sep=SEP)
    assert figs["coverage.total.communes"] == number(3782, sep=SEP)
    assert figs["cpts.n"] == "59"
    terr = _quiet(cpts_geo.build_territories, checked, france)
    funding = cpts_geo.funding_table(terr)
    assert figs["funding.total"] == number(funding["Total annuel"].sum(), sep=SEP) + SEP + "€"
    for cid in ("HDF-01", "HDF-17", "HDF-59"):
        assert figs[f"cpts.{cid}.population"] == number(terr.at[cid, "population"], sep=SEP)
        assert figs[f"cpts.{cid}.funding"] == number(funding.at[cid, "Total annuel"], sep=SEP) + SEP + "€"
    # APL 2023 of a CPTS: DREES' mean weighted by standardised population, computed here independently
    apl = cpts_geo.load_apl(2023)
    member = checked.membership[checked.membership["cpts_id"] == "HDF-01"]
    codes = member["code"]
    w = apl.loc[codes, "pop_standardised"] * member.set_index("code")["share"].reindex(codes).to_numpy()
    expected = float((apl.loc[codes, "apl"] * w).sum() / w.sum())
    assert figs["cpts.HDF-01.apl2023"] == number(expected, 2, sep=SEP)
    uncovered = cov.loc["Non couvert"]
    assert figs["zones.population"] == number(uncovered["population"], sep=SEP)
    assert figs["zones.communes"] == number(uncovered["n_communes"], sep=SEP)
    assert figs["coverage.covered.share"] == percent(1 - uncovered["share_population"], 1, sep=SEP) or \
        figs["coverage.covered.share"] == percent(1 - uncovered["population"] / cov.loc["Total", "population"], 1, sep=SEP)


def test_changes_since_the_previous_listing_are_compare_registries(france):
    reg = load_example_registry()
    checked = _quiet(cpts_geo.validate_registry, reg, france)
    older = reg[reg["cpts_id"] != "HDF-01"].copy()
    older.loc[older["cpts_id"] == "HDF-02", "stage"] = "Association créée"
    previous = _quiet(cpts_geo.validate_registry, older, france)
    diag = regional_diagnosis(checked, france, region="32", previous=previous)
    expected = _quiet(cpts_geo.compare_registries, previous, checked, france).summary
    assert diag.changes.summary.to_dict() == expected.to_dict()
    figs = _parse(regional_report_html(diag, map=False, previous_name="2024").html)
    assert figs["changes.total"] == number(expected.sum(), sep=SEP)


def test_seventy_cpts_without_stages_through_the_cli(france, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    listing = _listing_without_stages(france)
    path = tmp_path / "ars_paca.csv"
    listing.to_csv(path, sep=";", index=False)
    out = tmp_path / "rapport.html"
    assert main(["rapport", str(path), "--region", "93", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Rapport écrit" in said
    assert "70 CPTS" in said
    figs = _parse(out.read_text(encoding="utf-8"))
    assert figs["cpts.n"] == "70"
    n_groups = listing["N° CPTS"].nunique()
    paca = france[france["region"] == "93"]
    assert figs["zones.communes"] == number(len(paca) - len(listing), sep=SEP)
    assert n_groups == 70
    checked = _quiet(cpts_geo.validate_registry, pd.read_csv(path, sep=";", dtype=str), france)
    cov = cpts_geo.coverage(checked, paca)
    assert figs["coverage.total.population"] == number(cov.loc["Total", "population"], sep=SEP)
    assert "Étape non renseignée" in out.read_text(encoding="utf-8")


def test_evolution_over_three_listings_equals_coverage(france, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    reg = load_example_registry()
    listings = {"2023-01": reg[reg["stage"].isin(["ACI signé"])],
                "2024-01": reg[reg["stage"].isin(["ACI signé", "Projet de santé validé"])],
                "2025-01": reg}
    paths = []
    for date, frame in listings.items():
        paths.append(tmp_path / f"registre_{date}.csv")
        frame.to_csv(paths[-1], sep=";", index=False)
    out = tmp_path / "evolution.png"
    assert main(["evolution", *map(str, paths), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "evolution_cartes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # beside the chart
    assert "Cartes écrites" in capsys.readouterr().out
    table = pd.read_csv(out.with_suffix(".csv"), sep=";", encoding="utf-8-sig", decimal=",")
    assert table["Date"].tolist() == list(listings)
    hdf = france[france["region"] == "32"]
    for date, frame in listings.items():
        cov = cpts_geo.coverage(_quiet(cpts_geo.validate_registry, frame, france), hdf)
        row = table.set_index("Date").loc[date]
        assert row["CPTS"] == cov.loc["Total", "n_cpts"]
        for stage in cov.index.drop("Total"):
            if stage in row.index:
                assert row[stage] == pytest.approx(cov.loc[stage, "population"])
    history = coverage_over_time([_quiet(cpts_geo.validate_registry, f, france) for f in listings.values()],
                                 list(listings), hdf)
    assert history["n_cpts"].tolist() == [24, 32, 59]
    assert np.all(np.diff(history["share_covered"].to_numpy()) > 0)


def _three_listings() -> dict[str, pd.DataFrame]:
    reg = load_example_registry()
    return {"2023-01": reg[reg["stage"].isin(["ACI signé"])],
            "2024-01": reg[reg["stage"].isin(["ACI signé", "Projet de santé validé"])],
            "2025-01": reg}


def test_small_multiple_maps_draw_the_coverage_of_each_listing(france: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from matplotlib.colors import to_rgba

    from cpts_geo.domain.stages import STAGE_COLORS
    from cpts_geo.indicators.regional import coverage_layers
    from cpts_geo.render.report import evolution_maps

    hdf = france[france["region"] == "32"]
    checked = [_quiet(cpts_geo.validate_registry, f, france) for f in _three_listings().values()]
    dates = list(_three_listings())
    maps = evolution_maps(checked, dates, hdf, path=tmp_path / "cartes.svg")
    axes = maps.figure.axes
    assert [ax.get_title() for ax in axes] == dates  # one panel per listing, titled with its date
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in axes}) == 1  # the same extent
    layers = coverage_layers(checked, dates, hdf)
    for ax, date, reg in zip(axes, dates, checked):
        cov = cpts_geo.coverage(reg, hdf)
        n_covered = cov.loc["Total", "n_communes"] - cov.loc["Non couvert", "n_communes"]
        drawn = next(c for c in ax.collections if c.get_gid() == "covered")
        assert len(drawn.get_paths()) == len(maps.covered[date]) == n_covered
        layer = layers[date]
        assert set(maps.covered[date]) == set(layer.index[layer["covered"]])
        stages = layer.loc[maps.covered[date], "stage"].astype(str)
        colors = [to_rgba(STAGE_COLORS[s]) for s in stages]
        assert np.allclose(drawn.get_facecolors(), colors)  # the same colours as the chart's stages
    svg = (tmp_path / "cartes.svg").read_text(encoding="utf-8")
    assert "2023-01" in svg
    assert "Zone blanche" in svg


def test_report_with_history_shows_the_small_maps(france: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from cpts_geo.render.report import regional_report

    listings = _three_listings()
    res = _quiet(regional_report, listings["2025-01"], tmp_path / "r.html", region="32",
                 history=list(listings.values()), dates=list(listings), communes=france)
    page = res.html
    assert "une carte par registre daté" in page
    assert page.count("<img ") == 3  # the map, the chart and the small maps
    figs = _parse(page)
    assert figs["history.2024-01.n_cpts"] == "32"


@pytest.mark.parametrize("form", ["checked", "read", "path", "table"])
def test_illustrative_banner_whatever_form_the_registry_is_given_in(france: gpd.GeoDataFrame, tmp_path: Path,
                                                                    form: str) -> None:
    from cpts_geo.io.registry import example_registry
    from cpts_geo.render.report import regional_report

    read = example_registry()
    path = tmp_path / "exemple.csv"
    read.registry.drop(columns=["row"]).to_csv(path, sep=";", index=False)
    given = {"checked": lambda: _quiet(cpts_geo.validate_registry, read, france), "read": lambda: read,
             "path": lambda: path, "table": lambda: read.registry}[form]()
    res = _quiet(regional_report, given, tmp_path / "r.html", region="32", map=False, communes=france)
    assert "Registre illustratif" in res.html


def test_no_banner_for_a_registry_that_is_not_the_example(france: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from cpts_geo.render.report import regional_report

    reg = load_example_registry()
    checked = _quiet(cpts_geo.validate_registry, reg[reg["cpts_id"] != "HDF-01"], france)
    res = _quiet(regional_report, checked, tmp_path / "r.html", region="32", map=False, communes=france)
    assert "Registre illustratif" not in res.html


def test_an_area_without_any_cpts_gets_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A department where the listing has no CPTS crashed (an empty set of territories)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "rapport.html"
    assert main(["rapport", "--departements", "04", "-o", str(out)]) == 0
    assert "(0 CPTS, 0,0 % de la population couverte" in capsys.readouterr().out
    assert "Diagnostic régional des CPTS — département 04" in out.read_text(encoding="utf-8")
