"""Patient flows: read origin–destination tables, compute CPTS flow indicators, check perimeters.

"Le territoire pertinent d'une CPTS est avant tout le territoire vécu" (guide des CPTS des
Hauts-de-France, fiche 4): perimeters are judged on patient flows. A **flow table** has one
row per (commune of residence, commune of care) pair:

===============  ==========================================================================
``origin``       INSEE code of the commune of residence (text)
``destination``  INSEE code of the commune of care (text)
``volume``       patients, acts or consultations (float, ≥ 0)
``profession``   optional: profession or care type
``year``         optional: year of the data
===============  ==========================================================================

:func:`read_flows` reads such a table from CSV, XLSX or Parquet (French headers recognised,
volumes such as ``"1 234"`` or ``"12,5"`` accepted), :func:`read_mobpro` reads INSEE MOBPRO
home→work detail records (the usual stand-in when patient flows are not available) and
:func:`prepare_flows` maps both ends of every flow to today's communes with a report.

Indicators use a **membership** table (``code``, ``cpts_id``, ``share``; see
:mod:`cpts_geo.territories`). Definitions, for a CPTS *T*:

- residents' volume *R* = flows whose origin is in *T*; delivered volume *D* = flows whose
  destination is in *T*; inside volume *I* = flows with both ends in *T*;
- **retention** = *I / R*; **leakage** (taux de fuite) = 1 − retention;
- **attraction** = (*D* − *I*) / *D*, the share of the care delivered in *T* that goes to
  non-residents; supply-side containment = *I / D*;
- **self-containment** = min(*I / R*, *I / D*) (demand and supply side, as for travel-to-work
  areas).

**Split communes** (``share`` < 1, e.g. a city shared by several CPTS): a flow is attributed
to the CPTS of each end in proportion to the shares, independently at both ends. A flow of
volume *v* from commune *a* to commune *b* counts *v × share(a, S) × share(b, T)* from CPTS
*S* to CPTS *T*; the part of a commune not declared in any CPTS (1 − sum of its shares) is
treated as uncovered. Totals are preserved exactly. A flow inside a commune split in halves
between CPTS *S* and *T* counts a quarter inside *S*, a quarter inside *T* and a quarter in
each direction between them: residents of a split commune are assumed to use its care
providers without regard to the internal boundary. Declare arrondissements instead of
shares when the data allow it.

**Statistical secrecy**: :func:`mask_secrecy` masks volumes strictly between 0 and a
threshold (10 by default) and the rates computed on them; exports (:func:`write_flow_table`)
and map layers (:func:`flow_lines`, :func:`retention_layer`) apply it by default.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cpts_geo._french import number, write_csv
from cpts_geo.cog import normalize_codes, remap_codes
from cpts_geo.errors import ValidationError

__all__ = [
    "FLOW_COLUMNS",
    "UNCOVERED",
    "SECRECY_THRESHOLD",
    "read_flows",
    "read_mobpro",
    "prepare_flows",
    "flow_matrix",
    "cpts_flow_indicators",
    "leakage_destinations",
    "commune_destinations",
    "coherence_flags",
    "mask_secrecy",
    "write_flow_table",
    "french_headers",
    "flow_lines",
    "retention_layer",
    "adjacency",
]

#: Standard columns of a flow table (``profession`` and ``year`` are optional).
FLOW_COLUMNS = ["origin", "destination", "volume", "profession", "year"]
#: Label of the area outside every CPTS in indicator tables.
UNCOVERED = "hors CPTS"
#: Default statistical secrecy threshold.
SECRECY_THRESHOLD = 10

_HEADERS = {
    "origin": {
        "origin", "origine", "origin_code", "code_origine", "residence", "commune_residence",
        "code_commune_residence", "com_residence", "code_residence", "commune_de_residence",
        "insee_residence", "depcom_residence", "com_res", "codgeo_residence", "commune",
    },
    "destination": {
        "destination", "destination_code", "code_destination", "commune_soins",
        "commune_de_soins", "code_commune_soins", "lieu_soins", "lieu_de_soins",
        "commune_prise_en_charge", "commune_prestataire", "commune_professionnel",
        "commune_executant", "dclt", "com_soins", "commune_travail", "lieu_de_travail",
    },
    "volume": {
        "volume", "volumes", "nb", "nombre", "n", "effectif", "effectifs", "patients",
        "nb_patients", "nombre_patients", "nombre_de_patients", "actes", "nb_actes",
        "nombre_actes", "nombre_d_actes", "consultations", "nb_consultations", "flux",
        "ipondi", "poids", "count", "weight",
    },
    "profession": {
        "profession", "specialite", "type_soins", "type_de_soins", "care_type", "categorie",
        "profession_de_sante", "type_acte",
    },
    "year": {"year", "annee", "millesime", "an"},
}

_RATE_SOURCES = {
    "retention": ["inside_volume", "resident_volume"],
    "leakage": ["inside_volume", "resident_volume"],
    "attraction": ["inflow_volume", "delivered_volume"],
    "supply_containment": ["inside_volume", "delivered_volume"],
    "self_containment": ["inside_volume", "resident_volume", "delivered_volume"],
    "own_share": ["own_volume", "resident_volume"],
    "main_share": ["main_volume", "resident_volume"],
    "suggested_share": ["suggested_volume", "resident_volume"],
    "share": ["volume"],
    "share_of_leakage": ["volume"],
}

_FRENCH = {
    "cpts_id": "Identifiant CPTS",
    "code": "Code commune",
    "name": "Nom",
    "origin": "Commune de résidence",
    "destination": "Commune de soins",
    "origin_name": "Nom commune de résidence",
    "destination_name": "Nom commune de soins",
    "volume": "Volume",
    "profession": "Profession",
    "year": "Année",
    "n_communes": "Nombre de communes",
    "resident_volume": "Volume des résidents",
    "inside_volume": "Volume consommé dans la CPTS",
    "outflow_volume": "Volume consommé hors de la CPTS",
    "delivered_volume": "Volume réalisé dans la CPTS",
    "inflow_volume": "Volume réalisé pour des non-résidents",
    "retention": "Taux de rétention",
    "leakage": "Taux de fuite",
    "attraction": "Taux d'attraction",
    "supply_containment": "Autonomie côté offre",
    "self_containment": "Autonomie (min. demande, offre)",
    "rank": "Rang",
    "kind": "Type de destination",
    "share": "Part du volume des résidents",
    "share_of_leakage": "Part des fuites",
    "own_volume": "Volume dans sa CPTS",
    "own_share": "Part dans sa CPTS",
    "main_destination": "Destination principale",
    "main_volume": "Volume vers la destination principale",
    "main_share": "Part de la destination principale",
    "flag": "Signalement",
    "suggested_cpts": "CPTS suggérée",
    "suggested_volume": "Volume vers la CPTS suggérée",
    "suggested_share": "Part vers la CPTS suggérée",
    "suggested_adjacent": "CPTS suggérée limitrophe",
    "masked": "Masqué (secret statistique)",
    "origin_cpts": "CPTS de résidence",
    "destination_cpts": "CPTS de soins",
    "split": "Commune partagée",
}


# --------------------------------------------------------------------------- readers


def _fold(text) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _recognise(headers: Sequence, columns: Mapping[str, str] | None) -> dict[str, str]:
    """Map standard names to the user's headers."""
    found: dict[str, str] = {}
    if columns:
        for given, std in columns.items():
            if std not in FLOW_COLUMNS:
                raise ValueError(
                    f"columns : {std!r} n'est pas une colonne de flux ; "
                    f"valeurs permises : {', '.join(FLOW_COLUMNS)}."
                )
            if given not in headers:
                raise ValueError(
                    f"columns : la colonne {given!r} est absente du fichier ; colonnes lues : "
                    + ", ".join(map(str, headers))
                )
            found[std] = given
    for header in headers:
        key = _fold(header)
        for std, names in _HEADERS.items():
            if std not in found and header not in found.values() and key in names:
                found[std] = header
    return found


