"""Patient-flow readers, indicators, coherence flags, secrecy and map layers."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpts_geo.domain.codes import CODE_DTYPE
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators import flows as F
from cpts_geo.io import flows as flows_io
from cpts_geo.io.history import read_passage_table

# --------------------------------------------------------------------------- readers


def test_read_csv_french_headers_and_thousands(tmp_path):
    path = tmp_path / "flux.csv"
    path.write_text(
        "Commune de résidence;Commune de soins;Nombre de patients;Profession;Année\n"
        "61001;61001;1 234;médecin généraliste;2023\n"
        "1001;61001;12,5;infirmier;2023\n"
        "61001 ;14118;\u00a0987\u00a0654;médecin généraliste;2023\n",
        encoding="utf-8",
    )
    with pytest.warns(UserWarning, match="code\\(s\\) commune réparé"):
        read = flows_io.read_flows(path)
    table = read.flows
    assert table["row"].tolist() == [2, 3, 4]
    assert table["origin"].tolist() == ["61001", "01001", "61001"]
    assert table["volume"].tolist() == [1234.0, 12.5, 987654.0]
    assert table["profession"].tolist()[1] == "infirmier"
    report = read.code_report
    assert report["row"].tolist() == [3, 4]


def test_read_xlsx_and_parquet(tmp_path):
    frame = pd.DataFrame({"origine": ["61001", "61143"], "destination": ["61001", "61001"],
                          "actes": [10, 20]})
    frame.to_excel(tmp_path / "flux.xlsx", index=False)
    frame.to_parquet(tmp_path / "flux.parquet")
    xlsx = flows_io.read_flows(tmp_path / "flux.xlsx").flows
    parquet = flows_io.read_flows(tmp_path / "flux.parquet").flows
    assert xlsx["volume"].tolist() == parquet["volume"].tolist() == [10.0, 20.0]
    assert xlsx["row"].tolist() == [2, 3]
    assert parquet["row"].tolist() == [1, 2]


def test_read_flows_gathers_every_bad_row(tmp_path):
    path = tmp_path / "flux.csv"
    path.write_text("origine,destination,volume\n"
                    "61001,61001,-3\n"
                    "61001,61001,abc\n"
                    ",61001,4\n"
                    "61001,61001,\n"
                    "61001,61001,5\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="lignes invalides") as err:
        flows_io.read_flows(path)
    problems = err.value.problems
    assert problems["row"].tolist() == [2, 3, 4, 5]
    text = str(err.value)
    assert "ligne 2 : volume négatif" in text
    assert "ligne 3 : volume non numérique : 'abc'" in text
    assert "ligne 4 : code commune vide (origine)" in text
    assert "ligne 5 : volume vide" in text


def test_read_flows_empty_and_missing_columns():
    with pytest.raises(ValidationError, match="table de flux est vide"):
        flows_io.read_flows(pd.DataFrame({"origine": [], "destination": [], "volume": []}))
    with pytest.raises(ValidationError, match="colonne\\(s\\) volume introuvable"):
        flows_io.read_flows(pd.DataFrame({"origine": ["61001"], "destination": ["61001"]}))
    table = flows_io.read_flows(pd.DataFrame({"a": ["61001"], "b": ["61001"], "c": [3]}),
                         columns={"a": "origin", "b": "destination", "c": "volume"}).flows
    assert table["volume"].tolist() == [3.0]
    with pytest.raises(ValueError, match="n'est pas une colonne de flux"):
        flows_io.read_flows(pd.DataFrame({"a": ["61001"]}), columns={"a": "origine"})


def test_read_mobpro_sums_records():
    records = pd.DataFrame({"COMMUNE": ["61001", "61001", "61143"], "DCLT": ["61001", "61001", "61001"],
                            "IPONDI": ["1,5", "2", "4"], "CS1": ["3", "5", "3"]})
    read = flows_io.read_mobpro(records)
    out = read.flows
    assert out[["origin", "destination", "volume"]].values.tolist() == [
        ["61001", "61001", 3.5], ["61143", "61001", 4.0]]
    assert read.records == 3
    by_cs = flows_io.read_mobpro(records, by=["CS1"]).flows
    assert len(by_cs) == 3
    assert "profession" in by_cs.columns
    with pytest.raises(ValidationError, match="colonne\\(s\\) DCLT absente"):
        flows_io.read_mobpro(records.drop(columns="DCLT"))


# --------------------------------------------------------------------------- prepare


def test_prepare_remaps_both_ends_and_reports_unknown_with_volume():
    table = pd.DataFrame({"origin": ["05120", "05001", "99999", "05001", "59350"],
                          "destination": ["05001", "05001", "05001", "75112", "59350"],
                          "volume": [3.0, 4.0, 5.0, 1.0, 2.0]})
    with pytest.warns(UserWarning, match="1 code\\(s\\) commune non reconnu\\(s\\) \\(volume 5\\)"):
        out, report = F.prepare_flows(table)
    assert out["volume"].sum() == table["volume"].sum()  # nothing lost
    assert out.values.tolist() == [["05001", "05001", 7.0], ["05001", "75056", 1.0],
                                   ["59350", "59350", 2.0], ["99999", "05001", 5.0]]
    rec = report.set_index("code")
    assert rec.loc["05120", "reason"] == "commune déléguée"
    assert rec.loc["05120", "end"] == "origine"
    assert rec.loc["75112", "end"] == "destination"
    assert rec.loc["99999", "reason"] == "code inconnu"
    assert rec.loc["99999", "volume"] == 5.0
    assert rec.loc["99999", "row"] == 3
    with pytest.raises(ValidationError, match="Codes commune inconnus") as err:
        F.prepare_flows(table, unknown="raise")
    assert err.value.problems["row"].tolist() == [3]


def test_prepare_keeps_arrondissements_when_asked():
    table = pd.DataFrame({"origin": ["75112"], "destination": ["75056"], "volume": [1.0]})
    out, report = F.prepare_flows(table, plm="keep")
    assert out.values.tolist() == [["75112", "75056", 1.0]]
    assert report.empty


def test_prepare_sums_duplicated_pairs_with_warning():
    table = pd.DataFrame({"row": [2, 3, 4], "origin": ["61001", "61001", "61143"],
                          "destination": ["61143", "61143", "61001"], "volume": [1.0, 2.0, 3.0]})
    with pytest.warns(UserWarning, match="lignes 2, 3\\) : leurs volumes sont additionnés"):
        out, _ = F.prepare_flows(table)
    assert out.values.tolist() == [["61001", "61143", 3.0], ["61143", "61001", 3.0]]


def test_prepare_empty_table():
    with pytest.raises(ValidationError, match="vide"):
        F.prepare_flows(pd.DataFrame({"origin": [], "destination": [], "volume": []}))


# --------------------------------------------------------------------------- indicators

FLOWS = pd.DataFrame({
    "origin":      ["a", "a", "a", "b", "b", "c", "c", "d", "z"],
    "destination": ["a", "b", "c", "b", "d", "c", "a", "d", "a"],
    "volume":      [50., 30., 20., 60., 40., 70., 30., 10., 5.],
})
MEMBERS = pd.DataFrame({"code": ["a", "b", "c"], "cpts_id": ["X", "X", "Y"], "share": 1.0})


def test_indicators_closed_form():
    ind = F.cpts_flow_indicators(FLOWS, MEMBERS)
    x, y = ind.loc["X"], ind.loc["Y"]
    # X = {a, b}: residents 100 + 100, inside 50 + 30 + 60 = 140
    assert x["resident_volume"] == 200
    assert x["inside_volume"] == 140
    assert x["retention"] == pytest.approx(0.7)
    assert x["leakage"] == pytest.approx(0.3)
    # delivered in X: a←a 50, a←c 30, a←z 5, b←a 30, b←b 60 = 175; 35 to non-residents
    assert x["delivered_volume"] == 175
    assert x["attraction"] == pytest.approx(35 / 175)
    assert x["self_containment"] == pytest.approx(min(140 / 200, 140 / 175))
    assert y["retention"] == pytest.approx(0.7)
    assert y["attraction"] == pytest.approx(20 / 90)
    assert ind.index.tolist() == ["X", "Y"]
    assert ind["n_communes"].tolist() == [2, 1]


def test_indicators_split_commune_by_share():
    members = pd.DataFrame({"code": ["a", "a"], "cpts_id": ["X", "Y"], "share": [0.5, 0.5]})
    flows = pd.DataFrame({"origin": ["a", "a"], "destination": ["a", "b"], "volume": [100., 40.]})
    ind = F.cpts_flow_indicators(flows, members)
    # a→a: a quarter inside each half; a→b: leaves both halves
    assert ind["resident_volume"].tolist() == [70.0, 70.0]
    assert ind["inside_volume"].tolist() == [25.0, 25.0]
    matrix = F.flow_matrix(flows, members)
    assert matrix["volume"].sum() == pytest.approx(140)
    # an uncovered remainder of a partly declared commune stays outside
    partial = F.cpts_flow_indicators(flows, members.iloc[[0]])
    assert partial.loc["X", "resident_volume"] == 70.0


def test_membership_checked():
    bad = pd.DataFrame({"code": ["a", "a", "b"], "cpts_id": ["X", "Y", "X"], "share": [0.8, 0.5, 1.5]})
    with pytest.raises(ValidationError, match="Table d'appartenance invalide") as err:
        F.cpts_flow_indicators(FLOWS, bad)
    assert set(err.value.problems["code"]) == {"a", "b"}


def test_flows_outside_region_count_as_leakage():
    flows = pd.DataFrame({"origin": ["61001", "61001", "75056"], "destination": ["61001", "75056", "75056"],
                          "volume": [90., 10., 1000.]})
    members = pd.DataFrame({"code": ["61001"], "cpts_id": ["A"]})
    ind = F.cpts_flow_indicators(flows, members)
    assert ind.loc["A", "leakage"] == pytest.approx(0.1)
    top = F.leakage_destinations(flows, members)
    assert top[["destination", "kind", "share"]].values.tolist() == [["75056", "commune hors CPTS", 0.1]]


codes = st.sampled_from(list("abcdefg"))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(codes, codes, st.floats(0, 1e6)), min_size=1, max_size=40),
    assign=st.dictionaries(codes, st.sampled_from(["X", "Y", "Z"]), min_size=1),
    split=st.booleans(),
)
def test_properties(rows, assign, split):
    flows = pd.DataFrame(rows, columns=["origin", "destination", "volume"])
    members = pd.DataFrame({"code": list(assign), "cpts_id": list(assign.values()), "share": 1.0})
    if split:  # declare the first commune split in two
        first = members.iloc[0]
        other = "W" if first["cpts_id"] != "W" else "V"
        members = pd.concat([members, pd.DataFrame({"code": [first["code"]], "cpts_id": [other],
                                                    "share": [0.3]})], ignore_index=True)
        members.loc[0, "share"] = 0.6
    ind = F.cpts_flow_indicators(flows, members)
    ok = ind["resident_volume"] > 0
    np.testing.assert_allclose((ind["retention"] + ind["leakage"])[ok], 1.0)
    assert (ind["self_containment"][ok] <= ind["retention"][ok] + 1e-12).all()
    matrix = F.flow_matrix(flows, members)
    total = flows["volume"].sum()
    inside = matrix.loc[matrix["origin_cpts"] == matrix["destination_cpts"], "volume"]
    cross = matrix.loc[matrix["origin_cpts"] != matrix["destination_cpts"], "volume"]
    assert inside.sum() + cross.sum() == pytest.approx(total, rel=1e-9, abs=1e-6)
    in_cpts = matrix[(matrix["origin_cpts"] == matrix["destination_cpts"])
                     & (matrix["origin_cpts"] != F.UNCOVERED)]["volume"].sum()
    assert ind["inside_volume"].sum() == pytest.approx(in_cpts, rel=1e-9, abs=1e-6)


def test_leakage_destinations_ranks_cpts_and_communes():
    top = F.leakage_destinations(FLOWS, MEMBERS, n=5)
    x = top[top["cpts_id"] == "X"]
    assert x[["rank", "destination", "kind", "volume"]].values.tolist() == [
        [1, "d", "commune hors CPTS", 40.0], [2, "Y", "CPTS", 20.0]]
    assert x["share_of_leakage"].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert x["share"].tolist() == pytest.approx([0.2, 0.1])
    assert len(F.leakage_destinations(FLOWS, MEMBERS, n=1)) == 2


def test_commune_destinations():
    dest = F.commune_destinations(FLOWS, MEMBERS)
    assert dest.loc["c", "main_destination"] == "Y"
    assert dest.loc["c", "main_share"] == 0.7
    assert dest.loc["b", "own_share"] == pytest.approx(0.6)
    assert dest.loc["d", "main_destination"] == F.UNCOVERED
    assert pd.isna(dest.loc["d", "cpts_id"])
    assert np.isnan(dest.loc["d", "own_share"])
    assert dest.loc["z", "main_destination"] == "X"


def test_coherence_flags_real_borders():
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments="61")
    # Alençon (61001) in A; Damigny (61143) in B but goes to Alençon; Valframbert (61497)
    # uncovered, goes to Alençon; Condé-sur-Sarthe (61117) uncovered without flows.
    flows = pd.DataFrame({"origin": ["61143", "61143", "61497", "61497"],
                          "destination": ["61001", "61143", "61001", "61497"],
                          "volume": [80.0, 20.0, 50.0, 60.0]})
    members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "B"]})
    sub = layer.loc[["61001", "61143", "61497", "61117"]]
    flags = F.coherence_flags(flows, members, sub)
    assert flags.loc["61143", "flag"] == "résidents soignés surtout dans une autre CPTS"
    assert flags.loc["61143", "suggested_cpts"] == "A"
    assert flags.loc["61497", "suggested_cpts"] == "A"
    assert flags.loc["61497", "main_destination"] == F.UNCOVERED  # 60 stays home
    assert flags.loc["61497", "suggested_share"] == pytest.approx(50 / 110)
    assert bool(flags.loc["61497", "suggested_adjacent"])
    assert flags.loc["61117", "flag"] == "commune non couverte, aucun flux vers une CPTS limitrophe"
    assert flags.loc["61143", "name"] == "Damigny"
    assert F.coherence_flags(flows, members, sub, min_share=0.9).index.tolist() == ["61497", "61117"]


def _commune_destinations_one_by_one(flows, membership):
    """The former commune_destinations (text pairs tested one by one): the reference."""
    from cpts_geo.indicators.flows.indicators import _check_membership, _expand, _safe_div

    u = _expand(flows, membership)
    mem = _check_membership(membership)
    k = len(u.cpts)
    main_of = (mem.sort_values("share", ascending=False, kind="stable")
               .drop_duplicates("code").set_index("code")["cpts_id"])
    n_of = mem.groupby("code")["cpts_id"].size()
    frame = pd.DataFrame({"c": u.o_com, "d": u.d_unit, "w": u.w})
    agg = frame.groupby(["c", "d"], sort=False)["w"].sum().reset_index()
    total = agg.groupby("c")["w"].sum()
    mem_pairs = set(zip(u.codes.get_indexer(mem["code"].to_numpy(dtype=object)),
                        u.cpts.get_indexer(mem["cpts_id"].to_numpy(dtype=object))))
    own_mask = np.fromiter(((c, d) in mem_pairs for c, d in zip(agg["c"], agg["d"])), dtype=bool,
                           count=len(agg))
    own = agg[own_mask].groupby("c")["w"].sum()
    labels = np.array([*u.cpts, F.UNCOVERED], dtype=object)
    agg["label"] = labels[np.where(agg["d"] >= 0, agg["d"], k)]
    agg["own"] = own_mask
    best = (agg.sort_values(["c", "w", "own", "label"], ascending=[True, False, False, True])
            .drop_duplicates("c").set_index("c"))
    origins = pd.unique(u.o_com)
    seen = set(u.codes[origins])
    codes = list(u.codes[origins]) + [c for c in main_of.index if c not in seen]
    idx = u.codes.get_indexer(codes)
    resident = total.reindex(idx).fillna(0.0).to_numpy()
    own_v = own.reindex(idx).fillna(0.0).to_numpy()
    out = pd.DataFrame({
        "cpts_id": pd.array(main_of.reindex(codes).to_numpy(), dtype="string"),
        "split": n_of.reindex(codes).fillna(0).to_numpy() > 1,
        "resident_volume": resident,
        "own_volume": np.where(main_of.reindex(codes).isna().to_numpy(), np.nan, own_v),
        "main_destination": best["label"].reindex(idx).to_numpy(),
        "main_volume": best["w"].reindex(idx).to_numpy(),
    }, index=pd.Index(codes, name="code", dtype=CODE_DTYPE))  # codes in the one code dtype
    out["own_share"] = _safe_div(out["own_volume"].to_numpy(), resident)
    out["main_share"] = _safe_div(out["main_volume"].fillna(0).to_numpy(), resident)
    out.loc[resident == 0, "main_volume"] = np.nan
    return out[["cpts_id", "split", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share"]]


def _coherence_flags_one_by_one(flows, membership, communes, *, min_share=0.0):
    """The former coherence_flags (sets per commune, row by row): the reference."""
    from cpts_geo.domain.communes import adjacency
    from cpts_geo.indicators.flows.indicators import _check_membership, _expand, _names_of, _safe_div

    dest = _commune_destinations_one_by_one(flows, membership)
    mem = _check_membership(membership)
    communes = F.commune_units(communes, mem["code"])
    names = _names_of(communes)
    pairs = adjacency(communes)
    cpts_of = mem.groupby("code")["cpts_id"].agg(set)
    pairs["cpts"] = pairs["neighbour"].map(cpts_of)
    pairs = pairs.dropna(subset=["cpts"]).explode("cpts")
    adjacent = pairs.groupby("code")["cpts"].agg(set)
    u = _expand(flows, membership)
    to_cpts = pd.DataFrame({"code": u.codes.to_numpy(dtype=object)[u.o_com],
                            "cpts": np.array([*u.cpts, None], dtype=object)[
                                np.where(u.d_unit >= 0, u.d_unit, len(u.cpts))],
                            "w": u.w}).dropna(subset=["cpts"])
    to_cpts = to_cpts.groupby(["code", "cpts"])["w"].sum()
    rows = []
    member = dest[dest["cpts_id"].notna()]
    other = member[(member["main_destination"] != member["cpts_id"])
                   & (member["main_destination"] != F.UNCOVERED)
                   & member["main_destination"].notna() & (member["main_share"] >= min_share)]
    own_sets = mem.groupby("code")["cpts_id"].agg(set)
    for code, rec in other.iterrows():
        if rec["main_destination"] in own_sets.get(code, set()):
            continue
        rows.append({"code": code, "cpts_id": rec["cpts_id"], "flag": "résidents soignés surtout dans une autre CPTS",
                     "suggested_cpts": rec["main_destination"], "suggested_volume": rec["main_volume"]})
    uncovered = [c for c in communes.index.astype(str) if c not in own_sets.index]
    with_flows = set(to_cpts.index.get_level_values(0))
    for code in uncovered:
        near = adjacent.get(code, set())
        best, vol = None, 0.0
        if code in with_flows:
            cand = to_cpts.loc[code]
            cand = cand[cand.index.isin(near) & (cand > 0)]
            if len(cand):
                cand = cand.sort_index().sort_values(ascending=False, kind="stable")
                best, vol = cand.index[0], float(cand.iloc[0])
        if best is not None:
            flag = "commune non couverte : rattachement suggéré"
        elif not near:
            flag = "commune non couverte, sans CPTS limitrophe"
        else:
            flag = "commune non couverte, aucun flux vers une CPTS limitrophe"
        rows.append({"code": code, "cpts_id": None, "flag": flag, "suggested_cpts": best,
                     "suggested_volume": vol if best is not None else np.nan})
    out = pd.DataFrame(rows, columns=["code", "cpts_id", "flag", "suggested_cpts",
                                      "suggested_volume"]).set_index("code")
    out.index = out.index.astype(CODE_DTYPE)  # codes in the one code dtype
    d = dest.reindex(out.index)
    out["name"] = [names.get(c) for c in out.index]
    out["resident_volume"] = d["resident_volume"].fillna(0.0).to_numpy()
    for column in ("own_volume", "own_share", "main_destination", "main_volume", "main_share"):
        out[column] = d[column].to_numpy()
    out["suggested_share"] = _safe_div(out["suggested_volume"].to_numpy(dtype=float),
                                       out["resident_volume"].to_numpy())
    out["suggested_adjacent"] = [(s in adjacent.get(c, set())) if isinstance(s, str) else pd.NA
                                 for c, s in zip(out.index, out["suggested_cpts"])]
    out["cpts_id"] = out["cpts_id"].astype("string")
    out["suggested_cpts"] = out["suggested_cpts"].astype("string")
    return out[["name", "cpts_id", "flag", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share", "suggested_cpts",
                "suggested_volume", "suggested_share", "suggested_adjacent"]]


@pytest.mark.parametrize("seed", [1, 2])
def test_coherence_flags_equal_the_row_by_row_ones(seed):
    """coherence_flags on integer keys (issue 30: 65 % of `flux` on 10 M rows) gives the flags
    of the former row-by-row version: two departments, EPCI as CPTS, one in four uncovered,
    split and partly covered communes, flows leaving the area, integer volumes (ties)."""
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments=["61", "72"])
    rng = np.random.default_rng(seed)
    codes = layer.index.to_numpy(dtype=object)
    epci = layer["epci"].astype(object).fillna("sans").to_numpy()
    kept = pd.unique(epci)[rng.random(len(pd.unique(epci))) < 0.75]
    covered = np.isin(epci, kept)
    members = pd.DataFrame({"code": codes[covered], "cpts_id": epci[covered], "share": 1.0})
    split = members["code"].iloc[rng.choice(len(members), 6, replace=False)].tolist()
    members.loc[members["code"].isin(split[:4]), "share"] = 0.5
    members = pd.concat([members, pd.DataFrame({"code": split[:4], "cpts_id": "EXTRA", "share": 0.5})])
    members.loc[members["code"] == split[4], "share"] = 0.6  # the rest of it in no CPTS
    origin = rng.choice(codes, 12_000)
    near = rng.integers(-40, 40, len(origin))
    destination = codes[np.clip(pd.Index(codes).get_indexer(origin) + near, 0, len(codes) - 1)]
    destination[rng.random(len(origin)) < 0.03] = "14118"  # outside the layer (Caen)
    flows = pd.DataFrame({"origin": origin, "destination": destination,
                          "volume": rng.integers(1, 6, len(origin)).astype(float)})
    flows = flows.groupby(["origin", "destination"], as_index=False)["volume"].sum()
    for min_share in (0.0, 0.4):
        new = F.coherence_flags(flows, members, layer, min_share=min_share)
        old = _coherence_flags_one_by_one(flows, members, layer, min_share=min_share)
        assert len(new) > 100
        assert new["flag"].nunique() >= 3
        pd.testing.assert_frame_equal(new, old, check_exact=True)
    pd.testing.assert_frame_equal(F.commune_destinations(flows, members),
                                  _commune_destinations_one_by_one(flows, members), check_exact=True)


# --------------------------------------------------------------------------- secrecy, exports


def test_mask_secrecy_masks_volumes_and_rates():
    ind = F.cpts_flow_indicators(FLOWS, MEMBERS)
    masked = F.mask_secrecy(ind, threshold=25)
    # Y: inflow 20 < 25 → attraction masked, retention kept
    assert pd.isna(masked.loc["Y", "inflow_volume"])
    assert pd.isna(masked.loc["Y", "attraction"])
    assert masked.loc["Y", "retention"] == pytest.approx(0.7)
    assert masked["masked"].tolist() == [False, True]
    assert ind.loc["Y", "inflow_volume"] == 20  # caller's table untouched
    zero = F.mask_secrecy(pd.DataFrame({"volume": [0.0, 3.0, 10.0]}))
    assert zero["volume"][0] == 0.0
    assert zero["volume"][2] == 10.0
    assert pd.isna(zero["volume"][1])


def test_write_flow_table_french_and_masked(tmp_path):
    ind = F.cpts_flow_indicators(FLOWS, MEMBERS)
    path = flows_io.write_flow_table(ind, tmp_path / "indicateurs.csv", threshold=25)
    text = path.read_text(encoding="utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[0] == "Identifiant CPTS"
    assert "Taux de fuite" in header
    assert "Taux d'attraction" in header
    line_y = text.splitlines()[2].split(";")
    assert line_y[header.index("Taux d'attraction")] == ""
    xlsx = flows_io.write_flow_table(ind, tmp_path / "indicateurs.xlsx")
    assert pd.read_excel(xlsx).columns[0] == "Identifiant CPTS"


# --------------------------------------------------------------------------- map layers


def test_flow_lines_and_retention_layer():
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments="61")
    flows = pd.DataFrame({"origin": ["61143", "61497", "61001", "61001"],
                          "destination": ["61001", "61001", "61001", "99999"],
                          "volume": [80.0, 5.0, 9.0, 3.0]})
    with pytest.warns(UserWarning, match="hors de la couche communale"):
        lines, left = F.flow_lines(flows, layer)
    assert lines.crs.to_epsg() == 4326
    assert lines["origin"].tolist() == ["61143", "61497"]
    assert lines["masked"].tolist() == [False, True]
    assert pd.isna(lines["volume"][1])
    # left: listed, masked like the lines
    assert left[["origin", "destination", "reason"]].values.tolist() == [
        ["61001", "61001", "flux interne à la commune"],
        ["61001", "99999", "extrémité hors de la couche communale"]]
    assert left["volume"].isna().all()
    assert lines.geometry.iloc[0].geom_type == "LineString"
    assert lines.loc[0, "destination_name"] == "Alençon"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(F.flow_lines(flows, layer, top=1).lines) == 1
        unmasked = F.flow_lines(flows, layer, threshold=None)
        assert unmasked.lines["volume"].tolist() == [80.0, 5.0]
        assert unmasked.left_out["volume"].sum() == 12.0
    members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "A"]})
    choro = F.retention_layer(flows, members, layer, threshold=None)
    assert choro.crs.to_epsg() == 4326
    assert choro.index.tolist() == ["A"]
    assert choro.loc["A", "retention"] == pytest.approx(89 / 92)
    # outflow 3 < 10: masked, and the retention that would give it back
    assert pd.isna(F.retention_layer(flows, members, layer).loc["A", "retention"])
    assert choro.geometry.iloc[0].geom_type == "Polygon"


# --------------------------------------------------------------------------- real data


def test_orne_mobpro_end_to_end(shared_data):
    from cpts_geo.domain.communes import load_communes

    records = shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv"
    raw = flows_io.read_mobpro(records)
    assert raw.records == 29445
    assert raw.flows["volume"].sum() == pytest.approx(111236, abs=1)
    passage = read_passage_table(shared_data / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
    with pytest.warns(UserWarning, match="non reconnu"):
        flows, report = F.prepare_flows(raw, passage=passage)
    assert flows["volume"].sum() == pytest.approx(raw.flows["volume"].sum())  # nothing lost
    unknown = report[report["new_code"].isna()]
    assert unknown["code"].tolist() == ["99999"]  # abroad: kept, counted as leakage
    assert (report["reason"] == "commune déléguée").sum() > 200
    layer = load_communes(departments="61")
    members = pd.DataFrame({"code": layer.index, "cpts_id": layer["epci"].to_numpy()})
    ind = F.cpts_flow_indicators(flows, members)
    assert len(ind) == layer["epci"].nunique()
    np.testing.assert_allclose(ind["retention"] + ind["leakage"], 1)
    assert ((ind["retention"] > 0.2) & (ind["retention"] < 0.95)).all()
    matrix = F.flow_matrix(flows, members)
    assert matrix["volume"].sum() == pytest.approx(flows["volume"].sum())
    # Alençon's EPCI keeps most of its residents' work
    alencon = layer.loc["61001", "epci"]
    assert ind.loc[alencon, "retention"] > 0.7
    flags = F.coherence_flags(flows, members, layer)
    assert (flags["flag"] == "résidents soignés surtout dans une autre CPTS").sum() > 0
    with pytest.warns(UserWarning, match="hors de la couche communale"):  # 99999: abroad
        lines = F.flow_lines(flows, load_communes(), top=50).lines
    assert len(lines) == 50
    assert not lines["masked"].any()


def test_cli_flows(tmp_path, capsys):
    from cpts_geo.cli import main

    flows = tmp_path / "flux.csv"
    flows.write_text("origine;destination;patients\n61001;61001;900\n61143;61001;80\n"
                     "61143;61143;20\n61001;99999;15\n", encoding="utf-8")
    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;cpts_name;stage;commune_code\nA;CPTS d'Alençon;ACI signé;61001\n"
                        "A;CPTS d'Alençon;ACI signé;61143\n", encoding="utf-8")
    out = tmp_path / "indicateurs.csv"
    code = main(["flows", str(flows), str(registry), "--departments", "61", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "1 non reconnu(s) (flux conservés, comptés hors CPTS)" in printed
    assert "A CPTS d'Alençon : rétention 98,5 %" in printed
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Identifiant CPTS;Nom;")
    assert (tmp_path / "indicateurs_fuites.csv").exists()
    signal = (tmp_path / "indicateurs_signalements.csv").read_text(encoding="utf-8-sig")
    assert "commune non couverte" in signal


def test_cli_flows_cpts_without_any_flow(tmp_path, capsys):
    """A CPTS whose residents have no flow in the table is said so, not a crash nor "secret"."""
    from cpts_geo.cli import main

    flows = tmp_path / "flux.csv"
    flows.write_text("origine;destination;volume\n61001;61001;900\n61143;61001;80\n", encoding="utf-8")
    registry = tmp_path / "registre.csv"
    registry.write_text("cpts_id;cpts_name;stage;commune_code\nA;CPTS A;ACI signé;61001\n"
                        "A;CPTS A;ACI signé;61143\nB;CPTS B;Association créée;61497\n", encoding="utf-8")
    out = tmp_path / "indicateurs.csv"
    assert main(["flows", str(flows), str(registry), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "B CPTS B : rétention aucun flux de ses habitants dans la table" in printed
    # only the area of the registry (the Orne) is checked for uncovered communes, not all France
    flags = pd.read_csv(tmp_path / "indicateurs_signalements.csv", sep=";", decimal=",",
                        encoding="utf-8-sig", dtype={"Code commune": str})
    assert flags["Code commune"].str.startswith("61").all()


def test_readme_flow_example_reads(tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "flux.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(origine;.*?)```", readme, re.DOTALL).group(1)
    path = tmp_path / "flux.csv"
    path.write_text(block, encoding="utf-8")
    table = flows_io.read_flows(path).flows
    assert table["volume"].tolist() == [15230.0, 1204.0, 388.0]


# --------------------------------------------------------------------------- audit of the flows


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _paris(tmp_path):
    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n75101;75101;100\n"
                   "75102;75101;50\n75103;75103;80\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "P1;CPTS Paris Centre;ACI signé;75101\nP1;CPTS Paris Centre;ACI signé;75102\n"
                      "P2;CPTS Paris 3;ACI signé;75103\n")
    return flows, registry


def test_cli_flows_registry_by_arrondissement(tmp_path, capsys):
    """A registry by arrondissement gets the flows of its arrondissements (audit point 1)."""
    from cpts_geo.cli import main

    flows, registry = _paris(tmp_path)
    out = tmp_path / "indicateurs.csv"
    assert main(["flows", str(flows), str(registry), "--departments", "75", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "aucun flux" not in printed
    assert "P1 CPTS Paris Centre : rétention 100,0 %" in printed
    assert "P2 CPTS Paris 3 : rétention 100,0 %" in printed
    ind = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig", index_col=0)
    assert ind.loc["P1", "Volume des résidents"] == 150
    assert ind.loc["P2", "Volume des résidents"] == 80
    flags = pd.read_csv(tmp_path / "indicateurs_signalements.csv", sep=";", decimal=",",
                        encoding="utf-8-sig", dtype={"Code commune": str}).set_index("Code commune")
    assert "75056" not in flags.index  # Paris is not one uncovered commune…
    assert {"75104", "75120"} <= set(flags.index)  # …its uncovered arrondissements are
    assert not flags.index.isin(["75101", "75102", "75103"]).any()
    # without --departments the area of the registry is found from its arrondissements
    assert main(["flows", str(flows), str(registry), "-o", str(out)]) == 0
    flags = pd.read_csv(tmp_path / "indicateurs_signalements.csv", sep=";", encoding="utf-8-sig",
                        dtype={"Code commune": str})
    assert flags["Code commune"].str.startswith("751").all()
    assert len(flags) == 17


def test_prepare_flows_follows_the_membership_city_by_city():
    members = pd.DataFrame({"code": ["75101", "75102", "69123"], "cpts_id": ["P", "P", "L"]})
    table = pd.DataFrame({"origin": ["75101", "75102", "69381", "13201"],
                          "destination": ["75101", "75101", "69382", "13201"],
                          "volume": [100.0, 50.0, 30.0, 20.0]})
    out, report = F.prepare_flows(table, membership=members)
    # Paris by arrondissement as in the membership; Lyon and Marseille rolled up
    assert out[["origin", "destination"]].values.tolist() == [
        ["13055", "13055"], ["69123", "69123"], ["75101", "75101"], ["75102", "75101"]]
    assert set(report["code"]) == {"69381", "69382", "13201"}
    assert (report["reason"] == "arrondissement → commune").all()
    # the default without membership is unchanged: every city rolled up
    rolled, _ = F.prepare_flows(table)
    assert set(rolled["origin"]) == {"75056", "69123", "13055"}


def test_indicators_roll_arrondissements_up_to_a_whole_city_member():
    members = pd.DataFrame({"code": ["69123"], "cpts_id": ["L"]})
    flows = pd.DataFrame({"origin": ["69381", "69381"], "destination": ["69382", "01001"],
                          "volume": [30.0, 10.0]})
    ind = F.cpts_flow_indicators(flows, members)
    assert ind.loc["L", "resident_volume"] == 40
    assert ind.loc["L", "retention"] == pytest.approx(0.75)
    whole = pd.DataFrame({"origin": ["75056"], "destination": ["75056"], "volume": [5.0]})
    by_arr = pd.DataFrame({"code": ["75101"], "cpts_id": ["P"]})
    with pytest.warns(UserWarning, match="Paris.*par arrondissement.*membership="):
        F.cpts_flow_indicators(whole, by_arr)


def test_coherence_flags_and_proposals_use_arrondissements_of_the_membership():
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.perimeters import propose_perimeters

    layer = load_communes(departments="75")
    members = pd.DataFrame({"code": ["75101", "75102", "75103"], "cpts_id": ["P1", "P1", "P2"]})
    flows = pd.DataFrame({"origin": ["75101", "75104"], "destination": ["75101", "75101"],
                          "volume": [100.0, 40.0]})
    flags = F.coherence_flags(flows, members, layer)
    assert "75056" not in flags.index
    assert len(flags) == 17
    assert flags.loc["75104", "suggested_cpts"] == "P1"
    assert flags.loc["75104", "name"].startswith("Paris 4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = propose_perimeters(flows, layer, membership=members, min_size=1, target_size=2)
    assert sorted(result.registry["commune_code"]) == [f"751{i:02d}" for i in range(4, 21)]


def test_mask_secrecy_complements_and_secondary_secrecy():
    """No masked volume can be recomputed from what is shown (audit point 2)."""
    flows = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["a", "b", "a"],
                          "volume": [245.0, 5.0, 4.0]})
    members = pd.DataFrame({"code": ["a"], "cpts_id": ["X"]})
    ind = F.cpts_flow_indicators(flows, members)
    masked = F.mask_secrecy(ind).loc["X"]
    assert pd.isna(masked["outflow_volume"])
    assert pd.isna(masked["inflow_volume"])
    for rate in ("retention", "leakage", "attraction", "supply_containment", "self_containment"):
        assert pd.isna(masked[rate]), rate
    # resident = inside + outflow and delivered = inside + inflow: the totals are masked too
    assert pd.isna(masked["resident_volume"])
    assert pd.isna(masked["delivered_volume"])
    assert masked["inside_volume"] == 245
    assert bool(masked["masked"])
    # a large table keeps what is safe
    big = F.mask_secrecy(F.cpts_flow_indicators(FLOWS, MEMBERS), threshold=25)
    assert big.loc["X", "retention"] == pytest.approx(0.7)


def test_coherence_flags_shares_are_maskable():
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments="61").loc[["61001", "61143"]]
    flows = pd.DataFrame({"origin": ["61143", "61143"], "destination": ["61001", "61143"],
                          "volume": [97.0, 3.0]})
    members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "B"]})
    flags = F.coherence_flags(flows, members, layer)
    assert flags.loc["61143", "own_volume"] == 3
    assert flags.loc["61143", "main_volume"] == 97
    masked = F.mask_secrecy(flags)
    assert pd.isna(masked.loc["61143", "own_share"])
    assert pd.isna(masked.loc["61143", "own_volume"])


def test_read_flows_normalises_each_code_once(tmp_path, monkeypatch):
    """Codes are cleaned per distinct value, not per row (audit point 3)."""
    calls = []
    from cpts_geo.io import flows as flows_read

    real = flows_read.normalize_codes
    monkeypatch.setattr(flows_read, "normalize_codes", lambda values: calls.append(len(values)) or real(values))
    rows = "".join(f"{o};{d};{v}\n" for o, d, v in [("1001", "61001", 1), ("61001", "61001", 2)] * 500)
    with pytest.warns(CptsGeoWarning, match="flux.csv : 1 code\\(s\\) commune réparé\\(s\\).*500 ligne"):
        read = flows_io.read_flows(_write(tmp_path / "flux.csv", "origine;destination;volume\n" + rows))
    table = read.flows
    assert len(table) == 1000
    assert max(calls) <= 2
    assert table["origin"].iloc[0] == "01001"
    assert table["volume"].sum() == 1500
    report = read.code_report
    assert report[["end", "row", "n_rows", "code", "new_code", "volume"]].values.tolist() == [
        ["origine", 2, 500, "1001", "01001", 500.0]]


def test_read_mobpro_reads_only_the_columns_it_needs(tmp_path, monkeypatch):
    import pyarrow.csv as pacsv

    seen = []
    real = pacsv.read_csv

    def spy(*args, **kwargs):
        seen.append(kwargs["convert_options"].include_columns)
        return real(*args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", spy)
    path = _write(tmp_path / "mobpro.csv", "COMMUNE;DCLT;IPONDI;V1;V2\n61001;61001;1.5;a;b\n"
                  "61001;61001;2;c;d\n")
    out = flows_io.read_mobpro(path).flows
    assert out["volume"].tolist() == [3.5]
    assert any(c is not None and set(c) == {"COMMUNE", "DCLT", "IPONDI"} for c in seen)


def test_prepare_flows_warns_when_professions_or_years_are_mixed():
    table = pd.DataFrame({"origin": ["61001"] * 3, "destination": ["61001"] * 3,
                          "volume": [1.0, 2.0, 3.0], "profession": ["infirmier", "kiné", "infirmier"],
                          "year": ["2022", "2023", "2023"]})
    with pytest.warns(UserWarning, match="2 professions.*2 années") as record:
        out, _ = F.prepare_flows(table)
    assert "select_flows" in str(record[0].message)
    assert len(out) == 3  # one row per pair, profession and year
    one = F.select_flows(table, profession="Infirmier", year=2023)
    assert one["volume"].tolist() == [3.0]
    with pytest.raises(ValueError, match=r"profession « dentiste » absente.*infirmier, kiné"):
        F.select_flows(table, profession="dentiste")
    with pytest.raises(ValueError, match=r"année « 2019 » absente.*2022, 2023"):
        F.select_flows(table, year="2019")
    with pytest.raises(ValueError, match="pas de colonne profession"):
        F.select_flows(table.drop(columns="profession"), profession="infirmier")


def test_what_select_flows_kept_is_never_called_mixed(tmp_path, capsys):
    """« Médecin » and « medecin », 2023 and 2023.0 are what --profession médecin --annee 2023
    kept: the rows kept are not « 2 professions » to choose between with those very options."""
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume;profession;annee\n"
                   "61001;61001;30;Médecin;2023\n61001;61002;40;medecin ;2023.0\n"
                   "61002;61001;50;infirmier;2022\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;stage;commune_code\nA;5;61001\nA;5;61002\n")
    out = tmp_path / "ind.csv"
    assert main(["flux", str(flows), str(registry), "--profession", "médecin", "--annee", "2023",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mêle" not in printed
    assert "Choisissez" not in printed
    assert "Flux lus : 2 lignes" in printed
    kept = F.select_flows(pd.DataFrame({"origin": ["61001"] * 2, "destination": ["61001"] * 2,
                                        "volume": [1.0, 2.0], "profession": ["Médecin", "medecin"],
                                        "year": [2023, "2023.0"]}), profession="MÉDECIN", year="2023")
    F.prepare_flows(kept)  # no warning (tests turn warnings into errors)
    assert main(["flux", str(flows), str(registry), "-o", str(out)]) == 0
    assert "la table mêle 2 professions (Médecin, infirmier) et 2 années (2022, 2023)" in capsys.readouterr().out


def test_cli_flows_profession_and_year(tmp_path, capsys):
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume;profession;année\n"
                   "61001;61001;100;infirmier;2023\n61001;61001;900;médecin;2023\n"
                   "61001;61001;50;infirmier;2022\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS A;ACI signé;61001\n")
    out = tmp_path / "ind.csv"
    assert main(["flows", str(flows), str(registry), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 professions" in printed
    assert "--profession" in printed
    assert "--annee" in printed
    assert main(["flows", str(flows), str(registry), "--profession", "infirmier", "--annee", "2023",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "professions" not in printed
    ind = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig", index_col=0)
    assert ind.loc["A", "Volume des résidents"] == 100
    assert main(["flows", str(flows), str(registry), "--profession", "dentiste", "-o", str(out)]) == 2
    assert "profession « dentiste » absente de la table ; valeurs présentes : infirmier, médecin" in \
        capsys.readouterr().err


def test_cli_flows_writes_the_code_report(tmp_path, capsys):
    """Every repair, remap and unknown code is written, with file rows and volumes (point 5)."""
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n"
                   "61001;61001;900\n1001;61001;12\n05120;61001;30\n61001;99999;5\n"
                   "61143;61001;40\n61143;61001;40\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS A;ACI signé;61001\n")
    out = tmp_path / "ind.csv"
    assert main(["flows", str(flows), str(registry), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("Codes commune : 1 réparé(s) à la lecture, 1 rattaché(s) à la commune actuelle, "
            "1 non reconnu(s) (flux conservés, comptés hors CPTS) ; 2 ligne(s) répètent une même "
            "paire origine–destination (lignes 6, 7) : volumes additionnés") in printed
    assert "  - ligne 5 : 99999 (destination, code inconnu, volume 5)" in printed
    codes = pd.read_csv(tmp_path / "ind_codes.csv", sep=";", decimal=",", encoding="utf-8-sig",
                        dtype=str)
    assert codes.columns[:4].tolist() == ["Étape", "Extrémité", "Première ligne", "Nombre de lignes"]
    rows = codes.set_index("Code lu")
    assert rows.loc["1001", "Code retenu"] == "01001"
    assert rows.loc["1001", "Première ligne"] == "3"
    assert rows.loc["1001", "Raison"] == "zéro initial restauré"
    assert rows.loc["05120", "Code retenu"] == "05001"
    assert rows.loc["05120", "Volume"] == "30"
    assert rows.loc["99999", "Étape"] == "non reconnu"
    assert rows.loc["99999", "Première ligne"] == "5"


def test_read_mobpro_keeps_file_rows_and_every_by_column(tmp_path):
    """Rows of the file survive the aggregation (point 6); every by= column is kept (point 7)."""
    path = _write(tmp_path / "mobpro.csv", "COMMUNE;DCLT;CS1;AGEREVQ;IPONDI\n"
                  "61001;61001;3;25;1.5\n61001;99999;3;25;1\n61001;61001;3;25;2\n61001;61001;5;40;1\n")
    read = flows_io.read_mobpro(path, by=["CS1", "AGEREVQ"])
    out = read.flows
    assert out.columns.tolist() == ["row", "origin", "destination", "CS1", "AGEREVQ", "volume",
                                    "records"]
    assert out[["row", "destination", "CS1", "AGEREVQ", "volume", "records"]].values.tolist() == [
        [2, "61001", "3", "25", 3.5, 2], [5, "61001", "5", "40", 1.0, 1], [3, "99999", "3", "25", 1.0, 1]]
    assert read.records == 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flows, report = F.prepare_flows(out)
    assert report.set_index("code").loc["99999", "row"] == 3  # the line in the file
    assert flows.columns.tolist() == ["origin", "destination", "CS1", "AGEREVQ", "volume", "records"]
    assert len(flows) == 3  # CS1 and AGEREVQ are keys, not summed away


def test_cli_flows_mobpro_rows_and_records(shared_data, tmp_path, capsys):
    from cpts_geo.cli import main

    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS d'Alençon;ACI signé;61001\n")
    out = tmp_path / "ind.csv"
    assert main(["flows", str(shared_data / "flows" / "mobpro_sample_orne_cogugaison.csv"),
                 str(registry), "--mobpro", "--departments", "61", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Flux lus : 29 445 enregistrements MOBPRO, 7 621 paires origine–destination" in printed
    assert "  - ligne 61 : 99999 (destination, code inconnu" in printed


def test_infinite_volumes_rejected_with_their_rows(tmp_path):
    with pytest.raises(ValidationError, match="lignes invalides") as err:
        flows_io.read_flows(pd.DataFrame({"origine": ["61001"] * 3, "destination": ["61001"] * 3,
                                   "volume": [1.0, np.inf, -np.inf]}))
    assert err.value.problems["row"].tolist() == [2, 3]
    assert "volume infini" in str(err.value)
    path = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;inf\n61001;61001;4\n")
    with pytest.raises(ValidationError, match="ligne 2 : volume infini : 'inf'"):
        flows_io.read_flows(path)
    with pytest.raises(ValidationError, match="Volumes manquants, infinis ou négatifs"):
        F.cpts_flow_indicators(pd.DataFrame({"origin": ["a"], "destination": ["a"], "volume": [np.inf]}),
                               MEMBERS)


def test_flow_lines_leave_out_communes_without_geometry():
    from cpts_geo.domain.communes import load_communes

    layer = load_communes(departments="15")
    flows = pd.DataFrame({"origin": ["15031", "15014", "15014"], "destination": ["15014", "15187", "15014"],
                          "volume": [50.0, 40.0, 30.0]})
    with pytest.warns(UserWarning, match="sans géométrie.*15031"):
        lines, left = F.flow_lines(flows, layer)
    assert lines["origin"].tolist() == ["15014"]
    assert lines.geometry.is_valid.all()
    assert not lines.geometry.is_empty.any()
    assert left[["origin", "destination", "reason"]].values.tolist() == [
        ["15014", "15014", "flux interne à la commune"],
        ["15031", "15014", "commune sans géométrie"]]


def test_cli_perimetres_exports_french_masked(tmp_path, capsys):
    """Zones and comparison in French, masked, oui/non; registry still valid (point 10)."""
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n"
                   "61001;61001;500\n61143;61001;300\n61143;61143;5\n61497;61001;8\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS A;ACI signé;61001\n")
    out = tmp_path / "prop.csv"
    assert main(["perimetres", str(flows), "--departments", "61", "--registre", str(registry),
                 "--chevauchement", "--seuil", "900,5", "--min-autonomie", "0,5", "--autonomie-cible",
                 "0,6", "--taille-min", "1000", "--taille-cible", "5000", "-o", str(out)]) == 0
    capsys.readouterr()
    zones = pd.read_csv(tmp_path / "prop_zones.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert zones.columns[0] == "Identifiant CPTS"
    assert {"Autonomie côté demande", "Valide (règle de Coombes–Bond)",
            "Masqué (secret statistique)"} <= set(zones.columns)
    assert not {"demand_sc", "valid", "self_containment"} & set(zones.columns)
    assert set(zones["Valide (règle de Coombes–Bond)"]) <= {"oui", "non"}
    small = zones["Volume des résidents"].isna()
    assert small.any()
    assert zones.loc[small, "Autonomie côté demande"].isna().all()
    diff = pd.read_csv(tmp_path / "prop_comparaison.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert diff.columns.tolist()[:3] == ["Code commune", "Nom", "CPTS actuelle"]
    assert main(["validate", str(out), "--departments", "61"]) == 0


def test_cli_perimetres_everything_covered_names_the_option(tmp_path, capsys):
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n75101;75101;10\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS A;ACI signé;75056\n")
    assert main(["perimetres", str(flows), "--departments", "75", "--registre", str(registry),
                 "-o", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "--chevauchement" in err
    assert "overlap=True" not in err


def test_cli_flows_decimal_comma(tmp_path, capsys):
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;900\n61143;61001;6\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                      "A;CPTS A;ACI signé;61001\n")
    assert main(["flows", str(flows), str(registry), "--seuil", "5,5", "-o",
                 str(tmp_path / "i.csv")]) == 0
    assert "volumes < 5,5 masqués" in capsys.readouterr().out


def test_read_flows_a_line_with_too_many_fields_is_an_error(tmp_path):
    """Reading only the needed columns must not let a shifted line through ("12,5" unquoted)."""
    path = _write(tmp_path / "flux.csv", "origine,destination,volume\n61001,61001,3\n61001,61143,12,5\n")
    with pytest.raises(ValidationError, match="ligne 3 : 4 champs au lieu de 3"):
        flows_io.read_flows(path)


# --------------------------------------------------------------------------- issue 15: nothing lost, nothing injected


def test_row_numbers_are_file_lines_after_blank_lines(tmp_path):
    """A blank line is a line of the file: the rows after it keep their own numbers."""
    good = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;1\n\n\n61001;61143;2\n")
    assert flows_io.read_flows(good).flows["row"].tolist() == [2, 5]
    bad = _write(tmp_path / "mauvais.csv", "origine;destination;volume\n61001;61001;1\n\n61001;61143;abc\n")
    with pytest.raises(ValidationError, match="ligne 4 : volume non numérique : 'abc'") as err:
        flows_io.read_flows(bad)
    assert err.value.problems["row"].tolist() == [4]
    # the same file without its blank lines reads the same flows (fast path and general reader agree)
    plain = _write(tmp_path / "plain.csv", "origine;destination;volume\n61001;61001;1\n61001;61143;2\n")
    fast, general = flows_io.read_flows(plain).flows, flows_io.read_flows(good).flows
    assert fast[["origin", "destination", "volume"]].astype(str).values.tolist() == \
        general[["origin", "destination", "volume"]].astype(str).values.tolist()


def test_code_report_rows_after_blank_lines(tmp_path):
    path = _write(tmp_path / "flux.csv", "origine;destination;volume\n\n61001;61001;1\n\n1001;61001;2\n")
    with pytest.warns(UserWarning, match="réparé"):
        read = flows_io.read_flows(path)
    assert read.flows["row"].tolist() == [3, 5]
    assert read.code_report[["code", "row"]].values.tolist() == [["1001", 5]]


def test_volumes_that_overflow_are_an_error_naming_the_rows(tmp_path):
    """1e308 twice is finite row by row but infinite summed: never « secret statistique »."""
    path = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;1e308\n"
                  "61143;61001;1e308\n61001;61143;5\n")
    with pytest.raises(ValidationError, match="volumes trop grands") as err:
        flows_io.read_flows(path)
    assert err.value.problems["row"].tolist() == [2, 3]
    # a table built by hand: the pair summed by prepare_flows, or the indicators' totals
    pair = pd.DataFrame({"origin": ["61001", "61001", "61143"], "destination": ["61001", "61001", "61001"],
                         "volume": [1e308, 1e308, 1.0], "row": [7, 9, 11]})
    with pytest.raises(ValidationError, match="Volumes trop grands") as err:
        F.prepare_flows(pair)
    assert err.value.problems["row"].tolist() == [7, 9]
    two = pd.DataFrame({"origin": ["a", "b"], "destination": ["a", "a"], "volume": [1e308, 1e308]})
    for indicator in (F.cpts_flow_indicators, F.flow_matrix, F.leakage_destinations):
        with pytest.raises(ValidationError, match="Volumes trop grands") as err:
            indicator(two, MEMBERS)
        assert err.value.problems["row"].tolist() == [1, 2]


def test_cli_flux_overflow_is_a_french_error_not_a_secret(tmp_path, capsys):
    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;1e308\n61143;61001;1e308\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\nA;CPTS A;ACI signé;61001\n")
    out = tmp_path / "ind.csv"
    code = main(["flux", str(flows), str(registry), "-o", str(out)])
    captured = capsys.readouterr()
    assert code != 0
    assert not out.exists()
    assert "trop grand" in captured.err + captured.out
    assert "secret statistique" not in captured.out
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_flow_exports_neutralise_formula_cells(tmp_path, suffix):
    payloads = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]
    table = pd.DataFrame({"name": payloads, "resident_volume": [100.0] * 4, "retention": [0.5] * 4},
                         index=pd.Index(["A", "B", "C", "=1+1"], name="cpts_id"))
    path = flows_io.write_flow_table(table, tmp_path / f"ind{suffix}")
    # CSV: an apostrophe before the formula; XLSX: typed text cells, no apostrophe needed
    guard = "'" if suffix == ".csv" else ""
    if suffix == ".csv":
        back = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    else:
        from openpyxl import load_workbook

        back = pd.read_excel(path, dtype=str)
        assert not [c for row in load_workbook(path).active.iter_rows() for c in row if c.data_type == "f"]
    assert back["Nom"].tolist() == [guard + p for p in payloads]
    assert back["Identifiant CPTS"].tolist()[-1] == guard + "=1+1"
    assert [p.name for p in tmp_path.iterdir()] == [f"ind{suffix}"]  # no temporary file left
    # categorical code columns (prepared flows) are cells too
    flows = pd.DataFrame({"origin": pd.Categorical(["=2+2"]), "destination": ["61001"], "volume": [50.0]})
    back = flows_io.write_flow_table(flows, tmp_path / f"flux{suffix}")
    text = (pd.read_csv(back, sep=";", encoding="utf-8-sig", dtype=str) if suffix == ".csv"
            else pd.read_excel(back, dtype=str))
    assert text["Commune de résidence"].tolist() == [guard + "=2+2"]


def test_flow_export_is_atomic(tmp_path, monkeypatch):
    """A writer failing half-way leaves neither a truncated file nor a temporary one."""
    target = tmp_path / "ind.xlsx"
    target.write_bytes(b"previous")

    import openpyxl

    def broken(_self, path, *_args, **_kwargs):
        Path(path).write_bytes(b"PK half")
        raise OSError("disque plein")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken)
    with pytest.raises(OSError, match="disque plein"):
        flows_io.write_flow_table(pd.DataFrame({"resident_volume": [100.0]}), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["ind.xlsx"]


def test_read_flows_parquet_and_csv_give_the_same_flows(tmp_path):
    """The Arrow fast paths (codes as categories) give what the general reader gives."""
    frame = pd.DataFrame({"origine": ["61001", "1001", "61143", "61001"],
                          "destination": ["61001", "61001", "14118", "61001"], "volume": [1.5, 2.0, 3.0, 4.0]})
    frame.to_parquet(tmp_path / "flux.parquet")
    frame.to_csv(tmp_path / "flux.csv", sep=";", index=False)
    frame.to_excel(tmp_path / "flux.xlsx", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reads = [flows_io.read_flows(tmp_path / f"flux.{kind}") for kind in ("parquet", "csv", "xlsx")]
        prepared = [F.prepare_flows(r) for r in reads]
    for read in reads:
        assert read.flows["origin"].astype(str).tolist() == ["61001", "01001", "61143", "61001"]
        assert read.code_report["code"].tolist() == ["1001"]
    for p in prepared:
        assert p.flows.astype({"origin": str, "destination": str}).values.tolist() == \
            prepared[0].flows.astype({"origin": str, "destination": str}).values.tolist()
        assert len(p.duplicate_rows) == 2


def test_cli_flux_writes_its_files_together_or_none(tmp_path, capsys, monkeypatch):
    """A full disk on the last file leaves none of the four (codes, indicators, leaks, flags)."""
    import errno

    from cpts_geo.cli import main

    flows = _write(tmp_path / "flux.csv", "origine;destination;volume\n61001;61001;50\n61143;61001;30\n"
                                          "61001;14118;20\n1001;61001;5\n")
    registry = _write(tmp_path / "registre.csv", "cpts_id;cpts_name;stage;commune_code\n"
                                                 "A;CPTS A;ACI signé;61001\nA;CPTS A;ACI signé;61143\n")
    out = tmp_path / "sorties" / "ind.csv"
    real = pd.DataFrame.to_csv

    def full_disk(self, path=None, *args, **kwargs):
        if path is not None and "_signalements" in str(path):
            Path(path).write_bytes(b"ha")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", full_disk)
        code = main(["flux", str(flows), str(registry), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    assert main(["flux", str(flows), str(registry), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["ind.csv", "ind_codes.csv", "ind_fuites.csv",
                                                            "ind_signalements.csv"]


def test_control_characters_in_flows_are_refused_by_the_fast_readers_too(tmp_path):
    frame = pd.DataFrame({"origine": ["61001", "61001\x00", "61143"], "destination": ["61001"] * 3,
                          "volume": [1.0, 2.0, 3.0]})
    frame.to_parquet(tmp_path / "flux.parquet")
    frame.to_csv(tmp_path / "flux.csv", sep=";", index=False)
    for name, row in (("flux.parquet", 2), ("flux.csv", 3)):
        with pytest.raises(ValidationError, match="caractères de contrôle") as err:
            flows_io.read_flows(tmp_path / name)
        assert err.value.problems["row"].tolist() == [row], name
        assert "61001␀" in err.value.problems["problem"].iloc[0]
