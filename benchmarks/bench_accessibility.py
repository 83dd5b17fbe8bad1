"""E2SFCA for all mainland communes: cpts_geo vs pysal/access, side by side.

Setup (once): pysal/access is the reference implementation, installed only in the
benchmark's own virtual environment (the cpts_geo package does not depend on it)::

    python -m venv benchmarks/.venv-access
    benchmarks/.venv-access/bin/pip install -r benchmarks/requirements-access.txt

Run: ``python benchmarks/bench_accessibility.py`` (about 1–3 minutes; ``--repeat 1`` for a
shorter run, ``--venv PATH`` for another interpreter). With ``../shared/data`` present, it
first prints the rank correlation with the published DREES APL 2022.

What it does: estimates a cost table between all communes of mainland France and Corsica
(~34 700) with :func:`cpts_geo.accessibility.estimate_costs` (assumptions set here to give
about 2 million origin–destination pairs within 20 minutes, the size of a real
commune-to-commune road-time table), a supply of GPs per commune (synthetic, seeded:
Poisson of population / 1 100) and the population as demand; saves them to parquet;
runs :func:`cpts_geo.accessibility.enhanced_two_step_fca` in-process and pysal/access's
``Access.enhanced_two_stage_fca`` (same DREES step weights, ``max_cost=20``) in the venv's
interpreter by subprocess; prints both times (best of ``--repeat``), the ratio (target: at
least 10× faster) and the largest difference of values (target: 1e-9).

Like with like: pysal/access's ``weights.step_fn`` puts a bound in the band below it
(10 minutes → 1) while cpts_geo's DREES bands are closed at their lower bound (10 minutes →
2/3), so cpts_geo runs here with ``step_weight(DREES_DECAY, closed="upper")``; pysal/access
keeps ``cost <= max_cost``, cpts_geo ``cost < max_cost`` (the script counts the pairs at exactly
20 minutes: none); cpts_geo counts the pair of a commune with itself at or beyond 20 minutes
just under 20, pysal/access drops it, so both get the cost table with those pairs already set
just under 20 minutes (the script prints how many).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo.accessibility import (
    DREES_DECAY,
    accessibility,
    enhanced_two_step_fca,
    estimate_costs,
    step_weight,
)
from cpts_geo.communes import load_communes

HERE = Path(__file__).resolve().parent

PYSAL_SCRIPT = r"""
import json, sys, time
import pandas as pd
from access import Access, weights
folder, repeat = sys.argv[1], int(sys.argv[2])
costs = pd.read_parquet(folder + "/costs.parquet")
loc = pd.read_parquet(folder + "/locations.parquet").rename_axis("geoid").reset_index()
bands = {float(k): v for k, v in json.loads(open(folder + "/bands.json").read()).items()}
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    acc = Access(demand_df=loc[["geoid", "demand"]], demand_value="demand", demand_index="geoid",
                 supply_df=loc[["geoid", "supply"]], supply_value="supply", supply_index="geoid",
                 cost_df=costs, cost_origin="origin", cost_dest="destination", cost_name="minutes")
    out = acc.enhanced_two_stage_fca(name="e2sfca", weight_fn=weights.step_fn(bands), max_cost=20)
    times.append(time.perf_counter() - t0)