def _read_table(path: Path, *, sheet, sep, encoding) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV/XLSX/Parquet file as text; return it and its spreadsheet row numbers."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame, np.arange(1, len(frame) + 1)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str)
        return frame, np.arange(2, len(frame) + 2)
    raw = path.read_bytes()
    if encoding:
        text = raw.decode(encoding)
    else:
        for enc in ("utf-8-sig", "cp1252", "latin-1"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
    if sep is None:
        first = text.split("\n", 1)[0]
        counts = {s: first.count(s) for s in (";", ",", "\t", "|")}
        sep = max(counts, key=counts.get) if max(counts.values()) else ","
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                        na_values=[""])
    return frame, np.arange(2, len(frame) + 2)


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def _parse_volumes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse volumes: numbers, or text like ``"1 234"``, ``"1 234,5"``, ``"12.5"``.

    Returns the float values (NaN where unreadable) and a boolean array of unreadable cells.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype="float64", na_value=np.nan)
        return out, np.isnan(out)
    text = values.astype("string").str.replace(_SPACES, "", regex=True)
    # "1.234,5" (dot thousands, comma decimals) and "12,5" (comma decimals)
    both = text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
    text = text.where(~both.fillna(False), text.str.replace(".", "", regex=False))
    text = text.str.replace(",", ".", regex=False)
    out = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return out, np.isnan(out)


def read_flows(
    source: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read an origin–destination table (commune of residence → commune of care).

    Headers are recognised in French or English (``origine``/``commune de résidence``,
    ``destination``/``commune de soins``, ``volume``/``patients``/``actes``/``nb``,
    ``profession``/``type de soins``, ``année``) or given with ``columns``. Commune codes
    are cleaned with :func:`cpts_geo.cog.normalize_codes` (leading zero restored, spaces
    removed; a warning lists the repairs). Volumes may be text with thousands separators
    (``"1 234"``) or decimal commas (``"12,5"``).

    Every problem is gathered and raised at once: missing codes, non-numeric, missing or
    negative volumes, an empty table. Duplicated pairs are kept here (one row per input row)
    and summed by :func:`prepare_flows`.

    Parameters
    ----------
    source : path or DataFrame
        A CSV (separator and encoding detected), XLSX or Parquet file, or a DataFrame.
    columns : mapping, optional
        ``{"your header": "origin" | "destination" | "volume" | "profession" | "year"}``.
    sheet : str or int, optional
        Sheet of an XLSX file (the first one by default).
    sep, encoding : str, optional
        Force the CSV separator or encoding.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (row number in the user's file: the header is row 1 in a CSV or
        XLSX file; 1-based position for a DataFrame or Parquet file), ``origin``,
        ``destination`` (string dtype), ``volume`` (float) and, when given, ``profession``
        and ``year``. ``attrs["code_report"]`` lists the code repairs.

    Examples
    --------
    >>> table = pd.DataFrame({"Commune de résidence": ["61001", "61001"],
    ...                       "Commune de soins": ["61001", "14118"],
    ...                       "Nb patients": ["1 234", "56"]})
    >>> read_flows(table)[["origin", "destination", "volume"]].values.tolist()
    [['61001', '61001', 1234.0], ['61001', '14118', 56.0]]
    """
    if isinstance(source, pd.DataFrame):
        frame, rows, label = source, np.arange(1, len(source) + 1), "table"
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier de flux introuvable : {path}")
        frame, rows = _read_table(path, sheet=sheet, sep=sep, encoding=encoding)
        label = path.name
    found = _recognise(list(frame.columns), columns)
    missing = [c for c in ("origin", "destination", "volume") if c not in found]
    if missing:
        raise ValidationError(
            f"{label} : colonne(s) {', '.join(missing)} introuvable(s). Colonnes lues : "
            + ", ".join(map(str, frame.columns))
            + ". Renommez-les (ex. « origine », « destination », « volume ») ou passez "
            "columns={'votre en-tête': 'origin', ...}.",
            [{"code": None, "problem": f"colonne {c} absente", "column": c} for c in missing],
        )
    if len(frame) == 0:
        raise ValidationError(
            f"{label} : la table de flux est vide ; donnez au moins une ligne "
            "origine, destination, volume.",
            [{"problem": "table vide"}],
        )
    problems = []
    out = pd.DataFrame({"row": rows})
    reports = []
    for end in ("origin", "destination"):
        codes, report = normalize_codes(frame[found[end]].reset_index(drop=True))
        out[end] = codes.to_numpy()
        out[end] = out[end].astype("string")
        if len(report):
            report = report.assign(row=rows[report["row"].to_numpy() - 1], end=end)
            reports.append(report)
        for pos in np.flatnonzero(codes.isna().to_numpy()):
            problems.append({"row": int(rows[pos]), "code": None, "column": found[end],
                             "problem": f"code commune vide ({'origine' if end == 'origin' else 'destination'}) ; "
                                        "indiquez le code INSEE à 5 caractères"})
    given = frame[found["volume"]].reset_index(drop=True)
    volume, bad = _parse_volumes(given)
    for pos in np.flatnonzero(bad):
        value = given.iloc[pos]
        what = "volume vide" if pd.isna(value) or str(value).strip() == "" else f"volume non numérique : {value!r}"
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"{what} ; attendu un nombre ≥ 0 (ex. 1234, « 1 234 », 12,5)"})
    for pos in np.flatnonzero(volume < 0):
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"volume négatif : {given.iloc[pos]!r} ; attendu un nombre ≥ 0"})
    if problems:
        problems.sort(key=lambda p: p["row"])
        raise ValidationError(
            f"{label} : la table de flux a des lignes invalides ; corrigez-les dans le fichier "
            "puis relisez-le", problems)
    out["volume"] = volume
    for opt in ("profession", "year"):
        if opt in found:
            out[opt] = frame[found[opt]].reset_index(drop=True).to_numpy()
            out[opt] = out[opt].astype("string") if opt == "profession" else out[opt]
    code_report = (pd.concat(reports, ignore_index=True) if reports
                   else pd.DataFrame(columns=["row", "code", "new_code", "reason", "end"]))
    if len(code_report):
        warnings.warn(
            f"{label} : {len(code_report)} code(s) commune réparé(s) (zéro initial, espaces) ; "
            "voir attrs['code_report'].", stacklevel=2)
    out.attrs["code_report"] = code_report
    out.attrs["source"] = label
    return out


def read_mobpro(
    source: str | Path | pd.DataFrame,
    *,
    origin: str = "COMMUNE",
    destination: str = "DCLT",
    weight: str = "IPONDI",
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Read INSEE MOBPRO detail records (home → workplace) as a flow table.

    Each record is one census individual with its statistical weight; records are summed
    per (residence, workplace) pair. Used as a stand-in for patient flows when these are
    not available.

    Parameters
    ----------
    source : path or DataFrame
        The MOBPRO file (CSV with ``;`` or ``,``, Parquet) or a DataFrame.
    origin, destination, weight : str
        Columns of the residence commune, workplace commune and weight.
    by : sequence of str
        Extra columns to keep as keys (e.g. ``["CS1"]`` → column ``profession``).

    Returns
    -------
    pandas.DataFrame
        A flow table (``origin``, ``destination``, ``volume``; plus ``profession`` if
        ``by`` has one column), one row per pair, codes as given (remap them with
        :func:`prepare_flows`). ``attrs["records"]`` is the number of records read.

    Examples
    --------
    >>> records = pd.DataFrame({"COMMUNE": ["61001", "61001", "61001"],
    ...                         "DCLT": ["61001", "61001", "14118"], "IPONDI": [1.5, 2.0, 1.0]})
    >>> read_mobpro(records).values.tolist()
    [['61001', '14118', 1.0], ['61001', '61001', 3.5]]
    """
    cols = [origin, destination, weight, *by]
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier MOBPRO introuvable : {path}")
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path, columns=cols)
        else:
            frame, _ = _read_table(path, sheet=None, sep=None, encoding=None)
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise ValidationError(
            "Fichier MOBPRO : colonne(s) " + ", ".join(absent) + " absente(s) ; colonnes lues : "
            + ", ".join(map(str, frame.columns)) + ". Passez origin=, destination=, weight=.",
            [{"problem": f"colonne {c} absente"} for c in absent])
    rename = {origin: "origin", destination: "destination", weight: "volume"}
    if len(by) == 1:
        rename[by[0]] = "profession"
    table = read_flows(frame[cols].rename(columns=rename),
                       columns={v: v for v in rename.values()})
    keys = ["origin", "destination", *[rename.get(b, b) for b in by]]
    for b in by[1:] if len(by) > 1 else []:
        table[b] = frame[b].to_numpy()
    out = table.groupby(keys, sort=True, observed=True, dropna=False)["volume"].sum().reset_index()
    out.attrs["records"] = len(frame)
    out.attrs["source"] = "MOBPRO"
    return out


