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

**Paris, Lyon, Marseille**: :func:`prepare_flows` given the membership keeps the municipal
arrondissements of the cities the membership divides by arrondissement and rolls the others
up to their city; the indicators count an arrondissement as its city when the city is a
member as a whole, and the layers (:func:`coherence_flags`, :func:`flow_lines`,
:func:`retention_layer`, :func:`cpts_geo.perimeters.propose_perimeters`) use the
arrondissements where the codes do (:func:`commune_units`).

**Statistical secrecy**: :func:`mask_secrecy` masks volumes strictly between 0 and a
threshold (10 by default), the totals that would give them back by difference (secondary
secrecy) and every rate computed on a masked volume, complements included; exports
(:func:`write_flow_table`) and map layers (:func:`flow_lines`, :func:`retention_layer`)
apply it by default.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
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
    "select_flows",
    "commune_units",
    "code_report",
    "reading_summary",
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

#: Volumes each rate is computed from, complements included: a rate is masked when any
#: of them is (``leakage`` = 1 − ``retention`` gives the outflow back from the residents).
_RATE_SOURCES = {
    "retention": ["inside_volume", "resident_volume", "outflow_volume"],
    "leakage": ["inside_volume", "resident_volume", "outflow_volume"],
    "attraction": ["inflow_volume", "delivered_volume", "inside_volume"],
    "supply_containment": ["inside_volume", "delivered_volume", "inflow_volume"],
    "self_containment": ["inside_volume", "resident_volume", "delivered_volume",
                         "outflow_volume", "inflow_volume"],
    "demand_sc": ["inside_volume", "resident_volume"],
    "supply_sc": ["inside_volume", "delivered_volume"],
    "validity": ["inside_volume", "resident_volume", "delivered_volume"],
    "own_share": ["own_volume", "resident_volume"],
    "main_share": ["main_volume", "resident_volume"],
    "suggested_share": ["suggested_volume", "resident_volume"],
    "share": ["volume"],
    "share_of_leakage": ["volume"],
}

#: Identities between volumes of one row (total = term + term): secondary secrecy.
_IDENTITIES = [
    ("resident_volume", "inside_volume", "outflow_volume"),
    ("delivered_volume", "inside_volume", "inflow_volume"),
]

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
    "size": "Taille",
    "demand_sc": "Autonomie côté demande",
    "supply_sc": "Autonomie côté offre",
    "validity": "Score de validité",
    "valid": "Valide (règle de Coombes–Bond)",
    "note": "Remarque",
    "current_cpts": "CPTS actuelle",
    "proposed_cpts": "Zone proposée",
    "matched_cpts": "CPTS actuelle appariée",
    "change": "Changement",
    "step": "Étape",
    "end": "Extrémité",
    "row": "Première ligne",
    "n_rows": "Nombre de lignes",
    "given_code": "Code lu",
    "new_code": "Code retenu",
    "new_name": "Nom de la commune retenue",
    "reason": "Raison",
    "records": "Nombre d'enregistrements",
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


def _decode_head(head: bytes, encodings: Sequence[str]) -> tuple[str, str]:
    """Decode the first bytes of a file with the first encoding that reads them."""
    for enc in encodings:
        try:
            return head.decode(enc), enc
        except UnicodeDecodeError as err:
            if enc.startswith("utf") and err.start >= len(head) - 3:  # a character cut at the end
                return head[:err.start].decode(enc), enc
    return head.decode(encodings[-1], errors="replace"), encodings[-1]


def _read_csv(path: Path, *, sep, encoding, select) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the columns ``select(headers)`` of a CSV file as text.

    The separator and encoding are detected on the first bytes; only the needed columns are
    read, with the pyarrow CSV engine when it is installed (the C engine otherwise, or when
    pyarrow cannot parse the file).
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    encodings = [encoding] if encoding else ["utf-8-sig", "cp1252", "latin-1"]
    text, found_enc = _decode_head(head, encodings)
    first = text.split("\n", 1)[0].rstrip("\r")
    if sep is None:
        counts = {s: first.count(s) for s in (";", ",", "\t", "|")}
        sep = max(counts, key=counts.get) if max(counts.values()) else ","
    headers = list(pd.read_csv(io.StringIO(first + "\n"), sep=sep, nrows=0).columns)
    usecols = list(dict.fromkeys(select(headers)))
    options = dict(sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    tries = encodings[encodings.index(found_enc):]
    try:
        import pyarrow  # noqa: F401

        engine = "pyarrow"
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        engine = "c"
    frame = None
    for enc in tries:
        try:
            # the C engine reads every column: with usecols it would let a line with too
            # many fields (e.g. "12,5" in a comma-separated file) through silently
            frame = (pd.read_csv(path, engine="pyarrow", encoding=enc, usecols=usecols, **options)
                     if engine == "pyarrow" else pd.read_csv(path, encoding=enc, **options))
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, ValueError) as err:
            if "UTF8" in str(err) or "decode" in str(err):
                continue  # not this encoding: try the next one
            if engine != "pyarrow":
                raise
            # e.g. a line with too many fields: the C engine says which one
            frame = pd.read_csv(path, encoding=enc, **options)
            break
    if frame is None:
        frame = pd.read_csv(path, encoding=tries[-1], encoding_errors="replace", **options)
    return frame[usecols], np.arange(2, len(frame) + 2)


