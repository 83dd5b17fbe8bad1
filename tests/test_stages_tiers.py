"""Project stages and size tiers."""

from __future__ import annotations

import pandas as pd
import pytest

from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.stages import NOT_GIVEN, RECOGNISED, STAGE_COLORS, STAGE_DTYPE, STAGES, parse_stages
from cpts_geo.domain.tiers import TIER_LABELS, tier_of
from cpts_geo.errors import ValidationError


@pytest.mark.parametrize(("given", "expected"), [
    ("ACI signé", "ACI signé"), ("aci signe", "ACI signé"), ("  ACI  SIGNÉ ", "ACI signé"),
    ("Lettre d’intention validée", "Lettre d'intention validée"),
    ("lettre d'intention validee", "Lettre d'intention validée"),
    ("PROJET DE SANTE VALIDE", "Projet de santé validé"), ("dynamique-identifiée", "Dynamique identifiée"),
    ("1", "Dynamique identifiée"), (3, "Association créée"), (5.0, "ACI signé"),
])
def test_stage_variants_accepted(given, expected):
    assert parse_stages([given]).iloc[0] == expected


def test_stage_typos_rejected_with_allowed_values():
    with pytest.raises(ValidationError) as err:
        parse_stages(["ACI signé", "Asociation créée", "signé", "6"])
    p = err.value.problems
    assert p["row"].tolist() == [2, 3, 4]
    assert p["problem"].iat[0] == ("étape « Asociation créée » non reconnue "
                                   "(vouliez-vous dire « Association créée » ?)")
    assert "valeurs possibles : 1 = Dynamique identifiée ; 2 = Lettre d'intention validée" in str(err.value)


def test_stage_order_and_colours():
    s = parse_stages(["ACI signé", "Dynamique identifiée", None])
    assert s.dtype == STAGE_DTYPE
    assert s.isna().iat[2]
    assert s.max() == "ACI signé"
    assert s.min() == "Dynamique identifiée"
    assert list(STAGE_COLORS) == list(STAGE_DTYPE.categories) == [NOT_GIVEN, *STAGES]
    assert len(set(STAGE_COLORS.values())) == 6


def test_stage_not_given_is_explicit_and_distinct_from_zones_blanches():
    from cpts_geo.render.maps import UNCOVERED_COLOR

    assert NOT_GIVEN == "Étape non renseignée"
    assert STAGE_COLORS[NOT_GIVEN].lower() not in {UNCOVERED_COLOR.lower(), "#d9d9d9"}
    assert NOT_GIVEN not in RECOGNISED
    assert NOT_GIVEN not in STAGES
    s = pd.Series([NOT_GIVEN, "Dynamique identifiée"], dtype=STAGE_DTYPE)
    assert s.min() == NOT_GIVEN


def test_tier_boundaries():
    pops = [39_999, 40_000, 79_999, 80_000, 175_000, 175_001, None, 0]
    assert tier_of(pops).tolist() == [1, 2, 2, 3, 3, 4, pd.NA, 1]
    assert layer_metadata(tier_of(pd.Series([80_000.0]), vintage=2016)).population_vintage == 2016
    assert set(TIER_LABELS) == {1, 2, 3, 4}
    with pytest.raises(ValueError, match="négative"):
        tier_of([-1])


# --- stage vocabularies of real listings ------------------------------------------------------

def _seine_saint_denis_listing():
    """A listing shaped like the Seine-Saint-Denis one of 2021: 19 rows, its own five words,
    its own headers (built from the embedded communes of department 93, never a real listing)."""
    from cpts_geo.domain.communes import load_communes

    codes = sorted(load_communes(departments="93", crs=None).index)[:19]
    words = ["en fonctionnement", "ingénierie de projet", "début de formalisation",
             "déclaration d'intérêt sans formalisation",
             "en cours de construction avec dépôt de la lettre d'intention"]
    rows = []
    for i, code in enumerate(codes):
        cpts = i // 4  # five CPTS of four communes (the last one of three)
        rows.append({"N° CPTS": f"93-{cpts + 1}", "Nom": f"CPTS {cpts + 1}",
                     "Etat d'avancement": words[cpts].upper() if i % 4 == 1 else words[cpts],
                     "Code INSEE": code})
    return pd.DataFrame(rows)