def prepare_flows(
    flows: pd.DataFrame,
    *,
    passage=None,
    plm: str = "city",
    unknown: str = "keep",
    communes: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map both ends of every flow to today's communes and sum duplicated pairs.

    Former codes (communes déléguées/associées, codes of an INSEE passage table) are mapped
    with :func:`cpts_geo.cog.remap_codes`; arrondissements of Paris, Lyon, Marseille are
    rolled up to their city unless ``plm="keep"`` (use it when the membership lists
    arrondissements). Pairs that become identical are summed. Pairs duplicated in the input
    are summed too, with a warning naming their rows.

    Codes that cannot be mapped (unknown, or split between several current communes) are
    never dropped: with ``unknown="keep"`` their flows stay in the table under the code as
    given — they count as outside every CPTS, so they weigh on leakage — and a warning gives
    their number and volume; with ``unknown="raise"`` a :class:`ValidationError` lists them.

    Parameters
    ----------
    flows : DataFrame
        A flow table (:func:`read_flows`, :func:`read_mobpro`).
    passage : DataFrame, path or dict, optional
        An INSEE passage table for codes older than the embedded former communes know.
    plm : {"city", "keep"}, default "city"
    unknown : {"keep", "raise"}, default "keep"
    communes : DataFrame, optional
        Layer of today's communes used for remapping (default: all of France). Codes outside
        it are "unknown": keep the default to keep flows leaving the region.

    Returns
    -------
    flows : DataFrame
        ``origin``, ``destination``, ``volume`` (+ ``profession``, ``year`` when present),
        one row per pair, sorted.
    report : DataFrame
        One row per (end, code) changed or unmapped: ``end`` (``origine``/``destination``),
        ``row`` (first row where it appears), ``n_rows``, ``code``, ``new_code``, ``name``,
        ``new_name``, ``reason``, ``volume`` (volume of the flows concerned).

    Examples
    --------
    >>> table = pd.DataFrame({"origin": ["05120", "05001", "99999"],
    ...                       "destination": ["05001", "05001", "05001"], "volume": [3., 4., 5.]})
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):  # 99999 is unknown: kept, with a warning
    ...     out, report = prepare_flows(table)
    >>> out.values.tolist()
    [['05001', '05001', 7.0], ['99999', '05001', 5.0]]
    >>> report[["end", "code", "reason", "volume"]].values.tolist()
    [['origine', '05120', 'commune déléguée', 3.0], ['origine', '99999', 'code inconnu', 5.0]]
    """
    if unknown not in ("keep", "raise"):
        raise ValueError(f"unknown doit valoir 'keep' ou 'raise', pas {unknown!r}.")
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise ValueError(
            "Table de flux sans colonne(s) " + ", ".join(missing)
            + " : lisez-la avec read_flows() ou read_mobpro().")
    if len(flows) == 0:
        raise ValidationError("La table de flux est vide.", [{"problem": "table vide"}])
    rows = flows["row"].to_numpy() if "row" in flows.columns else np.arange(1, len(flows) + 1)
    volume = flows["volume"].to_numpy(dtype="float64")
    keys = [c for c in ("profession", "year") if c in flows.columns]
    new = {}
    report_parts = []
    for end, label in (("origin", "origine"), ("destination", "destination")):
        cat = pd.Categorical(flows[end].astype("string"))
        uniq = pd.Series(cat.categories, dtype="string")
        mapped, rep = remap_codes(uniq, communes=communes, passage=passage, plm=plm)
        mapped = mapped.fillna(uniq)  # unmapped codes stay as given (reported)
        codes = cat.codes
        values = mapped.to_numpy()[codes] if len(uniq) else np.array([], dtype=object)
        values = np.where(codes < 0, None, values)
        new[end] = values
        if len(rep):
            idx = rep["row"].to_numpy() - 1  # position in uniq
            hit = np.isin(codes, idx)
            sub = pd.DataFrame({"c": codes[hit], "row": rows[hit], "volume": volume[hit]})
            agg = sub.groupby("c").agg(row=("row", "min"), n_rows=("row", "size"),
                                       volume=("volume", "sum"))
            rep = rep.assign(end=label, row=agg.loc[idx, "row"].to_numpy(),
                             n_rows=agg.loc[idx, "n_rows"].to_numpy(),
                             volume=agg.loc[idx, "volume"].to_numpy())
            report_parts.append(rep)
    cols = ["end", "row", "n_rows", "code", "new_code", "name", "new_name", "reason", "volume"]
    report = (pd.concat(report_parts, ignore_index=True)[cols] if report_parts
              else pd.DataFrame(columns=cols))
    report = report.sort_values(["row", "end"], kind="stable").reset_index(drop=True)
    unmapped = report[report["new_code"].isna()]
    if len(unmapped):
        if unknown == "raise":
            raise ValidationError(
                "Codes commune inconnus dans la table de flux : corrigez-les ou fournissez une "
                "table de passage INSEE (passage=...)",
                [{"row": int(r.row), "code": r.code,
                  "problem": f"{r.reason} ({r.end}, {int(r.n_rows)} ligne(s), volume {number(r.volume, None)})",
                  "end": r.end, "volume": r.volume}
                 for r in unmapped.itertuples(index=False)])
        warnings.warn(
            f"{unmapped['code'].nunique()} code(s) commune non reconnu(s) (volume "
            f"{number(unmapped['volume'].sum(), None)}) : flux conservés sous leur code, comptés hors de "
            "toute CPTS ; voir le rapport.", stacklevel=2)
    out = pd.DataFrame({"origin": new["origin"], "destination": new["destination"],
                        "volume": volume})
    for k in keys:
        out[k] = flows[k].to_numpy()
    pair = ["origin", "destination", *keys]
    given = flows[pair].copy()
    dup = given.duplicated(keep=False).to_numpy()
    if dup.any():
        listed = ", ".join(map(str, rows[dup][:20])) + (" …" if dup.sum() > 20 else "")
        warnings.warn(
            f"{int(dup.sum())} ligne(s) répètent une même paire origine–destination (lignes "
            f"{listed}) : leurs volumes sont additionnés.", stacklevel=2)
    out = (out.groupby(pair, sort=True, observed=True, dropna=False)["volume"].sum()
           .reset_index())
    for end in ("origin", "destination"):
        out[end] = out[end].astype("string")
    out.attrs["report"] = report
    return out, report


# --------------------------------------------------------------------------- indicators


def _check_membership(membership: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("code", "cpts_id") if c not in membership.columns]
    if missing:
        raise ValueError(
            "membership doit avoir les colonnes code, cpts_id (et share) : colonne(s) "
            + ", ".join(missing) + " absente(s). Construisez-la avec "
            "cpts_geo.territories.membership(registre).")
    mem = pd.DataFrame({"code": membership["code"].astype("string").to_numpy(),
                        "cpts_id": membership["cpts_id"].astype("string").to_numpy()})
    share = (membership["share"].to_numpy(dtype="float64", na_value=np.nan)
             if "share" in membership.columns else np.ones(len(mem)))
    mem["share"] = np.where(np.isnan(share), 1.0, share)
    problems = []
    bad = (mem["share"] <= 0) | (mem["share"] > 1)
    for pos in np.flatnonzero(bad.to_numpy()):
        problems.append({"row": pos + 1, "code": mem.at[pos, "code"],
                         "problem": f"part {number(mem.at[pos, 'share'], None)} hors de ]0, 1]"})
    total = mem.groupby("code")["share"].sum()
    for code in total.index[total > 1 + 1e-9]:
        problems.append({"row": None, "code": code,
                         "problem": f"parts cumulées {number(total[code], None)} > 1 (CPTS : "
                                    + ", ".join(mem.loc[mem["code"] == code, "cpts_id"]) + ")"})
    if problems:
        raise ValidationError(
            "Table d'appartenance invalide : chaque part doit être dans ]0, 1] et les parts "
            "d'une commune ne peuvent dépasser 1", problems)
    return mem


class _Units:
    """Flows expanded to (origin unit, destination unit, weight) integer arrays.

    Units ``0..K-1`` are the CPTS (``cpts``), ``-1`` is "outside every CPTS"; ``o_com`` and
    ``d_com`` index ``codes`` (every commune code seen).
    """

    __slots__ = ("cpts", "codes", "o_unit", "d_unit", "o_com", "d_com", "w", "total")


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and unique labels (object array) of a code column."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return (series.cat.codes.to_numpy(),
                np.asarray(series.cat.categories.astype(str), dtype=object))
    codes, uniques = pd.factorize(series)  # fast for Arrow-backed strings
    return codes, np.asarray(uniques, dtype=object)


def _expand(flows: pd.DataFrame, membership: pd.DataFrame) -> _Units:
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise ValueError("Table de flux sans colonne(s) " + ", ".join(missing)
                         + " : lisez-la avec read_flows() ou read_mobpro().")
    mem = _check_membership(membership)
    w = flows["volume"].to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(w).any() or (w < 0).any():
        raise ValidationError(
            "Volumes manquants ou négatifs dans la table de flux : lisez-la avec read_flows(), "
            "qui signale les lignes en cause", [{"row": int(p) + 1, "problem": "volume invalide"}
                                               for p in np.flatnonzero(np.isnan(w) | (w < 0))[:1000]])
    o_codes, o_uniq = _factorize(flows["origin"])
    d_codes, d_uniq = _factorize(flows["destination"])
    empty = np.flatnonzero((o_codes < 0) | (d_codes < 0))
    if len(empty) or mem["code"].isna().any():
        raise ValidationError(
            "Codes commune vides dans la table de flux ou d'appartenance : lisez les flux avec "
            "read_flows(), qui signale les lignes en cause",
            [{"row": int(p) + 1, "problem": "code vide"} for p in empty[:1000]]
            or [{"problem": "code vide dans la table d'appartenance"}])
    codes = pd.Index(pd.unique(np.concatenate([o_uniq, d_uniq,
                                               mem["code"].to_numpy(dtype=object)])))
    o = codes.get_indexer(o_uniq)[o_codes]
    d = codes.get_indexer(d_uniq)[d_codes]
    cpts = pd.Index(pd.unique(mem["cpts_id"].to_numpy(dtype=object)), name="cpts_id")
    m_com = codes.get_indexer(mem["code"].to_numpy(dtype=object))
    m_unit = cpts.get_indexer(mem["cpts_id"].to_numpy(dtype=object))
    m_share = mem["share"].to_numpy()
    n = len(codes)
    covered = np.bincount(m_com, weights=m_share, minlength=n)
    n_mem = np.bincount(m_com, minlength=n)
    # one unit per commune: its CPTS (whole commune) or -1 (uncovered)
    simple = np.full(n, -1, dtype=np.int64)
    whole = m_share >= 1 - 1e-12
    simple[m_com[whole]] = m_unit[whole]
    split = (n_mem > 1) | ((n_mem == 1) & (covered < 1 - 1e-12))
    # CSR of the units of split communes, with the uncovered remainder
    rest = np.flatnonzero(split & (covered < 1 - 1e-12))
    e_com = np.concatenate([m_com[split[m_com]], rest])
    e_unit = np.concatenate([m_unit[split[m_com]], np.full(len(rest), -1)])
    e_share = np.concatenate([m_share[split[m_com]], 1 - covered[rest]])
    order = np.argsort(e_com, kind="stable")
    e_com, e_unit, e_share = e_com[order], e_unit[order], e_share[order]
    count = np.where(split, np.bincount(e_com, minlength=n), 1)
    start = np.zeros(n, dtype=np.int64)
    start[split] = np.searchsorted(e_com, np.flatnonzero(split))

    u = _Units()
    u.cpts, u.codes = cpts, codes
    touched = split[o] | split[d]
    if not touched.any():
        u.o_com, u.d_com, u.w = o, d, w
        u.o_unit, u.d_unit = simple[o], simple[d]
    else:
        keep = ~touched
        parts_o, parts_d, parts_ou, parts_du, parts_w = (
            [o[keep]], [d[keep]], [simple[o[keep]]], [simple[d[keep]]], [w[keep]])
        so, sd, sw = o[touched], d[touched], w[touched]
        # expand origins, then destinations
        for side in ("o", "d"):
            com = so if side == "o" else sd
            k = count[com]
            rep = np.repeat(np.arange(len(com)), k)
            within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
            is_split = split[com][rep]
            idx = start[com][rep] + within
            unit = np.where(is_split, e_unit[np.where(is_split, idx, 0)], simple[com][rep])
            frac = np.where(is_split, e_share[np.where(is_split, idx, 0)], 1.0)
            so, sd, sw = so[rep], sd[rep], sw[rep] * frac
            if side == "o":
                ou = unit
            else:
                ou = ou[rep]
                du = unit
        parts_o.append(so)
        parts_d.append(sd)
        parts_ou.append(ou)
        parts_du.append(du)
        parts_w.append(sw)
        u.o_com, u.d_com = np.concatenate(parts_o), np.concatenate(parts_d)
        u.o_unit, u.d_unit = np.concatenate(parts_ou), np.concatenate(parts_du)
        u.w = np.concatenate(parts_w)
    u.total = float(w.sum())
    return u


def flow_matrix(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Flows summed between CPTS (and the area outside every CPTS).

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``).
    membership : DataFrame
        ``code``, ``cpts_id``, ``share`` (split communes are attributed by share).

    Returns
    -------
    pandas.DataFrame
        ``origin_cpts``, ``destination_cpts`` (a CPTS id or :data:`UNCOVERED`), ``volume``;
        one row per non-empty pair. Its total is the table's total.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["a", "b", "c"],
    ...                       "volume": [6.0, 2.0, 1.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"], "share": 1.0})
    >>> flow_matrix(flows, members).values.tolist()
    [['X', 'X', 6.0], ['X', 'Y', 2.0], ['Y', 'hors CPTS', 1.0]]
    """
    u = _expand(flows, membership)
    k = len(u.cpts)
    key = (u.o_unit + 1) * (k + 1) + (u.d_unit + 1)
    vol = np.bincount(key, weights=u.w, minlength=(k + 1) ** 2)
    nz = np.flatnonzero(vol)
    labels = np.asarray([UNCOVERED, *u.cpts], dtype=object)
    out = pd.DataFrame({"origin_cpts": labels[nz // (k + 1)],
                        "destination_cpts": labels[nz % (k + 1)], "volume": vol[nz]})
    # CPTS first, in membership order, the uncovered area last
    rank = {lab: i for i, lab in enumerate([*u.cpts, UNCOVERED])}
    return (out.assign(_o=out["origin_cpts"].map(rank), _d=out["destination_cpts"].map(rank))
            .sort_values(["_o", "_d"]).drop(columns=["_o", "_d"]).reset_index(drop=True))


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def cpts_flow_indicators(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """Retention, leakage, attraction and self-containment of each CPTS.

    See the module docstring for the definitions and the treatment of split communes.

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``), e.g. from
        :func:`prepare_flows`. Duplicated pairs are simply added.
    membership : DataFrame
        ``code``, ``cpts_id``, ``share``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cpts_id`` (membership order): ``n_communes``, ``resident_volume``,
        ``inside_volume``, ``outflow_volume``, ``delivered_volume``, ``inflow_volume``,
        ``retention``, ``leakage``, ``attraction``, ``supply_containment``,
        ``self_containment``. Rates are NaN when their denominator is 0. Mask small
        volumes with :func:`mask_secrecy` before publishing.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b", "c"], "destination": ["a", "c", "a", "c"],
    ...                       "volume": [60.0, 40.0, 50.0, 30.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "X"], "share": 1.0})
    >>> ind = cpts_flow_indicators(flows, members)
    >>> ind.loc["X", ["resident_volume", "inside_volume", "retention", "leakage"]].tolist()
    [150.0, 110.0, 0.7333333333333333, 0.2666666666666667]
    >>> float(ind.loc["X", "attraction"])
    0.0
    """
    u = _expand(flows, membership)
    k = len(u.cpts)
    resident = np.bincount(u.o_unit + 1, weights=u.w, minlength=k + 1)[1:]
    delivered = np.bincount(u.d_unit + 1, weights=u.w, minlength=k + 1)[1:]
    same = (u.o_unit == u.d_unit) & (u.o_unit >= 0)
    inside = np.bincount(u.o_unit[same], weights=u.w[same], minlength=k)
    mem = _check_membership(membership)
    n_communes = mem.groupby("cpts_id", sort=False)["code"].nunique().reindex(u.cpts)
    retention = _safe_div(inside, resident)
    supply = _safe_div(inside, delivered)
    out = pd.DataFrame({
        "n_communes": n_communes.to_numpy(),
        "resident_volume": resident,
        "inside_volume": inside,
        "outflow_volume": resident - inside,
        "delivered_volume": delivered,
        "inflow_volume": delivered - inside,
        "retention": retention,
        "leakage": 1 - retention,
        "attraction": _safe_div(delivered - inside, delivered),
        "supply_containment": supply,
        "self_containment": np.fmin(retention, supply) if k else np.array([]),
    }, index=pd.Index(u.cpts.astype(str), name="cpts_id"))
    # rounding noise of split attribution
    out.loc[out["outflow_volume"].abs() < 1e-9 * max(u.total, 1), "outflow_volume"] = 0.0
    out.loc[out["inflow_volume"].abs() < 1e-9 * max(u.total, 1), "inflow_volume"] = 0.0
    return out


def _names_of(communes: pd.DataFrame | None) -> dict:
    if communes is None or "name" not in communes.columns:
        return {}
    return dict(zip(communes.index.astype(str), communes["name"]))


def leakage_destinations(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    *,
    n: int = 5,
    communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Where the residents of each CPTS go when they are cared for outside it.

    A destination is another CPTS, or a commune outside every CPTS (uncovered, or outside
    the region).

    Parameters
    ----------
    flows, membership : DataFrame
        As for :func:`cpts_flow_indicators`.
    n : int, default 5
        Number of destinations kept per CPTS (the largest).
    communes : DataFrame, optional
        Commune layer giving the names of destination communes.

    Returns
    -------
    pandas.DataFrame
        ``cpts_id``, ``rank`` (1 = largest), ``destination`` (CPTS id or commune code),
        ``kind`` (``"CPTS"`` or ``"commune hors CPTS"``), ``name``, ``volume``, ``share``
        (of the residents' volume) and ``share_of_leakage`` (of the volume leaving).

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "a", "a"], "destination": ["a", "b", "c", "d"],
    ...                       "volume": [50.0, 30.0, 15.0, 5.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"]})
    >>> leakage_destinations(flows, members)[["destination", "kind", "share", "share_of_leakage"]].values.tolist()
    [['Y', 'CPTS', 0.3, 0.6], ['c', 'commune hors CPTS', 0.15, 0.3], ['d', 'commune hors CPTS', 0.05, 0.1]]
    """
    u = _expand(flows, membership)
    k = len(u.cpts)
    resident = np.bincount(u.o_unit + 1, weights=u.w, minlength=k + 1)[1:]
    leak = (u.o_unit >= 0) & (u.o_unit != u.d_unit)
    dest = np.where(u.d_unit >= 0, u.d_unit, k + u.d_com)[leak]
    frame = pd.DataFrame({"o": u.o_unit[leak], "dest": dest, "volume": u.w[leak]})
    agg = frame.groupby(["o", "dest"], sort=False)["volume"].sum().reset_index()
    agg = agg[agg["volume"] > 0]
    out_total = agg.groupby("o")["volume"].transform("sum")
    agg = agg.assign(_t=out_total)
    labels = np.concatenate([u.cpts.to_numpy(dtype=object), u.codes.to_numpy(dtype=object)])
    agg["destination"] = labels[agg["dest"].to_numpy()]
    agg = agg.sort_values(["o", "volume", "destination"], ascending=[True, False, True])
    agg["rank"] = agg.groupby("o").cumcount() + 1
    agg = agg[agg["rank"] <= n]
    names = _names_of(communes)
    is_cpts = agg["dest"].to_numpy() < k
    out = pd.DataFrame({
        "cpts_id": u.cpts.to_numpy(dtype=object)[agg["o"].to_numpy()],
        "rank": agg["rank"].to_numpy(),
        "destination": agg["destination"].to_numpy(),
        "kind": np.where(is_cpts, "CPTS", "commune hors CPTS"),
        "name": [None if c else names.get(d) for c, d in zip(is_cpts, agg["destination"])],
        "volume": agg["volume"].to_numpy(),
        "share": agg["volume"].to_numpy() / resident[agg["o"].to_numpy()],
        "share_of_leakage": agg["volume"].to_numpy() / agg["_t"].to_numpy(),
    })
    return out.reset_index(drop=True)


def commune_destinations(flows: pd.DataFrame, membership: pd.DataFrame) -> pd.DataFrame:
    """For each commune of residence, the CPTS where most of its residents' care happens.

    Destinations are CPTS or :data:`UNCOVERED` (all communes outside every CPTS together).
    For a split commune, ``cpts_id`` is the CPTS with the largest share and ``own_volume``
    counts flows to any of its CPTS.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code`` (every origin of the flows, then member communes without
        flows): ``cpts_id`` (``<NA>`` if uncovered), ``split``, ``resident_volume``,
        ``own_volume``, ``own_share``, ``main_destination``, ``main_volume``, ``main_share``.
        Ties go to the commune's own CPTS, then to the first label in alphabetical order.

    Examples
    --------
    >>> flows = pd.DataFrame({"origin": ["a", "a", "b", "b"], "destination": ["a", "b", "a", "b"],
    ...                       "volume": [30.0, 70.0, 10.0, 90.0]})
    >>> members = pd.DataFrame({"code": ["a", "b"], "cpts_id": ["X", "Y"]})
    >>> commune_destinations(flows, members)[["cpts_id", "main_destination", "main_share"]].values.tolist()
    [['X', 'Y', 0.7], ['Y', 'Y', 0.9]]
    """
    u = _expand(flows, membership)
    mem = _check_membership(membership)
    k = len(u.cpts)
    main_of = (mem.sort_values("share", ascending=False, kind="stable")
               .drop_duplicates("code").set_index("code")["cpts_id"])
    n_of = mem.groupby("code")["cpts_id"].size()
    frame = pd.DataFrame({"c": u.o_com, "d": u.d_unit, "w": u.w})
    agg = frame.groupby(["c", "d"], sort=False)["w"].sum().reset_index()
    total = agg.groupby("c")["w"].sum()
    # own volume: to any CPTS the commune belongs to
    mem_pairs = set(zip(u.codes.get_indexer(mem["code"].to_numpy(dtype=object)),
                        u.cpts.get_indexer(mem["cpts_id"].to_numpy(dtype=object))))
    own_mask = np.fromiter(((c, d) in mem_pairs for c, d in zip(agg["c"], agg["d"])),
                           dtype=bool, count=len(agg))
    own = agg[own_mask].groupby("c")["w"].sum()
    labels = np.asarray([*u.cpts, UNCOVERED], dtype=object)
    agg["label"] = labels[np.where(agg["d"] >= 0, agg["d"], k)]
    agg["own"] = own_mask
    best = (agg.sort_values(["c", "w", "own", "label"], ascending=[True, False, False, True])
            .drop_duplicates("c").set_index("c"))
    origins = pd.unique(u.o_com)
    codes = list(u.codes[origins]) + [c for c in main_of.index if c not in set(u.codes[origins])]
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
    }, index=pd.Index(codes, name="code", dtype="string"))
    # uncovered communes: their "own" area is the uncovered one
    out["own_share"] = _safe_div(out["own_volume"].to_numpy(), resident)
    out["main_share"] = _safe_div(out["main_volume"].fillna(0).to_numpy(), resident)
    out.loc[resident == 0, "main_volume"] = np.nan
    return out[["cpts_id", "split", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share"]]


def adjacency(communes: pd.DataFrame) -> pd.DataFrame:
    """Pairs of communes sharing a border (or a point) in a commune layer.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``neighbour`` (both directions), sorted.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> pairs = adjacency(load_communes(departments="61"))
    >>> sorted(pairs.loc[pairs["code"] == "61001", "neighbour"])[:3]  # Alençon
    ['61077', '61117', '61143']
    """
    import shapely

    geoms = np.asarray(communes.geometry.to_numpy())
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    codes = communes.index.astype(str).to_numpy()
    out = pd.DataFrame({"code": codes[left[keep]], "neighbour": codes[right[keep]]})
    return out.sort_values(["code", "neighbour"]).reset_index(drop=True)


def coherence_flags(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """Communes whose flows do not match the CPTS map: suggestions, never applied.

    Two cases are flagged:

    - a **member commune whose residents mostly go to another CPTS** (the main destination
      of its residents' volume is a CPTS other than its own, with at least ``min_share`` of
      the volume); the suggestion is that CPTS;
    - an **uncovered commune** of ``communes`` (in no CPTS): the suggestion is the
      *adjacent* CPTS (one of its members shares a border with the commune) that receives the
      largest volume of its residents. Uncovered communes without flows to an adjacent CPTS
      are listed too, without suggestion, so that no zone blanche is forgotten.

    Parameters
    ----------
    flows, membership : DataFrame
        As for :func:`cpts_flow_indicators`.
    communes : GeoDataFrame
        The commune layer of the area studied (names, borders); it should also hold the
        member communes adjacent to it.
    min_share : float, default 0
        Flag a member commune only if its main destination takes at least this share.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: ``name``, ``cpts_id``, ``flag`` (French text),
        ``resident_volume``, ``own_share``, ``main_destination``, ``main_share``,
        ``suggested_cpts``, ``suggested_volume``, ``suggested_share``,
        ``suggested_adjacent``.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> layer = load_communes(departments="61").loc[["61001", "61143", "61497"]]
    >>> flows = pd.DataFrame({"origin": ["61143", "61143", "61497"],
    ...                       "destination": ["61001", "61143", "61001"],
    ...                       "volume": [80.0, 20.0, 50.0]})
    >>> members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "B"]})
    >>> coherence_flags(flows, members, layer)[["flag", "suggested_cpts"]].values.tolist()
    [['résidents soignés surtout dans une autre CPTS', 'A'], ['commune non couverte : rattachement suggéré', 'A']]
    """
    dest = commune_destinations(flows, membership)
    mem = _check_membership(membership)
    names = _names_of(communes)
    pairs = adjacency(communes)
    cpts_of = mem.groupby("code")["cpts_id"].agg(set)
    pairs["cpts"] = pairs["neighbour"].map(cpts_of)
    pairs = pairs.dropna(subset=["cpts"]).explode("cpts")
    adjacent = pairs.groupby("code")["cpts"].agg(set)
    # volume from each commune to each CPTS
    u = _expand(flows, membership)
    to_cpts = pd.DataFrame({"code": u.codes.to_numpy(dtype=object)[u.o_com],
                            "cpts": np.asarray([*u.cpts, None], dtype=object)[
                                np.where(u.d_unit >= 0, u.d_unit, len(u.cpts))],
                            "w": u.w}).dropna(subset=["cpts"])
    to_cpts = to_cpts.groupby(["code", "cpts"])["w"].sum()
    rows = []
    member = dest[dest["cpts_id"].notna()]
    other = member[(member["main_destination"] != member["cpts_id"])
                   & (member["main_destination"] != UNCOVERED)
                   & member["main_destination"].notna()
                   & (member["main_share"] >= min_share)]
    own_sets = mem.groupby("code")["cpts_id"].agg(set)
    for code, rec in other.iterrows():
        if rec["main_destination"] in own_sets.get(code, set()):
            continue  # split commune going to another of its own CPTS
        rows.append({"code": code, "cpts_id": rec["cpts_id"],
                     "flag": "résidents soignés surtout dans une autre CPTS",
                     "suggested_cpts": rec["main_destination"],
                     "suggested_volume": rec["main_volume"]})
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
    out.index = out.index.astype("string")
    d = dest.reindex(out.index)
    out["name"] = [names.get(c) for c in out.index]
    out["resident_volume"] = d["resident_volume"].fillna(0.0).to_numpy()
    out["own_share"] = d["own_share"].to_numpy()
    out["main_destination"] = d["main_destination"].to_numpy()
    out["main_share"] = d["main_share"].to_numpy()
    out["suggested_share"] = _safe_div(out["suggested_volume"].to_numpy(dtype=float),
                                       out["resident_volume"].to_numpy())
    out["suggested_adjacent"] = [
        (s in adjacent.get(c, set())) if isinstance(s, str) else pd.NA
        for c, s in zip(out.index, out["suggested_cpts"])]
    out["cpts_id"] = out["cpts_id"].astype("string")
    out["suggested_cpts"] = out["suggested_cpts"].astype("string")
    return out[["name", "cpts_id", "flag", "resident_volume", "own_share", "main_destination",
                "main_share", "suggested_cpts", "suggested_volume", "suggested_share",
                "suggested_adjacent"]]


# --------------------------------------------------------------------------- secrecy, exports


def mask_secrecy(
    table: pd.DataFrame,
    *,
    threshold: float = SECRECY_THRESHOLD,
    volumes: Sequence[str] | None = None,
    rates: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Mask small volumes and the rates computed on them (statistical secrecy).

    A volume strictly between 0 and ``threshold`` becomes ``<NA>``; so does every rate
    computed on a masked volume. Zero is not masked (an absence of flow is not secret).
    This is primary secrecy only: a masked value may still be recovered by difference
    (e.g. residents' volume minus outside volume); check tables before publishing them.

    Parameters
    ----------
    table : DataFrame
        An output of this module (or any table with volume columns).
    threshold : float, default 10
    volumes : sequence of str, optional
        Volume columns; default: ``volume`` and the columns ending in ``_volume``.
    rates : mapping, optional
        ``{rate column: [volume columns it is computed on]}``; default: the rates of this
        module's outputs (``retention``, ``leakage``, ``attraction``, ``share``…).

    Returns
    -------
    pandas.DataFrame
        A copy with nullable Float64 columns and a boolean column ``masked`` (any value of
        the row masked); ``attrs["secrecy_threshold"]`` records the threshold.

    Examples
    --------
    >>> table = pd.DataFrame({"resident_volume": [100.0, 8.0], "inside_volume": [60.0, 4.0],
    ...                       "retention": [0.6, 0.5]})
    >>> masked = mask_secrecy(table)
    >>> masked["retention"].tolist(), masked["masked"].tolist()
    ([0.6, <NA>], [False, True])
    """
    out = table.copy()
    if volumes is None:
        volumes = [c for c in out.columns if c == "volume" or str(c).endswith("_volume")]
    rates = dict(_RATE_SOURCES if rates is None else rates)
    hidden = {}
    for col in volumes:
        values = pd.to_numeric(out[col]).astype("Float64")
        small = ((values > 0) & (values < threshold)).fillna(False).to_numpy(dtype=bool)
        out[col] = values.mask(small)
        hidden[col] = small
    for rate, sources in rates.items():
        if rate not in out.columns:
            continue
        mask = np.zeros(len(out), dtype=bool)
        for src in sources:
            if src in hidden:
                mask |= hidden[src]
        out[rate] = pd.to_numeric(out[rate]).astype("Float64").mask(mask)
    any_hidden = np.zeros(len(out), dtype=bool)
    for mask in hidden.values():
        any_hidden |= mask
    out["masked"] = any_hidden
    out.attrs["secrecy_threshold"] = threshold
    return out


def french_headers(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with French column headers (index included), for exports.

    Examples
    --------
    >>> french_headers(pd.DataFrame({"retention": [0.5]})).columns.tolist()
    ['Taux de rétention']
    """
    out = table.rename(columns=_FRENCH)
    if out.index.name in _FRENCH:
        out.index = out.index.rename(_FRENCH[out.index.name])
    return out


def write_flow_table(
    table: pd.DataFrame,
    path: str | Path,
    *,
    threshold: float | None = SECRECY_THRESHOLD,
) -> Path:
    """Write an indicator table to CSV (``;``, decimal comma, UTF-8 with BOM) or XLSX.

    Small volumes and the rates computed on them are masked first (see
    :func:`mask_secrecy`; ``threshold=None`` disables it, for internal use only), and
    headers are in French.

    Examples
    --------
    >>> import tempfile, os
    >>> table = pd.DataFrame({"resident_volume": [100.0, 8.0], "retention": [0.6, 0.5]})
    >>> path = write_flow_table(table, os.path.join(tempfile.mkdtemp(), "flux.csv"))
    >>> path.read_text(encoding="utf-8-sig").splitlines()
    ['Volume des résidents;Taux de rétention;Masqué (secret statistique)', '100,0;0,6;non', ';;oui']
    """
    path = Path(path)
    out = table if threshold is None else mask_secrecy(table, threshold=threshold)
    out = out.copy()
    for col in out.columns:
        values = out[col]
        is_bool = pd.api.types.is_bool_dtype(values.dtype) or (
            values.dtype == object and len(values.dropna())
            and values.dropna().map(lambda x: isinstance(x, (bool, np.bool_))).all())
        if is_bool:
            out[col] = values.map(lambda x: pd.NA if pd.isna(x) else ("oui" if x else "non"))
    out = french_headers(out)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        out.to_excel(path, index=not isinstance(out.index, pd.RangeIndex))
    else:
        write_csv(out, path)
    return path


# --------------------------------------------------------------------------- map layers


def _points(communes):
    """Centroids of the communes computed in their metric CRS, returned in EPSG:4326.

    Mainland and each overseas department are projected with their own metric CRS.
    """
    from cpts_geo.communes import department_of, metric_crs

    if communes.crs is None:
        raise ValueError("La couche communale n'a pas de CRS : déclarez-le avec .set_crs(...).")
    geo = communes[[communes.geometry.name]]
    deps = department_of(pd.Series(geo.index.astype(str))).to_numpy()
    parts = []
    for dep in pd.unique(deps):
        part = geo[deps == dep]
        parts.append(part.to_crs(metric_crs(part)).geometry.centroid.to_crs("EPSG:4326"))
    return pd.concat(parts).reindex(geo.index)


def flow_lines(
    flows: pd.DataFrame,
    communes,
    *,
    top: int | None = 200,
    min_volume: float = 0.0,
    threshold: float | None = SECRECY_THRESHOLD,
):
    """Main flows as lines between commune centroids, for a flow map.

    Flows inside a commune (origin = destination) have no line and are left out, as are
    flows with an end outside ``communes``; ``attrs["left_out"]`` gives their volume and a
    warning says so. Volumes under the secrecy ``threshold`` are masked (``<NA>``, column
    ``masked``); their lines are kept so the map shows that a flow exists.

    Parameters
    ----------
    flows : DataFrame
        A flow table (``origin``, ``destination``, ``volume``), e.g. from :func:`prepare_flows`.
    communes : GeoDataFrame
        The communes whose centroids are the line ends (any CRS; centroids are computed in
        the metric CRS).
    top : int or None, default 200
        Keep only the ``top`` largest flows (``None``: all).
    min_volume : float, default 0
        Keep only flows of at least this volume.
    threshold : float or None, default 10
        Statistical secrecy threshold (``None``: no masking).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one LineString per flow, largest first: ``origin``, ``origin_name``,
        ``destination``, ``destination_name``, ``volume``, ``masked``.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> layer = load_communes(departments="61")
    >>> flows = pd.DataFrame({"origin": ["61143", "61497", "61001"],
    ...                       "destination": ["61001", "61001", "61001"], "volume": [80.0, 5.0, 9.0]})
    >>> lines = flow_lines(flows, layer)
    >>> lines[["origin", "volume", "masked"]].values.tolist()
    [['61143', 80.0, False], ['61497', <NA>, True]]
    """
    import geopandas as gpd
    import shapely

    table = flows[["origin", "destination", "volume"]].copy()
    table["origin"] = table["origin"].astype(str)
    table["destination"] = table["destination"].astype(str)
    table = table.groupby(["origin", "destination"], sort=False)["volume"].sum().reset_index()
    used = communes.index.astype(str).isin(np.union1d(table["origin"], table["destination"]))
    pts = _points(communes[used])
    code_index = pts.index.astype(str)
    inner = table["origin"] == table["destination"]
    known = table["origin"].isin(code_index) & table["destination"].isin(code_index)
    outside = ~inner & ~known
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} flux (volume {number(table.loc[outside, 'volume'].sum(), None)}) ont une "
            "extrémité hors de la couche communale : pas de ligne pour eux.", stacklevel=2)
    left_out = float(table.loc[inner | outside, "volume"].sum())
    table = table[~inner & known & (table["volume"] >= min_volume) & (table["volume"] > 0)]
    table = table.sort_values(["volume", "origin", "destination"],
                              ascending=[False, True, True], kind="stable")
    if top is not None:
        table = table.head(top)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    pos = pd.Series(np.arange(len(code_index)), index=code_index)
    a = xy[pos[table["origin"]].to_numpy()]
    b = xy[pos[table["destination"]].to_numpy()]
    coords = np.stack([a, b], axis=1) if len(table) else np.empty((0, 2, 2))
    lines = shapely.linestrings(coords) if len(table) else []
    names = _names_of(communes)
    out = gpd.GeoDataFrame({
        "origin": table["origin"].to_numpy(),
        "origin_name": [names.get(c) for c in table["origin"]],
        "destination": table["destination"].to_numpy(),
        "destination_name": [names.get(c) for c in table["destination"]],
        "volume": table["volume"].to_numpy(),
    }, geometry=lines, crs="EPSG:4326")
    if threshold is not None:
        masked = mask_secrecy(pd.DataFrame(out.drop(columns="geometry")), threshold=threshold)
        out["volume"] = masked["volume"].array
        out["masked"] = masked["masked"].to_numpy()
    else:
        out["masked"] = False
    out.attrs["left_out"] = left_out
    out.attrs["secrecy_threshold"] = threshold
    return out.reset_index(drop=True)


def retention_layer(
    flows: pd.DataFrame,
    membership: pd.DataFrame,
    communes,
    *,
    threshold: float | None = SECRECY_THRESHOLD,
):
    """CPTS polygons with their flow indicators, for a retention choropleth.

    Each CPTS polygon is the union of its member communes found in ``communes`` (a split
    commune is drawn in each of its CPTS). Indicators are those of
    :func:`cpts_flow_indicators`, masked by :func:`mask_secrecy` unless ``threshold=None``.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``cpts_id``, EPSG:4326, indicator columns, ``masked`` and ``geometry``.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> layer = load_communes(departments="61")
    >>> flows = pd.DataFrame({"origin": ["61143", "61143", "61001"],
    ...                       "destination": ["61001", "61143", "61001"], "volume": [80.0, 20.0, 90.0]})
    >>> members = pd.DataFrame({"code": ["61001", "61143"], "cpts_id": ["A", "A"]})
    >>> float(retention_layer(flows, members, layer).loc["A", "retention"])
    1.0
    """
    import geopandas as gpd
    import shapely

    indicators = cpts_flow_indicators(flows, membership)
    if threshold is not None:
        indicators = mask_secrecy(indicators, threshold=threshold)
    mem = _check_membership(membership)
    geoms = communes.geometry
    clean = bool(communes.attrs.get("clean_coverage"))
    shapes = []
    for cpts_id in indicators.index:
        codes = mem.loc[mem["cpts_id"] == cpts_id, "code"]
        parts = geoms.reindex(codes.to_numpy()).dropna().to_numpy()
        if len(parts) == 0:
            shapes.append(None)
        elif clean:
            shapes.append(shapely.coverage_union_all(parts))
        else:
            shapes.append(shapely.union_all(parts))
    out = gpd.GeoDataFrame(indicators, geometry=shapes, crs=communes.crs)
    return out.to_crs("EPSG:4326")
