"""Project stages of a CPTS, in order, with their colours.

The five stages follow the life of a CPTS project (URPS Hauts-de-France guide): a dynamic is
identified, the letter of intent is validated by the ARS, the association is created, the
health project is validated (the CPTS is then *recognised*), the ACI contract is signed
(the CPTS is funded).

>>> parse_stages(["aci signe", "3", "Lettre d’intention validée"]).tolist()
['ACI signé', 'Association créée', "Lettre d'intention validée"]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pandas as pd

from cpts_geo.domain.french import fold
from cpts_geo.errors import ValidationError

__all__ = [
    "NOT_GIVEN",
    "RECOGNISED",
    "STAGES",
    "STAGE_COLORS",
    "STAGE_DTYPE",
    "legend_stages",
    "parse_stages",
]

#: The five stages, in order.
STAGES = (
    "Dynamique identifiée",
    "Lettre d'intention validée",
    "Association créée",
    "Projet de santé validé",
    "ACI signé",
)


#: The stage of a CPTS whose registry gives none (real ARS listings often carry no stage):
#: an explicit value, shown on maps and counted in coverage, never a guess. It is not a
#: project stage: it sorts before the first one and is never *recognised*.
NOT_GIVEN = "Étape non renseignée"


#: Ordered categorical dtype of stages (``<``, ``max`` and sorting follow the stage order),
#: :data:`NOT_GIVEN` first.
STAGE_DTYPE = pd.CategoricalDtype([NOT_GIVEN, *STAGES], ordered=True)


#: Stages at which a CPTS is recognised by the ARS (health project validated).
RECOGNISED = STAGES[3:]


#: Colour of each stage: ColorBrewer "YlGnBu" (5 classes), a sequential palette that is
#: colour-blind safe and prints in grey levels; light for the first stage, dark for "ACI signé".
#: :data:`NOT_GIVEN` is an orange outside that ramp, distinct from the zone-blanche grey
#: (``#d9d9d9``); the keys are in :data:`STAGE_DTYPE` order (legends follow it).
STAGE_COLORS = {NOT_GIVEN: "#f4a259",
                **dict(zip(STAGES, ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]))}



def legend_stages(values: Iterable) -> list[str]:
    """The stages a legend lists for ``values``: the five stages, and :data:`NOT_GIVEN` first
    when some CPTS have no stage.

    Parameters
    ----------
    values : iterable
        The stages of the CPTS shown.

    Returns
    -------
    list of str
        The stages in legend order.

    Examples
    --------
    >>> legend_stages(["ACI signé"])[0], legend_stages([NOT_GIVEN, "ACI signé"])[0]
    ('Dynamique identifiée', 'Étape non renseignée')
    """
    present = NOT_GIVEN in {str(v) for v in values}
    return [NOT_GIVEN, *STAGES] if present else list(STAGES)


_LOOKUP = {fold(s): s for s in STAGES}


_LOOKUP.update({str(i): s for i, s in enumerate(STAGES, start=1)})



def parse_stages(values: Iterable) -> pd.Series:
    """Read project stages as typed by users.

    Case, accents, spaces, apostrophes (’ or ') and the numbers 1–5 are accepted; anything
    else is rejected, with every bad row listed, the allowed values and the closest one as a
    suggestion (never applied).

    Parameters
    ----------
    values : iterable
        Stages as given; row numbers in errors are 1-based positions in ``values``.

    Returns
    -------
    pandas.Series
        Of dtype :data:`STAGE_DTYPE`, aligned with ``values``; empty cells stay ``<NA>``.

    Examples
    --------
    >>> parse_stages(["Association creee", "Asociation créée"])
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Étape(s) de projet non reconnue(s) ; valeurs possibles : ...
      - ligne 2 : étape « Asociation créée » non reconnue (vouliez-vous dire « Association créée » ?)...
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    out: list[str | None] = []
    problems: list[dict] = []
    items = series.tolist()
    uniq = pd.unique(pd.Series(items, dtype=object).map(
        lambda v: v if isinstance(v, str) else None).dropna())
    known = {v: _LOOKUP[fold(v)] for v in uniq if fold(v) in _LOOKUP}
    if len(known) == len(items) or all(v in known for v in items):
        return pd.Series([known[v] for v in items], index=series.index, dtype=STAGE_DTYPE,
                         name=series.name)
    for pos, value in enumerate(items, start=1):
        if value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == "":
            out.append(None)
            continue
        text = str(value)
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        key = fold(text)
        if key in _LOOKUP:
            out.append(_LOOKUP[key])
            continue
        close = difflib.get_close_matches(key, [fold(s) for s in STAGES], n=1, cutoff=0.6)
        hint = f" (vouliez-vous dire « {_LOOKUP[close[0]]} » ?)" if close else ""
        problems.append({"row": pos, "code": pd.NA,
                         "problem": f"étape « {value} » non reconnue{hint}"})
        out.append(None)
    if problems:
        raise ValidationError(
            "Étape(s) de projet non reconnue(s) ; valeurs possibles : "
            + " ; ".join(f"{i} = {s}" for i, s in enumerate(STAGES, start=1)), problems)
    return pd.Series(out, index=series.index, dtype=STAGE_DTYPE, name=series.name)
