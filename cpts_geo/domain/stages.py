"""Project stages of a CPTS, in order, with their colours, and the wordings real listings use.

The five stages follow the life of a CPTS project (URPS Hauts-de-France guide): a dynamic is
identified, the letter of intent is validated by the ARS, the association is created, the
health project is validated (the CPTS is then *recognised*), the ACI contract is signed
(the CPTS is funded).

Real listings word their stages their own way: the DGOS national atlas has three categories,
a Seine-Saint-Denis listing five words of its own, ARS spreadsheets others. :data:`VOCABULARIES`
is the built-in table of those wordings, each mapped to one of the five stages; anything else
is mapped by the user (:func:`stage_mapping`: two columns, wording → stage). The wording as
published is kept beside the stage (:func:`map_stages`); an unknown wording is an error listing
each unknown wording once, its rows, the closest known stage and the mapping file to write.

>>> parse_stages(["aci signe", "3", "Lettre d’intention validée"]).tolist()
['ACI signé', 'Association créée', "Lettre d'intention validée"]
>>> parse_stages(["en fonctionnement", "lettre d'intention et projet de santé validés"]).tolist()
['ACI signé', 'Projet de santé validé']
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from typing import NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from cpts_geo.domain.french import fold
from cpts_geo.errors import ValidationError

__all__ = [
    "GUIDE",
    "MAPPING_HEADERS",
    "NOT_GIVEN",
    "RECOGNISED",
    "STAGES",
    "STAGE_COLORS",
    "STAGE_DTYPE",
    "VOCABULARIES",
    "MappedStages",
    "StageMapping",
    "legend_stages",
    "map_stages",
    "mapping_template",
    "own_words",
    "parse_stages",
    "stage_mapping",
    "vocabulary_note",
]

#: The five stages, in order.
STAGES = (
    "Dynamique identifiée",
    "Lettre d'intention validée",
    "Association créée",
    "Projet de santé validé",
    "ACI signé",
)


#: The stage of a CPTS whose registry gives none (real ARS listings often carry no stage):
#: an explicit value, shown on maps and counted in coverage, never a guess. It is not a
#: project stage: it sorts before the first one and is never *recognised*.
NOT_GIVEN = "Étape non renseignée"


#: Ordered categorical dtype of stages (``<``, ``max`` and sorting follow the stage order),
#: :data:`NOT_GIVEN` first.
STAGE_DTYPE = pd.CategoricalDtype([NOT_GIVEN, *STAGES], ordered=True)


#: Stages at which a CPTS is recognised by the ARS (health project validated).
RECOGNISED = STAGES[3:]


#: Colour of each stage: ColorBrewer "YlGnBu" (5 classes), a sequential palette that is
#: colour-blind safe and prints in grey levels; light for the first stage, dark for "ACI signé".
#: :data:`NOT_GIVEN` is an orange outside that ramp, distinct from the zone-blanche grey
#: (``#d9d9d9``); the keys are in :data:`STAGE_DTYPE` order (legends follow it).
STAGE_COLORS = {NOT_GIVEN: "#f4a259",
                **dict(zip(STAGES, ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]))}


#: Name of the guide's own vocabulary in :data:`VOCABULARIES`.
GUIDE = "guide URPS Hauts-de-France (5 étapes)"


_D, _L, _A, _P, _S = STAGES

#: The built-in table of stage wordings found in real listings: vocabulary name → its wordings,
#: each with the stage it means, **in the vocabulary's own order** (first step first). Wordings
#: are compared folded (case, accents, apostrophes and punctuation ignored). The correspondences
#: are documented choices, never applied silently: outputs keep the wording as published beside
#: the stage, and a user mapping (:func:`stage_mapping`) overrides any of them.
#:
#: - the DGOS national atlas of CPTS (January 2022, data of June 2021): three categories;
#: - a Seine-Saint-Denis (Île-de-France) listing of 2021: five words of its own. A letter of
#:   intent *deposited* is not yet validated (stage 1); project engineering is funded once the
#:   letter is validated (stage 2); a CPTS « en fonctionnement » has signed the ACI (stage 5);
#: - wordings common in ARS spreadsheets (abbreviations LI, PS, ACI), synonyms rather than a
#:   vocabulary of its own.
VOCABULARIES: dict[str, tuple[tuple[str, str], ...]] = {
    GUIDE: tuple((s, s) for s in STAGES),
    "DGOS, atlas national des CPTS (2021, 3 catégories)": (
        ("lettre d'intention validée", _L),
        ("lettre d'intention et projet de santé validés", _P),
        ("ACI signé", _S),
    ),
    "Île-de-France, Seine-Saint-Denis (2021)": (
        ("déclaration d'intérêt sans formalisation", _D),
        ("début de formalisation", _D),
        ("en cours de construction avec dépôt de la lettre d'intention", _D),
        ("ingénierie de projet", _L),
        ("en fonctionnement", _S),
    ),
    "libellés courants des ARS": (
        ("émergence", _D), ("en émergence", _D), ("projet émergent", _D), ("pré-projet", _D),
        ("dynamique émergente", _D), ("lettre d'intention déposée", _D), ("LI déposée", _D),
        ("lettre d'intention reçue", _D),
        ("LI validée", _L), ("lettre d'intention signée", _L),
        ("association constituée", _A), ("association déclarée", _A),
        ("PS validé", _P), ("projet de santé validé par l'ARS", _P), ("CPTS reconnue", _P),
        ("ACI", _S), ("ACI signée", _S), ("contrat ACI signé", _S), ("signature ACI", _S),
        ("contrat signé", _S), ("CPTS opérationnelle", _S), ("opérationnelle", _S),
    ),
}


#: Vocabularies that are synonyms, not a listing's own steps: a legend never lists their
#: absent wordings.
_SYNONYM_LISTS = frozenset({"libellés courants des ARS"})


#: Headers of a stage mapping file (and of the template an unknown wording asks for).
MAPPING_HEADERS = ("étape telle que publiée", "étape", "étape la plus proche (suggestion, à vérifier)")


_LOOKUP = {fold(s): s for s in STAGES}
_LOOKUP.update({str(i): s for i, s in enumerate(STAGES, start=1)})
_LOOKUP[fold(NOT_GIVEN)] = NOT_GIVEN


# folded wording → (wording, stage, vocabulary, position in it)
_BUILT_IN: dict[str, tuple[str, str, str, int]] = {}
for _name, _words in VOCABULARIES.items():
    for _i, (_w, _s) in enumerate(_words):
        _BUILT_IN.setdefault(fold(_w), (_w, _s, _name, _i))



def legend_stages(values: Iterable) -> list[str]:
    """The stages a legend lists for ``values``: those present, in stage order.

    Parameters
    ----------
    values : iterable
        The stages of the CPTS shown.

    Returns
    -------
    list of str
        The stages present, :data:`NOT_GIVEN` first (a legend never lists an empty class).

    Examples
    --------
    >>> legend_stages(["ACI signé", "Dynamique identifiée", "ACI signé"])
    ['Dynamique identifiée', 'ACI signé']
    >>> legend_stages([NOT_GIVEN, "Association créée"])
    ['Étape non renseignée', 'Association créée']
    """
    present = {str(v) for v in values if not (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))}
    return [s for s in (NOT_GIVEN, *STAGES) if s in present]



class StageMapping(NamedTuple):
    """A user's correspondence of stage wordings, checked by :func:`stage_mapping`."""

    #: ``(wording as written, stage)`` pairs, in the file's order; the stage is one of
    #: :data:`STAGES` or :data:`NOT_GIVEN`.
    entries: tuple[tuple[str, str], ...]
    #: Where it comes from (a file name, or ``"correspondance fournie"``).
    source: str = "correspondance fournie"


