"""The published DREES APL on a registry's units, aggregated over CPTS, departments, regions and France.

DREES' rule for a territory: the mean of its communes' APL weighted by their standardised
population, and the share of its population below a threshold (2,5 consultations per inhabitant
per year for GPs) counted with the total population (:func:`aggregate_apl`, through
:func:`cpts_geo.indicators.accessibility.territory_accessibility`, the one owner of the rule).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["aggregate_apl", "apl_on_units"]


def apl_on_units(france: pd.DataFrame, membership: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both DREES APL years on the layer's units: (long APL table, unmatched codes report).

    Each APL row keeps its DREES code and gets the commune of the layer it falls in
    (:func:`cpts_geo.domain.history.remap_codes`, arrondissements to their city unless the registry uses
    arrondissements), with its department and region.

    Parameters
    ----------
    france : DataFrame
        The commune layer the codes are mapped to (index: code; ``department``, ``region``).
    membership : DataFrame
        A validated membership (``code``, ``cpts_id``, ``share``): codes it uses by
        arrondissement keep their arrondissement.

    Returns
    -------
    tuple of DataFrame
        The APL rows of every year (index ``apl_code``; ``year``, ``key`` — the unit of the layer —,
        ``apl``, ``pop_standardised``, ``population``, ``department``, ``region``…), and the DREES
        codes matched to no commune (``code``, ``name``, ``reason``, ``year``).
    """
    from cpts_geo.data.apl import APL_YEARS, COG_VINTAGE, load_apl
    from cpts_geo.domain.history import remap_codes

    used = set(membership["code"])
    frames, unmatched = [], []
    for year in APL_YEARS:
        apl = load_apl(year)
        # the DREES codes are of the COG of the APL year: INSEE's code history (embedded) maps them
        city, report = remap_codes(pd.Series(apl.index), communes=france, plm="city", cog=COG_VINTAGE[year])
        key = pd.Series(np.where(pd.Index(apl.index, dtype=object).isin(used), apl.index, city.astype(object)),
                        index=apl.index, dtype="string")
        key[city.isna().to_numpy()] = pd.NA
        frame = apl.assign(year=year, key=key.to_numpy(), layer_code=city.to_numpy())
        frame["department"] = frame["layer_code"].map(france["department"]).astype("string")
        frame["region"] = frame["layer_code"].map(france["region"]).astype("string")
        frames.append(frame)
        bad = report[report["new_code"].isna()]
        if len(bad):
            unmatched.append(bad.assign(year=year))
    table = pd.concat(frames)
    table.index.name = "apl_code"
    un = pd.concat(unmatched, ignore_index=True) if unmatched else pd.DataFrame(
        columns=["code", "name", "reason", "year"])
    return table, un



def aggregate_apl(apl: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """DREES aggregation of each APL year for every CPTS, department, region and France.

    One call of :func:`cpts_geo.indicators.accessibility.territory_accessibility` per year, over the
    units ``cpts_id``, ``dep:<code>``, ``reg:<code>`` and ``France``.

    Parameters
    ----------
    apl : DataFrame
        The table of :func:`apl_on_units`.
    membership : DataFrame
        The validated membership (``code``, ``cpts_id``, ``share``).

    Returns
    -------
    DataFrame
        Indexed by (``cpts_id``, ``year``), with the columns of
        :func:`cpts_geo.indicators.accessibility.territory_accessibility`.
    """
    from cpts_geo.data.apl import UNDERSERVED_THRESHOLD
    from cpts_geo.indicators.accessibility import territory_accessibility

    parts = []
    for year, t in apl.groupby("year"):
        t = t.reset_index()
        t["uid"] = t["apl_code"] + "@" + str(year)
        mem = membership[["code", "cpts_id", "share"]].merge(
            t[["key", "uid"]], left_on="code", right_on="key")[["uid", "cpts_id", "share"]]
        ref = [t[["uid"]].assign(cpts_id="dep:" + t["department"].astype(str), share=1.0),
               t[["uid"]].assign(cpts_id="reg:" + t["region"].astype(str), share=1.0),
               t[["uid"]].assign(cpts_id="France", share=1.0)]
        ref = [r[~r["cpts_id"].str.endswith("<NA>")] for r in ref]
        m = pd.concat([mem, *ref], ignore_index=True).rename(columns={"uid": "code"})
        values = t.set_index("uid")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agg = territory_accessibility(values["apl"], m, weights=values["pop_standardised"],
                                          population=values["population"],
                                          threshold=UNDERSERVED_THRESHOLD).table
        parts.append(agg.assign(year=year))
    return pd.concat(parts).reset_index().set_index(["cpts_id", "year"])
