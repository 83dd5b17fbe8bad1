"""One way to print problems and corrections for a person, and to write their complete list."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from cpts_geo.domain.french import number
from cpts_geo.domain.text import printable
from cpts_geo.io.files import write_csv

if TYPE_CHECKING:
    import pandas as pd

    from cpts_geo.errors import ValidationError


@overload
def _printable(value: str) -> str: ...


@overload
def _printable(value: pd.DataFrame) -> pd.DataFrame: ...


def _printable(value: str | pd.DataFrame) -> str | pd.DataFrame:
    """What a command prints, with no escape sequence of a user's text reaching the terminal.

    A string (a name, an identifier, a whole line) has its control characters made visible
    (:func:`cpts_geo.domain.text.printable`: ``␛[31m`` instead of a colour change); a table
    (DataFrame) gets the same on its text cells, index and headers, ready for ``to_string()``.
    """
    if isinstance(value, str):
        return printable(value)
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        out = value.copy()
        for col in out.columns:
            if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype) or \
                    isinstance(out[col].dtype, pd.CategoricalDtype):
                out[col] = out[col].map(lambda v: printable(v) if isinstance(v, str) else v)
        out.index = out.index.map(lambda v: printable(v) if isinstance(v, str) else v)
        out.columns = [printable(c) if isinstance(c, str) else c for c in out.columns]
        return out
    return printable(value)


def _said(what: str, read: str | None) -> None:
    """Tell how a file was read: « Registre lu : feuille « CPTS », encodage … »."""
    if read:
        print(_printable(f"{what} lu : {read}."))


def _few(values: Iterable[object], n: int = 5) -> str:
    """The first ``n`` values, and how many there are in all when there are more."""
    texts = [str(v).strip() for v in values]
    return ", ".join(texts[:n]) + (f" … ({number(len(texts))} en tout)" if len(texts) > n else "")


#: How the lists written beside a registry start (their first line, BOM aside): a file of that
#: name that starts otherwise is not ours and is never overwritten nor removed.
_LIST_STARTS = {"problemes": "Ligne(s);Code commune;Type;Problème", "corrections": "Ligne;Code donné;"}


def _is_our_list(path: str | Path, kind: str) -> bool:
    """Whether ``path`` is a list of ``kind`` this package wrote (recognised by its first line)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:  # a folder, unreadable: not ours
        return False
    first = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[:1]
    return bool(first) and first[0].startswith(_LIST_STARTS[kind])


def _lists_beside(registry: str | Path | None, kind: str) -> list[Path]:
    """``<registre>_<kind>.csv`` and the numbered ones (``_2``, ``_3``…) beside ``registry``,
    as they exist on disk (none for the example or a database URL)."""
    if registry in (None, "exemple") or "://" in str(registry):
        return []
    source = Path(registry)
    main = source.with_name(f"{source.stem}_{kind}.csv")
    numbered = sorted(source.parent.glob(f"{source.stem}_{kind}_*.csv"),
                      key=lambda p: (len(p.name), p.name))
    return [p for p in [main, *numbered] if p.exists()]


def _list_target(registry: str | Path, kind: str) -> tuple[Path, Path | None]:
    """Where to write the list of ``kind`` beside ``registry``: ``<registre>_<kind>.csv``, or,
    when a file of that name is not ours, the first numbered name free or ours
    (``<registre>_<kind>_2.csv``…). Returns the path and the file not ours that was kept
    (``None`` when there is none)."""
    source = Path(registry)
    main = source.with_name(f"{source.stem}_{kind}.csv")
    if not main.exists() or _is_our_list(main, kind):
        return main, None
    n = 2
    while True:
        target = source.with_name(f"{source.stem}_{kind}_{n}.csv")
        if not target.exists() or _is_our_list(target, kind):
            return target, main
        n += 1


def _write_list(table: pd.DataFrame, registry: str | Path, kind: str) -> tuple[Path, Path | None]:
    """Write a list beside ``registry`` (never over a file not ours) and remove our older lists
    of the same kind under other names. Returns ``(path, kept)``; ``kept`` is the file of that
    name not ours, left as it was (``None`` when there is none). Raises ``OSError``."""
    target, kept = _list_target(registry, kind)
    write_csv(table, target, index=False)
    for old in _lists_beside(registry, kind):
        if old != target and _is_our_list(old, kind):
            old.unlink(missing_ok=True)
    return target, kept


def _remove_lists(registry: str | Path | None, kind: str) -> list[Path]:
    """Remove our lists of ``kind`` beside ``registry`` (stale: the registry has none any more);
    files not ours are left. Returns the paths removed."""
    removed = []
    for old in _lists_beside(registry, kind):
        if _is_our_list(old, kind):
            try:
                old.unlink()
            except OSError:
                continue
            removed.append(old)
    return removed


def _problems_table(problems: pd.DataFrame) -> pd.DataFrame:
    """The problems of a ValidationError with French headers, for the problems file."""
    table = problems.copy()
    if "kind" not in table:
        table["kind"] = ""
    table = table[["row", "code", "kind", "problem"]]
    return table.rename(columns={"row": "Ligne(s)", "code": "Code commune", "kind": "Type",
                                 "problem": "Problème"})


def _print_problems(err: ValidationError, *, per_kind: int = 5) -> None:
    """A ValidationError for a CLI user: the count per kind, the first problems of each kind,
    and where the complete list was written."""
    problems = err.problems
    print(_printable(f"Erreur : {err.summary}"), file=sys.stderr)
    if not len(problems):
        return
    import pandas as pd

    kinds = problems["kind"].fillna("") if "kind" in problems.columns else pd.Series("", index=problems.index)
    print(f"{number(len(problems))} problème(s) :", file=sys.stderr)
    for kind, grp in problems.groupby(kinds.to_numpy(), sort=False):
        if kind:
            print(f"{kind} : {number(len(grp))}", file=sys.stderr)
        for rec in grp.head(per_kind).itertuples(index=False):
            where = []
            if isinstance(rec.row, str) or not _missing(rec.row):
                where.append(f"{'lignes' if isinstance(rec.row, str) and ',' in rec.row else 'ligne'} {rec.row}")
            if not _missing(rec.code):
                where.append(f"code {rec.code}")
            prefix = ", ".join(where)
            print(_printable(f"  - {prefix + ' : ' if prefix else ''}{rec.problem}"), file=sys.stderr)
        if len(grp) > per_kind:
            print(f"  … et {number(len(grp) - per_kind)} autre(s)", file=sys.stderr)
    _print_files_written(err)


def _print_files_written(err: ValidationError) -> None:
    """Where the complete list of problems, and the stage mapping to fill, were written (or why not)."""
    if err.problems_file:
        kept = err.problems_file_kept
        print(_printable(f"Liste complète des problèmes : {err.problems_file}"
                         + (f" (« {kept.name} » existe et n'a pas été écrit par cpts_geo : laissé tel quel)"
                            if kept else "")), file=sys.stderr)
    elif err.problems_file_error:
        print(_printable(f"Liste complète des problèmes non écrite ({err.problems_file_error})."),
              file=sys.stderr)
    mapping, exists = err.mapping_file, err.mapping_file_exists
    if mapping:
        print(_printable(f"Correspondance des étapes à compléter : {mapping} (une ligne par étape publiée non "
                         "reconnue ; écrivez dans la colonne « étape » l'une des cinq étapes), puis relancez "
                         f"avec --etapes {mapping}"), file=sys.stderr)
    elif exists:
        print(_printable(f"Ajoutez ces étapes publiées à votre correspondance ({exists}, laissée telle quelle) "
                         "et relancez avec --etapes."), file=sys.stderr)
    elif err.mapping_file_error:
        print(_printable(f"Correspondance des étapes non écrite ({err.mapping_file_error})."), file=sys.stderr)

def _missing(value: object) -> bool:
    """Whether a cell is empty (``None``, NaN, ``pd.NA``); a text never is."""
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _print_report(report: pd.DataFrame, *, registry: str | None = None, limit: int = 20,
                  per_kind: int = 3) -> None:
    """The corrections applied: every line when there are few; else the count per kind with a few
    examples, and the complete list next to the registry (``<registre>_corrections.csv``)."""
    if len(report) <= limit:  # no complete list: one written by an earlier run is stale
        for old in _remove_lists(registry, "corrections"):
            print(_printable(f"Ancienne liste des corrections supprimée : {old} (elle n'est plus à jour)."))
    if not len(report):
        return
    print(f"Corrections appliquées ({number(len(report))}) :")

    def line(rec: Any) -> str:  # a row of report.itertuples()
        name = f" {rec.name}" if isinstance(rec.name, str) else ""
        new = f" → {rec.new_code}" if isinstance(rec.new_code, str) and rec.new_code != rec.code else ""
        code = "" if _missing(rec.code) else f"{rec.code}"
        if not (code or name or new):  # a correction of the row itself (an identifier…)
            return _printable(f"ligne {rec.row} : {rec.reason}")
        return _printable(f"ligne {rec.row} : {code}{name}{new} ({rec.reason})")

    if len(report) <= limit:
        for rec in report.itertuples(index=False):
            print(f"  - {line(rec)}")
        return
    kinds = report["kind"].fillna("autre") if "kind" in report.columns else report["reason"]
    for kind, grp in report.groupby(kinds.to_numpy(), sort=False):
        print(_printable(f"  {kind} : {number(len(grp))} ligne(s)"))
        for rec in grp.head(per_kind).itertuples(index=False):
            print(f"    - {line(rec)}")
        if len(grp) > per_kind:
            print(f"    … et {number(len(grp) - per_kind)} autre(s)")
    if registry not in (None, "exemple") and "://" not in str(registry):
        from cpts_geo.io.formats import os_reason

        table = _report_table(report)
        try:
            target, kept = _write_list(table, registry, "corrections")
            print(_printable(f"Liste complète des corrections : {target}"
                             + (f" (« {kept.name} » existe et n'a pas été écrit par cpts_geo : laissé tel "
                                "quel)" if kept else "")))
        except OSError as err:
            where = Path(registry).with_name(f"{Path(registry).stem}_corrections.csv")
            print(_printable(f"Liste complète des corrections non écrite ({where} : {os_reason(err)})."))


def _commune_table(layer: pd.DataFrame, *, covered: bool = True) -> pd.DataFrame:
    """The commune layer as a table with French headers (codes as text)."""
    import pandas as pd

    from cpts_geo.domain.stages import own_words
    from cpts_geo.domain.vocabulary import COMMUNE_HEADERS

    cols = ["name", "population", "department", "region", "epci_name"]
    if covered:
        cols += ["cpts_id", "cpts_name", "stage", "published_stage", "share", "cpts_all"]
    table = pd.DataFrame(layer[[c for c in cols if c in layer.columns]]).copy()
    if "published_stage" in table and not own_words(table["published_stage"]):
        table = table.drop(columns="published_stage")
    for col in ("stage", "published_stage"):
        if col in table:
            table[col] = table[col].astype("string")
    table.index = table.index.rename("code")
    return table.reset_index().rename(columns=COMMUNE_HEADERS)


def _report_table(report: pd.DataFrame) -> pd.DataFrame:
    """The corrections of a registry with French headers."""
    from cpts_geo.domain.vocabulary import CORRECTION_HEADERS

    return report[[c for c in CORRECTION_HEADERS if c in report.columns]].rename(columns=CORRECTION_HEADERS)
