"""Spatial accessibility: two-step floating catchment (2SFCA) and its enhanced form (E2SFCA).

On a sparse table of costs (``origin`` = where people live, ``destination`` = where
professionals practise, ``minutes``) and a weight ``w(cost)``:

1. each supply location ``j`` gets ``R_j = S_j / sum_i P_i w(c_ij)``;
2. each demand location ``i`` gets ``A_i = sum_j R_j w(c_ij)``.

Pairs count when ``cost < max_cost`` (strictly; pysal/access keeps ``cost <= max_cost``, which
differs only for a time exactly equal to the limit); the weight applies on top. Plain 2SFCA
uses ``w = 1``; E2SFCA a step weight, by default the DREES bands of the APL
(:data:`DREES_DECAY`, bands closed at their lower bound: under 10 minutes 1, from 10 to under
15 2/3, from 15 to under 20 1/3, 20 and more 0); gaussian and gravity weights follow
pysal/access's definitions. Each step is one weighted sum over the pairs (``np.bincount``),
no loop over pairs and no matrix to build.

A location's own supply is always in reach of its own population: the pair of a location with
itself counts even when its time reaches the limit (``max_cost``, or the last bound of a step
weight), at a time just under that limit (DREES bands, 20 minutes: weight 1/3): this happens
with the estimated trip inside very large communes (Guyane); such locations are listed in
the ``capped_self`` field of the result and announced by a warning. A location with supply or
demand whose pair with itself is absent from a cost table is announced too (``no_self_pair``).
Location codes are matched after :func:`cpts_geo.domain.codes.normalize_codes` (``1001`` and
``"01001"`` are the same commune); :func:`accessibility` also maps old codes and
arrondissements of a cost table or a demand to today's communes, with a report.

Each function returns its table with its reports in a typed result (:class:`TwoStepFCA`,
:class:`EstimatedCosts`, :class:`CommuneAccessibility`, :class:`TerritoryAccessibility`);
warnings repeat the essentials for a person and name the field that holds each list.

Costs come from the user (a real travel-time table) or from :func:`estimate_costs`, which
turns straight-line distances between commune points in Lambert-93 into road minutes with
documented, overridable assumptions (:data:`TRAVEL_ASSUMPTIONS`). Estimated times are
uncertain: :func:`accessibility` weighs them with the expected DREES band weight under a
log-normal error (``TRAVEL_ASSUMPTIONS["uncertainty"]``, :func:`step_weight` with
``uncertainty``) rather than with bounds that a rough estimate cannot place exactly.

Demand is a population, optionally age-standardised with the DREES weights
(:func:`standardised_population`, :data:`DREES_AGE_WEIGHTS`); :func:`accessibility` takes
the layer's ``pop_standardised`` column (the DREES standardised population) when it has one. A territory's value is the mean
of its communes of known value weighted by standardised population
(:func:`territory_accessibility`),
with the share of its population below a threshold (2.5 consultations per inhabitant and
year for GPs in the APL).

Differences with pysal/access, by design: every demand location of the cost table gets a
value (0 when no supply is in reach, with a warning; NaN only when it is absent from the cost
table); a supply location that no demand reaches gets a ratio of 0 instead of an infinite one
(and a warning); a location's pair with itself is never out of reach (see above); the default
step bands are closed at their lower bound (``step_weight(..., closed="upper")`` gives
pysal/access's convention).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, cast

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from cpts_geo.domain.codes import as_codes, is_in
from cpts_geo.domain.french import number
from cpts_geo.domain.numbers import parse_numbers
from cpts_geo.domain.text import cell_text
from cpts_geo.domain.vocabulary import ACCESSIBILITY_HEADERS
from cpts_geo.errors import CptsGeoWarning, ValidationError

__all__ = [
    "APL_THRESHOLD",
    "DREES_AGE_WEIGHTS",
    "DREES_DECAY",
    "TRAVEL_ASSUMPTIONS",
    "CommuneAccessibility",
    "EstimatedCosts",
    "StepWeight",
    "TerritoryAccessibility",
    "TwoStepFCA",
    "accessibility",
    "accessibility_table",
    "enhanced_two_step_fca",
    "estimate_costs",
    "gaussian_weight",
    "gravity_weight",
    "search_radius_km",
    "standardised_population",
    "step_weight",
    "territory_accessibility",
    "travel_minutes",
    "two_step_fca",
    "within_reach",
]



def _param(value: object) -> str:
    """A parameter in a message: a numpy number as the plain number (``nan``, ``0.5``)."""
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

    from cpts_geo.indicators.supply import SupplyRead


#: DREES APL distance decay: upper bound of each band (minutes by road) → weight;
#: 1 under 10 min, 2/3 from 10 to under 15, 1/3 from 15 to under 20, 0 from 20 (the bands
#: are closed at their lower bound, see :func:`step_weight`). Source: DREES, APL aux
#: médecins généralistes 2022–2023, sheet « Paramètres » (drees_apl_mg_2022_2023.xlsx).
DREES_DECAY: dict[float, float] = {10.0: 1.0, 15.0: 2 / 3, 20.0: 1 / 3}


#: Threshold of the APL to GPs under which a commune is under-served (consultations per
#: inhabitant and year), DREES.
APL_THRESHOLD = 2.5


#: DREES age weights for the standardised population (relative consumption of general
#: practice care by 5-year age band; lower bound of the band in years → weight; the last band
#: is 90 and over). Source: DREES, APL 2023, sheet « Paramètres » (DCIR 2021, Cnam;
#: populations municipales 2021, Insee). 2022 weights: :data:`DREES_AGE_WEIGHTS_2022`.
DREES_AGE_WEIGHTS: dict[int, float] = {
    0: 1.12, 5: 0.58, 10: 0.51, 15: 0.60, 20: 0.75, 25: 0.79, 30: 0.82, 35: 0.85, 40: 0.89,
    45: 0.93, 50: 1.03, 55: 1.15, 60: 1.18, 65: 1.23, 70: 1.46, 75: 1.57, 80: 1.63, 85: 1.89,
    90: 2.26,
}


#: The same for the APL 2022 (DCIR 2020; populations municipales 2020).
DREES_AGE_WEIGHTS_2022: dict[int, float] = {
    0: 0.93, 5: 0.59, 10: 0.55, 15: 0.59, 20: 0.73, 25: 0.78, 30: 0.84, 35: 0.88, 40: 0.90,
    45: 0.97, 50: 1.06, 55: 1.14, 60: 1.16, 65: 1.19, 70: 1.52, 75: 1.53, 80: 1.72, 85: 1.99,
    90: 2.39,
}


#: Assumptions turning a straight line between two commune points into minutes by road
#: (:func:`travel_minutes`). Override any of them with ``assumptions={...}``.
#:
#: - ``detour``: road distance / straight-line distance (circuity; 1.3 is the usual order of
#:   magnitude for French roads between nearby communes);
#: - ``speed_min_kmh`` / ``speed_max_kmh``: average speed of a very short trip (town and
#:   village roads, 40 km/h) and of a long one (main roads, 60 km/h);
#: - ``speed_scale_km``: road distance over which the speed rises from the first to the
#:   second (``v(d) = v_max - (v_max - v_min) exp(-d / scale)``, 20 km);
#: - ``terminal_min``: minutes added to every trip (getting to the car, parking: 1 min);
#: - ``uncertainty``: σ of the log-normal error of an estimated time (0.1: about ±10 %);
#:   :func:`accessibility` then weighs estimated times by the *expected* DREES band weight
#:   (:func:`step_weight` with ``uncertainty``), up to 20 · exp(3σ) minutes, instead of
#:   cutting them at the exact band bounds; a cost table given by the user is weighed with
#:   the exact bands.
#:
#: The trip inside a commune is the mean distance from a point of a disc of the commune's
#: area to its centre (``2/3`` of the radius), with the same detour and speeds.
#:
#: Chosen on ranks in Hauts-de-France only (every other region is out of sample), with BPE
#: 2018 GP counts as supply, all of mainland France as supply and demand: with the layer's
#: standardised population as demand, Spearman correlation with the published DREES APL
#: 2022 of 0.735 in Hauts-de-France, 0.565 for mainland France with Corsica (0.489 to 0.630
#: in the other regions); with the population and exact bands (the former defaults), 0.691
#: (0.514). The speeds, detour and terminal time change Hauts-de-France by at most 0.001
#: around these values (180 combinations tried). Not kept either: the centroid or the town
#: hall as the commune's point, a longer or zero trip inside a commune, Paris, Lyon and
#: Marseille by arrondissement, a detour depending on the size or density of the two
#: communes, the centres de santé as supply (none better in Hauts-de-France beyond noise), a
#: detour growing with the density within 10 km (better in Hauts-de-France, worse for
#: mainland France and the mountain regions). See ``benchmarks/bench_accessibility.py`` for the table per region and the levers
#: tried.
TRAVEL_ASSUMPTIONS: dict[str, float] = {
    "detour": 1.3,
    "speed_min_kmh": 40.0,
    "speed_max_kmh": 60.0,
    "speed_scale_km": 20.0,
    "terminal_min": 1.0,
    "uncertainty": 0.1,
}


_DEMAND_COLS = ("origin", "destination", "minutes")


# --------------------------------------------------------------------------- weights
@dataclass(frozen=True, eq=False)
class StepWeight:
    """A step weight made by :func:`step_weight`: call it on an array of times (minutes).

    Its fields say which bands it applies; :func:`two_step_fca` reads the last bound of
    ``steps`` as the limit of reach (a location's pair with itself is counted just under it).
    """

    #: Upper bound of each band → weight (kept as a dict).
    steps: Mapping[float, float]
    #: Which end of a band holds its bound: ``"lower"`` (DREES) or ``"upper"`` (pysal/access).
    closed: Literal["lower", "upper"] = "lower"
    #: σ of the log-normal error of the times; ``None``: exact steps.
    uncertainty: float | None = None
    _bounds: np.ndarray = field(init=False, repr=False)
    _values: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        steps = self.steps
        if not isinstance(steps, Mapping) or not steps:
            raise TypeError("steps doit être un dictionnaire {borne en minutes: poids}.")
        if any(v < 0 for v in steps.values()):
            raise ValueError("Les poids d'une fonction en escalier doivent être positifs.")
        if self.closed not in ("lower", "upper"):
            raise ValueError(f"closed doit valoir 'lower' ou 'upper', pas {self.closed!r}.")
        sigma = self.uncertainty
        if sigma and not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"uncertainty={_param(sigma)} : un écart-type > 0 est attendu.")
        bounds = np.array(sorted(steps), dtype="float64")
        # (frozen: the fields are set once, here)
        object.__setattr__(self, "steps", dict(steps))
        object.__setattr__(self, "uncertainty", float(sigma) if sigma else None)
        object.__setattr__(self, "_bounds", bounds)
        object.__setattr__(self, "_values", np.append(
            np.array([steps[b] for b in sorted(steps)], dtype="float64"), 0.0))

    def __call__(self, cost: np.ndarray) -> np.ndarray:
        """The weight of each time."""
        cost = np.asarray(cost, dtype="float64")
        if self.uncertainty is not None:
            return self._expected(cost, self.uncertainty)
        bounds, values = self._bounds, self._values
        side: Literal["left", "right"] = "right" if self.closed == "lower" else "left"
        if len(bounds) > 8 or cost.ndim != 1:
            return values[np.searchsorted(bounds, cost, side=side)]
        # a few bands: counting the bounds not yet reached (one byte per pair) is several
        # times faster than a binary search on millions of pairs; the same band as
        # searchsorted, and NaN reaches no bound: the last band, weight 0
        ahead = np.zeros(len(cost), dtype=np.uint8)
        below = np.less if side == "right" else np.less_equal
        for b in bounds:
            ahead += below(cost, b).view(np.uint8)
        return values[::-1][ahead]

    def _expected(self, cost: np.ndarray, sigma: float) -> np.ndarray:
        """The expected step weight under a log-normal error of σ (see :func:`step_weight`)."""
        from scipy.special import ndtr

        values = self._values
        drops = values[:-1] - values[1:]  # what is lost at each bound
        with np.errstate(divide="ignore", invalid="ignore"):
            log_cost = np.log(cost)  # 0 minutes → -inf → every step fully kept
        out = np.zeros(cost.shape)
        for drop, log_b in zip(drops, np.log(self._bounds)):
            out += drop * ndtr((log_b - log_cost) / sigma)
        out[~(cost >= 0)] = 0.0  # NaN or negative: no weight (two_step_fca refuses them)
        return out



def step_weight(steps: Mapping[float, float], *, closed: Literal["lower", "upper"] = "lower",
                uncertainty: float | None = None) -> StepWeight:
    """Step weight: each bound ends a band with its value; 0 from (or beyond) the last bound.

    With ``uncertainty`` (σ > 0), the weight of a time ``c`` known only roughly (an
    estimate, :func:`estimate_costs`): the expected step weight when the real time is
    ``c · exp(ε)``, ``ε ~ N(0, σ²)`` (a log-normal error, σ ≈ relative error),

    ``w(c) = Σ_k (v_k − v_{k+1}) Φ((ln b_k − ln c) / σ)``, ``v_{K+1} = 0``,

    smooth, 1/2 of each step at its bound, never 0 (give the cost table a reach such as
    ``b_K · exp(3σ)``); ``closed`` then makes no difference.

    Parameters
    ----------
    steps : mapping
        Upper bound of each band → weight.
    closed : {"lower", "upper"}, default "lower"
        Which end of a band holds its bound. ``"lower"`` (the DREES wording, "moins de 10
        minutes"): bands ``[previous bound, bound)``, ``w(c)`` is the value of the smallest
        bound ``> c``, 0 from the last bound on. ``"upper"``: bands ``(previous bound, bound]``,
        the value of the smallest bound ``>= c``, 0 beyond the last: the convention of
        pysal/access's ``weights.step_fn``.
    uncertainty : float, optional
        σ of the log-normal error of the times (see above); ``None`` or 0: exact steps.

    Returns
    -------
    StepWeight
        The weight, a callable on an array of times; its fields ``steps``, ``closed`` and
        ``uncertainty`` say what it applies.

    Examples
    --------
    >>> w = step_weight({10: 1, 15: 2 / 3, 20: 1 / 3})
    >>> w(np.array([0, 9.9, 10, 12, 15, 20, 25])).round(3).tolist()
    [1.0, 1.0, 0.667, 0.667, 0.333, 0.0, 0.0]
    >>> step_weight({10: 1, 15: 2 / 3, 20: 1 / 3}, closed="upper")(np.array([10, 20])).round(3).tolist()
    [1.0, 0.333]
    >>> step_weight({20: 1}, uncertainty=0.1)(np.array([20, 20 * np.exp(0.1)])).round(4).tolist()
    [0.5, 0.1587]
    """
    return StepWeight(steps, closed, uncertainty)



def gaussian_weight(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    """Gaussian weight ``exp(-c² / 2σ²)`` (not normalised, ``w(0) = 1``), as pysal/access.

    Parameters
    ----------
    sigma : float
        The spread, in the unit of the costs (minutes); not zero.

    Returns
    -------
    callable
        ``w(costs) -> weights`` on arrays.

    Examples
    --------
    >>> gaussian_weight(20)(np.array([0, 20])).round(4).tolist()
    [1.0, 0.6065]
    """
    if sigma == 0:
        raise ValueError("sigma doit être non nul.")
    return lambda cost: np.exp(-np.square(np.asarray(cost, dtype="float64")) / (2 * sigma**2))



def gravity_weight(scale: float, alpha: float, *, min_cost: float = 0.0
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """Gravity weight ``(max(c, min_cost) / scale) ** alpha`` (alpha < 0 for a decay), as pysal/access.

    Parameters
    ----------
    scale : float
        Costs are divided by it before the power.
    alpha : float
        The exponent; negative for a decay.
    min_cost : float, default 0.0
        Costs below it count as ``min_cost`` (avoids an infinite weight at 0).

    Returns
    -------
    callable
        ``w(costs) -> weights`` on arrays.

    Examples
    --------
    >>> gravity_weight(1, -1)(np.array([1, 40, 80])).tolist()
    [1.0, 0.025, 0.0125]
    """
    def weight(cost: np.ndarray) -> np.ndarray:
        c = np.maximum(np.asarray(cost, dtype="float64"), min_cost) / scale
        with np.errstate(divide="ignore"):
            return np.power(c, alpha)
    return weight


# --------------------------------------------------------------------------- validation
def _keys(values: Iterable[object]) -> tuple[pd.Index, list[tuple]]:
    """Location ids as matched between demand, supply and costs: cleaned commune codes.

    Also returns the ``(given, cleaned)`` pairs that changed.
    """
    from cpts_geo.domain.codes import is_insee_code, normalize_codes

    text = pd.Index(values).astype("string")
    chunks = _arrow_strings(text)
    if chunks is not None and _base12(chunks) is not None:  # the usual case: clean codes
        return text, []
    if is_insee_code(text.to_series()).all():
        return text, []
    keys = pd.Index(normalize_codes(pd.Series(values, dtype=object))[0], dtype="string")
    changed = [(v, k) for v, k in zip(values, keys) if not pd.isna(k) and str(v) != k]
    return keys, changed



def _as_values(values: pd.Series | pd.DataFrame, what: str, problems: list[dict]) -> tuple[pd.DataFrame, pd.Index]:
    """Demand or supply as a float DataFrame and its matching keys; records bad values."""
    frame = values.to_frame() if isinstance(values, pd.Series) else pd.DataFrame(values)
    if not all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
               for t in frame.dtypes):
        frame = frame.apply(lambda col: pd.Series(parse_numbers(col)[0], index=col.index))
    frame = frame.astype("float64")
    keys, _ = _keys(frame.index)
    if keys.has_duplicates:
        for key in keys[keys.duplicated()].unique():
            given = ", ".join(map(str, frame.index[(keys == key)]))
            problems.append({"code": key, "problem": f"{what} : lieu en double dans l'index ({given})"})
    arr = frame.to_numpy()
    bad = (~np.isfinite(arr) | (arr < 0)).any(axis=1) if arr.size else np.zeros(len(frame), bool)
    for code in frame.index[bad]:
        problems.append({"code": code, "problem": f"{what} manquante, infinie ou négative : "
                         "indiquez un nombre ≥ 0 (0 si aucune)"})
    return frame, keys



class _CostCodes(NamedTuple):
    """Origin and destination of each pair as integers in one code space shared by both."""

    origin: np.ndarray  # int64 code per row, -1 where missing
    destination: np.ndarray
    size: int  # every code is in range(size)
    encode: Callable[[pd.Index], np.ndarray]  # cleaned location codes → codes (-1: none)
    decode: Callable[[np.ndarray], pd.Index]  # codes → cleaned location codes (text)


# Clean commune codes (five characters, digits or 2A/2B) as integers: base 12, one digit per
# character, A = 10, B = 11. Codes of a cost table that all read this way (the usual case:
# a table from estimate_costs or from a travel-time tool) are turned into integers straight
# from the Arrow buffers, without hashing two million strings.
_CHAR = np.frombuffer(b"0123456789AB", dtype=np.uint8)


_SPACE = 12**5



def _arrow_strings(values: object) -> list[pa.Array] | None:
    """The Arrow chunks of a text column or index without copy, or None (other storage)."""
    try:
        chunked = values.array.__arrow_array__() if hasattr(values, "array") else None
    except (AttributeError, TypeError):
        return None
    if chunked is None or not hasattr(chunked, "chunks"):
        return None
    import pyarrow as pa

    if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunked.chunks):
        return None
    return chunked.chunks



def _digits12(raw: np.ndarray) -> np.ndarray | None:
    """Base-12 integer of clean commune codes packed in ``raw`` (bytes, five per code), or
    None if any is not clean.

    The first four characters of a code are read as one little-endian 32-bit word (a view
    with a five-byte stride, no copy) and combined in place (the digits two by two, then the
    pairs), so that two million codes take a few vector passes instead of one per character.
    """
    n = len(raw) // 5
    u32 = np.uint32
    word = np.subtract(np.ndarray((n,), dtype="<u4", buffer=raw, strides=(5,)), u32(0x30303030))
    last = raw[4::5] - np.uint8(48)
    second = raw[1::5] - np.uint8(48)
    letter = np.flatnonzero(second > 9)
    if len(letter):  # 2A, 2B (Corsica): A → 10, B → 11
        if not (np.isin(second[letter], (17, 18)).all() and (raw[5 * letter] == ord("2")).all()):
            return None
        word[letter] -= u32(7 << 8)
    # a byte that is not a digit (the second: 0–11), once "0" is taken off, is above its
    # limit or borrows: either way adding 0x76 (0x74 to the second) sets its high bit
    work = np.add(word, u32(0x76767476))
    work |= word
    work &= u32(0x80808080)
    if work.any() or last.max(initial=0) > 9:
        return None
    # bytes d0..d3 (d0 the lowest): d0·12 + d1 and d2·12 + d3 in 16-bit lanes, then the
    # pair (in place: two million codes make every temporary array count)
    np.bitwise_and(word, u32(0x00FF00FF), out=work)
    work *= u32(12)
    word >>= u32(8)
    word &= u32(0x00FF00FF)
    work += word
    np.bitwise_and(work, u32(0xFFFF), out=word)
    word *= u32(144)
    work >>= u32(16)
    word += work
    out = np.multiply(word, 12, dtype=np.int64)
    out += last
    return out



def _base12(chunks: Iterable[pa.Array]) -> np.ndarray | None:
    """Integer code of every clean commune code, or None if any is not.

    Clean: :data:`cpts_geo.domain.codes.INSEE_CODE_PATTERN` (five digits, or 2A/2B and three
    digits), read here byte by byte (tests check both agree).
    """
    import pyarrow as pa

    parts = []
    for chunk in chunks:
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
        if chunk.null_count or (len(chunk) and offsets[-1] - offsets[0] != 5 * len(chunk)):
            return None  # a missing value, or one that is not five characters long
        if not len(chunk):
            continue
        raw = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        digits = _digits12(raw)
        if digits is not None:  # five digits each (no Corsican code)
            parts.append(digits)
            continue
        # characters minus "0": 0–9 for digits, 17 and 18 for A and B (uint8 arithmetic)
        v = raw.reshape(-1, 5) - np.uint8(48)
        if max(v[:, 0].max(), v[:, 2].max(), v[:, 3].max(), v[:, 4].max()) > 9:
            return None
        second = v[:, 1]
        if second.max() > 9:  # 2A, 2B (Corsica): A → 10, B → 11
            letter = second > 9
            if not (np.isin(second[letter], (17, 18)).all() and (v[letter, 0] == 2).all()):
                return None
            second = second - np.uint8(7) * letter.astype(np.uint8)
        key = v[:, 0].astype(np.int32) * np.int32(12**4)
        key += second * np.int32(12**3)
        key += v[:, 2] * np.int32(12**2)
        key += v[:, 3] * np.int32(12)
        key += v[:, 4]
        parts.append(key)
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)



def _decode12(codes: np.ndarray) -> pd.Index:
    codes = np.asarray(codes, dtype=np.int64)
    digits = np.empty((len(codes), 5), dtype=np.uint8)
    rest = codes.copy()
    for k in range(4, -1, -1):
        digits[:, k] = _CHAR[rest % 12]
        rest //= 12
    return pd.Index(digits.view("S5").ravel().astype(str), dtype="string")



def _encode12(keys: pd.Index) -> np.ndarray:
    """Base-12 codes of cleaned location codes; -1 for those that are not five characters."""
    chunks = _arrow_strings(keys)
    coded = _base12(chunks) if chunks is not None else None
    if coded is not None:  # all clean: the usual case
        return coded
    text = pd.Series(keys, dtype="string").fillna("")
    five = (text.str.len() == 5).to_numpy()
    out = np.full(len(text), -1, dtype=np.int64)
    if five.any():
        chunks = _arrow_strings(pd.Series(text[five].to_numpy(), dtype="string[pyarrow]"))
        coded = _base12(chunks) if chunks is not None else None
        if coded is None:  # some other character: code by code
            from cpts_geo.domain.codes import is_insee_code

            clean = is_insee_code(text[five])
            coded = np.full(int(five.sum()), -1, dtype=np.int64)
            if clean.any():
                pyarrow_text = pd.Series(text[five][clean].to_numpy(), dtype="string[pyarrow]")
                coded[clean] = _base12(cast("list[pa.Array]", _arrow_strings(pyarrow_text)))
        out[five] = coded
    return out



def _fast_codes(costs: pd.DataFrame, origin: str, destination: str) -> _CostCodes | None:
    """Integer codes straight from clean text or categorical columns, or None."""
    coded = []
    for column in (origin, destination):
        values = costs[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            cats = _arrow_strings(pd.Series(values.cat.categories.astype("string[pyarrow]")))
            table = _base12(cats) if cats is not None else None
            codes = values.cat.codes.to_numpy()
            if table is None or (codes < 0).any():
                return None
            coded.append(table[codes])
            continue
        chunks = _arrow_strings(values)
        key = _base12(chunks) if chunks is not None else None
        if key is None:
            return None
        coded.append(key)
    return _CostCodes(coded[0], coded[1], _SPACE, _encode12, _decode12)



def _slow_codes(costs: pd.DataFrame, origin: str, destination: str) -> tuple[_CostCodes, list]:
    """Integer codes of any column (numbers, spaces, missing values): hashed, then cleaned."""
    def factorize(column: str) -> tuple[np.ndarray, pd.Index, list[tuple]]:
        # codes as integers (one hash pass per column); the distinct values are then
        # cleaned (1001 → 01001)
        raw, values = pd.factorize(costs[column])
        keys, repaired = _keys(values)
        return raw, keys, repaired

    o_raw, o_keys, o_fixed = factorize(origin)
    d_raw, d_keys, d_fixed = factorize(destination)
    both = pd.Index(pd.concat([pd.Series(o_keys, dtype="string"), pd.Series(d_keys, dtype="string")])
                    .dropna().unique(), dtype="string")
    o_codes = np.append(both.get_indexer(o_keys), -1)[o_raw]  # -1 (missing) stays -1
    d_codes = np.append(both.get_indexer(d_keys), -1)[d_raw]
    codes = _CostCodes(o_codes.astype(np.int64), d_codes.astype(np.int64), len(both),
                       lambda keys: both.get_indexer(pd.Index(keys, dtype="string")),
                       lambda c: both[np.asarray(c, dtype=np.int64)])
    return codes, list(dict.fromkeys(o_fixed + d_fixed))



def _check_costs(costs: pd.DataFrame, origin: str, destination: str, cost: str,
                 problems: list[dict]) -> tuple[_CostCodes, np.ndarray, list]:
    """Codes and minutes of a cost table; records every bad row in ``problems``.

    Returns the codes (:class:`_CostCodes`), the minutes and the ``(given, cleaned)`` codes
    that were repaired.
    """
    missing = [c for c in (origin, destination, cost) if c not in costs.columns]
    if missing:
        raise ValidationError(
            "Table des temps de trajet incomplète : colonnes origine, destination, minutes attendues",
            [{"problem": f"colonne « {m} » absente ; colonnes présentes : "
                         + ", ".join(map(str, costs.columns))} for m in missing])
    given = costs[cost]
    minutes = parse_numbers(given)[0]  # text: French numbers (12,5 ; 1 234), as every reader

    codes = _fast_codes(costs, origin, destination)
    from_bytes = codes is not None  # then no code is missing
    repaired: list = []
    if codes is None:
        codes, repaired = _slow_codes(costs, origin, destination)
    o_codes, d_codes = codes.origin, codes.destination

    def pair(pos: int) -> str:
        o = codes.decode(np.asarray([o_codes[pos]]))[0] if o_codes[pos] >= 0 else "?"
        d = codes.decode(np.asarray([d_codes[pos]]))[0] if d_codes[pos] >= 0 else "?"
        return f"{o} → {d}"

    bad = ~(minutes >= 0) | (minutes == np.inf)  # missing, negative or infinite
    if not from_bytes:
        bad |= (o_codes < 0) | (d_codes < 0)
    for pos in np.flatnonzero(bad).tolist():  # rare: checked one by one, with their row numbers
        row = pos + 2
        if o_codes[pos] < 0 or d_codes[pos] < 0:
            problems.append({"row": row, "code": pair(pos), "problem": "origine ou destination manquante"})
        if np.isnan(minutes[pos]):
            problems.append({"row": row, "code": pair(pos),
                             "problem": f"temps de trajet manquant ou non numérique ({cell_text(given.iloc[pos])}) : "
                                        "indiquez des minutes, ou retirez la paire (une paire absente "
                                        "compte comme hors d'atteinte)"})
        elif np.isinf(minutes[pos]):
            problems.append({"row": row, "code": pair(pos),
                             "problem": "temps de trajet infini : indiquez des minutes, ou retirez la "
                                        "paire (une paire absente compte comme hors d'atteinte)"})
        elif minutes[pos] < 0:
            problems.append({"row": row, "code": pair(pos),
                             "problem": f"temps de trajet négatif ({number(minutes[pos], None)}) : "
                                        "un temps est ≥ 0"})
    # duplicated pairs: one integer per pair; a table sorted by origin then destination (as
    # estimate_costs writes it) has none when its keys strictly increase
    key = o_codes * (codes.size + 1) + d_codes
    if len(key) > 1 and not (key[1:] > key[:-1]).all():
        ok = (o_codes >= 0) & (d_codes >= 0)
        dup = pd.Series(key).duplicated(keep=False).to_numpy() & ok
        if dup.any():
            for _, grp in pd.Series(np.flatnonzero(dup)).groupby(key[dup]):
                positions = grp.to_numpy()
                problems.append({"row": ", ".join(map(str, positions + 2)), "code": pair(positions[0]),
                                 "problem": "paire en double : gardez une seule ligne par paire"})
    return codes, minutes, repaired



def _reach_limit(max_cost: float | None, weight: Callable[[np.ndarray], np.ndarray] | None) -> float | None:
    """The time from which a pair is out of reach: ``max_cost``, or a step weight's last bound."""
    last = max(weight.steps) if isinstance(weight, StepWeight) else None
    limits = [x for x in (max_cost, last) if x is not None]
    return float(min(limits)) if limits else None


# --------------------------------------------------------------------------- the two steps
class TwoStepFCA(NamedTuple):
    """Accessibility per demand location from :func:`two_step_fca`, with its reports.

    Every list holds location ids as given in ``demand``'s or ``supply``'s index.
    """

    #: Accessibility per demand location, indexed like ``demand``: supply per unit of demand,
    #: 0 where no supply is in reach, NaN where the location is absent from the cost table
    #: (a Series, or a DataFrame with one column per supply column).
    values: pd.Series | pd.DataFrame
    #: Demand locations without supply in reach (for a DataFrame supply, a dict column →
    #: locations: each profession has its own).
    no_supply: list | dict[str, list]
    #: Supply locations that no demand reaches (their supply is not counted).
    unreached_supply: list
    #: Demand locations absent from the cost table (value NaN: unknown, not 0).
    not_in_costs: list
    #: Origins of the cost table that are not in ``demand`` (their pairs are left out).
    unknown_origins: list
    #: Destinations of the cost table that are not in ``supply`` (their pairs are left out).
    unknown_destinations: list
    #: Locations whose pair with itself reached the limit and was counted just under it.
    capped_self: list
    #: Locations with supply or demand but without a pair with themselves (their own supply
    #: is not counted for their own people).
    no_self_pair: list
    #: ``(given, cleaned)`` codes of the cost table (leading zero, spaces).
    repaired_codes: list[tuple]



def two_step_fca(
    demand: pd.Series,
    supply: pd.Series | pd.DataFrame,
    costs: pd.DataFrame | EstimatedCosts,
    *,
    max_cost: float | None = None,
    weight: Callable[[np.ndarray], np.ndarray] | None = None,
    origin: str = "origin",
    destination: str = "destination",
    cost: str = "minutes",
    quiet: bool = False,
) -> TwoStepFCA:
    """Two-step floating catchment accessibility (2SFCA; with ``weight``, E2SFCA).

    Parameters
    ----------
    demand : Series
        Demand (population, possibly age-standardised) indexed by location id.
    supply : Series or DataFrame
        Supply indexed by location id; a DataFrame gives one result column per column.
    costs : DataFrame or EstimatedCosts
        Sparse cost table, one row per reachable pair (``origin`` in ``demand``'s index,
        ``destination`` in ``supply``'s), or the result of :func:`estimate_costs`. A pair
        absent from the table is out of reach.
    max_cost : float, optional
        Keep pairs with ``cost < max_cost``.
    weight : callable, optional
        Vectorised weight of the cost (:func:`step_weight`, :func:`gaussian_weight`,
        :func:`gravity_weight`); default 1.
    origin, destination, cost : str
        Column names in ``costs``. Times may be text with a decimal comma (``"1,5"``).
    quiet : bool
        Do not warn about locations without supply in reach, supply no demand reaches and
        pairs of unknown locations (they are listed in the result anyway).

    Returns
    -------
    TwoStepFCA
        ``values``: accessibility per demand location, indexed like ``demand`` (a Series, or
        a DataFrame for a DataFrame supply); supply per unit of demand (0 where no supply is
        in reach). Its reports: ``no_supply`` (for a DataFrame supply, a dict column →
        locations: each profession has its own), ``unreached_supply``, ``not_in_costs``
        (value NaN: unknown, not 0), ``unknown_origins``, ``unknown_destinations``,
        ``capped_self``, ``no_self_pair``, ``repaired_codes`` (see :class:`TwoStepFCA`).
        ``not_in_costs``, ``capped_self``, ``no_self_pair`` and ``repaired_codes`` are
        always warned, the others unless ``quiet``.

    Raises
    ------
    ValidationError
        Missing, non-numeric, infinite or negative times, duplicated pairs, negative,
        infinite or missing demand or supply.

    Examples
    --------
    The hospital example of pysal/access (gravity weight, cost < 61):

    >>> demand = pd.Series([100, 50, 10], index=["1", "2", "3"])
    >>> supply = pd.Series([15, 20, 100], index=["1", "2", "3"])
    >>> pairs = {("1", "1"): 1, ("2", "2"): 1, ("3", "3"): 1, ("1", "3"): 40, ("3", "1"): 40,
    ...          ("2", "3"): 40, ("3", "2"): 40, ("1", "2"): 80, ("2", "1"): 80}
    >>> costs = pd.DataFrame([(o, d, c) for (o, d), c in pairs.items()],
    ...                      columns=["origin", "destination", "minutes"])
    >>> result = two_step_fca(demand, supply, costs, max_cost=61, weight=gravity_weight(1, -1))
    >>> result.values.round(6).tolist()
    [0.331444, 0.579828, 7.286418]
    >>> result.no_supply, result.not_in_costs
    ([], [])
    """
    if isinstance(costs, EstimatedCosts):
        costs = costs.costs
    problems: list[dict] = []
    dem, dem_keys = _as_values(demand, "demande", problems)
    sup, sup_keys = _as_values(supply, "offre", problems)
    table_codes, c, repaired = _check_costs(costs, origin, destination, cost, problems)
    if problems:
        raise ValidationError("Entrées de l'accessibilité invalides : corrigez les lignes citées",
                              problems)
    oi, di = _pair_positions(table_codes, dem_keys, sup_keys)
    # (two reductions rather than masks: every code is known in the usual case)
    everything_known = bool(oi.min(initial=0) >= 0 and di.min(initial=0) >= 0)
    keep = None if everything_known else (oi >= 0) & (di >= 0)
    # a location's own supply is always in reach of its own people: its pair with itself
    # counts just under the limit when its time reaches it (the trip inside a huge commune)
    same = table_codes.origin == table_codes.destination
    self_rows = np.flatnonzero(same if keep is None else same & keep)
    limit = _reach_limit(max_cost, weight)
    capped = dem.index[:0]
    if limit is not None:
        over = self_rows[c[self_rows] >= limit]
        if len(over):
            c = c.copy()  # the caller's costs stay untouched
            c[over] = np.nextafter(limit, -np.inf)
            capped = dem.index[np.unique(oi[over])]
    if max_cost is not None:
        keep = c < max_cost if keep is None else keep & (c < max_cost)
    elif keep is None:
        keep = np.ones(len(c), dtype=bool)
    listed = np.zeros(len(dem) + 1, dtype=bool)
    listed[oi] = True  # oi = -1 (not in demand) marks the last cell only
    listed = listed[:-1]
    has_self = np.zeros(len(dem), dtype=bool)
    has_self[oi[self_rows]] = True
    none = table_codes.decode(np.asarray([], dtype=np.int64))
    unknown_o = none if everything_known else _unknown_codes(table_codes, table_codes.origin, oi)
    unknown_d = none if everything_known else _unknown_codes(table_codes, table_codes.destination, di)
    oi, di, w = _pair_weights(weight, c, keep, oi, di, everything_known)
    p = dem.iloc[:, 0].to_numpy()
    s = sup.to_numpy()
    values, has_supply, reach = _two_steps(p, s, oi, di, w, len(dem))
    values[~listed] = np.nan
    columns = sup.columns
    if isinstance(supply, pd.Series):
        out = pd.Series(values[:, 0], index=dem.index, name=supply.name or "accessibility")
    else:
        out = pd.DataFrame(values, index=dem.index, columns=columns)
    no_supply = {col: dem.index[listed & ~has_supply[:, k]].tolist() for k, col in enumerate(columns)}
    unlisted = dem.index[~listed]
    unreached = sup.index[(reach <= 0) & (s > 0).any(axis=1)]
    # locations with supply or demand, in the table, but without their pair with themselves
    sup_row = sup_keys.get_indexer(dem_keys)
    s_any = np.append((s > 0).any(axis=1), False)
    active = (p > 0) | s_any[sup_row]
    no_self = dem.index[listed & (sup_row >= 0) & active & ~has_self]
    result = TwoStepFCA(
        out, no_supply=no_supply[columns[0]] if isinstance(supply, pd.Series) else no_supply,
        unreached_supply=list(unreached), not_in_costs=list(unlisted),
        unknown_origins=list(unknown_o), unknown_destinations=list(unknown_d),
        capped_self=list(capped), no_self_pair=list(no_self), repaired_codes=repaired)
    _warn_two_step(result, no_supply, isinstance(supply, pd.Series), limit, quiet)
    return result



def _pair_positions(table_codes: _CostCodes, dem_keys: pd.Index, sup_keys: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """The position of the origin of each pair in demand and of its destination in supply (-1: none)."""
    # position of each code in demand and supply (-1: none); code -1 (missing) → -1
    o_pos = np.full(table_codes.size + 1, -1, dtype=np.int64)
    d_pos = np.full(table_codes.size + 1, -1, dtype=np.int64)
    for pos, keys in ((o_pos, dem_keys), (d_pos, sup_keys)):
        coded = table_codes.encode(keys)
        pos[coded[coded >= 0]] = np.flatnonzero(coded >= 0)
    return o_pos[table_codes.origin], d_pos[table_codes.destination]



def _unknown_codes(table_codes: _CostCodes, column: np.ndarray, pos: np.ndarray) -> pd.Index:
    """The codes of a column of the cost table (origin or destination) not found (``pos`` -1)."""
    found = np.zeros(table_codes.size, dtype=bool)
    found[column[(pos < 0) & (column >= 0)]] = True
    return table_codes.decode(np.flatnonzero(found))



def _pair_weights(weight: Callable[[np.ndarray], np.ndarray] | None, c: np.ndarray, keep: np.ndarray,
                  oi: np.ndarray, di: np.ndarray, everything_known: bool,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs kept (``oi``, ``di``) and their weights: 1 without ``weight``, else ``weight(c)``
    (pairs left out weigh 0 when every code is known, else they are dropped)."""
    if weight is None:
        oi, di = oi[keep], di[keep]
        return oi, di, np.ones(len(oi))
    # the weight of every pair, then one selection of the pairs kept with a weight > 0
    with np.errstate(all="ignore"):
        w = np.asarray(weight(c), dtype="float64")
    # a step weight's values are finite and >= 0, and its array is its own
    own = isinstance(weight, StepWeight) and bool(np.isfinite(weight._values).all())
    if not own:
        bad = keep & ~(np.isfinite(w) & (w >= 0))
        if bad.any():
            raise ValidationError(
                "Poids infinis ou négatifs : une fonction de gravité à coût nul donne l'infini ; "
                "utilisez min_cost=… (gravity_weight) ou un coût intra-communal > 0",
                [{"problem": f"{int(np.sum(bad & ~np.isfinite(w)))} paire(s) de poids infini, "
                             f"{int(np.sum(bad & (w < 0)))} de poids négatif"}])
    if everything_known:  # pairs left out weigh 0: no copy of two million pairs
        if own:
            w[~keep] = 0.0
        else:
            w = np.where(keep & (w > 0), w, 0.0)
        return oi, di, w
    keep &= w > 0
    return oi[keep], di[keep], w[keep]



def _two_steps(p: np.ndarray, s: np.ndarray, oi: np.ndarray, di: np.ndarray, w: np.ndarray, n_dem: int,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two steps as weighted sums over the pairs (no matrix to build or sort): the value of
    each demand location per profession, whether supply is in its reach, and the weighted
    demand around each supply location."""
    n_sup = len(s)
    reach = np.bincount(di, weights=w * p[oi], minlength=n_sup)  # weighted demand around supply
    ratio = np.zeros_like(s)
    np.divide(s, reach[:, None], out=ratio, where=reach[:, None] > 0)
    values = np.empty((n_dem, s.shape[1]))
    has_supply = np.empty((n_dem, s.shape[1]), dtype=bool)  # profession by profession
    for k in range(s.shape[1]):
        values[:, k] = np.bincount(oi, weights=w * np.ascontiguousarray(ratio[:, k])[di],
                                   minlength=n_dem)
        # a value > 0 means supply in reach; the others (few) are looked at pair by pair
        has_supply[:, k] = values[:, k] > 0
        rest = ~has_supply[:, k]
        if rest.any():
            rows = np.flatnonzero(rest[oi])
            rows = rows[(s[di[rows], k] > 0) & (w[rows] > 0)]
            has_supply[oi[rows], k] = True
    return values, has_supply, reach



def _warn_two_step(result: TwoStepFCA, no_supply: dict[str, list], series: bool, limit: float | None,
                   quiet: bool) -> None:
    """The warnings of :func:`two_step_fca` about its result (pointing at its caller)."""
    repaired, unlisted, no_self = result.repaired_codes, result.not_in_costs, result.no_self_pair
    capped, unreached = result.capped_self, result.unreached_supply
    unknown_o, unknown_d = result.unknown_origins, result.unknown_destinations
    if repaired:
        warnings.warn(
            f"{len(repaired)} code(s) de la table des temps réparé(s) (zéro initial, espaces) : "
            + ", ".join(f"{a} → {b}" for a, b in repaired[:5]) + " ; liste dans le champ repaired_codes du résultat", CptsGeoWarning,
            stacklevel=3)
    if len(unlisted):
        warnings.warn(
            f"{len(unlisted)} lieu(x) de demande absent(s) de la table des temps "
            f"({', '.join(map(str, unlisted[:5]))}) : accessibilité inconnue (NaN), pas 0 ; "
            "ajoutez au moins la paire du lieu avec lui-même ; liste dans le champ not_in_costs du "
            "résultat", CptsGeoWarning,
            stacklevel=3)
    if len(no_self):
        warnings.warn(
            f"{len(no_self)} lieu(x) avec offre ou demande sans paire avec lui-même dans la table "
            f"des temps ({', '.join(map(str, no_self[:5]))}) : l'offre d'un lieu n'y est pas comptée "
            "pour ses propres habitants ; ajoutez la paire (temps de trajet interne) ; liste dans "
            "le champ no_self_pair du résultat", CptsGeoWarning, stacklevel=3)
    if len(capped):
        warnings.warn(
            f"{len(capped)} lieu(x) dont le trajet interne (paire du lieu avec lui-même) atteint "
            f"la limite de {number(limit, None)} min ({', '.join(map(str, capped[:5]))}) : compté "
            "juste sous la limite (dernier palier), pour que l'offre d'un lieu reste à portée de "
            "ses habitants ; liste dans le champ capped_self du résultat", CptsGeoWarning, stacklevel=3)
    if quiet:
        return
    for col, codes in no_supply.items():
        if len(codes):
            prefix = "" if series else f"{col} : "
            key = "" if series else f"[{col!r}]"
            warnings.warn(
                f"{prefix}{len(codes)} lieu(x) sans aucune offre à portée : accessibilité 0 "
                f"(par ex. {', '.join(map(str, codes[:5]))}) ; liste dans le champ "
                f"no_supply{key} du résultat", CptsGeoWarning, stacklevel=3)
    if len(unreached):
        warnings.warn(
            f"{len(unreached)} lieu(x) d'offre qu'aucune demande n'atteint : offre non comptée "
            f"(par ex. {', '.join(map(str, unreached[:5]))}) ; liste dans le champ unreached_supply "
            "du résultat", CptsGeoWarning,
            stacklevel=3)
    if len(unknown_o) or len(unknown_d):
        warnings.warn(
            f"Paires ignorées : {len(unknown_o)} origine(s) absente(s) de la demande, "
            f"{len(unknown_d)} destination(s) absente(s) de l'offre (sans effet : demande et "
            "offre nulles) ; listes dans les champs unknown_origins et unknown_destinations "
            "du résultat", CptsGeoWarning, stacklevel=3)



def enhanced_two_step_fca(
    demand: pd.Series,
    supply: pd.Series | pd.DataFrame,
    costs: pd.DataFrame | EstimatedCosts,
    *,
    weight: Callable[[np.ndarray], np.ndarray] | None = None,
    max_cost: float | None = None,
    origin: str = "origin",
    destination: str = "destination",
    cost: str = "minutes",
    quiet: bool = False,
) -> TwoStepFCA:
    """Enhanced 2SFCA: :func:`two_step_fca` with a distance-decay weight, DREES bands by default.

    The default weight is ``step_weight(DREES_DECAY)``: bands closed at their lower bound
    (a pair at exactly 10 minutes weighs 2/3). For pysal/access's convention (a bound belongs
    to the band below it), give ``weight=step_weight(DREES_DECAY, closed="upper")``.

    Parameters
    ----------
    demand, supply, costs, max_cost, origin, destination, cost, quiet
        As in :func:`two_step_fca`.
    weight : callable, optional
        Distance-decay weight; default ``step_weight(DREES_DECAY)``.

    Returns
    -------
    TwoStepFCA
        As :func:`two_step_fca`.

    Examples
    --------
    >>> demand = pd.Series([1000.0, 500.0], index=["a", "b"])
    >>> supply = pd.Series([2.0, 0.0], index=["a", "b"])
    >>> costs = pd.DataFrame({"origin": ["a", "b", "b"], "destination": ["a", "b", "a"],
    ...                       "minutes": [3.0, 3.0, 12.0]})
    >>> enhanced_two_step_fca(demand, supply, costs).values.round(6).tolist()
    [0.0015, 0.001]
    """
    return two_step_fca(demand, supply, costs, max_cost=max_cost,
                        weight=weight if weight is not None else step_weight(DREES_DECAY),
                        origin=origin, destination=destination, cost=cost, quiet=quiet)


# --------------------------------------------------------------------------- costs
class EstimatedCosts(NamedTuple):
    """The cost table of :func:`estimate_costs`, with how it was estimated.

    It can be given as is as ``costs`` to :func:`two_step_fca`, :func:`enhanced_two_step_fca`
    and :func:`accessibility`.
    """

    #: ``origin``, ``destination`` (commune codes, text), ``km`` (straight line), ``minutes``.
    costs: pd.DataFrame
    #: The assumptions used: :data:`TRAVEL_ASSUMPTIONS` with the overrides given.
    assumptions: dict[str, float]
    #: Communes without geometry: no time is estimated for them.
    unlocated: list



def travel_minutes(km: np.ndarray | float, *, assumptions: Mapping[str, float] | None = None
                   ) -> np.ndarray:
    """Minutes by road for a straight-line distance in km (see :data:`TRAVEL_ASSUMPTIONS`).

    Parameters
    ----------
    km : array-like or float
        Straight-line distances, in kilometres.
    assumptions : mapping, optional
        Values replacing some of :data:`TRAVEL_ASSUMPTIONS` (``detour``, ``speed_min_kmh``,
        ``speed_max_kmh``, ``speed_scale_km``, ``terminal_min``).

    Returns
    -------
    numpy.ndarray
        Minutes by road: a fixed terminal time plus the detoured distance at a speed that grows
        with the distance.

    Examples
    --------
    >>> travel_minutes(np.array([0.0, 5.0, 20.0, 50.0])).round(1).tolist()
    [1.0, 9.6, 29.6, 66.9]
    """
    a = {**TRAVEL_ASSUMPTIONS, **(assumptions or {})}
    road = np.asarray(km, dtype="float64") * a["detour"]
    speed = a["speed_max_kmh"] - (a["speed_max_kmh"] - a["speed_min_kmh"]) * np.exp(
        -road / a["speed_scale_km"])
    return a["terminal_min"] + 60.0 * road / speed



def search_radius_km(max_minutes: float = 20.0, *, assumptions: Mapping[str, float] | None = None) -> float:
    """The straight-line distance that :func:`travel_minutes` turns into ``max_minutes``.

    Found from above by bisection: no pair of communes under ``max_minutes`` is farther apart
    than this (what :func:`estimate_costs` searches).

    Parameters
    ----------
    max_minutes : float, default 20
        The time limit.
    assumptions : mapping, optional
        Overrides of :data:`TRAVEL_ASSUMPTIONS`.

    Returns
    -------
    float
        Kilometres.

    Examples
    --------
    >>> r = search_radius_km(20)
    >>> bool(travel_minutes(r) >= 20 > travel_minutes(r * (1 - 1e-6)))
    True
    """
    a = {**TRAVEL_ASSUMPTIONS, **(assumptions or {})}
    if travel_minutes(0.0, assumptions=a) >= max_minutes:
        raise ValueError(f"max_minutes={number(max_minutes, None)} est sous le temps fixe de "
                         f"trajet ({number(a['terminal_min'], None)} min).")
    low, high = 0.0, 1e4
    while high - low > 1e-9 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if travel_minutes(middle, assumptions=a) < max_minutes else (low, middle)
    return high



def _estimated_reach(max_minutes: float, assumptions: Mapping[str, float] | None,
                     drees: bool) -> tuple[float, bool]:
    """How far :func:`accessibility` estimates times, and whether its bands are soft.

    Estimated times are uncertain: the DREES bands weigh them by their expected value
    (``TRAVEL_ASSUMPTIONS["uncertainty"]``), with a reach of 3 σ beyond the last band.
    """
    last = max(DREES_DECAY)
    sigma = float({**TRAVEL_ASSUMPTIONS, **(assumptions or {})}.get("uncertainty") or 0.0)
    soft = drees and sigma > 0 and max_minutes >= last
    return (last * float(np.exp(3 * sigma)) if soft else max_minutes), soft



def within_reach(area: gpd.GeoDataFrame | pd.Index | Iterable[str], communes: gpd.GeoDataFrame | None = None, *,
                 max_minutes: float = 20.0, assumptions: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """The communes that weigh on the E2SFCA of ``area``: its own and every commune close enough.

    The accessibility of a commune depends on the supply within reach of it, and that supply
    on the people within reach of it: communes up to twice the search radius of the times
    :func:`accessibility` estimates (DREES bands, with their uncertainty). Computed on the
    result, the E2SFCA of ``area``'s communes is the one of all of France (no edge effect).

    Parameters
    ----------
    area : GeoDataFrame or Index
        The communes studied (their codes are enough).
    communes : GeoDataFrame, optional
        Where to take the others from (default: all of France, embedded).
    max_minutes : float, default 20
        The time limit given to :func:`accessibility`.
    assumptions : mapping, optional
        Overrides of :data:`TRAVEL_ASSUMPTIONS`, as given to :func:`accessibility`.

    Returns
    -------
    GeoDataFrame
        The rows of ``communes`` within reach, in their order.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80")
    >>> near = within_reach(somme)
    >>> bool(near.index.isin(somme.index).sum() == len(somme)), sorted(set(near["department"]))
    (True, ['02', '59', '60', '62', '76', '80'])
    """
    from cpts_geo.domain.communes import load_communes
    from cpts_geo.domain.crs import split_by_metric_crs

    communes = load_communes() if communes is None else communes
    codes = area.index if hasattr(area, "index") and not isinstance(area, pd.Index) else pd.Index(area)
    studied = communes.index.isin(codes)
    reach_m = 2000.0 * search_radius_km(_estimated_reach(max_minutes, assumptions, True)[0],
                                        assumptions=assumptions)
    keep = studied.copy()
    for crs, pos in split_by_metric_crs(communes.index).items():
        part = communes.iloc[pos]
        located = part.geometry.notna().to_numpy() & ~part.geometry.is_empty.to_numpy()
        inside = studied[pos] & located
        if not inside.any():
            continue
        points = part.geometry[located].to_crs(crs).representative_point()
        xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
        distance, _ = cKDTree(xy[inside[located]]).query(xy, distance_upper_bound=reach_m * (1 + 1e-9))
        keep[pos[np.flatnonzero(located)[np.isfinite(distance)]]] = True
    return communes[keep]



def estimate_costs(
    communes: gpd.GeoDataFrame,
    *,
    max_minutes: float = 20.0,
    assumptions: Mapping[str, float] | None = None,
    intra: bool = True,
) -> EstimatedCosts:
    """Estimate a sparse table of road minutes between communes from their points.

    Points are the communes' representative points (inside each polygon) in a metric CRS;
    pairs are found with a KD-tree within the straight-line radius that
    :func:`travel_minutes` turns into ``max_minutes``. The trip inside a commune is the mean
    distance from a point of a disc of the commune's area to its centre (2/3 of the radius),
    turned into minutes the same way (``intra=False``: the terminal time only).

    Parameters
    ----------
    communes : GeoDataFrame
        Commune polygons. A layer in degrees is first projected with
        :func:`cpts_geo.domain.crs.to_metric` (Lambert-93 for mainland France, the official
        CRS of each overseas department), never measured in degrees. A layer spanning
        mainland and overseas departments is split and each part measured in its own
        official CRS, whatever the layer's CRS (Réunion in Lambert-93 would be distorted);
        a layer of one part is measured in its own projected CRS, unless that is the
        official CRS of another part.
    max_minutes : float, default 20
        Pairs with ``minutes < max_minutes`` are kept (the DREES decay is 0 from 20 on);
        the pair of a commune with itself is always kept, with its estimated time even at
        or beyond ``max_minutes`` (very large communes, Guyane): :func:`two_step_fca` then
        counts it just under the limit, so that a commune's own supply stays in reach of
        its people.
    assumptions : mapping, optional
        Overrides of :data:`TRAVEL_ASSUMPTIONS`.
    intra : bool, default True
        Estimate the time within a commune from its area.

    Returns
    -------
    EstimatedCosts
        ``costs``: ``origin``, ``destination`` (commune codes), ``km`` (straight line),
        ``minutes``; ``assumptions``: the assumptions used; ``unlocated``: communes without
        geometry (no time estimated for them, with a warning).

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> from cpts_geo.domain.crs import to_metric
    >>> somme = to_metric(load_communes(departments="80"))
    >>> costs = estimate_costs(somme, max_minutes=20).costs
    >>> bool((costs["minutes"] < 20).all()), bool((costs["origin"] == costs["destination"]).sum() == len(somme))
    (True, True)
    """
    from cpts_geo.domain.crs import require_crs, to_metric

    require_crs(communes, "La couche des communes")
    from cpts_geo.domain.codes import department_of
    from cpts_geo.domain.crs import MAINLAND_CRS, METRIC_CRS, metric_crs_of, reproject

    crs_of = department_of(pd.Series(communes.index)).map(metric_crs_of).to_numpy()
    if len(set(crs_of)) > 1:  # mainland and overseas, whatever the layer's CRS: each in its own
        # parts in the order of their codes (mainland, then 971…976): the whole table stays
        # sorted by origin then destination
        first_code = {c: min(communes.index[crs_of == c].astype(str)) for c in set(crs_of)}
        parts = [estimate_costs(reproject(communes[crs_of == c], c), max_minutes=max_minutes,
                                assumptions=assumptions, intra=intra)
                 for c in sorted(first_code, key=first_code.__getitem__)]
        return EstimatedCosts(pd.concat([part.costs for part in parts], ignore_index=True),
                              parts[0].assumptions, [c for part in parts for c in part.unlocated])
    official = {int(c.split(":")[1]) for c in (*METRIC_CRS.values(), MAINLAND_CRS)}
    if not communes.crs.is_projected or (communes.crs.to_epsg() in official
                                         and len(communes) and communes.crs != crs_of[0]):
        communes = to_metric(communes)  # Lambert-93 (mainland) or the overseas CRS
    a = {**TRAVEL_ASSUMPTIONS, **(assumptions or {})}
    radius_km = search_radius_km(max_minutes, assumptions=a)
    located = communes.geometry.notna().to_numpy() & ~communes.geometry.is_empty.to_numpy()
    if not located.all():
        lost = communes.index[~located]
        warnings.warn(
            f"{len(lost)} commune(s) sans géométrie ({', '.join(map(str, lost[:5]))}) : "
            "aucun temps de trajet estimé pour elles ; liste dans le champ unlocated du résultat",
            CptsGeoWarning,
            stacklevel=2)
        communes = communes[located]
    pts = communes.geometry.representative_point()
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    tree = cKDTree(xy)
    pairs = tree.query_pairs(radius_km * 1000.0, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    km = np.hypot(*(xy[i] - xy[j]).T) / 1000.0
    minutes = travel_minutes(km, assumptions=a)
    n = len(communes)
    self_km = (2.0 / 3.0) * np.sqrt(communes.geometry.area.to_numpy() / np.pi) / 1000.0 if intra \
        else np.zeros(n)
    codes = np.asarray(as_codes(communes.index), dtype=object)
    origin = np.concatenate([i, np.arange(n)])
    destination = np.concatenate([j, np.arange(n)])
    minutes = np.concatenate([minutes, travel_minutes(self_km, assumptions=a)])
    km = np.concatenate([km, np.zeros(n)])
    # the trip inside a commune is always kept, even a long one (two_step_fca caps it)
    keep = np.flatnonzero((minutes < max_minutes) | (origin == destination))
    # sorted by origin then destination code, on integer ranks (no sort of text)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(codes, kind="stable")] = np.arange(n)
    # (a counting sort by origin row, then each row's few destinations: scipy's CSR layout)
    order = csr_matrix((np.arange(1, len(keep) + 1, dtype=np.float64),
                        (rank[origin[keep]], rank[destination[keep]])), shape=(n, n))
    order.sort_indices()
    keep = keep[order.data.astype(np.int64) - 1]
    import pyarrow as pa

    text = pa.array(codes, type=pa.large_string())  # codes taken by pyarrow, not one by one
    out = pd.DataFrame({
        "origin": pd.array(text.take(origin[keep]), dtype="string"),
        "destination": pd.array(text.take(destination[keep]), dtype="string"),
        "km": km[keep],
        "minutes": minutes[keep],
    })
    return EstimatedCosts(out, a, [] if located.all() else list(lost))


# --------------------------------------------------------------------------- demand
def standardised_population(
    ages: pd.DataFrame,
    *,
    code: str = "code",
    age: str = "age",
    count: str = "count",
    weights: Mapping[int, float] | None = None,
) -> pd.Series:
    """Age-standardised population: counts weighted by the DREES age weights, per commune.

    Parameters
    ----------
    ages : DataFrame
        One row per (commune, age): single years (0…100) or lower bounds of 5-year bands.
        An age falls in the band of the largest lower bound not above it (90 and over: last).
    code, age, count : str
        Column names.
    weights : mapping, optional
        Lower bound of the band → weight; default :data:`DREES_AGE_WEIGHTS` (APL 2023).

    Returns
    -------
    pandas.Series
        Standardised population indexed by ``code``.

    Examples
    --------
    >>> ages = pd.DataFrame({"code": ["31555"] * 3, "age": [3, 42, 95], "count": [10, 10, 10]})
    >>> float(standardised_population(ages).iloc[0])
    42.7
    """
    weights = dict(DREES_AGE_WEIGHTS if weights is None else weights)
    problems: list[dict] = []
    a = pd.to_numeric(ages[age], errors="coerce")
    n = pd.to_numeric(ages[count], errors="coerce")
    rows = np.arange(2, len(ages) + 2)
    for pos in np.flatnonzero((a.isna() | (a < 0)).to_numpy()):
        problems.append({"row": int(rows[pos]), "code": ages[code].iloc[pos],
                         "problem": f"âge invalide ({cell_text(ages[age].iloc[pos])}) : un âge est ≥ 0"})
    for pos in np.flatnonzero((n.isna() | (n < 0)).to_numpy()):
        problems.append({"row": int(rows[pos]), "code": ages[code].iloc[pos],
                         "problem": f"effectif invalide ({cell_text(ages[count].iloc[pos])}) : un effectif est ≥ 0"})
    if problems:
        raise ValidationError("Table des âges invalide", problems)
    bounds = np.array(sorted(weights), dtype="float64")
    values = np.array([weights[b] for b in sorted(weights)])
    band = np.clip(np.searchsorted(bounds, a.to_numpy(dtype="float64"), side="right") - 1, 0, None)
    weighted = n.to_numpy(dtype="float64") * values[band]
    out = pd.Series(weighted, index=pd.Index(ages[code].astype("string"), name="code"))
    out = out.groupby(level=0, sort=False).sum()
    out.name = "standardised_population"
    return out


# --------------------------------------------------------------------------- wrappers
def _remap(keys: pd.Series, communes: gpd.GeoDataFrame) -> tuple[pd.Series, pd.Series]:
    """Today's commune of each cleaned code (``<NA>`` if none) and the reason of each change."""
    from cpts_geo.domain.history import remap_codes

    new, report = remap_codes(keys, communes=communes, plm="city")
    reason = pd.Series(pd.NA, index=range(len(keys)), dtype="object")
    reason.iloc[report["row"].to_numpy(dtype="int64") - 1] = report["reason"].to_numpy()
    return new.reset_index(drop=True), reason



def _demand_on_layer(demand: pd.Series, communes: gpd.GeoDataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Demand indexed by today's communes of the layer: codes cleaned and mapped, reported."""
    from cpts_geo.domain.codes import normalize_codes

    given = pd.Series(demand)
    keys, fixes = normalize_codes(pd.Series(given.index, dtype=object))
    keys = keys.reset_index(drop=True)
    new, reason = _remap(keys, communes)
    fixed = pd.Series(pd.NA, index=range(len(keys)), dtype="object")
    fixed.iloc[fixes["row"].to_numpy(dtype="int64") - 1] = fixes["reason"].to_numpy()
    values = pd.to_numeric(given, errors="coerce").to_numpy(dtype="float64")
    problems = []
    for pos in np.flatnonzero(new.isna().to_numpy()):
        problems.append({"code": given.index[pos],
                         "problem": f"{reason.iloc[pos]} : pas une commune de la couche ; "
                                    "retirez-la de demand ou élargissez la couche"})
    for pos in np.flatnonzero(~np.isfinite(values) | (values < 0)):
        problems.append({"code": given.index[pos],
                         "problem": f"demande invalide ({cell_text(given.iloc[pos])}) : indiquez un nombre ≥ 0"})
    for key in pd.unique(keys[keys.duplicated() & keys.notna()]):
        problems.append({"code": key, "problem": "demande donnée plusieurs fois pour cette commune"})
    moved = new.notna() & (new != keys).fillna(True)
    kept = set(keys[~moved & new.notna()])
    for target in sorted(set(new[moved]) & kept):
        olds = ", ".join(map(str, given.index[(moved & (new == target)).to_numpy()]))
        problems.append({"code": target, "problem": f"demande donnée pour la commune et aussi pour "
                         f"ses anciens codes ou arrondissements ({olds}) : gardez l'un ou l'autre"})
    if problems:
        raise ValidationError("Demande invalide : corrigez les codes cités", problems)
    report = pd.DataFrame({"code": given.index.astype(str), "new_code": new.to_numpy(),
                           "reason": reason.fillna(fixed).to_numpy()})
    report = report[(report["code"] != report["new_code"]).to_numpy()].reset_index(drop=True)
    if len(report):
        warnings.warn(
            f"{len(report)} code(s) de la demande rattaché(s) à la commune actuelle ("
            + ", ".join(f"{a} → {b}" for a, b in report[["code", "new_code"]].head(5).itertuples(index=False))
            + ") : demandes additionnées par commune ; liste dans le champ demand_remapped du résultat",
            CptsGeoWarning,
            stacklevel=3)
    summed = pd.Series(values, index=new.to_numpy()).groupby(level=0, sort=False).sum()
    return summed, report



def _costs_on_layer(costs: pd.DataFrame, communes: gpd.GeoDataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """A user's cost table on today's communes of the layer: codes cleaned and mapped, reported."""
    problems: list[dict] = []
    codes, minutes, repaired = _check_costs(costs, "origin", "destination", "minutes", problems)
    if problems:
        raise ValidationError("Table des temps de trajet invalide : corrigez les lignes citées",
                              problems)
    layer = as_codes(communes.index)
    used = np.zeros(codes.size, dtype=bool)
    used[codes.origin[codes.origin >= 0]] = True
    used[codes.destination[codes.destination >= 0]] = True
    used_codes = np.flatnonzero(used)
    uniq = codes.decode(used_codes)
    if uniq.isin(layer).all() and not repaired:  # the usual case: nothing to do
        return costs, pd.DataFrame(columns=["code", "new_code", "reason"]), []
    new, reason = _remap(pd.Series(uniq, dtype="string"), communes)
    mapping = pd.Series(new.to_numpy(), index=uniq)
    target = np.full(codes.size + 1, None, dtype=object)  # code -1 (missing) → None
    target[used_codes] = new.to_numpy(dtype=object)
    o = target[codes.origin]
    d = target[codes.destination]
    table = pd.DataFrame({"origin": o, "destination": d, "minutes": minutes})
    unknown = sorted(uniq[new.isna().to_numpy()])
    report = pd.DataFrame({"code": uniq, "new_code": new.to_numpy(), "reason": reason.to_numpy()})
    report = report[report["new_code"].notna().to_numpy()
                    & (report["code"] != report["new_code"]).to_numpy()]
    fixes = pd.DataFrame([(str(g), k, mapping[k], "code réparé (zéro initial, espaces)")
                          for g, k in repaired if not pd.isna(mapping[k])],
                         columns=["code", "cleaned", "new_code", "reason"])
    report = pd.concat([fixes.drop(columns="cleaned"), report], ignore_index=True)
    known = table["origin"].notna() & table["destination"].notna()
    table = table[known.to_numpy()]
    n_rows = len(table)
    table = table.groupby(["origin", "destination"], sort=False, as_index=False)["minutes"].mean()
    table["origin"] = as_codes(table["origin"])
    table["destination"] = as_codes(table["destination"])
    if len(report):
        warnings.warn(
            f"{len(report)} code(s) de la table des temps rattaché(s) à la commune actuelle ("
            + ", ".join(f"{a} → {b}" for a, b in report[["code", "new_code"]].head(5).itertuples(index=False))
            + f") : {n_rows - len(table)} paire(s) fusionnée(s) avec une autre (moyenne des temps) ; "
            "liste dans le champ costs_remapped du résultat", CptsGeoWarning, stacklevel=3)
    if unknown:
        warnings.warn(
            f"{len(unknown)} code(s) de la table des temps absent(s) de la couche des communes "
            f"({', '.join(unknown[:5])}) : leurs {int((~known).sum())} paire(s) sont laissées de "
            "côté ; liste dans le champ costs_unknown du résultat", CptsGeoWarning, stacklevel=3)
    return table.reset_index(drop=True), report, unknown



class CommuneAccessibility(NamedTuple):
    """Accessibility of each commune from :func:`accessibility`, with its reports.

    The lists hold commune codes; the reports of :func:`two_step_fca` are repeated here under
    the same names.
    """

    #: One column per profession, plus ``population`` and ``demand``, indexed by ``code``; 0
    #: where nothing is in reach, NaN where unknown (commune without geometry or absent from
    #: the cost table).
    table: pd.DataFrame
    #: The cost table used (``origin``, ``destination``, ``minutes``; ``km`` when estimated).
    costs: pd.DataFrame
    #: The result is per ``per`` inhabitants.
    per: float
    #: The unit of the values, in French.
    unit: str
    #: Communes without supply in reach, per profession.
    no_supply: dict[str, list]
    #: Communes with supply that no demand reaches.
    unreached_supply: list
    #: Communes absent from the cost table (value NaN).
    not_in_costs: list
    #: Origins of the cost table that are not communes of the layer's demand.
    unknown_origins: list
    #: Destinations of the cost table that are not supply locations.
    unknown_destinations: list
    #: Communes whose trip inside reached the limit and was counted just under it.
    capped_self: list
    #: Communes with supply or demand but without a pair with themselves in the cost table.
    no_self_pair: list
    #: ``(given, cleaned)`` codes of the cost table (leading zero, spaces).
    repaired_codes: list[tuple]
    #: Codes of ``demand`` mapped to today's commune: ``code``, ``new_code``, ``reason``
    #: (empty without ``demand``).
    demand_remapped: pd.DataFrame
    #: Codes of a given cost table mapped to today's commune: ``code``, ``new_code``,
    #: ``reason`` (empty for estimated costs).
    costs_remapped: pd.DataFrame
    #: Codes of a given cost table that are no commune of the layer (their pairs are left out).
    costs_unknown: list
    #: The travel assumptions of the estimated costs (``None``: a cost table was given).
    assumptions: dict[str, float] | None
    #: Communes without geometry: no estimated time, value NaN.
    unlocated: list



def _layer_demand(demand: pd.Series | None, communes: gpd.GeoDataFrame,
                  codes: pd.Index) -> tuple[pd.Series, pd.DataFrame]:
    """The demand of each commune of the layer (indexed by ``codes``) and the report of the
    demand's remapped codes: ``demand`` cleaned and mapped to the layer (a commune without
    demand refused), or the layer's standardised population (else its population; a commune
    without one counts 0, with a warning)."""
    if demand is not None:
        dem, demand_report = _demand_on_layer(demand, communes)
        dem = dem.reindex(codes)
        missing = codes[dem.isna().to_numpy()]
        if len(missing):
            raise ValidationError("Demande manquante pour des communes de la couche",
                                  [{"code": c, "problem": "demande manquante (0 si aucune)"}
                                   for c in missing])
        return dem, demand_report
    # the age-standardised population (DREES) when the layer has it, else the population
    column = "pop_standardised" if "pop_standardised" in communes.columns else "population"
    pop = communes[column]
    missing = communes.index[pop.isna().to_numpy()]
    if len(missing):
        warnings.warn(
            f"{len(missing)} commune(s) sans population connue ({', '.join(missing[:5])}) : "
            "demande comptée 0 ; donnez demand=… pour les compter", CptsGeoWarning, stacklevel=3)
    dem = pd.Series(pop.astype("Float64").fillna(0).to_numpy(dtype="float64"), index=codes)
    return dem, pd.DataFrame(columns=["code", "new_code", "reason"])



def accessibility(
    supply: pd.DataFrame | pd.Series | SupplyRead,
    communes: gpd.GeoDataFrame,
    *,
    professions: Iterable[str] | str | None = "médecin généraliste",
    costs: pd.DataFrame | EstimatedCosts | None = None,
    weight: Callable[[np.ndarray], np.ndarray] | str | None = "drees",
    max_minutes: float = 20.0,
    demand: pd.Series | None = None,
    assumptions: Mapping[str, float] | None = None,
    per: float = 1.0,
    value: str = "count",
    activity: float | None = None,
    quiet: bool = False,
) -> CommuneAccessibility:
    """Accessibility of each commune to professionals (E2SFCA by default), indexed by ``code``.

    Parameters
    ----------
    supply : SupplyRead, DataFrame or Series
        A supply table (:func:`cpts_geo.io.supply.read_bpe` or its ``.table``), or
        counts per commune (index ``code``, one column per profession); checked by
        :func:`cpts_geo.indicators.supply.supply_on_layer` (profession names, counts ≥ 0).
    communes : GeoDataFrame
        The communes (demand and supply locations). Use all of France, or
        :func:`within_reach` of the area (the same values), to avoid border effects, then
        select the area from the result.
    professions : str or iterable, default "médecin généraliste"
        Professions to compute (``None``: all those in ``supply``).
    costs : DataFrame or EstimatedCosts, optional
        ``origin``, ``destination``, ``minutes``; default :func:`estimate_costs`. Codes are
        cleaned (``1001`` → ``01001``) and mapped to the communes of the layer like the
        supply's (old codes, arrondissements of Paris, Lyon, Marseille to their city), with
        a warning and the list in the result's ``costs_remapped``; pairs that fall on the
        same pair of communes get the mean of their times; pairs of codes absent from the
        layer are left out and listed (``costs_unknown``). Pairs of a commune with itself
        should be there (see :func:`two_step_fca`).
    weight : callable, "drees" or None
        ``"drees"`` (the APL bands, :data:`DREES_DECAY`, closed at their lower bound), any
        weight function, or ``None`` for the plain 2SFCA. With ``"drees"`` and estimated
        costs (no ``costs=``, ``max_minutes`` 20), the bands weigh each estimated time by
        their expected value under ``TRAVEL_ASSUMPTIONS["uncertainty"]`` (σ = 0.1; set it
        to 0 in ``assumptions`` for the exact bands), over a table reaching 20 · exp(3σ)
        minutes.
    max_minutes : float, default 20
        Pairs with ``minutes < max_minutes`` count (with ``"drees"``, nothing counts from 20
        minutes on: a larger value only widens the estimated table, with a warning).
    demand : Series, optional
        Demand per commune (e.g. :func:`standardised_population`, or the DREES standardised
        population of :func:`cpts_geo.data.apl.load_apl`); default the ``pop_standardised``
        column of ``communes`` if it has one, else its ``population``. Codes are cleaned and mapped like the costs'
        (the demands of codes falling on one commune are added up, with a warning and the
        list in the result's ``demand_remapped``); a code that is no commune of the layer, or
        a commune given twice (also through an old code), is an error.
    assumptions : mapping, optional
        Overrides of :data:`TRAVEL_ASSUMPTIONS` for the estimated costs.
    per : float, default 1
        Express the result per ``per`` inhabitants (e.g. 10 000).
    value : {"count", "fte"}, default "count"
        What to sum from a supply table: professionals, or the ``fte`` column (full-time
        equivalents, or an activity such as consultations read with
        ``read_professionals(..., fte="consultations")``).
    activity : float, optional
        Consultations per professional and year: multiplies the supply so that the result
        is in consultations per inhabitant and year, the unit of the DREES APL, comparable
        with :data:`APL_THRESHOLD` (give your source's figure; none is assumed).
    quiet : bool
        Do not warn about communes without supply in reach, supply no demand reaches and
        pairs of unknown locations (they are in the result anyway).

    Returns
    -------
    CommuneAccessibility
        ``table``: one column per profession, plus ``population`` and ``demand``; 0 where
        nothing is in reach, NaN where unknown (commune without geometry or absent from
        ``costs``). ``costs``: the cost table used; ``no_supply``: the communes without
        supply in reach, per profession; the other reports of :func:`two_step_fca`, the
        remapped codes, ``assumptions`` and ``unlocated`` of the estimated costs (see
        :class:`CommuneAccessibility`).

    Examples
    --------
    >>> import warnings
    >>> from cpts_geo.domain.communes import load_communes
    >>> somme = load_communes(departments="80")
    >>> counts = pd.DataFrame({"médecin généraliste": [300.0]}, index=pd.Index(["80021"], name="code"))
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     acc = accessibility(counts, somme, per=10_000)
    >>> gp = acc.table["médecin généraliste"]
    >>> bool(gp["80021"] > gp.median()), acc.unit
    (True, 'professionnels (count) par 10 000 habitant(s)')
    """
    if isinstance(professions, str):
        professions = [professions]
    from cpts_geo.indicators.supply import supply_on_layer

    codes = as_codes(communes.index)
    wide = supply_on_layer(supply, codes, professions=professions, value=value)
    if activity is not None:
        if not activity > 0:
            raise ValueError(f"activity={_param(activity)} : un nombre de consultations > 0 est attendu.")
        wide = wide * float(activity)
    dem, demand_report = _layer_demand(demand, communes, codes)
    drees = isinstance(weight, str) and weight == "drees"
    last = max(DREES_DECAY)
    if drees and max_minutes > last:
        warnings.warn(
            f"max_minutes={number(max_minutes, None)} : les paliers DREES donnent un poids nul à "
            f"partir de {number(last, None)} minutes, la portée n'en est pas élargie", CptsGeoWarning,
            stacklevel=2)
    reach, soft = _estimated_reach(max_minutes, assumptions, drees) if costs is None else (max_minutes, False)
    sigma = float({**TRAVEL_ASSUMPTIONS, **(assumptions or {})}.get("uncertainty") or 0.0)
    estimated = None
    unknown_codes: list
    if costs is None:
        estimated = estimate_costs(communes, max_minutes=reach, assumptions=assumptions)
        costs = estimated.costs
        costs_report, unknown_codes = pd.DataFrame(columns=["code", "new_code", "reason"]), []
    else:
        if isinstance(costs, EstimatedCosts):
            costs = costs.costs
        costs, costs_report, unknown_codes = _costs_on_layer(costs, communes)
    fn = (step_weight(DREES_DECAY, uncertainty=sigma) if soft else step_weight(DREES_DECAY)) \
        if drees else cast(Callable[[np.ndarray], np.ndarray] | None, weight)  # another text fails in two_step_fca
    fca = two_step_fca(dem, wide, costs, max_cost=reach, weight=fn, quiet=quiet)
    out = fca.values * per
    out.index.name = "code"
    out["population"] = pd.Series(communes["population"].to_numpy(), index=codes).astype("Float64") \
        if "population" in communes.columns else np.nan
    out["demand"] = dem.to_numpy()
    unit = ("consultations par habitant et par an" if activity is not None
            else f"professionnels ({value}) par {number(per, None)} habitant(s)")
    return CommuneAccessibility(
        out, costs=costs, per=per, unit=unit, no_supply=cast(dict, fca.no_supply),
        unreached_supply=fca.unreached_supply, not_in_costs=fca.not_in_costs,
        unknown_origins=fca.unknown_origins, unknown_destinations=fca.unknown_destinations,
        capped_self=fca.capped_self, no_self_pair=fca.no_self_pair,
        repaired_codes=fca.repaired_codes, demand_remapped=demand_report,
        costs_remapped=costs_report, costs_unknown=unknown_codes,
        assumptions=None if estimated is None else estimated.assumptions,
        unlocated=[] if estimated is None else estimated.unlocated)



class TerritoryAccessibility(NamedTuple):
    """Accessibility of each territory from :func:`territory_accessibility`, with its reports."""

    #: Indexed by ``cpts_id`` (see :func:`territory_accessibility`).
    table: pd.DataFrame
    #: The threshold of under-service used (``None``: no columns about it).
    threshold: float | None
    #: Communes of the territories whose value is unknown (NaN), left out of the means.
    unknown: list



def territory_accessibility(
    values: pd.Series,
    membership: pd.DataFrame,
    *,
    weights: pd.Series,
    population: pd.Series | None = None,
    threshold: float | None = None,
) -> TerritoryAccessibility:
    """Aggregate commune accessibility to CPTS: mean weighted by standardised population.

    Parameters
    ----------
    values : Series
        Accessibility per commune (index ``code``).
    membership : DataFrame
        ``code``, ``cpts_id``, ``share`` (see :func:`cpts_geo.domain.territories.membership`).
    weights : Series
        Standardised population per commune (the weights of the mean).
    population : Series, optional
        Total population per commune, to count people below ``threshold`` (default:
        ``weights``).
    threshold : float, optional
        Under-served below this value, in the unit of ``values``: :data:`APL_THRESHOLD`
        (2.5) for GP consultations per inhabitant and year (``accessibility(...,
        activity=...)`` or a supply in consultations). Without it, the columns about the
        threshold are left out.

    Returns
    -------
    TerritoryAccessibility
        ``table``, indexed by ``cpts_id``: ``accessibility``, ``standardised_population``,
        ``population``, ``population_below``, ``share_below``, ``n_communes``,
        ``n_communes_below``, ``n_communes_unknown``, ``population_unknown``.

        A commune whose value is unknown (NaN: no geometry, absent from the cost table) is
        left out of the mean (numerator and weights) and of the threshold counts; the share
        below the threshold is over the population of known value. Such communes are
        counted in ``n_communes_unknown`` and ``population_unknown``, listed in the result's
        ``unknown`` and announced by a warning; a territory where all are unknown has an
        unknown accessibility (NaN). ``threshold``: the threshold used.

    Examples
    --------
    >>> values = pd.Series([3.0, 2.0, 1.0], index=["a", "b", "c"])
    >>> weights = pd.Series([100.0, 300.0, 50.0], index=["a", "b", "c"])
    >>> m = pd.DataFrame({"code": ["a", "b", "c"], "cpts_id": ["X", "X", "Y"], "share": 1.0})
    >>> territory_accessibility(values, m, weights=weights,
    ...                         threshold=2.5).table[["accessibility", "share_below"]]  # doctest: +NORMALIZE_WHITESPACE
             accessibility  share_below
    cpts_id
    X                 2.25         0.75
    Y                 1.00         1.00
    """
    population = weights if population is None else population
    m = membership[["code", "cpts_id", "share"]].copy()
    m["code"] = as_codes(m["code"])
    problems = [{"code": c, "problem": "commune du territoire sans valeur d'accessibilité "
                 "(calculez sur une couche qui la contient)"}
                for c in pd.unique(m.loc[~is_in(m["code"], values.index), "code"])]
    if problems:
        raise ValidationError("Communes des territoires absentes des résultats", problems)
    v = values.copy()
    v.index = as_codes(v.index)
    w = weights.copy()
    w.index = as_codes(w.index)
    p = population.copy()
    p.index = as_codes(p.index)
    m["value"] = pd.to_numeric(v.reindex(m["code"]), errors="coerce").to_numpy(dtype="float64")
    m["w"] = w.reindex(m["code"]).fillna(0).to_numpy(dtype="float64") * m["share"]
    m["pop"] = p.reindex(m["code"]).fillna(0).to_numpy(dtype="float64") * m["share"]
    m["unknown"] = m["value"].isna()
    m["known_w"] = m["w"].where(~m["unknown"], 0.0)
    m["known_pop"] = m["pop"].where(~m["unknown"], 0.0)
    m["below"] = ~m["unknown"] & (m["value"] < (threshold if threshold is not None else -np.inf))
    m["wv"] = (m["known_w"] * m["value"]).where(~m["unknown"], 0.0)
    m["pop_below"] = m["pop"] * m["below"]
    g = m.groupby("cpts_id", sort=True)
    known_w = g["known_w"].sum()
    known_pop = g["known_pop"].sum()
    out = pd.DataFrame({
        "accessibility": g["wv"].sum() / known_w.where(known_w > 0),
        "standardised_population": g["w"].sum(),
        "population": g["pop"].sum(),
        "population_below": g["pop_below"].sum(),
    })
    out["share_below"] = out["population_below"] / known_pop.where(known_pop > 0)
    out["n_communes"] = g.size()
    out["n_communes_below"] = g["below"].sum().astype("int64")
    out["n_communes_unknown"] = g["unknown"].sum().astype("int64")
    out["population_unknown"] = out["population"] - known_pop
    out.index.name = "cpts_id"
    if threshold is None:
        out = out.drop(columns=["population_below", "share_below", "n_communes_below"])
    unknown = list(pd.unique(m.loc[m["unknown"], "code"]))
    if unknown:
        where = pd.unique(m.loc[m["unknown"], "cpts_id"])
        warnings.warn(
            f"{len(unknown)} commune(s) d'accessibilité inconnue ({', '.join(map(str, unknown[:5]))}) "
            f"dans {len(where)} territoire(s) ({', '.join(map(str, where[:5]))}) : moyenne calculée "
            "sur les communes de valeur connue ; nombre et population dans n_communes_unknown, "
            "population_unknown ; liste dans le champ unknown du résultat", CptsGeoWarning,
            stacklevel=2)
    return TerritoryAccessibility(out, threshold=threshold, unknown=unknown)





def accessibility_table(territories: pd.DataFrame | TerritoryAccessibility, *,
                        names: pd.Series | None = None, digits: int = 2) -> pd.DataFrame:
    """Diagnostic table with French headers from :func:`territory_accessibility`.

    Parameters
    ----------
    territories : TerritoryAccessibility or DataFrame
        The result of :func:`territory_accessibility` (or its ``table``).
    names : Series, optional
        CPTS names by ``cpts_id``, put first (column « Nom »).
    digits : int, default 2
        Decimals kept.

    Returns
    -------
    pandas.DataFrame
        Indexed by « CPTS », with the headers of :data:`ACCESSIBILITY_HEADERS` (share below the
        threshold in %).

    Examples
    --------
    >>> values = pd.Series([3.0, 2.0], index=["a", "b"])
    >>> m = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "X"], "share": 1.0})
    >>> t = territory_accessibility(values, m, weights=pd.Series([1.0, 1.0], index=["a", "b"]),
    ...                             threshold=2.5)
    >>> list(accessibility_table(t).columns[:2])
    ['Accessibilité (moyenne pondérée)', 'Demande (population, standardisée si fournie)']
    """
    if isinstance(territories, TerritoryAccessibility):
        territories = territories.table
    out = territories[[c for c in ACCESSIBILITY_HEADERS if c in territories.columns]].copy()
    if "share_below" in out.columns:
        out["share_below"] = 100 * out["share_below"]
    out = out.round(digits)
    if names is not None:
        out.insert(0, "Nom", names.reindex(out.index))
    out.index.name = "CPTS"
    return out.rename(columns=ACCESSIBILITY_HEADERS)
