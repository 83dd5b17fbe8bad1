"""The regional report with a supply file and real travel times (issue 28): density of GPs and their
E2SFCA accessibility per CPTS, equal to the library's own functions on the same tables."""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
import pytest

import cpts_geo
from cpts_geo.cli import main
from cpts_geo.domain.french import number
from cpts_geo.domain.registry import CheckedRegistry
from cpts_geo.indicators.accessibility import accessibility, estimate_costs, territory_accessibility
from cpts_geo.indicators.density import density
from cpts_geo.io.costs import read_costs
from cpts_geo.io.registry import load_example_registry
from cpts_geo.io.supply import read_supply
from cpts_geo.render.portrait import SEP
from cpts_geo.render.report import regional_report

pytestmark = pytest.mark.slow

GP = "médecin généraliste"
T = TypeVar("T")


class _Figures(HTMLParser):
    """The text of every ``data-fig`` span, by key (as in test_regional)."""

    def __init__(self) -> None:
        super().__init__()
        self.figs: dict[str, str] = {}
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, _tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append((dict(attrs).get("data-fig"), []))

    def handle_endtag(self, _tag: str) -> None:
        key, text = self._open.pop()
        if key is not None:
            self.figs[key] = "".join(text)
        if self._open:
            self._open[-1][1].append("".join(text))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1].append(data)


def _parse(html: str) -> dict[str, str]:
    parser = _Figures()
    parser.feed(html)
    return parser.figs


def _quiet(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def france() -> gpd.GeoDataFrame:
    return cpts_geo.load_communes(crs=None)


@pytest.fixture(scope="module")
def bpe(shared_data: Path) -> Path:
    return shared_data / "health_professionals" / "bpe2018_sante_communes.csv"


@pytest.fixture(scope="module")
def checked(france: gpd.GeoDataFrame) -> CheckedRegistry:
    return _quiet(cpts_geo.validate_registry, load_example_registry(), france)


@pytest.fixture(scope="module")
def costs_file(france: gpd.GeoDataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A distancier as Metric writes it (idSrc;idDst;duree), slower than the estimated times by a
    quarter, on the communes of the Somme and its neighbours."""
    area = france[france["department"].isin(["80", "60", "62", "02", "76"])]
    est = _quiet(estimate_costs, area).costs
    table = pd.DataFrame({"idSrc": est["origin"], "idDst": est["destination"], "duree": est["minutes"] * 1.25})
    path = tmp_path_factory.mktemp("temps") / "distancier_metric.csv"
    table.to_csv(path, sep=";", index=False, decimal=",")
    return path


def test_density_of_every_cpts_and_of_the_region_are_the_library_values(
        france: gpd.GeoDataFrame, bpe: Path, checked: CheckedRegistry, tmp_path: Path) -> None:
    supply = _quiet(read_supply, bpe, communes=france, unknown="report")
    res = _quiet(regional_report, checked, tmp_path / "r.html", region="32", map=False, supply=supply,
                 supply_source="BPE 2018 (INSEE)")
    figs = _parse(res.html)
    assert figs == {k: f.text for k, f in res.figures.items()}
    dens = _quiet(density, supply, france, membership=checked.membership, professions=[GP]).table
    dens = dens.xs(GP, level="profession")
    for cid in checked.cpts.index:
        assert figs[f"cpts.{cid}.density"] == number(dens.at[cid, "density"], 1, sep=SEP)
    # the region's density, computed here from the counts and the populations
    hdf = france[france["region"] == "32"]
    table = supply.table
    gps = table.loc[(table["profession"] == GP) & table["code"].isin(hdf.index), "count"].sum()
    assert figs["gp.area.density"] == number(gps / hdf["population"].sum() * 10_000, 1, sep=SEP)
    assert res.figures["gp.area.density"].value == pytest.approx(gps / hdf["population"].sum() * 10_000)
    assert "Médecins généralistes pour 10 000 hab." in res.html
    assert "BPE 2018 (INSEE)" in res.html  # source and vintage stated
    assert "temps de trajet estimés" in res.html


def test_real_travel_times_give_accessibility_with_those_costs(
        france: gpd.GeoDataFrame, bpe: Path, checked: CheckedRegistry, costs_file: Path, tmp_path: Path) -> None:
    supply = _quiet(read_supply, bpe, communes=france, unknown="report")
    res = _quiet(regional_report, checked, tmp_path / "r.html", departments=["80"], map=False, supply=supply,
                 costs=costs_file)
    figs = _parse(res.html)
    costs = read_costs(costs_file)
    acc = _quiet(accessibility, supply, france, costs=costs, per=10_000)
    expected = _quiet(territory_accessibility, acc.table[GP], checked.membership, weights=acc.table["demand"]).table
    estimated = _quiet(regional_report, checked, tmp_path / "e.html", departments=["80"], map=False, supply=supply)
    ids = [k.split(".")[1] for k in figs if k.endswith(".access")]
    assert len(ids) >= 5
    differs = 0
    for cid in ids:
        assert res.figures[f"cpts.{cid}.access"].value == pytest.approx(expected.at[cid, "accessibility"])
        assert figs[f"cpts.{cid}.access"] == number(expected.at[cid, "accessibility"], 1, sep=SEP)
        differs += estimated.figures[f"cpts.{cid}.access"].value != pytest.approx(res.figures[f"cpts.{cid}.access"].value)
    assert differs  # the times given were used, not the estimated ones
    assert "temps de trajet fournis" in res.html
    assert "distancier_metric.csv" in res.html
    assert f"{number(len(costs))} paires de communes" in res.html


def test_rapport_command_with_offre_and_temps(bpe: Path, costs_file: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "rapport.html"
    assert main(["rapport", "--departements", "80", "--offre", str(bpe), "--temps", str(costs_file),
                 "--sans-carte", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "Temps de trajet : " in said
    assert "Médecins généralistes pour 10 000 habitants" in said
    page = html.unescape(out.read_text(encoding="utf-8"))
    assert "millésime 2018 d'après le nom du fichier" in page
    assert "temps de trajet fournis" in page


def test_temps_without_offre_is_refused_before_anything_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 costs_file: Path) -> None:
    out = tmp_path / "rapport.html"
    assert main(["rapport", "--temps", str(costs_file), "--sans-carte", "-o", str(out)]) != 0
    said = capsys.readouterr()
    assert "donnez aussi le fichier de l'offre de soins (--offre" in said.err + said.out
    assert "Traceback" not in said.err
    assert not out.exists()
    with pytest.raises(ValueError, match="offre de soins"):
        regional_report(load_example_registry(), tmp_path / "r.html", region="32", costs=costs_file)
