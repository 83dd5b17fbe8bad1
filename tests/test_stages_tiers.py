"""Project stages and size tiers."""

from __future__ import annotations

import pandas as pd
import pytest

from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.stages import NOT_GIVEN, RECOGNISED, STAGE_COLORS, STAGE_DTYPE, STAGES, parse_stages
from cpts_geo.domain.tiers import TIER_LABELS, tier_of
from cpts_geo.errors import ValidationError


@pytest.mark.parametrize("given,expected", [
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
    assert s.dtype == STAGE_DTYPE and s.isna().iat[2]
    assert s.max() == "ACI signé" and s.min() == "Dynamique identifiée"
    assert list(STAGE_COLORS) == list(STAGE_DTYPE.categories) == [NOT_GIVEN, *STAGES]
    assert len(set(STAGE_COLORS.values())) == 6


def test_stage_not_given_is_explicit_and_distinct_from_zones_blanches():
    from cpts_geo.render.maps import UNCOVERED_COLOR

    assert NOT_GIVEN == "Étape non renseignée"
    assert STAGE_COLORS[NOT_GIVEN].lower() not in {UNCOVERED_COLOR.lower(), "#d9d9d9"}
    assert NOT_GIVEN not in RECOGNISED and NOT_GIVEN not in STAGES
    s = pd.Series([NOT_GIVEN, "Dynamique identifiée"], dtype=STAGE_DTYPE)
    assert s.min() == NOT_GIVEN


def test_tier_boundaries():
    pops = [39_999, 40_000, 79_999, 80_000, 175_000, 175_001, None, 0]
    assert tier_of(pops).tolist() == [1, 2, 2, 3, 3, 4, pd.NA, 1]
    assert layer_metadata(tier_of(pd.Series([80_000.0]), vintage=2016)).population_vintage == 2016
    assert set(TIER_LABELS) == {1, 2, 3, 4}
    with pytest.raises(ValueError, match="négative"):
        tier_of([-1])