#: A user's correspondence of stage wordings as given to :func:`stage_mapping`: ``{wording:
#: stage}``, a table (wording, stage) or a :class:`StageMapping` already checked.
StageWordings: TypeAlias = "Mapping[str, str] | pd.DataFrame | StageMapping"



class MappedStages(NamedTuple):
    """Stages as read by :func:`map_stages`."""

    #: The package's stage of each value (:data:`STAGE_DTYPE`, ``<NA>`` where empty).
    stage: pd.Series
    #: The wording as published (ordered categorical: its categories are the listing's
    #: vocabulary in its own order), ``<NA>`` where empty.
    published: pd.Series
    #: The vocabulary, one row per wording (index, in order): ``stage`` and ``source`` (the
    #: built-in vocabulary or the mapping file it comes from), ``present`` (used by the values).
    vocabulary: pd.DataFrame



def _cell_text(value: object) -> str | None:
    """A stage cell as text (``None`` when empty); ``3.0`` is ``"3"``."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    text = unicodedata.normalize("NFC", " ".join(str(value).split()))
    return text or None



def stage_mapping(given: StageWordings, *, source: str | None = None) -> StageMapping:
    """Check a user's correspondence of stage wordings: wording → one of the five stages.

    Parameters
    ----------
    given : mapping, DataFrame or StageMapping
        ``{wording: stage}``, or a table whose first two columns are the wording as published
        and the stage (other columns are ignored; a ``row`` column gives file row numbers,
        else rows are numbered from 2 as below a header line). The stage may be written as in
        :func:`parse_stages` (``"ACI signé"``, ``"aci signe"``, ``5``) or be
        :data:`NOT_GIVEN` for a wording that says no stage (``"NC"``…).
    source : str, optional
        The file name, for messages and the vocabulary's ``source``.

    Returns
    -------
    StageMapping
        The pairs in the given order, stages spelt as in :data:`STAGES`.

    Raises
    ------
    ValidationError
        Listing every bad row: an empty wording or stage, a stage that is not one of the five,
        the same wording mapped to two different stages.

    Examples
    --------
    >>> stage_mapping({"phase 1": "1", "phase 3 : ACI": "ACI signé"}).entries
    (('phase 1', 'Dynamique identifiée'), ('phase 3 : ACI', 'ACI signé'))
    >>> stage_mapping({"phase 2": "signée"})
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Correspondance des étapes refusée (correspondance fournie) : ...
      - ligne 2 : étape « signée » inconnue pour « phase 2 » ...
    """
    if isinstance(given, StageMapping):
        return given if source is None else given._replace(source=source)
    label = source or "correspondance fournie"
    if isinstance(given, Mapping):
        pairs = list(given.items())
        rows = list(range(2, len(pairs) + 2))
    elif isinstance(given, pd.DataFrame):
        cols = [c for c in given.columns if c != "row"]
        if len(cols) < 2:
            raise ValidationError(
                f"Correspondance des étapes refusée ({label}) : il faut deux colonnes, l'étape telle "
                "que publiée puis l'étape (Dynamique identifiée, Lettre d'intention validée, "
                "Association créée, Projet de santé validé ou ACI signé).",
                [{"problem": f"{len(cols)} colonne(s) lue(s) : {', '.join(map(str, cols)) or 'aucune'}"}])
        pairs = list(zip(given[cols[0]].tolist(), given[cols[1]].tolist()))
        rows = given["row"].tolist() if "row" in given.columns else list(range(2, len(pairs) + 2))
    else:
        raise ValidationError(
            f"Correspondance des étapes : attendu un dictionnaire {{étape publiée: étape}} ou un "
            f"tableau à deux colonnes, pas {type(given).__name__} (un fichier se lit avec "
            "cpts_geo.io.registry.read_stage_mapping).", [{"problem": "correspondance non lue"}])
    problems: list[dict] = []
    entries: list[tuple[str, str]] = []
    seen: dict[str, tuple[str, int]] = {}
    for row, (wording, stage) in zip(rows, pairs):
        w, s = _cell_text(wording), _cell_text(stage)
        if w is None and s is None:
            continue
        if w is None:
            problems.append({"row": row, "problem": f"étape publiée vide (étape « {s} »)"})
            continue
        if s is None:
            problems.append({"row": row, "problem": f"« {w} » : étape vide ; écrivez l'une des cinq "
                             "étapes (ou « Étape non renseignée »)"})
            continue
        target = _LOOKUP.get(fold(s))
        if target is None:
            problems.append({"row": row, "problem": f"étape « {s} » inconnue pour « {w} »" + _hint(s)
                             + " ; valeurs possibles : " + _allowed()})
            continue
        key = fold(w)
        if key in seen and seen[key][0] != target:
            problems.append({"row": row, "problem": f"« {w} » déjà associée à « {seen[key][0]} » "
                             f"(ligne {seen[key][1]}) : une seule étape par libellé"})
            continue
        if key not in seen:
            seen[key] = (target, row)
            entries.append((w, target))
    if problems:
        raise ValidationError(f"Correspondance des étapes refusée ({label}) : corrigez les lignes listées.",
                              problems)
    return StageMapping(tuple(entries), label)



def _allowed() -> str:
    return " ; ".join(f"{i} = {s}" for i, s in enumerate(STAGES, start=1))



def _hint(text: str) -> str:
    """`` (vouliez-vous dire « … » ?)`` for the closest of the five stages, or nothing."""
    close = difflib.get_close_matches(fold(text), [fold(s) for s in STAGES], n=1, cutoff=0.6)
    return f" (vouliez-vous dire « {_LOOKUP[close[0]]} » ?)" if close else ""



class _Known(NamedTuple):
    wording: str      # as the vocabulary spells it
    stage: str
    source: str       # vocabulary name or mapping source
    order: int        # position in that source
    priority: int     # 0 the user's mapping, 1 the guide, 2 a built-in vocabulary



def _known(key: str, mapping: StageMapping | None, user: dict) -> _Known | None:
    if key in user:
        i, (w, s) = user[key]
        return _Known(w, s, mapping.source if mapping else "", i, 0)
    if key in _LOOKUP:
        stage = _LOOKUP[key]
        return _Known(stage, stage, GUIDE, STAGES.index(stage) if stage in STAGES else -1, 1)
    if key in _BUILT_IN:
        w, s, name, i = _BUILT_IN[key]
        return _Known(w, s, name, i, 2)
    return None



def _closest(text: str, mapping: StageMapping | None) -> str | None:
    """The stage of the known wording closest to ``text`` (difflib on folded text), or None."""
    keys = list(_LOOKUP) + list(_BUILT_IN) + [fold(w) for w, _ in (mapping.entries if mapping else ())]
    keys = [k for k in keys if not k.isdigit()]
    close = difflib.get_close_matches(fold(text), keys, n=1, cutoff=0.6)
    if not close:
        return None
    user = {fold(w): (i, (w, s)) for i, (w, s) in enumerate(mapping.entries)} if mapping else {}
    found = _known(close[0], mapping, user)
    return found.stage if found else None



def _resolve(texts: list[str | None], mapping: StageMapping | None,
             ) -> tuple[dict[str, _Known], dict[str, str], list[str], dict[str, tuple[int, tuple[str, str]]]]:
    """Map distinct stage texts; return (known: key → _Known, spelling: key → first text, unknown keys)."""
    user = {fold(w): (i, (w, s)) for i, (w, s) in enumerate(mapping.entries)} if mapping else {}
    known: dict[str, _Known] = {}
    spelling: dict[str, str] = {}
    unknown: list[str] = []
    for text in texts:
        if text is None:
            continue
        key = fold(text)
        if key in spelling:
            continue
        spelling[key] = text
        found = _known(key, mapping, user)
        if found is None:
            unknown.append(key)
        else:
            known[key] = found
    return known, spelling, unknown, user



def _vocabulary(known: dict, spelling: dict, mapping: StageMapping | None, user: dict) -> pd.DataFrame:
    """The listing's vocabulary in order: the wordings used, and the whole of the user's mapping,
    or else the whole of the one built-in vocabulary the listing follows (when there is one)."""
    rows: dict[str, _Known] = {}
    own = [k for k, v in known.items() if v.priority == 2]
    if mapping is not None:
        for key, (i, (w, s)) in user.items():
            rows[key] = _Known(w, s, mapping.source, i, 0)
    if own and mapping is None:  # a listing in one built-in vocabulary: all its steps
        names = [name for name, words in VOCABULARIES.items() if name != GUIDE and name not in _SYNONYM_LISTS
                 and {fold(w) for w, _ in words} >= set(own)]
        if names:
            for i, (w, s) in enumerate(VOCABULARIES[names[0]]):
                rows.setdefault(fold(w), _Known(w, s, names[0], i, 2))
    for key, k in known.items():
        rows.setdefault(key, k)
    stage_rank = {s: i for i, s in enumerate(STAGE_DTYPE.categories)}
    ordered = sorted(rows.items(), key=lambda kv: (stage_rank[kv[1].stage], kv[1].priority, kv[1].order))
    labels = [spelling.get(k, v.wording) for k, v in ordered]
    return pd.DataFrame({"stage": [v.stage for _, v in ordered],
                         "source": [v.source for _, v in ordered],
                         "present": [k in known for k, _ in ordered],
                         "key": [k for k, _ in ordered]},
                        index=pd.Index(labels, name="published_stage"))



def stage_lookup(values: Iterable[object], mapping: StageMapping | None = None,
                 ) -> tuple[MappedStages, dict[str, tuple[str, np.ndarray, str | None]]]:
    """The work of :func:`map_stages` without raising (for :mod:`cpts_geo.domain._registry_checks`).

    Parameters
    ----------
    values : iterable
        Stages as given.
    mapping : StageMapping, optional
        The user's correspondence, already checked by :func:`stage_mapping`.

    Returns
    -------
    tuple
        ``(MappedStages, unknown)``: ``unknown`` maps each unknown folded wording to ``(its
        first spelling, the 0-based positions of its values, the closest stage or None)``; those
        values are ``<NA>`` in the result.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = [_cell_text(v) for v in uniques.tolist()]
    known, spelling, unknown_keys, user = _resolve(texts, mapping)
    vocab = _vocabulary(known, spelling, mapping, user)
    key_of = [fold(t) if t is not None else None for t in texts]
    stage_codes = {s: i for i, s in enumerate(STAGE_DTYPE.categories)}
    word_codes = {k: i for i, k in enumerate(vocab["key"])}
    u_stage = np.array([stage_codes[known[k].stage] if k in known else -1 for k in key_of] + [-1], dtype=np.int16)
    u_word = np.array([word_codes[k] if k in known else -1 for k in key_of] + [-1], dtype=np.int32)
    pos = np.where(codes < 0, len(texts), codes)
    stage = pd.Series(pd.Categorical.from_codes(u_stage[pos], dtype=STAGE_DTYPE), index=series.index,
                      name=series.name)
    published = pd.Series(pd.Categorical.from_codes(
        u_word[pos], dtype=pd.CategoricalDtype(list(vocab.index), ordered=True)), index=series.index,
        name=series.name)
    unknown = {}
    for k in unknown_keys:
        which = [i for i, kk in enumerate(key_of) if kk == k]
        unknown[k] = (spelling[k], np.flatnonzero(np.isin(codes, which)), _closest(spelling[k], mapping))
    return MappedStages(stage, published, vocab.drop(columns="key")), unknown



