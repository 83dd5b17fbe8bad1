"""Preparing flow tables: both ends mapped to today's communes, duplicated pairs summed, reports."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo.domain.communes import current_codes
from cpts_geo.domain.french import number
from cpts_geo.domain.history import Passage, remap_codes
from cpts_geo.errors import CptsGeoWarning, ValidationError
from cpts_geo.indicators.flows.codes import (
    _arrondissements,
    _categorical,
    _combine,
    _groups,
    _sorted_codes,
    _split_cities,
    as_floats,
    check_sum,
    factorize_codes,
    first_rows,
)
from cpts_geo.indicators.flows.table import CODE_REPORT, END_LABELS, FlowsRead, _key_text, _table

_REPORT = ["end", "row", "n_rows", "code", "new_code", "name", "new_name", "reason", "volume"]



@dataclass(frozen=True)
class PreparedFlows:
    """A flow table mapped to today's communes by :func:`prepare_flows`, with its reports.

    It unpacks as ``flows, report = prepare_flows(...)``.
    """

    #: ``origin``, ``destination``, the keys, ``volume`` (and ``records``), one row per pair.
    flows: pd.DataFrame
    #: One row per (end, code) changed or unmapped (see :func:`prepare_flows`).
    report: pd.DataFrame
    #: Row numbers (of the user's file) of the input rows that repeat an origin–destination
    #: pair (and keys), sorted; their volumes were summed.
    duplicate_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """``flows, report = prepare_flows(...)``."""
        return iter((self.flows, self.report))



def prepare_flows(
    flows: pd.DataFrame | FlowsRead,
    *,
    passage: Passage = None,
    plm: str | None = None,
    unknown: str = "keep",
    communes: pd.DataFrame | None = None,
    membership: pd.DataFrame | None = None,
) -> PreparedFlows:
    """Map both ends of every flow to today's communes and sum duplicated pairs.

    Former codes (communes déléguées/associées, codes of an INSEE passage table) are mapped
    with :func:`cpts_geo.domain.history.remap_codes`. Municipal arrondissements of Paris, Lyon and
    Marseille (751xx, 6938x, 132xx) follow the ``membership``: a city that the membership
    divides by arrondissement keeps them, any other is rolled up to its city (the default
    without membership: every city rolled up). Pairs that become identical are summed.
    Pairs duplicated in the input are summed too, with a warning naming their rows.

    Codes are mapped once per distinct value and pairs are grouped on integer keys, so a
    national table of millions of rows takes seconds.

    Codes that cannot be mapped (unknown, or split between several current communes) are
    never dropped: with ``unknown="keep"`` their flows stay in the table under the code as
    given — they count as outside every CPTS, so they weigh on leakage — and a warning gives
    their number and volume; with ``unknown="raise"`` a :class:`ValidationError` lists them.

    A table holding several professions or years keeps one row per pair *and* profession
    and year, with a warning: the indicators add them up, so keep one first with
    :func:`select_flows` (or by filtering the DataFrame).

    Parameters
    ----------
    flows : DataFrame or FlowsRead
        A flow table (:func:`read_flows`, :func:`read_mobpro`). Columns other than
        ``row``, ``origin``, ``destination``, ``volume`` and ``records`` (``profession``,
        ``year``, the ``by`` columns of :func:`read_mobpro`) are kept as keys.
    passage : DataFrame, path or dict, optional
        An INSEE passage table for codes older than the embedded former communes know.
    plm : {"city", "keep"}, optional
        Force what happens to every arrondissement: rolled up to its city, or kept.
        Default: as the ``membership`` does, city by city.
    unknown : {"keep", "raise"}, default "keep"
    communes : DataFrame, optional
        Layer of today's communes used for remapping (default: all of France). Codes outside
        it are "unknown": keep the default to keep flows leaving the region.
    membership : DataFrame, optional
        The CPTS membership (``code``, ``cpts_id``) the flows will be compared with; only
        its codes of arrondissements are used.

    Returns
    -------
    PreparedFlows
        Unpacks as ``flows, report``; ``duplicate_rows`` lists the input rows that repeat a
        pair (their volumes are summed).
    flows : DataFrame
        ``origin``, ``destination``, the keys, ``volume`` (and ``records`` summed when
        given), one row per pair, sorted.
    report : DataFrame
        One row per (end, code) changed or unmapped: ``end`` (``origine``/``destination``),
        ``row`` (first row where it appears, the row of the user's file when the table has a
        ``row`` column), ``n_rows`` (rows of the file: MOBPRO records for
        :func:`read_mobpro`), ``code``, ``new_code``, ``name``, ``new_name``, ``reason``,
        ``volume`` (volume of the flows concerned).

    Examples
    --------
    >>> table = pd.DataFrame({"origin": ["05120", "05001", "99999"],
    ...                       "destination": ["05001", "05001", "05001"], "volume": [3., 4., 5.]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):  # 99999 is unknown: kept, with a warning
    ...     warnings.simplefilter("always")
    ...     out, report = prepare_flows(table)
    >>> out.values.tolist()
    [['05001', '05001', 7.0], ['99999', '05001', 5.0]]
    >>> report[["end", "code", "reason", "volume"]].values.tolist()
    [['origine', '05120', 'commune déléguée', 3.0], ['origine', '99999', 'code inconnu', 5.0]]
    """
    flows = _table(flows)
    _check_flow_table(flows, unknown, plm)
    rows = flows["row"].to_numpy() if "row" in flows.columns else np.arange(1, len(flows) + 1)
    volume = as_floats(flows["volume"])
    records = (flows["records"].to_numpy(dtype="float64") if "records" in flows.columns else None)
    keys = [c for c in ("profession", "year") if c in flows.columns] + [
        c for c in flows.columns
        if c not in ("row", "origin", "destination", "volume", "records", "profession", "year")]
    kept_cities = (_split_cities(membership["code"]) if plm is None and membership is not None
                   else set())
    new = {}
    given = {}
    report_parts = []
    current = frozenset(communes.index.astype(str)) if communes is not None else current_codes()
    for end, label in END_LABELS.items():
        codes, uniq = factorize_codes(flows[end])
        given[end] = (codes, len(uniq))
        mapped, rep = _remap_unique(uniq, current, communes=communes, passage=passage,
                                    plm="keep" if plm == "keep" else "city")
        if kept_cities and len(rep):  # arrondissements of a city the membership divides
            back = ((rep["reason"] == "arrondissement → commune") & rep["new_code"].isin(kept_cities)).to_numpy()
            mapped[rep["row"].to_numpy()[back] - 1] = uniq[rep["row"].to_numpy()[back] - 1]
            rep = rep[~back]
        new[end] = _mapped_codes(codes, uniq, mapped)
        if len(rep):
            pos = rep["row"].to_numpy() - 1  # position in uniq
            ok = codes >= 0
            rep = rep.assign(
                end=label, row=first_rows(codes, rows, len(uniq))[pos],
                n_rows=np.bincount(codes[ok], weights=None if records is None else records[ok],
                                   minlength=len(uniq))[pos].astype(np.int64),
                volume=np.bincount(codes[ok], weights=volume[ok], minlength=len(uniq))[pos])
            report_parts.append(rep)
    cols = ["end", "row", "n_rows", "code", "new_code", "name", "new_name", "reason", "volume"]
    report = (pd.concat(report_parts, ignore_index=True)[cols] if report_parts
              else pd.DataFrame(columns=cols))
    report = report.sort_values(["row", "end"], kind="stable").reset_index(drop=True)
    _unmapped(report, unknown)
    key_codes = [_sorted_codes(flows[k]) for k in keys]
    out, order, sizes = _summed_pairs(flows, keys, key_codes, new, volume, records, rows)
    # pairs repeated in the input: among the rows of groups of several rows only
    several = order[np.repeat(sizes > 1, sizes)]
    given_key, _ = _combine(
        [given["origin"][0][several], given["destination"][0][several],
         *[c[several] for c, _ in key_codes]],
        [given["origin"][1], given["destination"][1], *[n for _, n in key_codes]])
    dup = np.zeros(len(flows), dtype=bool)
    dup[several] = pd.Series(given_key).duplicated(keep=False).to_numpy()
    if dup.any():
        listed = ", ".join(map(str, rows[dup][:20])) + (" …" if dup.sum() > 20 else "")
        warnings.warn(
            f"{int(dup.sum())} ligne(s) répètent une même paire origine–destination (lignes "
            f"{listed}) : leurs volumes sont additionnés.", CptsGeoWarning, stacklevel=2)
    mixed = _mixed_keys(flows)
    if mixed:
        warnings.warn(
            f"La table mêle {mixed} : les indicateurs les additionnent. Gardez-en une avant de "
            "les calculer : select_flows(flux, profession=..., year=...) (en ligne de commande "
            "--profession, --annee).", CptsGeoWarning, stacklevel=2)
    return PreparedFlows(out, report, np.sort(rows[dup]))



def _check_flow_table(flows: pd.DataFrame, unknown: str, plm: str | None) -> None:
    """Refuse options :func:`prepare_flows` does not know, a table without its columns, or empty."""
    if unknown not in ("keep", "raise"):
        raise ValueError(f"unknown doit valoir 'keep' ou 'raise', pas {unknown!r}.")
    if plm not in (None, "city", "keep"):
        raise ValueError(f"plm doit valoir 'city' ou 'keep', pas {plm!r}.")
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise ValueError(
            "Table de flux sans colonne(s) " + ", ".join(missing)
            + " : lisez-la avec read_flows() ou read_mobpro().")
    if len(flows) == 0:
        raise ValidationError("La table de flux est vide.", [{"problem": "table vide"}])



def _mapped_codes(codes: np.ndarray, uniq: np.ndarray, mapped: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """The integer code of each row after mapping (``mapped``: today's code of each of ``uniq``;
    -1 where missing) and the codes of today, sorted: unmapped codes stay as given (reported)."""
    m_codes, m_uniq = pd.factorize(mapped, sort=True)
    if len(uniq) and int(codes.min()) >= 0:
        new_codes = codes if np.array_equal(m_codes, np.arange(len(m_codes))) else m_codes[codes]
    else:
        new_codes = np.where(codes < 0, -1, m_codes[np.maximum(codes, 0)]) if len(uniq) else codes
    return new_codes, pd.Index(np.asarray(m_uniq, dtype=object), dtype=object)



def _unmapped(report: pd.DataFrame, unknown: str) -> None:
    """Codes of the report that no commune of today holds: an error (``unknown="raise"``) or a
    warning pointing at the caller of :func:`prepare_flows`."""
    unmapped = report[report["new_code"].isna()]
    if not len(unmapped):
        return
    if unknown == "raise":
        raise ValidationError(
            "Codes commune inconnus dans la table de flux : corrigez-les ou fournissez une "
            "table de passage INSEE (passage=...)",
            [{"row": int(r.row), "code": r.code,
              "problem": f"{r.reason} ({r.end}, {int(r.n_rows)} ligne(s), volume {number(round(r.volume, 1), None)})",
              "end": r.end, "volume": r.volume}
             for r in unmapped.itertuples(index=False)])
    warnings.warn(
        f"{unmapped['code'].nunique()} code(s) commune non reconnu(s) (volume "
        f"{number(unmapped['volume'].sum(), None)}) : flux conservés sous leur code, comptés hors de "
        "toute CPTS ; voir le rapport.", CptsGeoWarning, stacklevel=3)



def _summed_pairs(flows: pd.DataFrame, keys: list[str], key_codes: list[tuple[np.ndarray, int]],
                  new: dict[str, tuple[np.ndarray, pd.Index]], volume: np.ndarray, records: np.ndarray | None,
                  rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One row per (origin, destination, keys) of today, volumes (and records) summed; the
    order of the input rows by group and the size of each group."""
    (o, o_uniq), (d, d_uniq) = new["origin"], new["destination"]
    order, starts = _groups(*_combine([o, d, *[c for c, _ in key_codes]],
                                      [len(o_uniq), len(d_uniq), *[n for _, n in key_codes]]))
    sizes = np.diff(np.append(starts, len(order)))
    one = order[starts]
    columns = {"origin": _categorical(o[one], o_uniq), "destination": _categorical(d[one], d_uniq)}
    for k in keys:
        columns[k] = flows[k].array.take(one)
    if len(starts) == len(order):  # no pair repeated: nothing to add up
        columns["volume"] = volume[order]
    else:
        with np.errstate(over="ignore"):  # an overflow is reported below, with its rows
            columns["volume"] = np.add.reduceat(volume[order], starts)
    if not np.isfinite(columns["volume"]).all():  # rows of a pair that add up to infinity
        bad = np.flatnonzero(~np.isfinite(columns["volume"]))
        raise ValidationError(
            "Volumes trop grands dans la table de flux : les lignes d'une même paire "
            "origine–destination ont une somme qui dépasse le plus grand nombre représentable "
            "(≈ 1,8 × 10^308) ; vérifiez l'unité ou corrigez ces lignes",
            [{"row": int(rows[p]), "code": None,
              "problem": f"volume {f'{volume[p]:.6g}'.replace('.', ',')} : la somme de la paire "
                         "dépasse le plus grand nombre représentable"}
             for g in bad[:100] for p in order[starts[g]:starts[g] + sizes[g]]])
    check_sum(columns["volume"], None, "Volumes trop grands dans la table de flux")
    if records is not None:
        columns["records"] = np.add.reduceat(records[order], starts).astype(np.int64)
    return pd.DataFrame(columns, copy=False), order, sizes



def _remap_unique(uniq: np.ndarray, current: frozenset[str], *, communes: pd.DataFrame | None, passage: Passage,
                  plm: str) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`cpts_geo.domain.history.remap_codes` of distinct codes, asked only for the codes that are
    not already today's communes (nor arrondissements): a national table of current codes is
    mapped without a lookup per code. Returns the codes mapped (object array; a code that
    cannot be mapped stays as given) and the report (``row``: 1-based position in ``uniq``)."""
    arrondissements = set(_arrondissements().index)
    plain = np.fromiter((c in current and c not in arrondissements for c in uniq), dtype=bool,
                        count=len(uniq))
    mapped = np.asarray(uniq, dtype=object).copy()
    rest = np.flatnonzero(~plain)
    if not len(rest):
        return mapped, pd.DataFrame(columns=["row", "code", "new_code", "name", "new_name", "reason"])
    new, report = remap_codes(pd.Series(mapped[rest], dtype="string"), communes=communes, passage=passage, plm=plm)
    known = new.notna().to_numpy()
    mapped[rest[known]] = new[known].to_numpy(dtype=object)
    report = report.assign(row=rest[report["row"].to_numpy(dtype=np.int64) - 1] + 1)
    return mapped, report



def _mixed_keys(flows: pd.DataFrame) -> str:
    """``"3 professions (a, b, c)"`` etc. for the profession and year columns holding several
    values; empty when none does. Values are told apart as :func:`select_flows` tells them
    (« Médecin » and « medecin », 2023 and 2023.0 are one value: what it keeps is never
    called mixed)."""
    parts = []
    for col, label in (("profession", "professions"), ("year", "années")):
        if col in flows.columns:
            given = flows[col].dropna()
            keys = _key_text(given)
            if keys.nunique() > 1:  # one spelling per value, as written first
                first = given.astype(str).str.strip().groupby(keys.to_numpy()).first()
                values = sorted(first.tolist())
                parts.append(f"{len(values)} {label} ({', '.join(values[:10])}"
                             f"{' …' if len(values) > 10 else ''})")
    return " et ".join(parts)



def commune_units(communes: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
    """The commune layer at the level ``codes`` use: Paris, Lyon and Marseille replaced by
    their municipal arrondissements where ``codes`` hold some of them.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer (:func:`cpts_geo.domain.communes.load_communes`).
    codes : iterable of str
        Codes of communes or arrondissements, e.g. a membership's ``code`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        ``communes`` itself when no city is divided, else a new layer with the
        arrondissements of each divided city (names, population, geometry) in its place.

    Examples
    --------
    >>> from cpts_geo.domain.communes import load_communes
    >>> layer = commune_units(load_communes(departments="75"), ["75101", "75102"])
    >>> len(layer), "75056" in layer.index
    (20, False)
    """
    from cpts_geo.domain.units import unit_layer

    cities = _split_cities(codes) & set(communes.index.astype(str))
    if not cities:
        return communes
    arm = _arrondissements()
    return unit_layer(communes, arm.index[arm["parent"].isin(cities)])



def code_report(flows: FlowsRead, report: pd.DataFrame | PreparedFlows) -> pd.DataFrame:
    """Every commune code changed or left unmapped, from the file to today's communes.

    Parameters
    ----------
    flows : FlowsRead
        The table as read (:func:`read_flows`, :func:`read_mobpro`): its ``code_report``
        lists the codes repaired at reading.
    report : DataFrame or PreparedFlows
        What :func:`prepare_flows` returned, or its report.

    Returns
    -------
    pandas.DataFrame
        One row per (step, end, code): ``step`` (``"réparé à la lecture"``, ``"rattaché à la
        commune actuelle"``, ``"non reconnu"``), ``end``, ``row`` (first row of the file),
        ``n_rows`` (rows of the file), ``given_code``, ``new_code``, ``name``, ``new_name``,
        ``reason``, ``volume``. Sorted by row.

    Examples
    --------
    >>> import warnings
    >>> from cpts_geo.io.flows import read_flows
    >>> table = pd.DataFrame({"origine": [1001, "05120"], "destination": ["99999", "05001"],
    ...                       "volume": [1.0, 2.0]})
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     raw = read_flows(table)
    ...     flows, report = prepare_flows(raw)
    >>> code_report(raw, report)[["step", "given_code", "new_code", "row"]].values.tolist()
    [['réparé à la lecture', 1001, '01001', 1], ['non reconnu', '99999', <NA>, 1], ['rattaché à la commune actuelle', '05120', '05001', 2]]
    """
    columns = ["step", "end", "row", "n_rows", "given_code", "new_code", "name", "new_name",
               "reason", "volume"]
    if isinstance(report, PreparedFlows):
        report = report.report
    repaired = (flows.code_report if isinstance(flows, FlowsRead)
                else pd.DataFrame(columns=CODE_REPORT))
    parts = [repaired.assign(step="réparé à la lecture", name=pd.NA, new_name=pd.NA)]
    if len(report):
        parts.append(report.assign(step=np.where(report["new_code"].isna(), "non reconnu",
                                                 "rattaché à la commune actuelle")))
    parts = [p.rename(columns={"code": "given_code"}).reindex(columns=columns) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["new_code"] = out["new_code"].astype("string")
    return out.sort_values("row", kind="stable").reset_index(drop=True)



def reading_summary(
    raw: FlowsRead,
    prepared: PreparedFlows,
    *,
    codes_path: str | Path | None = None,
    listed: int = 20,
) -> list[str]:
    """What reading and preparing a flow table did, in French lines for the user.

    Rows (or MOBPRO records) read and pairs kept; professions or years mixed in the table;
    codes repaired, remapped and unknown, and rows repeating a pair (summed); then the first
    ``listed`` unknown codes with the row of the file where each first appears.

    Parameters
    ----------
    raw : FlowsRead
        The table as read (:func:`read_flows`, :func:`read_mobpro`).
    prepared : PreparedFlows
        What :func:`prepare_flows` returned for it.
    codes_path : path, optional
        Where :func:`code_report` was written, to name it.
    listed : int, default 20
        Number of unknown codes listed.

    Returns
    -------
    list of str
        The French lines, in the order above.

    Examples
    --------
    >>> import warnings
    >>> from cpts_geo.io.flows import read_flows
    >>> table = pd.DataFrame({"origin": ["61001", "61001", "99999"],
    ...                       "destination": ["61001", "61001", "61001"], "volume": [1.0, 2.0, 5.0]})
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     raw = read_flows(table)
    ...     prepared = prepare_flows(raw)
    >>> print("\\n".join(reading_summary(raw, prepared)))
    Flux lus : 3 lignes ; 2 paires origine–destination après rattachement aux communes actuelles, volume 8.
    Codes commune : 0 réparé(s) à la lecture, 0 rattaché(s) à la commune actuelle, 1 non reconnu(s) (flux conservés, comptés hors CPTS) ; 2 ligne(s) répètent une même paire origine–destination (lignes 1, 2) : volumes additionnés.
      - ligne 3 : 99999 (origine, code inconnu, volume 5)
    """
    flows, report = prepared.flows, prepared.report
    if raw.mobpro:
        read = (f"{number(raw.records)} enregistrements MOBPRO, {number(len(raw.flows))} paires "
                "origine–destination")
    else:
        read = f"{number(len(raw.flows))} lignes"
    lines = [(f"Flux lus : {read} ; {number(len(flows))} paires origine–destination après "
             f"rattachement aux communes actuelles, volume {number(flows['volume'].sum())}.")]
    mixed = _mixed_keys(raw.flows)
    if mixed:
        lines.append(f"Attention : la table mêle {mixed} ; les indicateurs les additionnent. "
                     "Choisissez-en une (en ligne de commande : --profession, --annee).")
    steps = code_report(raw, report)["step"].value_counts()
    dups = prepared.duplicate_rows
    text = (f"Codes commune : {steps.get('réparé à la lecture', 0)} réparé(s) à la lecture, "
            f"{steps.get('rattaché à la commune actuelle', 0)} rattaché(s) à la commune actuelle, "
            f"{steps.get('non reconnu', 0)} non reconnu(s) (flux conservés, comptés hors CPTS)")
    if len(dups):
        text += (f" ; {number(len(dups))} ligne(s) répètent une même paire origine–destination "
                 f"(lignes {', '.join(map(str, dups[:20]))}{' …' if len(dups) > 20 else ''}) "
                 ": volumes additionnés")
    if codes_path is not None:
        text += f". Détail : {codes_path} (fichier de travail : volumes non masqués)"
    lines.append(text + ".")
    unknown = report[report["new_code"].isna()]
    for rec in unknown.head(listed).itertuples(index=False):
        lines.append(f"  - ligne {rec.row} : {rec.code} ({rec.end}, {rec.reason}, volume "
                     f"{number(round(rec.volume, 1), None)})")
    if len(unknown) > listed:
        lines.append(f"  … et {len(unknown) - listed} autre(s)"
                     + (f" dans {codes_path}" if codes_path is not None else ""))
    return lines