def _read_table(path: Path, *, sheet, sep, encoding, select) -> tuple[pd.DataFrame, np.ndarray]:
    """Read the columns ``select(headers)`` of a CSV/XLSX/Parquet file; return them and the
    spreadsheet row numbers. ``select`` gets the file's headers and returns the columns to
    read (or raises)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        columns = list(dict.fromkeys(select(list(pq.read_schema(path).names))))
        frame = pd.read_parquet(path, columns=columns)
        return frame, np.arange(1, len(frame) + 1)
    if suffix in (".xlsx", ".xlsm", ".xls"):
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str)
        frame = frame[list(dict.fromkeys(select(list(frame.columns))))]
        return frame, np.arange(2, len(frame) + 2)
    return _read_csv(path, sep=sep, encoding=encoding, select=select)


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def _parse_volumes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse volumes: numbers, or text like ``"1 234"``, ``"1 234,5"``, ``"12.5"``.

    Returns the float values (NaN where unreadable) and a boolean array of unreadable cells.
    Infinite values are returned as such (the caller rejects them).
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype="float64", na_value=np.nan)
        return out, np.isnan(out)
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None:  # plain numbers, the usual case: one Arrow cast for the whole column
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            out = pc.cast(arrow, pa.float64()).to_numpy(zero_copy_only=False)
            out = np.asarray(out, dtype="float64")
            return out, np.isnan(out)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    text = values.astype("string").str.replace(_SPACES, "", regex=True)
    # "1.234,5" (dot thousands, comma decimals) and "12,5" (comma decimals)
    both = text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
    text = text.where(~both.fillna(False), text.str.replace(".", "", regex=False))
    text = text.str.replace(",", ".", regex=False)
    out = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return out, np.isnan(out)


_END_LABELS = {"origin": "origine", "destination": "destination"}
_CODE_REPORT = ["end", "row", "n_rows", "code", "new_code", "reason", "volume"]


def _shown(value) -> str:
    """A cell as shown in an error message: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _first_rows(codes: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Smallest row number of each code ``0..n-1`` (``codes`` is -1 where missing)."""
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    ok = codes >= 0
    np.minimum.at(first, codes[ok], rows[ok].astype(np.int64))
    return first


def _flow_table(frame: pd.DataFrame, rows: np.ndarray, label: str,
                found: Mapping[str, str]) -> pd.DataFrame:
    """Check and clean the columns ``found`` of ``frame``: the body of :func:`read_flows`.

    Codes are cleaned once per distinct value (:func:`cpts_geo.cog.normalize_codes`), then
    spread to the rows.
    """
    if len(frame) == 0:
        raise ValidationError(
            f"{label} : la table de flux est vide ; donnez au moins une ligne "
            "origine, destination, volume.",
            [{"problem": "table vide"}],
        )
    problems = []
    out = pd.DataFrame({"row": rows})
    given = frame[found["volume"]].reset_index(drop=True)
    volume, bad = _parse_volumes(given)
    weights = np.where(np.isfinite(volume), volume, 0.0)
    reports = []
    for end in ("origin", "destination"):
        codes, uniq = _factorize(frame[found[end]])
        clean, report = normalize_codes(pd.Series(uniq, dtype=object))
        clean = pd.array(clean.to_numpy(dtype=object, na_value=None), dtype="string")
        empty = codes < 0
        empty[~empty] = clean.isna()[codes[~empty]]
        out[end] = clean.take(codes, allow_fill=True)
        if len(report):
            pos = report["row"].to_numpy() - 1  # position in uniq
            report = report.assign(
                end=_END_LABELS[end], row=_first_rows(codes, rows, len(uniq))[pos],
                n_rows=np.bincount(codes[codes >= 0], minlength=len(uniq))[pos],
                volume=np.bincount(codes[codes >= 0], weights=weights[codes >= 0],
                                   minlength=len(uniq))[pos])
            reports.append(report[_CODE_REPORT])
        for pos in np.flatnonzero(empty):
            problems.append({"row": int(rows[pos]), "code": None, "column": found[end],
                             "problem": f"code commune vide ({_END_LABELS[end]}) ; "
                                        "indiquez le code INSEE à 5 caractères"})
    for pos in np.flatnonzero(bad):
        value = given.iloc[pos]
        what = ("volume vide" if pd.isna(value) or str(value).strip() == ""
                else f"volume non numérique : {_shown(value)}")
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"{what} ; attendu un nombre ≥ 0 (ex. 1234, « 1 234 », 12,5)"})
    for pos in np.flatnonzero(np.isinf(volume)):
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"volume infini : {_shown(given.iloc[pos])} ; attendu un nombre fini ≥ 0"})
    for pos in np.flatnonzero(np.isfinite(volume) & (volume < 0)):
        problems.append({"row": int(rows[pos]), "code": None, "column": found["volume"],
                         "problem": f"volume négatif : {_shown(given.iloc[pos])} ; attendu un nombre ≥ 0"})
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
    code_report = (pd.concat(reports, ignore_index=True).sort_values(["row", "end"], kind="stable")
                   .reset_index(drop=True) if reports else pd.DataFrame(columns=_CODE_REPORT))
    if len(code_report):
        warnings.warn(
            f"{label} : {len(code_report)} code(s) commune réparé(s) (zéro initial, espaces) sur "
            f"{number(code_report['n_rows'].sum())} ligne(s) ; voir attrs['code_report'].",
            stacklevel=3)
    out.attrs["code_report"] = code_report
    out.attrs["source"] = label
    return out


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
    ``profession``/``type de soins``, ``année``) or given with ``columns``; only these
    columns are read. Commune codes are cleaned with :func:`cpts_geo.cog.normalize_codes`
    (leading zero restored, spaces removed; a warning gives the number of repairs). Volumes
    may be text with thousands separators (``"1 234"``) or decimal commas (``"12,5"``).

    Every problem is gathered and raised at once: missing codes, non-numeric, missing,
    infinite or negative volumes, an empty table. Duplicated pairs are kept here (one row
    per input row) and summed by :func:`prepare_flows`. A table with several professions
    or years is read whole: keep one with :func:`select_flows` before computing indicators.

    Parameters
    ----------
    source : path or DataFrame
        A CSV (separator and encoding detected; read with the pyarrow engine), XLSX or
        Parquet file, or a DataFrame.
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
        and ``year``. ``attrs["code_report"]`` lists the code repairs, one row per (end,
        code): ``end``, ``row`` (first row), ``n_rows``, ``code``, ``new_code``, ``reason``,
        ``volume``.

    Examples
    --------
    >>> table = pd.DataFrame({"Commune de résidence": ["61001", "61001"],
    ...                       "Commune de soins": ["61001", "14118"],
    ...                       "Nb patients": ["1 234", "56"]})
    >>> read_flows(table)[["origin", "destination", "volume"]].values.tolist()
    [['61001', '61001', 1234.0], ['61001', '14118', 56.0]]
    """
    found: dict[str, str] = {}

    def select(headers: list) -> list:
        found.update(_recognise(headers, columns))
        missing = [c for c in ("origin", "destination", "volume") if c not in found]
        if missing:
            raise ValidationError(
                f"{label} : colonne(s) {', '.join(missing)} introuvable(s). Colonnes lues : "
                + ", ".join(map(str, headers))
                + ". Renommez-les (ex. « origine », « destination », « volume ») ou passez "
                "columns={'votre en-tête': 'origin', ...}.",
                [{"code": None, "problem": f"colonne {c} absente", "column": c} for c in missing],
            )
        return list(found.values())

    if isinstance(source, pd.DataFrame):
        label = "table"
        frame, rows = source[select(list(source.columns))], np.arange(1, len(source) + 1)
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier de flux introuvable : {path}")
        label = path.name
        frame, rows = _read_table(path, sheet=sheet, sep=sep, encoding=encoding, select=select)
    return _flow_table(frame, rows, label, found)


def select_flows(
    flows: pd.DataFrame,
    *,
    profession: str | None = None,
    year: str | int | None = None,
) -> pd.DataFrame:
    """Keep the rows of one profession and/or one year.

    The indicators add up every row of a flow table: when a table holds several professions
    or years (a warning of :func:`prepare_flows` says so), choose one first. Professions
    are compared without regard to case and accents, years as text (``2023`` = ``"2023"``).
    Filtering the DataFrame yourself (``flux[flux["profession"] == "infirmier"]``) is just
    as good.

    Parameters
    ----------
    flows : DataFrame
        A flow table with a ``profession`` and/or ``year`` column (:func:`read_flows`).
    profession, year : optional
        The value to keep; ``None`` keeps every value.

    Returns
    -------
    pandas.DataFrame
        The rows kept (a copy; ``attrs`` kept). A value absent from the table raises a
        ``ValueError`` listing the values present.

    Examples
    --------
    >>> table = pd.DataFrame({"origin": ["61001", "61001"], "destination": ["61001", "61001"],
    ...                       "volume": [3.0, 4.0], "profession": ["infirmier", "Médecin"]})
    >>> select_flows(table, profession="médecin")["volume"].tolist()
    [4.0]
    """
    keep = np.ones(len(flows), dtype=bool)
    for col, label, value in (("profession", "profession", profession), ("year", "année", year)):
        if value is None:
            continue
        if col not in flows.columns:
            what = "la profession" if col == "profession" else "l'année"
            raise ValueError(f"La table de flux n'a pas de colonne {col} : impossible de choisir "
                             f"{what} « {value} ».")
        text = _key_text(flows[col])
        hit = (text == _fold(value) if col == "profession" else text == _key_text(pd.Series([value]))[0])
        hit = hit.fillna(False).to_numpy(dtype=bool)
        if not hit.any():
            present = sorted(flows[col].dropna().astype(str).str.strip().unique())
            raise ValueError(
                f"{label} « {value} » absente de la table ; valeurs présentes : "
                + ", ".join(present[:50]) + (" …" if len(present) > 50 else ""))
        keep &= hit
    out = flows[keep].copy()
    out.attrs.update(flows.attrs)
    return out


def _key_text(values: pd.Series) -> pd.Series:
    """Values of a profession or year column as comparable text (2023, 2023.0 → "2023")."""
    text = values.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.map(_fold, na_action="ignore").astype("string")


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
    per (residence, workplace) pair (and ``by`` columns). Used as a stand-in for patient
    flows when these are not available. Only the needed columns are read.

    Parameters
    ----------
    source : path or DataFrame
        The MOBPRO file (CSV with ``;`` or ``,``, Parquet) or a DataFrame.
    origin, destination, weight : str
        Columns of the residence commune, workplace commune and weight.
    by : sequence of str
        Extra columns to keep as keys: one column becomes ``profession`` (e.g.
        ``["CS1"]``); several keep their names (e.g. ``["CS1", "AGEREVQ"]``).

    Returns
    -------
    pandas.DataFrame
        A flow table, one row per pair, sorted, codes as given (remap them with
        :func:`prepare_flows`): ``row`` (the file row of the pair's first record; the
        header is row 1), ``origin``, ``destination``, the ``by`` keys, ``volume`` and
        ``records`` (number of records summed). ``attrs["records"]`` is the number of
        records read, ``attrs["code_report"]`` the code repairs (file rows).

    Examples
    --------
    >>> records = pd.DataFrame({"COMMUNE": ["61001", "61001", "61001"],
    ...                         "DCLT": ["61001", "61001", "14118"], "IPONDI": [1.5, 2.0, 1.0]})
    >>> read_mobpro(records).values.tolist()
    [[3, '61001', '14118', 1.0, 1], [1, '61001', '61001', 3.5, 2]]
    """
    by = list(by)
    cols = list(dict.fromkeys([origin, destination, weight, *by]))

    def select(headers: list) -> list:
        absent = [c for c in cols if c not in headers]
        if absent:
            raise ValidationError(
                "Fichier MOBPRO : colonne(s) " + ", ".join(absent) + " absente(s) ; colonnes lues : "
                + ", ".join(map(str, headers)) + ". Passez origin=, destination=, weight=.",
                [{"problem": f"colonne {c} absente"} for c in absent])
        return cols

    if isinstance(source, pd.DataFrame):
        frame, rows = source[select(list(source.columns))], np.arange(1, len(source) + 1)
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"Fichier MOBPRO introuvable : {path}")
        frame, rows = _read_table(path, sheet=None, sep=None, encoding=None, select=select)
    found = {"origin": origin, "destination": destination, "volume": weight}
    table = _flow_table(frame, rows, "Fichier MOBPRO", found)
    names = ["profession"] if len(by) == 1 else by
    for b, name in zip(by, names):
        table[name] = frame[b].reset_index(drop=True).to_numpy()
        if name == "profession":
            table[name] = table[name].astype("string")
    order, starts = _group_by([table[c] for c in ("origin", "destination", *names)])
    out = table.iloc[order[starts]].reset_index(drop=True)[["row", "origin", "destination", *names]]
    out["row"] = np.minimum.reduceat(rows[order], starts)
    out["volume"] = np.add.reduceat(table["volume"].to_numpy()[order], starts)
    out["records"] = np.diff(np.append(starts, len(order)))
    out.attrs["records"] = len(frame)
    out.attrs["source"] = "MOBPRO"
    out.attrs["code_report"] = table.attrs["code_report"]
    return out


def _sorted_codes(values) -> tuple[np.ndarray, int]:
    """Integer codes of ``values`` in their sorted order (-1 where missing), and their number."""
    try:
        codes, uniq = pd.factorize(values, sort=True)
    except TypeError:  # values of mixed types cannot be sorted
        codes, uniq = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), len(uniq)


def _combine(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> tuple[np.ndarray, int]:
    """One int64 key per row from several integer codes (-1 = missing, sorted last), and the
    number of possible keys.

    The key sorts like the tuple of codes; a very large key space is compressed first.
    """
    key = np.zeros(len(codes[0]), dtype=np.int64)
    span = 1
    for c, size in zip(codes, sizes):
        c = np.where(c < 0, size, c).astype(np.int64)
        if span * (size + 1) >= 2**62:
            key, uniq = pd.factorize(key, sort=True)
            key, span = key.astype(np.int64), len(uniq)
        key = key * (size + 1) + c
        span *= size + 1
    return key, span


def _groups(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by an integer key (from :func:`_combine`), sorting instead of hashing.

    Returns the rows in key order (stable) and the start of each group in that order.
    The row position is packed into the key so that one ``np.sort`` of integers (much
    faster than ``argsort``) does the work when the key space allows it.
    """
    n = len(key)
    bits = max(int(n).bit_length(), 1)
    if span < 2 ** (62 - bits):
        packed = np.sort((key << bits) | np.arange(n, dtype=np.int64))
        order, ordered = packed & ((1 << bits) - 1), packed >> bits
    else:
        order = np.argsort(key, kind="stable")
        ordered = key[order]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return order, np.flatnonzero(new)


def _group_by(columns: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by the values of several columns (integer keys, not strings): the rows in
    the sorted order of the values (missing last) and the start of each group."""
    parts = [_sorted_codes(c) for c in columns]
    return _groups(*_combine([c for c, _ in parts], [n for _, n in parts]))


def prepare_flows(
    flows: pd.DataFrame,
    *,
    passage=None,
    plm: str | None = None,
    unknown: str = "keep",
    communes: pd.DataFrame | None = None,
    membership: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map both ends of every flow to today's communes and sum duplicated pairs.

    Former codes (communes déléguées/associées, codes of an INSEE passage table) are mapped
    with :func:`cpts_geo.cog.remap_codes`. Municipal arrondissements of Paris, Lyon and
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
    flows : DataFrame
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
    flows : DataFrame
        ``origin``, ``destination``, the keys, ``volume`` (and ``records`` summed when
        given), one row per pair, sorted. ``attrs["duplicates"]`` gives the number of input
        rows that repeat a pair (``n_rows``) and the first 20 of them (``rows``).
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
    ...     out, report = prepare_flows(table)
    >>> out.values.tolist()
    [['05001', '05001', 7.0], ['99999', '05001', 5.0]]
    >>> report[["end", "code", "reason", "volume"]].values.tolist()
    [['origine', '05120', 'commune déléguée', 3.0], ['origine', '99999', 'code inconnu', 5.0]]
    """
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
    rows = flows["row"].to_numpy() if "row" in flows.columns else np.arange(1, len(flows) + 1)
    volume = flows["volume"].to_numpy(dtype="float64", na_value=np.nan)
    records = (flows["records"].to_numpy(dtype="float64") if "records" in flows.columns
               else np.ones(len(flows)))
    keys = [c for c in ("profession", "year") if c in flows.columns] + [
        c for c in flows.columns
        if c not in ("row", "origin", "destination", "volume", "records", "profession", "year")]
    kept_cities = (_split_cities(membership["code"]) if plm is None and membership is not None
                   else set())
    new = {}
    given = {}
    report_parts = []
    for end, label in _END_LABELS.items():
        codes, uniq = _factorize(flows[end])
        given[end] = (codes, len(uniq))
        uniq = pd.Series(uniq, dtype="string")
        mapped, rep = remap_codes(uniq, communes=communes, passage=passage,
                                  plm="keep" if plm == "keep" else "city")
        if kept_cities and len(rep):  # arrondissements of a city the membership divides
            back = (rep["reason"] == "arrondissement → commune") & rep["new_code"].isin(kept_cities)
            mapped.iloc[rep.loc[back, "row"].to_numpy() - 1] = pd.NA
            rep = rep[~back.to_numpy()]
        mapped = mapped.fillna(uniq)  # unmapped codes stay as given (reported)
        m_codes, m_uniq = pd.factorize(mapped, sort=True)
        new[end] = (np.where(codes < 0, -1, m_codes[np.maximum(codes, 0)]) if len(uniq) else codes,
                    pd.array(np.asarray(m_uniq, dtype=object), dtype="string"))
        if len(rep):
            pos = rep["row"].to_numpy() - 1  # position in uniq
            ok = codes >= 0
            rep = rep.assign(
                end=label, row=_first_rows(codes, rows, len(uniq))[pos],
                n_rows=np.bincount(codes[ok], weights=records[ok], minlength=len(uniq))[pos]
                .astype(np.int64),
                volume=np.bincount(codes[ok], weights=volume[ok], minlength=len(uniq))[pos])
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
                  "problem": f"{r.reason} ({r.end}, {int(r.n_rows)} ligne(s), volume {number(round(r.volume, 1), None)})",
                  "end": r.end, "volume": r.volume}
                 for r in unmapped.itertuples(index=False)])
        warnings.warn(
            f"{unmapped['code'].nunique()} code(s) commune non reconnu(s) (volume "
            f"{number(unmapped['volume'].sum(), None)}) : flux conservés sous leur code, comptés hors de "
            "toute CPTS ; voir le rapport.", stacklevel=2)
    key_codes = [_sorted_codes(flows[k]) for k in keys]
    (o, o_uniq), (d, d_uniq) = new["origin"], new["destination"]
    order, starts = _groups(*_combine([o, d, *[c for c, _ in key_codes]],
                                      [len(o_uniq), len(d_uniq), *[n for _, n in key_codes]]))
    one = order[starts]
    out = pd.DataFrame({"origin": o_uniq.take(o[one], allow_fill=True),
                        "destination": d_uniq.take(d[one], allow_fill=True)})
    for k in keys:
        out[k] = flows[k].array.take(one)
    out["volume"] = np.add.reduceat(volume[order], starts)
    if "records" in flows.columns:
        out["records"] = np.add.reduceat(records[order], starts).astype(np.int64)
    # pairs repeated in the input: among the rows of groups of several rows only
    sizes = np.diff(np.append(starts, len(order)))
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
            f"{listed}) : leurs volumes sont additionnés.", stacklevel=2)
    mixed = _mixed_keys(flows)
    if mixed:
        warnings.warn(
            f"La table mêle {mixed} : les indicateurs les additionnent. Gardez-en une avant de "
            "les calculer : select_flows(flux, profession=..., year=...) (en ligne de commande "
            "--profession, --annee).", stacklevel=2)
    out.attrs["report"] = report
    out.attrs["duplicates"] = {"n_rows": int(dup.sum()), "rows": [int(r) for r in rows[dup][:20]]}
    return out, report