def unknown_message(spelling: str, closest: str | None, n_rows: int) -> str:
    """The French message of an unknown wording (one per wording, its rows listed beside it).

    Parameters
    ----------
    spelling : str
        The wording as first written.
    closest : str or None
        The stage of the closest known wording.
    n_rows : int
        How many rows carry it.

    Returns
    -------
    str
    """
    hint = f" (vouliez-vous dire « {closest} » ?)" if closest else " (aucune étape connue proche)"
    many = f", {n_rows} lignes" if n_rows > 1 else ""
    return f"étape « {spelling} » non reconnue{hint}{many}"



def mapping_template(unknown: Iterable[tuple[str, str | None]]) -> pd.DataFrame:
    """The mapping file to write for unknown wordings: one row each, the stage left to fill.

    Parameters
    ----------
    unknown : iterable of (str, str or None)
        Each unknown wording with the closest known stage (or None).

    Returns
    -------
    DataFrame
        Columns :data:`MAPPING_HEADERS`: the wording, an empty stage, the suggestion.

    Examples
    --------
    >>> mapping_template([("phase 3", None)]).columns.tolist()[:2]
    ['étape telle que publiée', 'étape']
    """
    unknown = list(unknown)
    return pd.DataFrame({MAPPING_HEADERS[0]: [w for w, _ in unknown], MAPPING_HEADERS[1]: "",
                         MAPPING_HEADERS[2]: [c or "" for _, c in unknown]}, dtype=object)



