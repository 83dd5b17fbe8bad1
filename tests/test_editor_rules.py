"""The editor page's rules against their owners in the library, run in Chromium on many inputs.

``static/editor.js`` applies a few rules to the per-commune figures Python embeds (rounding of a
population, size tier, ACI funding maximum, the DREES weighted mean of an accessibility, density,
the CSV formula guard) and writes numbers the French way. Each is one function of
``CptsEditor.rules``; each test here runs that function in headless Chromium (Debian's, through
Playwright, no network) on many inputs and compares it with the library's owner of the rule.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from chromium import browser_only, script_page

from cpts_geo.domain.funding import aci_funding
from cpts_geo.domain.tiers import tier_of
from cpts_geo.render.editor import _formula_starts, _funding_maxima, _tier_breakpoints

pytestmark = browser_only


@pytest.fixture(scope="module")
def rules():
    """A Chromium page holding ``editor.js`` (not started): ``rules(js, arg)`` evaluates ``js``."""
    from cpts_geo.render.maps import _static

    with script_page(_static("editor.js")) as run:
        assert run("typeof CptsEditor.start") == "function"
        yield run


def test_the_script_shares_no_global(rules):
    """One global, ``CptsEditor``, whose entry is ``start``; nothing of ``cpts_map.js`` read."""
    added = rules("""() => { const f = document.createElement('iframe'); document.body.appendChild(f);
        const base = new Set(Object.getOwnPropertyNames(f.contentWindow));
        const out = Object.getOwnPropertyNames(window).filter(k => !base.has(k) && !/^[0-9]+$/.test(k));
        f.remove(); return out; }""")
    assert added == ["CptsEditor"]
    from cpts_geo.render.maps import _static

    assert "cptsGeo" not in _static("editor.js")
    assert rules("CptsEditor.instance()") is None


def test_population_rounded_as_build_territories_rounds(rules):
    rng = np.random.default_rng(1)
    values = np.concatenate([np.arange(0, 200) + 0.5, rng.uniform(0, 500_000, 500),
                             rng.integers(0, 400_000, 200) * rng.choice([0.5, 0.25, 1 / 3, 0.125], 200)])
    got = rules("(xs) => xs.map(x => CptsEditor.rules.roundPopulation(x))", values.tolist())
    assert got == np.round(values).astype("int64").tolist()


def test_tier_as_tier_of(rules):
    rng = np.random.default_rng(2)
    points = [b for p, _ in _tier_breakpoints() for b in (p - 1, p, p + 1) if b >= 0]
    pops = sorted(set(points) | {0, 1, 40_000, 80_000, 175_000, 175_001, 10_000_000}
                  | set(rng.integers(0, 1_000_000, 1000).tolist()))
    got = rules("([ps, b]) => ps.map(p => CptsEditor.rules.tierOf(p, b))", [pops, _tier_breakpoints()])
    assert got == tier_of(pops).astype(int).tolist()


def test_funding_maximum_as_aci_funding(rules):
    got = rules("(m) => [1, 2, 3, 4, null, 5].map(t => CptsEditor.rules.fundingOf(t, m))", _funding_maxima())
    assert got == [float(aci_funding(t).loc["Total", "Total"]) for t in (1, 2, 3, 4)] + [None, None]


def test_weighted_mean_as_territory_accessibility(rules):
    """The DREES aggregation (APL, and the E2SFCA with the user's times): random territories with
    unknown values, zero weights and declared shares."""
    from cpts_geo.indicators.accessibility import territory_accessibility

    rng = np.random.default_rng(3)
    cases, members, values, weights = [], [], {}, {}
    for k in range(300):
        n = int(rng.integers(1, 25))
        codes = [f"{k}-{j}" for j in range(n)]
        v = np.where(rng.random(n) < 0.12, np.nan, rng.uniform(0, 8, n))
        w = np.where(rng.random(n) < 0.08, 0.0, rng.uniform(0, 30_000, n))
        share = np.where(rng.random(n) < 0.7, np.nan, rng.choice([0.5, 0.25, 1 / 3, 0.9], n))
        values.update(zip(codes, v))
        weights.update(zip(codes, w))
        members.append(pd.DataFrame({"code": codes, "cpts_id": f"T{k}", "share": np.nan_to_num(share, nan=1.0)}))
        cases.append([[None if math.isnan(a) else float(a * b) for a, b in zip(v, w)],
                      [None if math.isnan(a) else float(b) for a, b in zip(v, w)],
                      [None if math.isnan(s) else float(s) for s in share]])
    got = rules("(cs) => cs.map(c => CptsEditor.rules.weightedMean(c[0], c[1], c[2]))", cases)
    with warnings.catch_warnings():  # the unknown values are the point
        warnings.simplefilter("ignore")
        lib = territory_accessibility(pd.Series(values), pd.concat(members, ignore_index=True),
                                      weights=pd.Series(weights)).table["accessibility"]
    for k, page in enumerate(got):
        expected = float(lib[f"T{k}"])
        if math.isnan(expected):
            assert page is None, k
        else:
            assert page == pytest.approx(expected, rel=1e-12, abs=1e-12), k


def test_density_as_density(rules):
    """Random territories of the Somme with random shares and counts: count, population and
    density as :func:`cpts_geo.indicators.density.density` gives them."""
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.indicators.density import density

    somme = load_communes(departments="80")
    rng = np.random.default_rng(4)
    codes = somme.index.to_numpy()
    counts = pd.DataFrame({"infirmier": rng.integers(0, 30, len(codes)).astype(float)}, index=pd.Index(codes, name="code"))
    counts.iloc[rng.choice(len(codes), 200, replace=False), 0] = 0.0
    members = []
    for k in range(150):
        picked = rng.choice(codes, int(rng.integers(1, 40)), replace=False)
        share = np.where(rng.random(len(picked)) < 0.8, 1.0, rng.choice([0.5, 0.25, 0.4], len(picked)))
        members.append(pd.DataFrame({"code": picked, "cpts_id": f"T{k:03d}", "share": share}))
    m = pd.concat(members, ignore_index=True)
    with warnings.catch_warnings():  # the references (region, France) are not compared here
        warnings.simplefilter("ignore")
        lib = density(counts, somme, membership=m).table.xs("infirmier", level="profession")
    pop = somme["population"].astype(float)
    cases = [[float((counts.loc[g["code"], "infirmier"].to_numpy() * g["share"].to_numpy()).sum()),
              float((pop.loc[g["code"]].to_numpy() * g["share"].to_numpy()).sum())]
             for _, g in m.groupby("cpts_id", sort=True)]
    got = rules("(cs) => cs.map(c => CptsEditor.rules.density(c[0], c[1], 10000))", cases)
    for (count, population), page, (cid, row) in zip(cases, got, lib.sort_index().iterrows()):
        assert count == pytest.approx(float(row["count"]), abs=1e-9), cid
        assert population == pytest.approx(float(row["population"]), rel=1e-12), cid
        assert page == pytest.approx(float(row["density"]), rel=1e-12), cid
    assert rules("CptsEditor.rules.density(3, 0, 10000)") is None


def test_formula_guard_as_neutralise_cells(rules):
    from cpts_geo.io.files import neutralise_cells, restore_cells

    rng = np.random.default_rng(5)
    alphabet = ["'", "=", "+", "-", "@", "\t", "\r", "a", "1", " ", "é", ";", '"', "\n"]
    texts = sorted({"".join(rng.choice(alphabet, int(rng.integers(0, 6)))) for _ in range(3000)})
    starts = list(_formula_starts())
    assert sorted(starts) == sorted(["=", "+", "-", "@", "\t", "\r"])
    guarded = rules("([ts, s]) => ts.map(t => CptsEditor.rules.guardCell(t, s))", [texts, starts])
    assert guarded == neutralise_cells(pd.DataFrame({"x": texts}, dtype=object))["x"].tolist()
    restored = rules("([ts, s]) => ts.map(t => CptsEditor.rules.unguardCell(t, s))", [guarded + texts, starts])
    assert restored == restore_cells(pd.DataFrame({"x": guarded + texts}, dtype=object))["x"].tolist()


def test_numbers_written_as_the_library_writes_them(rules):
    """The page's one formatter (``Intl.NumberFormat("fr-FR")``) against
    :func:`cpts_geo.domain.french.number` with the narrow no-break space of HTML pages."""
    from cpts_geo.domain.french import number

    rng = np.random.default_rng(6)
    xs = np.concatenate([[0, 1, 999, 1000, 180_816, 1_234_567.891, 2.5, 3.5, 0.125, 13.45, 287_500],
                         rng.uniform(0, 2_000_000, 300), rng.uniform(0, 10, 300).round(3)]).tolist()
    for decimals in (0, 1, 2):
        got = rules("([xs, d]) => xs.map(x => CptsEditor.rules.formatNumber(x, d))", [xs, decimals])
        assert got == [number(x, decimals, sep="\u202f") for x in xs], decimals
    assert rules("CptsEditor.rules.formatNumber(null, 0)") == "non disponible"


def test_geometries_decoded_as_python_encoded_them(rules):
    """The page decodes the communes' rings itself (no helper of ``cpts_map.js``)."""
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.render.maps import encode_geometries

    geoms = load_communes(departments="80").geometry.to_crs(4326).to_numpy()[:60]
    origin, scale = (1.37, 49.57), 10_000.0
    encoded = encode_geometries(geoms, origin, scale)
    got = rules("([gs, o, s]) => gs.map(g => CptsEditor.decode.shape(g, o, s))", [encoded, list(origin), scale])
    for geom, shape in zip(geoms, got):
        polys = list(getattr(geom, "geoms", [geom]))
        assert len(shape) == len(polys)
        for poly, rings in zip(polys, shape):
            assert len(rings) == 1 + len(poly.interiors)
            lat_lon = np.array(rings[0])
            # quantised on the grid of 1 / scale degree (and the rings as encoded: no more, no fewer points)
            assert np.abs(lat_lon[:, ::-1] - np.asarray(poly.exterior.coords)[: len(lat_lon)]).max() < 1.01 / scale


def test_contiguity_as_build_territories_counts_parts(rules):
    """Random drafts of the Somme (grown through borders, or scattered): the page's pieces equal
    the parts (``n_parts``) of :func:`cpts_geo.domain.territories.build_territories`."""
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.territories import build_territories
    from cpts_geo.render.editor import _neighbours, _split_communes

    somme = load_communes(departments="80").sort_index()
    neighbours = _neighbours(somme)
    rng = np.random.default_rng(7)
    split = _split_communes(somme, neighbours)
    two = somme.index.get_loc("80630")
    assert split["n"] == [[two, 2]]  # a commune in two parts
    free = set(range(len(somme))) - {two} - set(neighbours[two])
    groups = [[two, *neighbours[two]]]
    while len(groups) < 120 and free:
        seed = int(rng.choice(sorted(free)))
        group, frontier = [seed], [seed]
        free.discard(seed)
        size = int(rng.integers(1, 18))
        scattered = rng.random() < 0.3
        while len(group) < size and free:
            if scattered:
                nxt = int(rng.choice(sorted(free)))
            else:
                options = [k for i in frontier for k in neighbours[i] if k in free]
                if not options:
                    break
                nxt = int(rng.choice(options))
            group.append(nxt)
            frontier.append(nxt)
            free.discard(nxt)
        groups.append(group)
    codes = somme.index.to_numpy()
    reg = pd.DataFrame([(f"T{k:03d}", codes[i]) for k, g in enumerate(groups) for i in g],
                       columns=["cpts_id", "commune_code"]).assign(stage="1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = build_territories(reg, somme)["n_parts"]
        alone = build_territories(pd.DataFrame({"cpts_id": ["A"], "commune_code": ["80630"], "stage": ["1"]}),
                                  somme)["n_parts"]
    assert rules("([g, nb, a, sp]) => CptsEditor.rules.pieces(g, nb, a, sp)",
                 [[two], neighbours, [1.0] * len(somme), split]) == int(alone["A"]) == 2
    area = [1.0] * len(somme)
    got = rules("([gs, nb, a, sp]) => gs.map(g => CptsEditor.rules.pieces(g, nb, a, sp))",
                [groups, neighbours, area, split])
    assert got == [int(parts[f"T{k:03d}"]) for k in range(len(groups))]
    assert max(got) > 1