def _mixed_keys(flows: pd.DataFrame) -> str:
    """``"3 professions (a, b, c)"`` etc. for the profession and year columns holding several
    values; empty when none does."""
    parts = []
    for col, label in (("profession", "professions"), ("year", "années")):
        if col in flows.columns:
            values = sorted(flows[col].dropna().astype(str).str.strip().unique())
            if len(values) > 1:
                parts.append(f"{len(values)} {label} ({', '.join(values[:10])}"
                             f"{' …' if len(values) > 10 else ''})")
    return " et ".join(parts)


@lru_cache(maxsize=1)
def _arrondissements() -> pd.DataFrame:
    """The municipal arrondissements of Paris, Lyon, Marseille: ``name`` and ``parent`` city."""
    from cpts_geo.communes import load_arrondissements

    return pd.DataFrame(load_arrondissements(crs=None)[["name", "parent"]])


def _split_cities(codes) -> set[str]:
    """Cities (75056, 69123, 13055) divided by arrondissement in ``codes``."""
    parent = _arrondissements()["parent"]
    codes = pd.Index(pd.Series(codes, dtype="string").dropna().unique())
    return set(parent[parent.index.isin(codes)])


def commune_units(communes: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
    """The commune layer at the level ``codes`` use: Paris, Lyon and Marseille replaced by
    their municipal arrondissements where ``codes`` hold some of them.

    Parameters
    ----------
    communes : GeoDataFrame
        A commune layer (:func:`cpts_geo.communes.load_communes`).
    codes : iterable of str
        Codes of communes or arrondissements, e.g. a membership's ``code`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        ``communes`` itself when no city is divided, else a new layer with the
        arrondissements of each divided city (names, population, geometry) in its place.

    Examples
    --------
    >>> from cpts_geo.communes import load_communes
    >>> layer = commune_units(load_communes(departments="75"), ["75101", "75102"])
    >>> len(layer), "75056" in layer.index
    (20, False)
    """
    from cpts_geo.territories import _units

    cities = _split_cities(codes) & set(communes.index.astype(str))
    if not cities:
        return communes
    arm = _arrondissements()
    return _units(communes, arm.index[arm["parent"].isin(cities)])


def code_report(flows: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """Every commune code changed or left unmapped, from the file to today's communes.

    Parameters
    ----------
    flows : DataFrame
        The table as read (:func:`read_flows`, :func:`read_mobpro`): its
        ``attrs["code_report"]`` lists the codes repaired at reading.
    report : DataFrame
        The report of :func:`prepare_flows`.

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
    >>> table = pd.DataFrame({"origine": [1001, "05120"], "destination": ["99999", "05001"],
    ...                       "volume": [1.0, 2.0]})
    >>> with warnings.catch_warnings(record=True):
    ...     raw = read_flows(table)
    ...     flows, report = prepare_flows(raw)
    >>> code_report(raw, report)[["step", "given_code", "new_code", "row"]].values.tolist()
    [['réparé à la lecture', 1001, '01001', 1], ['non reconnu', '99999', <NA>, 1], ['rattaché à la commune actuelle', '05120', '05001', 2]]
    """
    columns = ["step", "end", "row", "n_rows", "given_code", "new_code", "name", "new_name",
               "reason", "volume"]
    repaired = flows.attrs.get("code_report", pd.DataFrame(columns=_CODE_REPORT))
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
    raw: pd.DataFrame,
    flows: pd.DataFrame,
    report: pd.DataFrame,
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
    raw : DataFrame
        The table as read (:func:`read_flows`, :func:`read_mobpro`).
    flows, report : DataFrame
        The outputs of :func:`prepare_flows`.
    codes_path : path, optional
        Where :func:`code_report` was written, to name it.
    listed : int, default 20
        Number of unknown codes listed.

    Examples
    --------
    >>> import warnings
    >>> table = pd.DataFrame({"origin": ["61001", "61001", "99999"],
    ...                       "destination": ["61001", "61001", "61001"], "volume": [1.0, 2.0, 5.0]})
    >>> with warnings.catch_warnings(record=True):
    ...     raw = read_flows(table)
    ...     flows, report = prepare_flows(raw)
    >>> print("\\n".join(reading_summary(raw, flows, report)))
    Flux lus : 3 lignes ; 2 paires origine–destination après rattachement aux communes actuelles, volume 8.
    Codes commune : 0 réparé(s) à la lecture, 0 rattaché(s) à la commune actuelle, 1 non reconnu(s) (flux conservés, comptés hors CPTS) ; 2 ligne(s) répètent une même paire origine–destination (lignes 1, 2) : volumes additionnés.
      - ligne 3 : 99999 (origine, code inconnu, volume 5)
    """
    if "records" in raw.attrs and raw.attrs.get("source") == "MOBPRO":
        read = (f"{number(raw.attrs['records'])} enregistrements MOBPRO, {number(len(raw))} paires "
                "origine–destination")
    else:
        read = f"{number(len(raw))} lignes"
    lines = [f"Flux lus : {read} ; {number(len(flows))} paires origine–destination après "
             f"rattachement aux communes actuelles, volume {number(flows['volume'].sum())}."]
    mixed = _mixed_keys(raw)
    if mixed:
        lines.append(f"Attention : la table mêle {mixed} ; les indicateurs les additionnent. "
                     "Choisissez-en une (en ligne de commande : --profession, --annee).")
    steps = code_report(raw, report)["step"].value_counts()
    dups = flows.attrs.get("duplicates", {"n_rows": 0, "rows": []})
    text = (f"Codes commune : {steps.get('réparé à la lecture', 0)} réparé(s) à la lecture, "
            f"{steps.get('rattaché à la commune actuelle', 0)} rattaché(s) à la commune actuelle, "
            f"{steps.get('non reconnu', 0)} non reconnu(s) (flux conservés, comptés hors CPTS)")
    if dups["n_rows"]:
        text += (f" ; {number(dups['n_rows'])} ligne(s) répètent une même paire origine–destination "
                 f"(lignes {', '.join(map(str, dups['rows']))}{' …' if dups['n_rows'] > 20 else ''}) "
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


def _match_cities(codes: np.ndarray, mem: pd.DataFrame) -> np.ndarray:
    """Flow codes at the level of the membership for Paris, Lyon and Marseille.

    An arrondissement whose city is a member as a whole counts as that city (flows kept by
    arrondissement, membership by city). The reverse cannot be undone: a flow given for a
    whole city that the membership divides by arrondissement stays outside every CPTS, with
    a warning.
    """
    arm = _arrondissements()
    given = pd.Series(codes, dtype=object)
    if not given.str.match(r"^(751\d\d|6938\d|132\d\d|75056|69123|13055)$").fillna(False).any():
        return codes
    members = set(mem["code"].dropna())
    parent = given.map(arm["parent"])
    roll = parent.isin(members) & ~given.isin(members)
    out = np.where(roll.to_numpy(), parent.to_numpy(dtype=object), codes)
    whole = set(given) & (_split_cities(list(members)) - members)
    if whole:
        names = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}
        warnings.warn(
            "Flux donnés pour " + ", ".join(f"{names.get(c, c)} entière ({c})" for c in sorted(whole))
            + " alors que l'appartenance la découpe par arrondissement : ces flux sont comptés hors "
            "CPTS. Préparez les flux avec prepare_flows(..., membership=...), qui garde les "
            "arrondissements.", stacklevel=4)
    return out


def _expand(flows: pd.DataFrame, membership: pd.DataFrame) -> _Units:
    missing = [c for c in ("origin", "destination", "volume") if c not in flows.columns]
    if missing:
        raise ValueError("Table de flux sans colonne(s) " + ", ".join(missing)
                         + " : lisez-la avec read_flows() ou read_mobpro().")
    mem = _check_membership(membership)
    w = flows["volume"].to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(
            "Volumes manquants, infinis ou négatifs dans la table de flux : lisez-la avec "
            "read_flows(), qui signale les lignes en cause",
            [{"row": int(p) + 1, "problem": "volume invalide"}
             for p in np.flatnonzero(~np.isfinite(w) | (w < 0))[:1000]])
    o_codes, o_uniq = _factorize(flows["origin"])
    d_codes, d_uniq = _factorize(flows["destination"])
    empty = np.flatnonzero((o_codes < 0) | (d_codes < 0))
    if len(empty) or mem["code"].isna().any():
        raise ValidationError(
            "Codes commune vides dans la table de flux ou d'appartenance : lisez les flux avec "
            "read_flows(), qui signale les lignes en cause",
            [{"row": int(p) + 1, "problem": "code vide"} for p in empty[:1000]]
            or [{"problem": "code vide dans la table d'appartenance"}])
    o_uniq, d_uniq = _match_cities(o_uniq, mem), _match_cities(d_uniq, mem)
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
    """Names of the communes of a layer, and of the municipal arrondissements."""
    if communes is None or "name" not in communes.columns:
        return {}
    names = _arrondissements()["name"].to_dict()
    names.update(zip(communes.index.astype(str), communes["name"]))
    return names


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
        member communes adjacent to it. Paris, Lyon and Marseille are replaced by their
        municipal arrondissements when the membership uses them
        (:func:`commune_units`).
    min_share : float, default 0
        Flag a member commune only if its main destination takes at least this share.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: ``name``, ``cpts_id``, ``flag`` (French text),
        ``resident_volume``, ``own_volume``, ``own_share``, ``main_destination``,
        ``main_volume``, ``main_share``, ``suggested_cpts``, ``suggested_volume``,
        ``suggested_share``, ``suggested_adjacent``. Every share comes with the volume it is
        computed on, so that :func:`mask_secrecy` masks both.

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
    communes = commune_units(communes, mem["code"])
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
    out["own_volume"] = d["own_volume"].to_numpy()
    out["own_share"] = d["own_share"].to_numpy()
    out["main_destination"] = d["main_destination"].to_numpy()
    out["main_volume"] = d["main_volume"].to_numpy()
    out["main_share"] = d["main_share"].to_numpy()
    out["suggested_share"] = _safe_div(out["suggested_volume"].to_numpy(dtype=float),
                                       out["resident_volume"].to_numpy())
    out["suggested_adjacent"] = [
        (s in adjacent.get(c, set())) if isinstance(s, str) else pd.NA
        for c, s in zip(out.index, out["suggested_cpts"])]
    out["cpts_id"] = out["cpts_id"].astype("string")
    out["suggested_cpts"] = out["suggested_cpts"].astype("string")
    return out[["name", "cpts_id", "flag", "resident_volume", "own_volume", "own_share",
                "main_destination", "main_volume", "main_share", "suggested_cpts",
                "suggested_volume", "suggested_share", "suggested_adjacent"]]


# --------------------------------------------------------------------------- secrecy, exports


def mask_secrecy(
    table: pd.DataFrame,
    *,
    threshold: float = SECRECY_THRESHOLD,
    volumes: Sequence[str] | None = None,
    rates: Mapping[str, Sequence[str]] | None = None,
    identities: Sequence[tuple[str, str, str]] | None = None,
) -> pd.DataFrame:
    """Mask small volumes, the volumes that would give them back, and the rates computed on them.

    **Primary secrecy**: a volume strictly between 0 and ``threshold`` becomes ``<NA>``.
    Zero is not masked (an absence of flow is not secret).

    **Secondary secrecy**: within a row, residents' volume = inside + outflow and delivered
    volume = inside + inflow. When exactly one of the three volumes of such an identity is
    masked, it could be recomputed from the two others, so one more is masked: the total
    (residents' or delivered volume). Its rates are masked already, so no other rate is
    lost: a small inflow hides the delivered volume and the supply-side rates, retention
    stays visible.

    **Rates**: a rate is masked when any volume it is computed from is masked, complements
    included (leakage = 1 − retention is masked with the outflow).

    Differences between rows (e.g. a department minus its CPTS) and between volumes that
    are not an identity of the table (a commune's residents' volume minus its main
    destination when it has only two destinations) are not checked: review tables before
    publishing them.

    Parameters
    ----------
    table : DataFrame
        An output of this module (or any table with volume columns).
    threshold : float, default 10
    volumes : sequence of str, optional
        Volume columns; default: ``volume`` and the columns ending in ``_volume``.
    rates : mapping, optional
        ``{rate column: [volume columns it is computed from]}``; default: the rates of this
        module's outputs (``retention``, ``leakage``, ``attraction``, ``share``…).
    identities : sequence of (total, term, term), optional
        Column triples with total = term + term; default: the residents' and delivered
        volumes of :func:`cpts_flow_indicators`. Triples absent from ``table`` are skipped.

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
    >>> ind = pd.DataFrame({"resident_volume": [250.0], "inside_volume": [245.0],
    ...                     "outflow_volume": [5.0], "leakage": [0.02]})
    >>> mask_secrecy(ind)[["resident_volume", "inside_volume", "outflow_volume"]].iloc[0].tolist()
    [<NA>, 245.0, <NA>]
    """
    out = table.copy()
    if volumes is None:
        volumes = [c for c in out.columns if c == "volume" or str(c).endswith("_volume")]
    rates = dict(_RATE_SOURCES if rates is None else rates)
    identities = _IDENTITIES if identities is None else identities
    hidden = {}
    values = {}
    for col in volumes:
        values[col] = pd.to_numeric(out[col]).astype("Float64")
        small = ((values[col] > 0) & (values[col] < threshold)).fillna(False).to_numpy(dtype=bool)
        hidden[col] = small
    triples = [t for t in identities if all(c in hidden for c in t)]
    changed = bool(triples)
    while changed:  # secondary secrecy: no identity with a single masked volume
        changed = False
        for total, a, b in triples:
            alone = (hidden[total].astype(int) + hidden[a] + hidden[b]) == 1
            for masked_one, partner in ((a, total), (b, total), (total, a)):
                fix = alone & hidden[masked_one] & ~hidden[partner]
                if fix.any():
                    hidden[partner] = hidden[partner] | fix
                    alone &= ~fix
                    changed = True
    for col in volumes:
        out[col] = values[col].mask(hidden[col])
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


def _with_arrondissements(communes: pd.DataFrame, codes: Iterable[str]) -> pd.DataFrame:
    """The layer plus the municipal arrondissements among ``codes`` that it lacks."""
    from cpts_geo.communes import load_arrondissements

    wanted = _arrondissements().index
    wanted = wanted[wanted.isin(codes) & ~wanted.isin(communes.index.astype(str))]
    if not len(wanted):
        return communes
    arm = load_arrondissements(crs=communes.crs).loc[wanted]
    keep = [c for c in communes.columns if c in arm.columns or c == communes.geometry.name]
    return pd.concat([communes, arm[keep]])


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
    flows with an end outside ``communes`` or on a commune without geometry (a warning says
    so); ``attrs["left_out"]`` lists them (``origin``, ``destination``, ``volume``,
    ``reason``; volumes masked like the lines). Arrondissements of Paris, Lyon and Marseille
    found in the flows are placed at their own centroid. Volumes under the secrecy
    ``threshold`` are masked (``<NA>``, column ``masked``); their lines are kept so the map
    shows that a flow exists.

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
    ends = np.union1d(table["origin"], table["destination"])
    communes = _with_arrondissements(communes, ends)
    used = communes.index.astype(str).isin(ends)
    pts = _points(communes[used])
    code_index = pts.index.astype(str)
    located = code_index[np.isfinite(pts.x.to_numpy()) & np.isfinite(pts.y.to_numpy())]
    inner = table["origin"] == table["destination"]
    known = table["origin"].isin(code_index) & table["destination"].isin(code_index)
    outside = ~inner & ~known
    no_geom = ~inner & known & ~(table["origin"].isin(located) & table["destination"].isin(located))
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} flux (volume {number(table.loc[outside, 'volume'].sum(), None)}) ont une "
            "extrémité hors de la couche communale : pas de ligne pour eux.", stacklevel=2)
    if no_geom.any():
        missing = sorted(set(table.loc[no_geom, ["origin", "destination"]].to_numpy().ravel())
                         - set(located))
        warnings.warn(
            f"{int(no_geom.sum())} flux (volume {number(table.loc[no_geom, 'volume'].sum(), None)}) ont une "
            f"extrémité sans géométrie dans la couche communale ({', '.join(missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}) : pas de ligne pour eux, voir attrs['left_out'].",
            stacklevel=2)
    reason = np.select([inner, outside, no_geom], ["flux interne à la commune",
                       "extrémité hors de la couche communale", "commune sans géométrie"], "")
    left_out = (table.assign(reason=reason)[inner | outside | no_geom]
                .sort_values(["origin", "destination"]).reset_index(drop=True))
    if threshold is not None and len(left_out):
        left_out = mask_secrecy(left_out, threshold=threshold)
    table = table[~inner & known & ~no_geom & (table["volume"] >= min_volume) & (table["volume"] > 0)]
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
    commune is drawn in each of its CPTS; arrondissements of Paris, Lyon and Marseille are
    taken from :func:`commune_units`). Indicators are those of
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
    communes = commune_units(communes, mem["code"])
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
