"""E2SFCA for all mainland communes: speed against pysal/access, fit against the DREES APL.

Setup (once): pysal/access is the reference implementation, installed only in the
benchmark's own virtual environment (the cpts_geo package does not depend on it); the
environment sees the machine's packages, so only ``access`` is added::

    python -m venv --system-site-packages benchmarks/.venv-access
    benchmarks/.venv-access/bin/pip install -r benchmarks/requirements-access.txt

Run: ``python benchmarks/bench_accessibility.py`` (it restarts itself in that environment
when ``access`` is not importable; ``--part speed`` or ``--part model`` for one half,
``--repeat N`` for the number of alternated runs). It measures the code of this checkout.

**Speed.** Estimates a cost table between all communes of mainland France and Corsica
(~34 700) with :func:`cpts_geo.accessibility.estimate_costs` (assumptions set here to give
about 2 million origin–destination pairs within 20 minutes, the size of a real
commune-to-commune road-time table), a supply of GPs per commune (synthetic, seeded:
Poisson of population / 1 100) and the population as demand; then, in this process,
alternates pysal/access's ``Access.enhanced_two_stage_fca`` (DREES step weights,
``max_cost=20``), :func:`cpts_geo.accessibility.enhanced_two_step_fca` and a bare
integer-coded ``scipy.sparse`` formulation (the floor: no validation, no report) on the same
tables; prints the median of each, the ratio pysal/access ÷ cpts_geo against the goal
(at least 30×) and the largest difference of values (goal: 1e-12).

Like with like: pysal/access's ``weights.step_fn`` puts a bound in the band below it
(10 minutes → 1) while cpts_geo's DREES bands are closed at their lower bound (10 minutes →
2/3), so cpts_geo runs here with ``step_weight(DREES_DECAY, closed="upper")``; pysal/access
keeps ``cost <= max_cost``, cpts_geo ``cost < max_cost`` (the script counts the pairs at exactly
20 minutes: none); cpts_geo counts the pair of a commune with itself at or beyond 20 minutes
just under 20, pysal/access drops it, so both get the cost table with those pairs already set
just under 20 minutes (the script prints how many).

**Fit.** With ``../shared/data`` present (BPE 2018 GPs, gescodgeo passage table) it ranks
the communes of every mainland region against the published DREES APL 2022
(:func:`cpts_geo.apl.load_apl`): Spearman correlation per region and for mainland France,
first for each lever tried alone, then for the library defaults (parameters chosen on
Hauts-de-France only; every other region is out of sample).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's cpts_geo, not an installed one

from cpts_geo.accessibility import (  # noqa: E402
    DREES_DECAY,
    accessibility,
    enhanced_two_step_fca,
    estimate_costs,
    step_weight,
)
from cpts_geo.communes import load_communes  # noqa: E402

VENV = HERE / ".venv-access" / "bin" / "python"
SPEED_GOAL = 30.0
VALUE_GOAL = 1e-12


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


def _sparse_e2sfca(o: np.ndarray, d: np.ndarray, c: np.ndarray, demand: np.ndarray,
                   supply: np.ndarray) -> np.ndarray:
    """The floor: E2SFCA on integer-coded pairs with scipy.sparse, no validation, no report."""
    import scipy.sparse as sp

    n = len(demand)
    w = step_weight(DREES_DECAY, closed="upper")(c)
    m = sp.csr_matrix((w, (o, d)), shape=(n, n))
    reach = m.T @ demand
    ratio = np.divide(supply, reach, out=np.zeros(n), where=reach > 0)
    return m @ ratio


def speed(repeat: int) -> None:
    from access import Access, weights

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
    costs = costs[["origin", "destination", "minutes"]]
    at_limit = int((costs["minutes"] == 20).sum())
    pop = mainland["population"].astype(float).fillna(0.0)
    rng = np.random.default_rng(0)
    supply = pd.Series(rng.poisson(pop.to_numpy() / 1100.0).astype(float), index=pop.index)
    # same locations on both sides: only those with a cost (communes with a geometry)
    located = pd.Index(costs["origin"].unique())
    demand = pop.reindex(located)
    supply = supply.reindex(located)
    loc = pd.DataFrame({"geoid": located, "demand": demand.to_numpy(), "supply": supply.to_numpy()})
    print(f"communes : {len(located)} ; couples origine–destination < 20 min : {len(costs):,}"
          .replace(",", " ") + f" ; estimation des temps : {t_costs:.2f} s")
    print(f"trajets internes ≥ 20 min comptés juste sous 20 min (pour les deux) : {int(far_self.sum())} ;"
          f" paires à exactement 20 min (pysal/access ≤, cpts_geo <) : {at_limit}")

    def pysal():
        acc = Access(demand_df=loc[["geoid", "demand"]], demand_value="demand", demand_index="geoid",
                     supply_df=loc[["geoid", "supply"]], supply_value="supply", supply_index="geoid",
                     cost_df=costs, cost_origin="origin", cost_dest="destination", cost_name="minutes")
        out = acc.enhanced_two_stage_fca(name="e2sfca", weight_fn=weights.step_fn(dict(DREES_DECAY)),
                                         max_cost=20)
        return out.iloc[:, 0] if hasattr(out, "columns") else out

    def ours():
        return enhanced_two_step_fca(demand, supply, costs, max_cost=20, quiet=True,
                                     weight=step_weight(DREES_DECAY, closed="upper"))

    # the floor gets its codes as integers already (not timed)
    o_int = located.get_indexer(costs["origin"])
    d_int = located.get_indexer(costs["destination"])
    c_arr = costs["minutes"].to_numpy()

    def floor():
        return _sparse_e2sfca(o_int, d_int, c_arr, demand.to_numpy(), supply.to_numpy())

    times: dict[str, list[float]] = {"pysal": [], "ours": [], "floor": []}
    results = {}
    for _ in range(repeat):  # alternated in one process: the same machine load for all
        for name, fn in (("pysal", pysal), ("ours", ours), ("floor", floor)):
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = results["pysal"]
    ref.index = ref.index.astype(str)
    ref = ref.reindex(results["ours"].index)
    got = results["ours"].to_numpy()
    diff = np.nanmax(np.abs(ref.fillna(0).to_numpy() - got))
    rel = np.nanmax(np.abs(ref.fillna(0).to_numpy() - got) / np.maximum(np.abs(got), 1e-300))
    diff_floor = np.max(np.abs(results["floor"] - got))
    print(f"médianes de {repeat} exécutions alternées :")
    print(f"  pysal/access enhanced_two_stage_fca   : {med['pysal']:.3f} s "
          f"({', '.join(f'{t:.3f}' for t in times['pysal'])})")
    print(f"  cpts_geo enhanced_two_step_fca        : {med['ours']:.3f} s "
          f"({', '.join(f'{t:.3f}' for t in times['ours'])})")
    print(f"  plancher scipy.sparse (codes déjà entiers, sans contrôle) : {med['floor']:.3f} s")
    ratio = med["pysal"] / med["ours"]
    print(f"rapport pysal/access ÷ cpts_geo : {ratio:.1f}× (objectif ≥ {SPEED_GOAL:.0f}× : "
          f"{ratio / SPEED_GOAL:.2f} de l'objectif) ; cpts_geo ÷ plancher : "
          f"{med['ours'] / med['floor']:.2f}")
    print(f"écart maximal des valeurs avec pysal/access : {diff:.2e} absolu, {rel:.2e} relatif "
          f"(objectif ≤ {VALUE_GOAL:.0e}) ; avec le plancher : {diff_floor:.2e} ; "
          f"valeurs manquantes côté pysal/access : {int(ref.isna().sum())}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--part", choices=["all", "speed", "model"], default="all")
    parser.add_argument("--shared", default=str(HERE.parents[1] / "shared" / "data"),
                        help="dossier des données réelles (BPE, table de passage) pour l'ajustement")
    args = parser.parse_args(argv)
    if args.part in ("all", "speed"):
        try:
            import access  # noqa: F401
        except ImportError:
            if VENV.exists() and Path(sys.prefix).resolve() != VENV.parents[1].resolve():
                os.execv(str(VENV), [str(VENV), __file__, *(sys.argv[1:] if argv is None else argv)])
            print("pysal/access absent : créez son environnement (voir l'en-tête du script).")
            return
    if args.part in ("all", "model"):
        if Path(args.shared, "health_professionals").is_dir():
            apl_comparison(Path(args.shared))
        else:
            print(f"Données réelles absentes ({args.shared}) : ajustement non mesuré.")
    if args.part in ("all", "speed"):
        speed(args.repeat)


if __name__ == "__main__":
    main()