def test_ile_de_france_vocabulary_validates_with_the_built_in_table():
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.stages import vocabulary_note

    checked = validate_registry(_seine_saint_denis_listing(), columns={"N° CPTS": "cpts_id"})
    cpts = checked.cpts
    assert cpts["stage"].astype(str).tolist() == ["ACI signé", "Lettre d'intention validée",
                                                  *["Dynamique identifiée"] * 3]
    # the wording as published is kept, in the listing's own order of steps
    assert cpts["published_stage"].astype(str).tolist()[:3] == ["en fonctionnement", "ingénierie de projet",
                                                                "début de formalisation"]
    assert list(cpts["published_stage"].cat.categories) == [
        "déclaration d'intérêt sans formalisation", "début de formalisation",
        "en cours de construction avec dépôt de la lettre d'intention", "ingénierie de projet",
        "en fonctionnement"]
    note = vocabulary_note(checked.vocabulary)
    assert "Île-de-France" in note
    assert "5 étapes" in note
    assert "en fonctionnement → ACI signé" in note


def test_dgos_vocabulary_has_fewer_steps_and_says_so():
    from cpts_geo.domain.stages import map_stages, vocabulary_note

    m = map_stages(["ACI signé", "lettre d'intention et projet de santé validés", "Lettre d’intention validée"])
    assert m.stage.astype(str).tolist() == ["ACI signé", "Projet de santé validé", "Lettre d'intention validée"]
    assert list(m.published.cat.categories) == ["Lettre d’intention validée",
                                                "lettre d'intention et projet de santé validés", "ACI signé"]
    assert "3 étapes, moins que les 5 du guide" in vocabulary_note(m.vocabulary)


def test_invented_vocabulary_fails_once_per_wording_then_passes_with_a_mapping():
    from cpts_geo.domain.registry import validate_registry
    from cpts_geo.domain.stages import stage_mapping

    listing = pd.DataFrame({"cpts_id": ["A", "A", "A", "B", "B", "C"],
                            "stage": ["Phase 3 - contrat", "phase 3 - CONTRAT", "Phase 3 - contrat",
                                      "Phase 1 - idée", "Phase 1 - idée", "Association creee "],
                            "commune_code": ["59350", "59009", "59017", "59043", "59044", "59051"]})
    with pytest.raises(ValidationError, match="Étapes non reconnues : donnez la correspondance") as err:
        validate_registry(listing)
    p = err.value.problems
    assert p["row"].tolist() == ["2, 3, 4", "5, 6"]  # each unknown wording once, with all its rows
    assert p["problem"].tolist() == [
        "étape « Phase 3 - contrat » non reconnue (aucune étape connue proche), 3 lignes",
        "étape « Phase 1 - idée » non reconnue (aucune étape connue proche), 2 lignes"]
    mapping = {"Phase 1 - idée": "Dynamique identifiée", "Phase 2 - association": "3",
               "Phase 3 - contrat": "ACI signé"}
    checked = validate_registry(listing, stages=mapping)
    assert checked.cpts["stage"].astype(str).tolist() == ["ACI signé", "Dynamique identifiée", "Association créée"]
    assert checked.cpts["published_stage"].astype(str).tolist() == ["Phase 3 - contrat", "Phase 1 - idée",
                                                                     "Association creee"]
    # the vocabulary is the user's (three steps) with the guide's word used
    assert checked.vocabulary["present"].tolist() == [True, False, True, True]
    with pytest.raises(ValidationError) as bad:
        stage_mapping(pd.DataFrame({"publiée": ["x", "y", "x"], "étape": ["6", "", "ACI signé"]}))
    assert bad.value.problems["row"].tolist() == [2, 3]


def test_closest_stage_is_suggested_never_applied():
    from cpts_geo.domain.stages import map_stages

    with pytest.raises(ValidationError) as err:
        map_stages(["en fonctionement", "ACI signé"])
    assert err.value.problems["problem"].iat[0] == (
        "étape « en fonctionement » non reconnue (vouliez-vous dire « ACI signé » ?)")


def test_legend_lists_only_the_stages_present():
    from cpts_geo.domain.stages import legend_stages

    assert legend_stages(["ACI signé", "ACI signé"]) == ["ACI signé"]
    assert legend_stages([NOT_GIVEN]) == [NOT_GIVEN]
