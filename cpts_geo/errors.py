"""Errors raised by cpts_geo.

Validation gathers every problem of an input before raising once: a :class:`ValidationError`
carries all of them in :attr:`ValidationError.problems`, a DataFrame with one row per problem
(``row`` number in the user's file when there is one, ``code``, ``problem``), so that a user can
fix a registry in one pass instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

__all__ = [
    "CptsGeoWarning",
    "ValidationError",
    "problems_frame",
]

_MAX_LISTED = 50



def problems_frame(problems: Iterable[Mapping]) -> pd.DataFrame:
    """Return ``problems`` (an iterable of dicts) as a DataFrame with stable columns.

    Parameters
    ----------
    problems : iterable of dict
        One dict per problem; keys become columns.

    Returns
    -------
    DataFrame
        Columns ``row``, ``code``, ``problem`` first (missing ones filled with NA), then the
        others in their first-seen order.
    """
    frame = pd.DataFrame(list(problems))
    for col in ("row", "code", "problem"):
        if col not in frame.columns:
            frame[col] = pd.NA
    row = frame["row"]
    if pd.api.types.is_float_dtype(row) and bool((row.dropna() % 1 == 0).all()):
        frame["row"] = row.astype("Int64")  # rows mixed with problems without a row: 4, not 4.0
    rest = [c for c in frame.columns if c not in ("row", "code", "problem")]
    return frame[["row", "code", "problem", *rest]]



class ValidationError(ValueError):
    """An input has problems; all of them are listed.

    Parameters
    ----------
    summary : str
        One sentence saying what was checked and what to do (in French: users read it).
    problems : iterable of dict
        One dict per problem, with at least ``problem`` and, where known, ``row`` and ``code``.

    Attributes
    ----------
    problems : pandas.DataFrame
        Every problem found, one per row.
    problems_file : pathlib.Path or None
        Where the complete list of problems was written for the user (the command line
        writes ``<registre>_problemes.csv``), ``None`` when it was not written.
    problems_file_error : str or None
        Why that list could not be written (``"<path> : <reason>"``), ``None`` otherwise.
    problems_file_kept : pathlib.Path or None
        A file named ``<registre>_problemes.csv`` that this package did not write, left as it
        was (the list then went to ``problems_file``, another name); ``None`` otherwise.
    mapping_file : pathlib.Path or None
        Where the stage mapping to fill for the stage wordings not recognised was written (the
        command line writes ``<registre>_etapes.csv``), ``None`` when it was not written.
    mapping_file_exists : pathlib.Path or None
        A file of that name already there (perhaps the user's), left as it was; ``None`` otherwise.
    mapping_file_error : str or None
        Why the stage mapping could not be written (``"<path> : <reason>"``), ``None`` otherwise.

    Examples
    --------
    >>> err = ValidationError("Registre refusé", [{"row": 3, "problem": "code inconnu"}])
    >>> len(err.problems), err.problems_file is None
    (1, True)
    """

    problems_file: Path | None
    problems_file_error: str | None
    problems_file_kept: Path | None
    mapping_file: Path | None
    mapping_file_exists: Path | None
    mapping_file_error: str | None

    def __init__(self, summary: str, problems: Iterable[Mapping] = ()):
        self.summary = summary
        self.problems = problems_frame(problems)
        self.problems_file = None
        self.problems_file_error = None
        self.problems_file_kept = None
        self.mapping_file = None
        self.mapping_file_exists = None
        self.mapping_file_error = None
        super().__init__(self._message())

    def _message(self) -> str:
        lines = [f"{self.summary} ({len(self.problems)} problème(s))" if len(self.problems) else self.summary]
        for rec in self.problems.head(_MAX_LISTED).itertuples(index=False):
            where = []
            if not pd.isna(rec.row):
                plural = isinstance(rec.row, str) and "," in rec.row
                row = int(rec.row) if isinstance(rec.row, float) and rec.row.is_integer() else rec.row
                where.append(f"{'lignes' if plural else 'ligne'} {row}")
            if not pd.isna(rec.code):
                where.append(f"code {rec.code}")
            prefix = ", ".join(where)
            lines.append(f"  - {prefix + ' : ' if prefix else ''}{rec.problem}")
        if len(self.problems) > _MAX_LISTED:
            lines.append(
                f"  … et {len(self.problems) - _MAX_LISTED} autre(s) : voir l'attribut .problems"
            )
        return "\n".join(lines)



class CptsGeoWarning(UserWarning):
    """A notice for a human reading a notebook (a repaired code, a remapped row…).

    Warnings are never the data channel: every report they announce is also part of the
    function's return value. Tests turn them into errors (``filterwarnings`` in pyproject),
    so a warning a test did not expect fails it.
    """