out = out.iloc[:, 0] if hasattr(out, "columns") else out
out.rename("e2sfca").to_frame().to_parquet(folder + "/pysal.parquet")
print(json.dumps({"seconds": min(times)}))
"""


def apl_comparison(shared: Path) -> None:
    """Spearman correlation of the E2SFCA (BPE 2018 GPs) with the DREES APL 2022."""
    from scipy.stats import spearmanr

    from cpts_geo.cog import remap_codes
    from cpts_geo.professionals import read_bpe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        france = load_communes()
        mainland = france[~france["department"].str.startswith("97")]
        bpe = read_bpe(shared / "health_professionals" / "bpe2018_sante_communes.csv",
                       professions=["médecin généraliste"], communes=mainland, unknown="report",
                       passage=shared / "cog_passage" / "gescodgeo_table_passage_2008_2025.csv")
        apl = pd.read_csv(shared / "apl" / "apl_mg_2022_communes.csv", dtype={"code_insee": str})
        apl["code"] = remap_codes(apl["code_insee"], communes=mainland, plm="city")[0].to_numpy()
    apl = apl.dropna(subset=["code"])
    apl["w"] = apl["apl_generalistes"] * apl["pop_standardisee"]
    grouped = apl.groupby("code")[["w", "pop_standardisee"]].sum()
    ref = grouped["w"] / grouped["pop_standardisee"]
    variants = {
        "droite à 60 km/h, sans détour ni temps fixe": {
            "detour": 1.0, "speed_min_kmh": 60, "speed_max_kmh": 60, "terminal_min": 0},
        "hypothèses par défaut (TRAVEL_ASSUMPTIONS)": None,
    }
    print("Corrélation de Spearman avec l'APL DREES 2022 (médecins généralistes, BPE 2018) :")
    for label, assumptions in variants.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            out = accessibility(bpe, mainland, assumptions=assumptions)
            seconds = time.perf_counter() - t0
        both = pd.concat([out["médecin généraliste"].rename("ours"), ref.rename("apl"),
                          mainland["region"]], axis=1, join="inner").dropna()
        hdf = both[both["region"] == "32"]
        print(f"  {label} : Hauts-de-France {spearmanr(hdf['ours'], hdf['apl'])[0]:.3f} "
              f"({len(hdf)} communes), métropole {spearmanr(both['ours'], both['apl'])[0]:.3f} "
              f"({len(both)} communes) ; calcul {seconds:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venv", default=str(HERE / ".venv-access" / "bin" / "python"))
    parser.add_argument("--shared", default=str(HERE.parents[1] / "shared" / "data"),
                        help="dossier des données réelles (APL, BPE) pour la corrélation")
    args = parser.parse_args(argv)
    if Path(args.shared, "apl").is_dir():
        apl_comparison(Path(args.shared))
    else:
        print(f"Données APL absentes ({args.shared}) : corrélation non calculée.")

    france = load_communes()
    mainland = france[~france["department"].isin(["971", "972", "973", "974", "976"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 communes without geometry: no costs, reported
        t0 = time.perf_counter()
        costs = estimate_costs(mainland, max_minutes=20, assumptions={
            "speed_min_kmh": 30, "speed_max_kmh": 80, "speed_scale_km": 15, "terminal_min": 2})
    t_costs = time.perf_counter() - t0
    # the same table for both: a commune's own trip at or beyond 20 minutes counts just under
    # 20 (cpts_geo's rule, which pysal/access does not have)
    far_self = ((costs["origin"] == costs["destination"]) & (costs["minutes"] >= 20)).to_numpy()
    costs.loc[far_self, "minutes"] = np.nextafter(20.0, 0.0)
    at_limit = int((costs["minutes"] == 20).sum())
    pop = mainland["population"].astype(float).fillna(0.0)
    rng = np.random.default_rng(0)
    supply = pd.Series(rng.poisson(pop.to_numpy() / 1100.0).astype(float), index=pop.index)
    # same locations on both sides: only those with a cost (communes with a geometry)
    located = pd.Index(costs["origin"].unique())
    demand = pop.reindex(located)
    supply = supply.reindex(located)
    print(f"communes : {len(located)} ; couples origine–destination ≤ 20 min : {len(costs):,}"
          f" ; estimation des temps : {t_costs:.2f} s")
    print(f"trajets internes ≥ 20 min comptés juste sous 20 min (pour les deux) : {int(far_self.sum())} ;"
          f" paires à exactement 20 min (pysal/access ≤, cpts_geo <) : {at_limit}")

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = enhanced_two_step_fca(demand, supply, costs, max_cost=20, quiet=True,
                                     weight=step_weight(DREES_DECAY, closed="upper"))
        times.append(time.perf_counter() - t0)
    t_ours = min(times)
    print(f"cpts_geo enhanced_two_step_fca : {t_ours:.3f} s (meilleur de {args.repeat})")

    if not Path(args.venv).exists():
        print(f"pysal/access absent ({args.venv}) : créez l'environnement, voir l'en-tête du script.")
        return
    with tempfile.TemporaryDirectory() as folder:
        costs.to_parquet(f"{folder}/costs.parquet", index=False)
        pd.DataFrame({"demand": demand, "supply": supply}).to_parquet(f"{folder}/locations.parquet")
        Path(folder, "bands.json").write_text(json.dumps({str(k): v for k, v in DREES_DECAY.items()}))
        script = Path(folder, "run_pysal.py")
        script.write_text(PYSAL_SCRIPT)
        proc = subprocess.run([args.venv, str(script), folder, str(args.repeat)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print("pysal/access a échoué :\n" + proc.stderr[-3000:])
            sys.exit(1)
        t_pysal = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
        ref = pd.read_parquet(f"{folder}/pysal.parquet")["e2sfca"]
    ref.index = ref.index.astype(str)
    ref = ref.reindex(ours.index)
    diff = np.nanmax(np.abs(ref.fillna(0).to_numpy() - ours.to_numpy()))
    print(f"pysal/access enhanced_two_stage_fca : {t_pysal:.3f} s (meilleur de {args.repeat})")
    print(f"rapport pysal/access ÷ cpts_geo : {t_pysal / t_ours:.1f}× (objectif ≥ 10×)")
    print(f"écart maximal des valeurs : {diff:.2e} (objectif ≤ 1e-9) ; "
          f"valeurs manquantes côté pysal/access : {int(ref.isna().sum())}")


if __name__ == "__main__":
    main()