#: What to do about unknown wordings (end of the error's summary).
UNKNOWN_ADVICE = ("donnez la correspondance de chaque étape publiée dans un fichier à deux colonnes "
                  f"(« {MAPPING_HEADERS[0]} » ; « {MAPPING_HEADERS[1]} », l'une des cinq étapes) : "
                  "--etapes FICHIER.csv en ligne de commande, l'argument stages en Python")



def map_stages(values: Iterable[object], *, stages: StageWordings | None = None) -> MappedStages:
    """Read project stages as listings word them: the stage, and the wording as published.

    A value is looked up, folded (case, accents, spaces, apostrophes ignored), in ``stages``
    (the user's mapping) first, then among the five stages and their numbers 1–5, then in the
    built-in table :data:`VOCABULARIES`. An unknown wording is an error listing each unknown
    wording once with its rows, the closest known stage (a suggestion, never applied) and the
    mapping file to write.

    Parameters
    ----------
    values : iterable
        Stages as given; row numbers in errors are 1-based positions in ``values``.
    stages : mapping, DataFrame or StageMapping, optional
        The user's correspondence, wording → stage (see :func:`stage_mapping`).

    Returns
    -------
    MappedStages
        ``stage`` (:data:`STAGE_DTYPE`), ``published`` (the wording, an ordered categorical of
        the listing's vocabulary) and ``vocabulary`` (one row per wording, in order).

    Examples
    --------
    >>> m = map_stages(["en fonctionnement", "début de formalisation"])
    >>> m.stage.tolist(), list(m.published.cat.categories)[-1]
    (['ACI signé', 'Dynamique identifiée'], 'en fonctionnement')
    >>> map_stages(["phase 2", "phase 2"])
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Étape(s) de projet non reconnue(s) : ...
      - lignes 1, 2 : étape « phase 2 » non reconnue (aucune étape connue proche), 2 lignes
    """
    mapping = None if stages is None else stage_mapping(stages)
    mapped, unknown = stage_lookup(values, mapping)
    if unknown:
        problems = []
        for spelling, positions, closest in unknown.values():
            rows = [int(p) + 1 for p in positions]
            problems.append({"row": rows[0] if len(rows) == 1 else ", ".join(map(str, rows)),
                             "code": pd.NA, "problem": unknown_message(spelling, closest, len(rows))})
        raise ValidationError(f"Étape(s) de projet non reconnue(s) : {UNKNOWN_ADVICE} ; valeurs "
                              f"possibles : {_allowed()}", problems)
    return mapped



