"""One French vocabulary: a result shown in a notebook keeps no English header.

``cpts_geo.french_headers(table, kind=...)`` renames a result with the headers the CSV and XLSX
writers use; these tests check that every column of the results the notebooks show (the regional
diagnosis, coverage over dated listings, communes with their CPTS) has its French header, and that
the writers and the notebooks say the same words.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd
import pytest

import cpts_geo
from cpts_geo.domain.vocabulary import HEADERS, french_headers
from cpts_geo.io.registry import load_example_registry


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def france():
    return cpts_geo.load_communes(crs=None)


@pytest.fixture(scope="module")
def checked(france):
    return _quiet(cpts_geo.validate_registry, load_example_registry(), france)


def _english(table: pd.DataFrame, kind: str) -> list[str]:
    """The headers ``french_headers`` leaves as the library named them (``n_cpts``, ``epci_name``)."""
    shown = french_headers(table, kind=kind)
    names = [c for c in shown.columns if c != "geometry"] + [n for n in [shown.index.name, shown.columns.name] if n]
    return [n for n in names if re.fullmatch(r"[a-z][a-z0-9_]*", str(n))]


def test_every_table_of_the_regional_diagnosis_has_french_headers(france, checked):
    diag = cpts_geo.regional_diagnosis(checked, france, region="32")
    for name in ("cpts", "zones", "uncovered", "coverage"):
        assert _english(getattr(diag, name), "regional") == [], name
    shown = french_headers(diag.cpts, kind="regional")
    assert shown.index.name == "Identifiant CPTS"
    assert {"APL 2023", "Évolution de l'APL depuis 2022", "Financement ACI maximal annuel (€)"} <= set(shown.columns)
    assert _english(diag.apl_reference, "accessibility") == []


def test_coverage_over_time_has_the_headers_of_the_evolution_csv(france, checked, tmp_path):
    from cpts_geo.cli.main import main

    hdf = france[france["region"] == "32"]
    history = cpts_geo.coverage_over_time([checked, checked], ["2024", "2025"], hdf)
    assert _english(history, "evolution") == []
    shown = french_headers(history, kind="evolution")
    assert (shown.index.name, shown.columns.name) == ("Date", "Étape")  # no « stage » above the stages
    path = tmp_path / "registre_2025.csv"
    load_example_registry().to_csv(path, sep=";", index=False)
    out = tmp_path / "evolution.png"
    assert main(["evolution", str(path), "--region", "32", "-o", str(out)]) == 0
    written = pd.read_csv(out.with_suffix(".csv"), sep=";", encoding="utf-8-sig", nrows=0)
    assert list(written.columns) == list(french_headers(history, kind="evolution").reset_index().columns)


def test_communes_with_their_cpts_have_french_headers(checked):
    hdf = cpts_geo.load_communes(region="32")
    layer = cpts_geo.communes_with_cpts(checked, hdf)
    assert _english(layer, "communes") == []
    shown = french_headers(layer, kind="communes")
    assert {"Nom", "Département", "EPCI", "Identifiant CPTS", "Couverte"} <= set(shown.columns)


def test_an_unknown_kind_names_the_kinds():
    with pytest.raises(ValueError, match="types possibles : territories, communes, regional, evolution"):
        french_headers(pd.DataFrame(), kind="region")
    assert {"regional", "evolution", "communes"} <= set(HEADERS)
