"""ACI funding of a CPTS: annual amounts by mission, fixed and variable parts.

The amounts are those of the *accord conventionnel interprofessionnel* (ACI) as amended by
Avenant 2, tabulated in fiche 16 of the URPS Hauts-de-France guide. They live here, in
:data:`ACI_TABLE`, and nowhere else.

- Operating budget (fonctionnement): a flat yearly amount.
- Missions: access to care, care pathways, prevention (core, "socle"); response to serious
  health crises (core); quality and relevance of care, support to professionals (optional).
  Each has a fixed part (means) and a variable part (actions and results).
- Crisis mission: its fixed part is higher the year the crisis plan is first written
  (``year="first"``) than the following years when it is updated (``year="later"``); its
  variable part is paid only if a serious health crisis occurs (``crisis=True``).
- Tier 4 CPTS with at least 100 members: +10 % on every mission (core or optional), not on
  the operating budget.
- Early-mission contract (a CPTS in structuring that commits to file its health project and
  join the ACI within 9 months): a flat aid, :func:`early_mission_aid`.

The guide's totals (287 500, 382 500, 487 500, 580 000 €) are the *maximum possible*: first
year of the crisis plan, a crisis occurring, both optional missions, no increase.

Note on one figure: one table of the guide prints 150 000 € for the tier-4 access-to-care
mission, but its parts (110 000 + 45 000) and the guide's other table give 155 000 €, and
only 155 000 € reproduces the tier-4 total of 580 000 €: 155 000 € is used.

>>> int(aci_funding(1).loc["Total", "Total"])
287500
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

__all__ = [
    "ACI_SOURCE",
    "ACI_TABLE",
    "MAXIMA_NOTE",
    "MISSIONS",
    "ACIFunding",
    "aci_funding",
    "aci_funding_report",
    "early_mission_aid",
    "funding_table",
    "funding_workbook",
]

#: Where the amounts of :data:`ACI_TABLE` come from (to cite with every amount shown).
ACI_SOURCE = "ACI CPTS (Avenant 2), fiche 16 du guide URPS Hauts-de-France"


#: Missions: key → (French label, kind). Kind is "fonctionnement", "socle" or "optionnelle".
MISSIONS = {
    "operating": ("Fonctionnement de la communauté professionnelle", "fonctionnement"),
    "access": ("Mission accès aux soins (socle)", "socle"),
    "pathways": ("Mission parcours pluriprofessionnels (socle)", "socle"),
    "prevention": ("Mission prévention (socle)", "socle"),
    "crisis": ("Mission crises sanitaires graves (socle)", "socle"),
    "quality": ("Qualité et pertinence des soins (optionnelle)", "optionnelle"),
    "support": ("Accompagnement des professionnels de santé (optionnelle)", "optionnelle"),
}


#: Annual amounts in euros by (mission, part) and tier 1–4 (fiche 16, Avenant 2).
#: Parts: ``fixed`` (means), ``fixed_update`` (crisis plan, years after its first writing),
#: ``variable`` (actions and results; for the crisis mission: if a crisis occurs).
ACI_TABLE = pd.DataFrame(
    [
        ("operating", "fixed", 50_000, 60_000, 75_000, 90_000),
        ("access", "fixed", 55_000, 70_000, 90_000, 110_000),
        ("access", "variable", 25_000, 30_000, 35_000, 45_000),
        ("pathways", "fixed", 25_000, 35_000, 45_000, 50_000),
        ("pathways", "variable", 25_000, 35_000, 45_000, 50_000),
        ("prevention", "fixed", 10_000, 15_000, 17_500, 20_000),
        ("prevention", "variable", 10_000, 15_000, 17_500, 20_000),
        ("crisis", "fixed", 25_000, 35_000, 45_000, 50_000),
        ("crisis", "fixed_update", 12_500, 17_500, 22_500, 25_000),
        ("crisis", "variable", 37_500, 52_500, 67_500, 75_000),
        ("quality", "fixed", 7_500, 10_000, 15_000, 20_000),
        ("quality", "variable", 7_500, 10_000, 15_000, 20_000),
        ("support", "fixed", 5_000, 7_500, 10_000, 15_000),
        ("support", "variable", 5_000, 7_500, 10_000, 15_000),
    ],
    columns=["mission", "part", 1, 2, 3, 4],
).set_index(["mission", "part"])


_EARLY_MISSION_AID = {1: 15_000, 2: 17_500, 3: 25_000, 4: 30_000}


_INCREASE = 0.10


_INCREASE_MEMBERS = 100


_COLUMNS = ["Mission", "Volet fixe (moyens)", "Volet variable (actions et résultats)", "Total"]



def _check_tier(tier: float) -> int:
    try:
        value = int(tier)
    except (TypeError, ValueError):
        value = None
    if value not in (1, 2, 3, 4) or (isinstance(tier, float) and not float(tier).is_integer()):
        raise ValueError(f"Taille de CPTS invalide : {tier!r}. Valeurs possibles : 1, 2, 3, 4 "
                         "(voir cpts_geo.domain.tiers.tier_of pour la déduire de la population).")
    return value



def aci_funding(
    tier: int,
    *,
    members: int | None = None,
    year: str = "first",
    crisis: bool = True,
    optional_missions: bool = True,
) -> pd.DataFrame:
    """Annual ACI amounts of a CPTS of a given tier, per mission, ready to paste in a budget.

    Parameters
    ----------
    tier : {1, 2, 3, 4}
        Size tier (:func:`cpts_geo.domain.tiers.tier_of`).
    members : int, optional
        Number of members; a tier-4 CPTS with at least 100 gets +10 % on every mission.
    year : {"first", "later"}, default "first"
        Year of the first writing of the crisis plan, or a later year (plan updated).
    crisis : bool, default True
        Whether a serious health crisis occurs (pays the crisis mission's variable part).
    optional_missions : bool, default True
        Include the two optional missions (quality, support to professionals).

    Returns
    -------
    pandas.DataFrame
        One row per mission (French labels), an increase row when it applies, and a
        ``Total`` row; columns ``Volet fixe (moyens)``, ``Volet variable (actions et
        résultats)``, ``Total`` in euros (the ``table`` of :func:`aci_funding_report`, which
        also records the parameters and whether the increase applies).

    Examples
    --------
    >>> t = aci_funding(4, members=120)
    >>> float(t.loc["Total", "Total"]), float(t.loc["Majoration 10 % (taille 4, au moins 100 membres)", "Total"])
    (629000.0, 49000.0)
    >>> float(aci_funding(2, year="later", crisis=False, optional_missions=False).loc["Total", "Total"])
    277500.0
    """
    return aci_funding_report(tier, members=members, year=year, crisis=crisis,
                              optional_missions=optional_missions).table



class ACIFunding(NamedTuple):
    """The ACI amounts of one CPTS (:func:`aci_funding_report`) with what they assume."""

    #: One row per mission, the increase row when it applies, a ``Total`` row (euros).
    table: pd.DataFrame
    #: Size tier 1–4.
    tier: int
    #: Number of members given (``None``: not given, no increase).
    members: int | None
    #: ``"first"`` (first writing of the crisis plan) or ``"later"``.
    year: str
    #: Whether a serious health crisis occurs (crisis mission's variable part paid).
    crisis: bool
    #: Whether the two optional missions are included.
    optional_missions: bool
    #: Whether the +10 % of a tier-4 CPTS with at least 100 members applies.
    increase: bool
    #: :data:`ACI_SOURCE`.
    source: str = ACI_SOURCE



def aci_funding_report(
    tier: int,
    *,
    members: int | None = None,
    year: str = "first",
    crisis: bool = True,
    optional_missions: bool = True,
) -> ACIFunding:
    """The table of :func:`aci_funding` with its parameters, the increase and the source.

    Parameters
    ----------
    tier, members, year, crisis, optional_missions
        As in :func:`aci_funding`.

    Returns
    -------
    ACIFunding

    Examples
    --------
    >>> f = aci_funding_report(4, members=120)
    >>> f.increase, float(f.table.loc["Total", "Total"]), f.source == ACI_SOURCE
    (True, 629000.0, True)
    """
    tier = _check_tier(tier)
    if year not in ("first", "later"):
        raise ValueError(f"year doit valoir 'first' (1re rédaction du plan de crise) ou 'later', "
                         f"pas {year!r}.")
    if members is not None and (not float(members).is_integer() or members < 0):
        raise ValueError(f"Nombre de membres invalide : {members!r} (entier positif attendu).")
    amounts = ACI_TABLE[tier]
    rows = []
    for key, (label, kind) in MISSIONS.items():
        if kind == "optionnelle" and not optional_missions:
            continue
        fixed_part = "fixed_update" if key == "crisis" and year == "later" else "fixed"
        fixed = float(amounts.get((key, fixed_part), 0.0))
        variable = float(amounts.get((key, "variable"), 0.0))
        if key == "crisis" and not crisis:
            variable = 0.0
        rows.append((label, fixed, variable, kind))
    table = pd.DataFrame(rows, columns=[*_COLUMNS[:3], "kind"])
    increase = tier == 4 and members is not None and members >= _INCREASE_MEMBERS
    if increase:
        missions = table[table["kind"] != "fonctionnement"]
        table.loc[len(table)] = ("Majoration 10 % (taille 4, au moins 100 membres)",
                                 round(missions[_COLUMNS[1]].sum() * _INCREASE, 2),
                                 round(missions[_COLUMNS[2]].sum() * _INCREASE, 2), "majoration")
    table["Total"] = table[_COLUMNS[1]] + table[_COLUMNS[2]]
    table = table.drop(columns="kind").set_index("Mission")
    table.loc["Total"] = table.sum()
    return ACIFunding(table, tier, None if members is None else int(members), year, bool(crisis),
                      bool(optional_missions), bool(increase))



def early_mission_aid(tier: int) -> int:
    """Flat aid of the early-mission contract (contrat de mission précoce), in euros.

    Parameters
    ----------
    tier : int
        The size tier, 1 to 4 (:func:`cpts_geo.domain.tiers.size_tier`).

    Returns
    -------
    int
        The aid, in euros.

    Examples
    --------
    >>> [early_mission_aid(t) for t in (1, 2, 3, 4)]
    [15000, 17500, 25000, 30000]
    """
    return _EARLY_MISSION_AID[_check_tier(tier)]



def funding_table(
    territories: pd.DataFrame,
    *,
    members: str | pd.Series | None = None,
    year: str = "first",
    crisis: bool = True,
    optional_missions: bool = True,
) -> pd.DataFrame:
    """ACI amounts of many CPTS: one row per CPTS, French headers.

    Parameters
    ----------
    territories : DataFrame
        Indexed by CPTS id with ``tier`` (and ``name``, ``stage``, ``population`` if present),
        e.g. the output of :func:`cpts_geo.domain.territories.build_territories`.
    members : column name or Series, optional
        Number of members of each CPTS (for the tier-4 increase).

    Returns
    -------
    pandas.DataFrame
        ``Nom``, ``Étape``, ``Taille``, ``Population municipale AAAA`` (the population
        vintage of ``territories``; ``Population`` when it is not known), then ``Fonctionnement``, ``Missions
        socle``, ``Missions optionnelles``, ``Majoration``, ``Total annuel`` and
        ``Aide mission précoce`` in euros. CPTS without a tier (population missing) get
        empty amounts, never a guess.

    Examples
    --------
    >>> t = pd.DataFrame({"tier": [1, 4]}, index=pd.Index(["A", "B"], name="cpts_id"))
    >>> funding_table(t)["Total annuel"].tolist()
    [287500.0, 580000.0]
    """
    import numpy as np

    counts: pd.Series | None = territories[members] if isinstance(members, str) else members
    ids = territories.index

    def given(column: str) -> list:
        return territories[column].tolist() if column in territories else [pd.NA] * len(ids)

    out = pd.DataFrame({"Identifiant CPTS": ids.tolist(), "Nom": given("name"), "Étape": given("stage"),
                        "Taille": given("tier"), "Population": given("population")})
    tier = (pd.to_numeric(territories["tier"], errors="coerce") if "tier" in territories
            else pd.Series(np.nan, index=ids)).to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(tier)
    many = np.zeros(len(ids), dtype=bool)  # at least the members of the increase (tier 4 only)
    if counts is not None:
        n = pd.to_numeric(counts.reindex(ids), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        many = (tier == 4) & (n >= _INCREASE_MEMBERS)
    # the amounts depend only on the tier and on whether the increase applies: at most five
    # tables, however many CPTS
    key = np.where(known, np.nan_to_num(tier) * 2 + many, -1).astype(np.int64)
    amounts = ["Fonctionnement", "Missions socle", "Missions optionnelles", "Majoration", "Total annuel",
               "Aide mission précoce"]
    values = np.full((len(ids), len(amounts)), np.nan)
    for k in np.unique(key[known]):
        t_k = int(k) // 2
        total = aci_funding(t_k, members=_INCREASE_MEMBERS if k % 2 else None, year=year,
                            crisis=crisis, optional_missions=optional_missions)["Total"]
        kinds = {MISSIONS[m][0]: MISSIONS[m][1] for m in MISSIONS}
        values[key == k] = [
            total.get(MISSIONS["operating"][0], 0.0),
            sum(v for m, v in total.items() if kinds.get(m) == "socle"),
            sum(v for m, v in total.items() if kinds.get(m) == "optionnelle"),
            total.get("Majoration 10 % (taille 4, au moins 100 membres)", 0.0),
            total["Total"],
            float(early_mission_aid(t_k)),
        ]
    for j, column in enumerate(amounts):
        out[column] = values[:, j]
    out = out.set_index("Identifiant CPTS")
    from cpts_geo.domain.metadata import layer_metadata

    vintage = layer_metadata(territories).population_vintage
    if vintage:  # tiers depend on the population vintage: say which one
        out = out.rename(columns={"Population": f"Population municipale {vintage}"})
    return out


#: The note a funding table carries for the people who budget with it.
MAXIMA_NOTE = ("Montants annuels maximaux de l'ACI (avenant 2) : le versement dépend des missions engagées et des "
               "objectifs atteints.")


def funding_workbook(table: pd.DataFrame) -> pd.DataFrame:
    """A funding table as a finance officer reads it: a total row, and the note that amounts are maxima.

    Parameters
    ----------
    table : DataFrame
        :func:`funding_table`.

    Returns
    -------
    DataFrame
        ``table``, then a row « Total » (the sum of each amount column, the number of CPTS in
        « Nom ») and a row « Remarque » holding :data:`MAXIMA_NOTE` (the population vintage is in
        the population header).

    Examples
    --------
    >>> t = funding_table(pd.DataFrame({"tier": [1, 4]}, index=pd.Index(["A", "B"], name="cpts_id")))
    >>> book = funding_workbook(t)
    >>> book.loc["Total", "Total annuel"], book.index[-1]
    (np.float64(867500.0), 'Remarque')
    """
    amounts = [c for c in ("Fonctionnement", "Missions socle", "Missions optionnelles", "Majoration",
                           "Total annuel", "Aide mission précoce") if c in table.columns]
    total = pd.DataFrame({c: [table[c].sum()] for c in amounts}, index=pd.Index(["Total"]))
    total["Nom"] = f"{len(table)} CPTS (montants maximaux)"
    note = pd.DataFrame({"Nom": [MAXIMA_NOTE]}, index=pd.Index(["Remarque"]))
    out = pd.concat([table, total, note])
    out.index.name = table.index.name
    return out[table.columns]