def parse_stages(values: Iterable[object], *, stages: StageWordings | None = None) -> pd.Series:
    """Read project stages as typed by users.

    Case, accents, spaces, apostrophes (’ or '), the numbers 1–5 and the wordings of the
    built-in table :data:`VOCABULARIES` are accepted, and those of ``stages``; anything else is
    rejected, with each unknown wording listed once with its rows, the allowed values and the
    closest one as a suggestion (never applied). :func:`map_stages` also keeps the wording.

    Parameters
    ----------
    values : iterable
        Stages as given; row numbers in errors are 1-based positions in ``values``.
    stages : mapping, DataFrame or StageMapping, optional
        The user's correspondence, wording → stage (see :func:`stage_mapping`).

    Returns
    -------
    pandas.Series
        Of dtype :data:`STAGE_DTYPE`, aligned with ``values``; empty cells stay ``<NA>``.

    Examples
    --------
    >>> parse_stages(["Association creee", "Asociation créée"])
    Traceback (most recent call last):
    ...
    cpts_geo.errors.ValidationError: Étape(s) de projet non reconnue(s) : ...
      - ligne 2 : étape « Asociation créée » non reconnue (vouliez-vous dire « Association créée » ?)
    """
    return map_stages(values, stages=stages).stage



def own_words(published: Iterable[object]) -> bool:
    """Whether stages are published in a listing's own words (not the guide's five or 1–5).

    Outputs then keep the column « Étape telle que publiée » and legends use those words.

    Parameters
    ----------
    published : Series or iterable
        Stages as published: a categorical (its categories, the vocabulary, are read) or values.

    Returns
    -------
    bool

    Examples
    --------
    >>> own_words(map_stages(["5", "aci signe"]).published), own_words(["en fonctionnement"])
    (False, True)
    """
    dtype = getattr(published, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        values = list(dtype.categories)
    else:
        values = [v for v in published if _cell_text(v) is not None]
    return any(fold(_cell_text(v)) not in _LOOKUP for v in values)



def vocabulary_note(vocabulary: pd.DataFrame) -> str:
    """A French sentence saying which vocabulary a listing follows, when not the guide's.

    Parameters
    ----------
    vocabulary : DataFrame
        The ``vocabulary`` of :class:`MappedStages` (or of a checked registry).

    Returns
    -------
    str
        Empty when the listing uses the guide's five stages (or none); else its number of
        steps compared with the guide's five and each wording with its stage.

    Examples
    --------
    >>> print(vocabulary_note(map_stages(["ACI signé", "lettre d'intention validée",
    ...                                   "lettre d'intention et projet de santé validés"]).vocabulary))
    Étapes publiées selon le vocabulaire « DGOS, atlas national des CPTS (2021, 3 catégories) » : 3 étapes, moins que les 5 du guide ; lettre d'intention validée → Lettre d'intention validée ; lettre d'intention et projet de santé validés → Projet de santé validé ; ACI signé → ACI signé.
    """
    if vocabulary is None or not len(vocabulary) or set(vocabulary["source"]) <= {GUIDE}:
        return ""
    n = len(vocabulary)
    compare = ("autant que les 5 du guide, avec ses propres mots" if n == 5 else
               f"{'moins' if n < 5 else 'plus'} que les 5 du guide")
    sources = [s for s in dict.fromkeys(vocabulary["source"]) if s != GUIDE]
    words = " ; ".join(f"{w} → {s}" for w, s in zip(vocabulary.index, vocabulary["stage"]))
    return (f"Étapes publiées selon le vocabulaire « {' + '.join(sources)} » : {n} étape{'s' if n > 1 else ''}, "
            f"{compare} ; {words}.")
