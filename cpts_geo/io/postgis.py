"""Writing territories to PostgreSQL/PostGIS, and reading a registry back from it.

The tables, the view and the function this package creates carry a mark in their comment
(:data:`MARK`). Only marked objects are ever replaced, and never by dropping them: their rows are
replaced inside the same tables, in one transaction, so that a user's view on them, a user's
foreign key to them, their grants and their indexes keep working. An object of the same name
without the mark (a user's own ``public.communes``) is refused by name and left untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from cpts_geo.io.formats import OutputError
from cpts_geo.io.layers import _DESCRIPTIONS, FIELD_ALIASES, NO_STAGE, _metadata_text, layer_tables

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine

__all__ = [
    "MARK",
    "check_postgis",
    "read_postgis_registry",
    "write_postgis",
]

# --------------------------------------------------------------------------- PostGIS

#: Table names written in the PostGIS schema.
POSTGIS_TABLES = ("cpts", "communes", "appartenance")

#: The view of the communes in no CPTS.
_VIEW = "zones_blanches"

#: The trigger function keeping "one commune, one CPTS" in the database.
_FUNCTION = "une_commune_une_cpts"

#: Written at the end of the comment of every table, view and function this package creates:
#: only objects carrying it are ever replaced.
MARK = "[créé par cpts_geo : remplaçable par cpts-geo territoires --remplacer]"

#: Key of each table (rows are replaced by key).
_KEYS = {"cpts": ("id_cpts",), "communes": ("code_insee",), "appartenance": ("code_insee", "id_cpts")}

#: Indexes and constraints this package creates on its tables, by table.
_OWN_INDEXES = {"cpts": {"cpts_pkey", "idx_cpts_geom"}, "communes": {"communes_pkey", "idx_communes_geom"},
                "appartenance": {"appartenance_pkey", "appartenance_commune_entiere"}}
_OWN_CONSTRAINTS = {"cpts": {"cpts_pkey"}, "communes": {"communes_pkey"},
                    "appartenance": {"appartenance_pkey", "appartenance_id_cpts_fkey", "appartenance_part_check"}}

_KINDS = {"r": "la table", "p": "la table", "v": "la vue", "m": "la vue matérialisée", "i": "l'index",
          "S": "la séquence", "f": "la table étrangère", "c": "le type", "fonction": "la fonction"}



def _not_ours(kind: str, name: str) -> str:
    """« la table public.communes existe déjà et n'a pas été créée par cpts_geo »."""
    what = _KINDS.get(kind, "l'objet")
    feminine = what.startswith("la ")
    return f"{what} {name} existe déjà et n'a pas été créé{'e' if feminine else ''} par cpts_geo"



def connect(url: str) -> Engine:
    """Open a SQLAlchemy engine on a PostGIS database and check that it answers.

    ``postgres://`` and ``postgresql://`` addresses use the psycopg driver; the connection
    times out after 10 seconds and is tested with ``SELECT 1``.

    Parameters
    ----------
    url : str
        The database address (``postgresql://user:password@host:5432/base``).

    Returns
    -------
    sqlalchemy.engine.Engine
        The engine, connected once; dispose of it when done.

    Raises
    ------
    OutputError
        The ``postgis`` extra is not installed, or the connection fails (French message, the
        password masked).
    """
    try:
        import geoalchemy2  # noqa: F401  (geometry types for to_postgis)
        import sqlalchemy
    except ImportError:
        raise OutputError("PostGIS : installez l'extra « postgis » (pip install "
                          "'cpts_geo[postgis]' : SQLAlchemy, GeoAlchemy2, psycopg).") from None
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 10})
        with engine.connect() as con:
            con.execute(sqlalchemy.text("SELECT 1"))
    except Exception as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err) else type(err).__name__
        raise OutputError(f"Connexion à la base PostGIS impossible ({_safe_url(url)}) : {reason}. "
                          "Vérifiez l'adresse, le port, l'utilisateur et le mot de passe ; "
                          "rien n'a été écrit.") from None
    return engine



def _safe_url(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)



def _literal(text: str) -> str:
    """A SQL string literal for DDL (which takes no bound parameters); ``:`` escaped for SQLAlchemy."""
    return "'" + str(text).replace("'", "''").replace(":", "\\:") + "'"



def _ident(name: str) -> str:
    """A SQL identifier, quoted (as a bound parameter's value, e.g. for ``regclass``)."""
    return '"' + str(name).replace('"', '""') + '"'



def _quoted(name: str) -> str:
    """A SQL identifier, quoted, for a statement given to SQLAlchemy's ``text()`` (``:`` escaped)."""
    return _ident(name).replace(":", "\\:")


# The function never names its schema: it reads the table that fired it (TG_TABLE_SCHEMA,
# TG_TABLE_NAME, quoted by format's %I), so that no text given by a user ever enters its body.
_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION {s}.une_commune_une_cpts() RETURNS trigger AS $cpts_geo$
DECLARE n integer; total double precision; whole integer;
BEGIN
  EXECUTE format('SELECT count(*), coalesce(sum(part), 0), count(*) FILTER (WHERE part IS NULL) '
                 'FROM %I.%I WHERE code_insee = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    INTO n, total, whole USING NEW.code_insee;
  IF n > 1 AND whole > 0 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : la commune % est entière dans une CPTS et dans une autre '
      '(déclarez la part de chaque CPTS)', NEW.code_insee USING ERRCODE = 'unique_violation';
  END IF;
  IF total > 1.000001 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : les parts de la commune % dépassent 100 %% (%)',
      NEW.code_insee, total USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $cpts_geo$ LANGUAGE plpgsql
"""

_TRIGGER = """
CREATE CONSTRAINT TRIGGER une_commune_une_cpts AFTER INSERT OR UPDATE ON {s}.appartenance
  FOR EACH ROW EXECUTE FUNCTION {s}.une_commune_une_cpts()
"""



def _membership_from(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    covered = communes[communes["cpts_id"].notna()]
    split = (covered["n_cpts"] > 1 if "n_cpts" in covered.columns
             else covered["cpts_all"].astype("string").str.contains(" ; ", regex=False).fillna(False))
    if bool(split.any()):
        raise ValueError("Des communes sont partagées entre plusieurs CPTS "
                         f"({', '.join(covered.index[split][:5])}) : donnez membership= (la table "
                         "d'appartenance validée) à write_postgis.")
    return pd.DataFrame({"code": covered.index.astype(str), "cpts_id": covered["cpts_id"].astype(str),
                         "share": covered["share"].astype(float)})


# --------------------------------------------------------------------------- what is there


@dataclass
class _Found:
    """Our names found in the schema."""

    schema_exists: bool = False
    #: ``{name: (oid, relkind, marked)}`` of the relations named like ours
    relations: dict[str, tuple[int, str, bool]] = field(default_factory=dict)
    #: ``(oid, marked)`` of the trigger function, when it exists
    function: tuple[int, bool] | None = None
    #: objects not ours (French, with their kind), in the order found
    foreign: list[str] = field(default_factory=list)
    #: names of relations that are ours
    ours: list[str] = field(default_factory=list)
    #: problems of rights (French)
    rights: list[str] = field(default_factory=list)



def _inspect(con: Connection, schema: str) -> _Found:
    """Which of our names exist in ``schema``, whether each is ours, and our rights there."""
    import sqlalchemy

    found = _Found()
    found.schema_exists = bool(con.execute(sqlalchemy.text(
        "SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}).scalar())
    if not found.schema_exists:
        if not con.execute(sqlalchemy.text(
                "SELECT has_database_privilege(current_database(), 'CREATE')")).scalar():
            found.rights.append(f"créer le schéma {schema}")
        return found
    if not con.execute(sqlalchemy.text("SELECT has_schema_privilege(:s, 'CREATE') "
                                       "AND has_schema_privilege(:s, 'USAGE')"), {"s": schema}).scalar():
        found.rights.append(f"créer des tables dans le schéma {schema}")
    indexes = sorted(set().union(*_OWN_INDEXES.values()))
    rows = con.execute(sqlalchemy.text(
        "SELECT c.relname, c.oid, c.relkind, coalesce(obj_description(c.oid, 'pg_class'), ''), "
        "pg_has_role(c.relowner, 'USAGE'), ix.indrelid "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_index ix ON ix.indexrelid = c.oid "
        "WHERE n.nspname = :s AND c.relname = ANY(:names) ORDER BY c.relname"),
        {"s": schema, "names": [*POSTGIS_TABLES, _VIEW, *indexes]}).all()
    for name, oid, kind, comment, owner, _ in rows:
        if name in indexes:
            continue  # judged below, once we know which tables are ours
        expected = "v" if name == _VIEW else "r"
        marked = kind == expected and MARK in comment
        found.relations[name] = (int(oid), kind, marked)
        if marked:
            found.ours.append(name)
            if not owner:
                what = _KINDS.get(kind, "l'objet")
                found.rights.append(f"modifier {what} {schema}.{name} (propriétaire : un autre rôle)")
        else:
            found.foreign.append(_not_ours(kind, f"{schema}.{name}"))
    for name, _, kind, _, _, _ in rows:
        # an index name we would give to a table we are about to create
        table = next((t for t in POSTGIS_TABLES if name in _OWN_INDEXES[t]), None)
        if table is not None and table not in found.relations:
            found.foreign.append(_not_ours(kind, f"{schema}.{name}"))
    func = con.execute(sqlalchemy.text(
        "SELECT p.oid, coalesce(obj_description(p.oid, 'pg_proc'), '') FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s AND p.proname = :f "
        "AND p.pronargs = 0"), {"s": schema, "f": _FUNCTION}).first()
    if func is not None:
        found.function = (int(func[0]), MARK in func[1])
        if not found.function[1]:
            found.foreign.append(_not_ours("fonction", f"{schema}.{_FUNCTION}()"))
    return found



def _refusal(found: _Found, schema: str, replace: bool) -> str | None:
    """Why the write is refused (French), or ``None``."""
    if found.rights:
        return ("PostGIS : droits insuffisants sur le schéma ou la base : impossible de "
                + " ; ".join(found.rights) + ". Demandez ces droits ou choisissez un autre schéma "
                "(--schema) ; rien n'a été écrit.")
    if found.foreign:
        ours = (f" (les objets {', '.join(found.ours)} de ce schéma ont bien été créés par cpts_geo)"
                if found.ours else "")
        return (f"PostGIS : {' ; '.join(found.foreign)} : cpts_geo ne remplace jamais un objet qu'il "
                f"n'a pas créé{ours}. Choisissez un autre schéma (--schema, schema=) ; rien n'a été écrit.")
    if found.ours and not replace:
        tables = [n for n in POSTGIS_TABLES if n in found.ours]
        view = " et la vue zones_blanches" if _VIEW in found.ours else ""
        return (f"PostGIS : les tables {', '.join(tables)}{view} existent déjà dans le schéma {schema} "
                "(créées par cpts_geo) ; relancez avec --remplacer (replace=True) pour en remplacer le "
                "contenu : les vues et les clés étrangères qui s'appuient dessus sont conservées. "
                "Rien n'a été écrit.")
    return None



def check_postgis(url: str, *, schema: str = "cpts", replace: bool = False) -> None:
    """Check that :func:`write_postgis` may write into ``schema``, before anything is computed.

    Connects, and checks the rights to create the schema or tables, that the tables, view and
    function of the same names are ours (:data:`MARK`) and, when they exist, that ``replace``
    is given. What depends on the rows themselves (a user's foreign key to a CPTS that would
    vanish) is checked by :func:`write_postgis`, before it writes.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database``.
    schema : str, default "cpts"
        The schema :func:`write_postgis` will write into.
    replace : bool, default False
        Whether the tables of a previous run may be replaced.

    Returns
    -------
    None
        When the write may go ahead.

    Raises
    ------
    OutputError
        Cannot connect, missing rights, an object of the same name that this package did not
        create, or tables of a previous run without ``replace`` (French message).
    """
    import sqlalchemy

    engine = connect(url)
    try:
        with engine.connect() as con:
            reason = _refusal(_inspect(con, schema), schema, replace)
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise OutputError(f"PostGIS : lecture du schéma {schema} impossible ({_db_reason(err)}).") from None
    finally:
        engine.dispose()
    if reason:
        raise OutputError(reason)


# --------------------------------------------------------------------------- dependents


def _dependents(con: Connection, oid: int, own: set[int], table: str | None,
                attnums: Sequence[int] | None = None) -> list[str]:
    """Objects that depend on relation ``oid`` (on its columns ``attnums`` when given) and that
    this package did not create, as French phrases."""
    import sqlalchemy

    rows = con.execute(sqlalchemy.text(
        "SELECT DISTINCT d.classid::regclass::text, d.objid, d.objsubid, "
        "  CASE WHEN d.classid = 'pg_rewrite'::regclass THEN r.ev_class END, "
        "  coalesce(ic.relname, co.conname, tg.tgname, ''), coalesce(tg.tgisinternal, false), "
        "  coalesce(ix.indrelid, co.conrelid, tg.tgrelid, ad.adrelid) "
        "FROM pg_depend d "
        "LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid "
        "LEFT JOIN pg_class ic ON d.classid = 'pg_class'::regclass AND ic.oid = d.objid "
        "LEFT JOIN pg_index ix ON ix.indexrelid = ic.oid "
        "LEFT JOIN pg_constraint co ON d.classid = 'pg_constraint'::regclass AND co.oid = d.objid "
        "LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid "
        "LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid "
        "WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = :oid AND d.deptype IN ('n', 'a') "
        "AND (CAST(:cols AS int[]) IS NULL OR d.refobjsubid = ANY(CAST(:cols AS int[])))"),
        {"oid": oid, "cols": None if attnums is None else [int(a) for a in attnums]}).all()
    out: list[str] = []
    for classid, objid, objsubid, view, name, internal, on in rows:
        if view is not None:
            if int(view) in own or int(view) == oid:
                continue
            classid, objid, objsubid = "pg_class", view, 0
        elif _ours(classid, name, internal, on, oid, own, table):
            continue
        what = con.execute(sqlalchemy.text(
            "SELECT type, identity FROM pg_identify_object(CAST(:c AS regclass), :o, :s)"),
            {"c": classid, "o": int(objid), "s": int(objsubid)}).one()
        out.append(_french_object(*what))
    return sorted(set(out))



def _ours(classid: str, name: str, internal: bool, on: int | None, oid: int, own: set[int], table: str | None) -> bool:
    """Whether a dependent of our table ``oid`` is one of the objects this package creates."""
    on = None if on is None else int(on)
    if classid == "pg_class":
        return on == oid and name in _OWN_INDEXES.get(table or "", ())
    if classid == "pg_constraint":
        return (on == oid and name in _OWN_CONSTRAINTS.get(table or "", ())) or (
            on in own and name == "appartenance_id_cpts_fkey")
    if classid == "pg_trigger":
        return bool(internal) or (on == oid and name == _FUNCTION)
    return classid in ("pg_attrdef", "pg_type")



def _french_object(kind: str, identity: str) -> str:
    names = {"view": "la vue", "materialized view": "la vue matérialisée", "index": "l'index",
             "table constraint": "la contrainte", "trigger": "le déclencheur", "function": "la fonction",
             "rule": "la règle", "policy": "la politique", "table": "la table", "sequence": "la séquence",
             "statistics object": "l'objet de statistiques", "table column": "la colonne"}
    return f"{names.get(kind, kind)} {identity}"



def _columns(con: Connection, schema: str, name: str) -> dict[str, tuple[int, str]]:
    """``{column: (attnum, type)}`` of a relation."""
    import sqlalchemy

    rows = con.execute(sqlalchemy.text(
        "SELECT attname, attnum, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = CAST(:rel AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"),
        {"rel": f"{_ident(schema)}.{_ident(name)}"}).all()
    return {name: (int(num), kind) for name, num, kind in rows}



def _multi(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Polygons as multipolygons: one geometry type, stable from one write to the next."""
    import shapely

    geom = frame.geometry
    single = (geom.geom_type == "Polygon").to_numpy()
    if not single.any():
        return frame
    values = geom.to_numpy().copy()
    values[single] = shapely.multipolygons(shapely.get_parts(values[single]).reshape(-1, 1))
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(values, index=frame.index, crs=frame.crs)
    return out


# --------------------------------------------------------------------------- writing


def write_postgis(
    url: str,
    territories: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    schema: str = "cpts",
    replace: bool = False,
    membership: pd.DataFrame | None = None,
    validate: bool = True,
) -> dict[str, int]:
    """Write the territories, the communes and their membership into a PostGIS schema.

    Tables ``cpts`` (key ``id_cpts``), ``communes`` (key ``code_insee``) and ``appartenance``
    (``code_insee``, ``id_cpts``, ``part``: empty for a whole commune) with a view
    ``zones_blanches``. Geometries are multipolygons in the metric CRS (Lambert-93 for mainland
    France), with a spatial index. The database itself enforces **one commune, one CPTS**: a
    commune appears at most once as a whole commune (a unique index), and the declared shares
    of a commune split between CPTS never exceed 100 % (a constraint trigger), so that an edit
    made in the database cannot break the rule either.

    Every object created carries :data:`MARK` in its comment. With ``replace=True``, the marked
    tables of a previous run keep their identity: their rows are replaced by key (updated,
    added, removed) and their columns follow the new layers, in one transaction; views,
    foreign keys, grants and indexes that users built on them keep working. The write is
    refused, naming the objects, when a table, view or function of the same name was not
    created by this package, when a user's view or index uses a column that must change type
    or disappear, or when a user's table has rows referring to a CPTS or commune that the new
    registry no longer has. Nothing is ever dropped with ``CASCADE``.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database``.
    territories, communes : GeoDataFrame
        Outputs of :func:`~cpts_geo.domain.territories.build_territories` and
        :func:`~cpts_geo.domain.territories.communes_with_cpts`.
    schema : str, default "cpts"
        Created when missing.
    replace : bool, default False
        Replace the contents of the tables of a previous run (refused otherwise).
    membership : DataFrame, optional
        The validated membership (``CheckedRegistry.membership``: ``code``, ``cpts_id``,
        ``share``); default: from ``communes`` (refused when a commune is shared).
    validate : bool, default True
        Check the membership before writing (one commune, one CPTS; shares ≤ 1).

    Returns
    -------
    dict
        Rows written per table, and the ``srid``.

    Raises
    ------
    OutputError
        Cannot connect, no rights on the schema, tables already there (without ``replace``),
        objects not created by this package, dependent objects that would break, or the
        database refused the rows. Nothing is written then (one transaction).
    """
    import sqlalchemy

    from cpts_geo.domain.text import control_problems
    from cpts_geo.errors import ValidationError

    engine = connect(url)
    try:
        member = _membership_from(communes) if membership is None else membership
        member = pd.DataFrame({"code_insee": member["code"].astype(str).to_numpy(),
                               "id_cpts": member["cpts_id"].astype(str).to_numpy(),
                               "share": pd.to_numeric(member["share"]).astype(float).to_numpy()})
        counts = member.groupby("code_insee")["id_cpts"].transform("size")
        member["part"] = np.where((counts == 1) & (member["share"] >= 1.0), np.nan, member["share"])
        member = member.drop(columns="share")
        if validate:
            problems = []
            for code, grp in member.groupby("code_insee"):
                if len(grp) > 1 and (grp["part"].isna().any() or grp["part"].sum() > 1 + 1e-6):
                    problems.append({"code": code, "problem": "commune dans plusieurs CPTS ("
                                     + ", ".join(grp["id_cpts"]) + ") sans parts déclarées dont la "
                                     "somme fait au plus 100 %"})
            if problems:
                raise ValidationError("Une commune, une CPTS : chevauchements refusés avant l'écriture "
                                      "dans PostGIS", problems)
        layers, _ = layer_tables(territories, communes, crs=None)
        extra = [k for k in layers if k not in ("cpts", "communes", "zones_blanches")]
        if extra:
            raise ValueError("PostGIS : territoires en métropole et outre-mer ; écrivez chaque partie dans "
                             f"son propre schéma (couches {', '.join(extra)}).")
        terr = _multi(layers["cpts"].rename_geometry("geom"))
        com = _multi(layers["communes"].rename_geometry("geom"))
        hidden = [{**p, "problem": f"{name} : {p['problem']}"}
                  for name, frame in (("cpts", terr), ("communes", com), ("appartenance", member))
                  for p in control_problems(pd.DataFrame(frame.drop(columns="geom", errors="ignore")),
                                            np.arange(1, len(frame) + 1))]
        if hidden:  # PostgreSQL refuses a NUL; the others would reach whoever reads the tables
            raise ValidationError("PostGIS : des textes contiennent des caractères de contrôle (NUL, "
                                  "échappement…) ; retirez-les du registre. Rien n'a été écrit.", hidden)
        view_columns = [c for c in layers["zones_blanches"].columns if c != "geometry"] + ["geom"]
        meta = _metadata_text(territories, communes, None, None)
        note = " ; ".join(f"{k} : {v}" for k, v in meta.items())
        srid = terr.crs.to_epsg()
        try:
            with engine.begin() as con:
                refused = _write(con, schema, replace, terr, com, member, view_columns, note)
                if refused:
                    raise _Refused(refused)  # rolls the transaction back
        except _Refused as err:
            raise OutputError(str(err)) from None
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise OutputError(f"PostGIS : écriture refusée par la base ({_db_reason(err)}) ; rien n'a été "
                              "écrit.") from None
        return {"cpts": len(terr), "communes": len(com), "appartenance": len(member), "srid": srid}
    finally:
        engine.dispose()



class _Refused(Exception):
    """A refusal found inside the transaction (rolled back)."""



def _write(con: Connection, schema: str, replace: bool, terr: gpd.GeoDataFrame, com: gpd.GeoDataFrame,
           member: pd.DataFrame, view_columns: list[str], note: str) -> str | None:
    """Everything :func:`write_postgis` does in its transaction; the refusal (French) if any, in
    which case the caller rolls back."""
    s = _quoted(schema)
    found = _inspect(con, schema)
    refused = _refusal(found, schema, replace)
    if refused:
        return refused
    _execute(con, f"CREATE SCHEMA IF NOT EXISTS {s}")
    existing = [n for n in POSTGIS_TABLES if n in found.ours]
    if existing:  # nobody else writes them until we commit
        _execute(con, f"LOCK TABLE {', '.join(f'{s}.{_quoted(n)}' for n in existing)} IN SHARE ROW EXCLUSIVE MODE")
    own = {found.relations[n][0] for n in found.ours}
    rows = [{"c": c, "i": i, "p": None if pd.isna(p) else float(p)}
            for c, i, p in member[["code_insee", "id_cpts", "part"]].itertuples(index=False)]
    staged = _stage(con, existing, terr, com, rows)

    # ---- everything that could refuse, before the first change
    plans, problems = _replacement_problems(con, schema, found, existing, staged, own)
    view_changes = _VIEW not in found.ours
    if _VIEW in found.ours:
        old_view = _columns(con, schema, _VIEW)
        com_new = _columns(con, "pg_temp", staged["communes"]) if "communes" in staged else {}
        view_changes = "communes" not in staged or list(old_view) != view_columns or any(
            com_new.get(c, (0, None))[1] != kind for c, (_, kind) in old_view.items())
        if view_changes:
            users = _dependents(con, found.relations[_VIEW][0], own, _VIEW)
            if users:
                problems.append(f"{', '.join(users)} s'appuie{'nt' if len(users) > 1 else ''} sur la vue "
                                f"{schema}.{_VIEW}, dont les colonnes changent")
    if problems:
        return ("PostGIS : remplacement refusé, pour ne rien casser de ce qui n'a pas été créé par "
                "cpts_geo : " + " ; ".join(problems) + ". Supprimez ou adaptez ces objets, ou écrivez "
                "dans un autre schéma (--schema) ; rien n'a été écrit.")

    # ---- the changes
    if _VIEW in found.ours and view_changes:
        _execute(con, f"DROP VIEW {s}.{_quoted(_VIEW)}")  # ours, nothing else on it (checked): no CASCADE
    if "appartenance" in existing:
        _execute(con, f"DELETE FROM {s}.appartenance a WHERE NOT EXISTS (SELECT 1 FROM "
                 "pg_temp._cpts_geo_appartenance n WHERE n.code_insee = a.code_insee AND n.id_cpts = a.id_cpts)")
    for name, frame in (("cpts", terr), ("communes", com)):
        table = f"{s}.{_quoted(name)}"
        if name not in existing:
            frame.to_postgis(name, con, schema=schema, index=False)
            _execute(con, f"ALTER TABLE {table} ADD PRIMARY KEY ({_quoted(_KEYS[name][0])})")
            continue
        _replace_rows(con, table, _columns(con, "pg_temp", staged[name]), f"pg_temp.{_quoted(staged[name])}",
                      _KEYS[name], *plans[name])
        if "geom" in plans[name][1]:  # a new geometry column (another CRS): its spatial index again
            _execute(con, f"CREATE INDEX IF NOT EXISTS {_quoted(f'idx_{name}_geom')} ON {table} USING gist (geom)")
    _write_membership(con, schema, "appartenance" in existing, rows)
    if view_changes:
        cols = ", ".join(f"c.{_quoted(c)}" for c in view_columns)
        _execute(con, f"CREATE VIEW {s}.{_quoted(_VIEW)} AS SELECT {cols} FROM {s}.communes c WHERE NOT EXISTS "
                 f"(SELECT 1 FROM {s}.appartenance a WHERE a.code_insee = c.code_insee)")
    for name in staged:
        if name != "appartenance":
            _execute(con, f"DROP TABLE pg_temp.{_quoted(staged[name])}")  # our own temporary table
    _comment(con, s, note, terr, com)
    return None



def _execute(con: Connection, sql: str,
             params: Mapping[str, object] | Sequence[Mapping[str, object]] | None = None) -> CursorResult:
    """Run one SQL statement (with its parameters, or a list of them) on ``con``."""
    import sqlalchemy

    return con.execute(sqlalchemy.text(sql), params or {})



def _stage(con: Connection, existing: list[str], terr: gpd.GeoDataFrame, com: gpd.GeoDataFrame,
           rows: list[dict]) -> dict[str, str]:
    """The new rows of each of our tables that exists already, staged in temporary tables of this
    session (dropped at commit): ``{table: temporary table}``."""
    staged = {}
    for name, frame in (("cpts", terr), ("communes", com)):
        if name in existing:
            staged[name] = f"_cpts_geo_{name}"
            frame.to_postgis(staged[name], con, schema="pg_temp", index=False)
    if "appartenance" in existing:
        staged["appartenance"] = "_cpts_geo_appartenance"
        _execute(con, "CREATE TEMPORARY TABLE _cpts_geo_appartenance (code_insee text, id_cpts text, "
                 "part double precision) ON COMMIT DROP")
        if rows:
            _execute(con, "INSERT INTO pg_temp._cpts_geo_appartenance VALUES (:c, :i, :p)", rows)
    return staged



def _replacement_problems(con: Connection, schema: str, found: _Found, existing: list[str], staged: dict[str, str],
                          own: set[int]) -> tuple[dict[str, tuple[list[str], list[str]]], list[str]]:
    """The columns to drop and add in each of our tables, and what replacing their rows would
    break of what the package did not create (French phrases): a key changing type, users'
    objects on a column that changes, users' foreign keys to rows that go."""
    plans: dict[str, tuple[list[str], list[str]]] = {}
    problems: list[str] = []
    for name in existing:
        old = _columns(con, schema, name)
        new = _columns(con, "pg_temp", staged[name])
        drop = [c for c, (_, kind) in old.items() if c not in new or new[c][1] != kind]
        add = [c for c, (_, kind) in new.items() if c not in old or old[c][1] != kind]
        if set(_KEYS[name]) & set(drop):
            problems.append(f"la clé de la table {schema}.{name} n'a plus le type attendu")
        plans[name] = (drop, add)
        if drop:
            users = _dependents(con, found.relations[name][0], own, name, [old[c][0] for c in drop])
            if users:
                used = [c for c in drop if _dependents(con, found.relations[name][0], own, name, [old[c][0]])]
                columns = (f"les colonnes {', '.join(used)} de {schema}.{name}, qui changent de type ou "
                           "disparaissent" if len(used) > 1 else f"la colonne {used[0]} de {schema}.{name}, "
                           "qui change de type ou disparaît")
                problems.append(f"{', '.join(users)} utilise{'nt' if len(users) > 1 else ''} {columns}")
        problems += _lost_references(con, found.relations[name][0], own, schema, name, staged[name])
    return plans, problems



def _write_membership(con: Connection, schema: str, existed: bool, rows: list[dict]) -> None:
    """The table ``appartenance``: created with its checks (one whole commune per CPTS, shares
    up to 100 %) or its rows updated from the staged ones."""
    s = _quoted(schema)
    if not existed:
        _execute(con, f"CREATE TABLE {s}.appartenance (code_insee text NOT NULL, id_cpts text NOT NULL "
                 f"REFERENCES {s}.cpts (id_cpts) ON UPDATE CASCADE ON DELETE CASCADE, "
                 "part double precision CHECK (part > 0 AND part <= 1), "
                 "PRIMARY KEY (code_insee, id_cpts))")
    _execute(con, f"CREATE UNIQUE INDEX IF NOT EXISTS appartenance_commune_entiere ON {s}.appartenance (code_insee) "
             "WHERE part IS NULL")
    _execute(con, _TRIGGER_FUNCTION.format(s=s))
    if not _execute(con, "SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND tgname = :n",
                    {"t": f"{_ident(schema)}.appartenance", "n": _FUNCTION}).scalar():
        _execute(con, _TRIGGER.format(s=s))
    if existed:
        _execute(con, f"UPDATE {s}.appartenance a SET part = n.part FROM pg_temp._cpts_geo_appartenance n "
                 "WHERE n.code_insee = a.code_insee AND n.id_cpts = a.id_cpts AND a.part IS DISTINCT FROM n.part")
        _execute(con, f"INSERT INTO {s}.appartenance (code_insee, id_cpts, part) SELECT n.code_insee, n.id_cpts, "
                 f"n.part FROM pg_temp._cpts_geo_appartenance n WHERE NOT EXISTS (SELECT 1 FROM "
                 f"{s}.appartenance a WHERE a.code_insee = n.code_insee AND a.id_cpts = n.id_cpts)")
    elif rows:
        _execute(con, f"INSERT INTO {s}.appartenance (code_insee, id_cpts, part) VALUES (:c, :i, :p)", rows)



def _comment(con: Connection, s: str, note: str, terr: gpd.GeoDataFrame, com: gpd.GeoDataFrame) -> None:
    """The comments of what we wrote in schema ``s`` (quoted): what each object is, its sources,
    and our mark."""
    for name, desc in (("cpts", _DESCRIPTIONS["cpts"]), ("communes", _DESCRIPTIONS["communes"]),
                       ("appartenance", "Une ligne par commune et CPTS ; part vide = commune entière")):
        _execute(con, f"COMMENT ON TABLE {s}.{name} IS {_literal(f'{desc} — {note} {MARK}')}")
    _execute(con, f"COMMENT ON VIEW {s}.{_VIEW} IS {_literal(_DESCRIPTIONS['zones_blanches'] + ' ' + MARK)}")
    _execute(con, f"COMMENT ON FUNCTION {s}.{_FUNCTION}() IS "
             f"{_literal('Une commune, une CPTS : refuse une commune entière dans deux CPTS ou des parts au-delà de 100 % ' + MARK)}")
    for name, frame in (("cpts", terr), ("communes", com)):
        for col in frame.columns:
            if col in FIELD_ALIASES:
                _execute(con, f"COMMENT ON COLUMN {s}.{name}.{_quoted(col)} IS {_literal(FIELD_ALIASES[col])}")



def _replace_rows(con: Connection, table: str, new: dict[str, tuple[int, str]], staged: str, key: tuple[str, ...],
                  drop: list[str], add: list[str]) -> None:
    """Make ``table`` hold the rows of ``staged``: columns dropped and added as planned, rows
    updated, inserted and deleted by ``key``; the table itself stays."""
    import sqlalchemy

    def run(sql: str) -> None:
        con.execute(sqlalchemy.text(sql))

    for col in drop:
        run(f"ALTER TABLE {table} DROP COLUMN {_quoted(col)}")  # no CASCADE: dependents were checked
    for col in add:
        run(f"ALTER TABLE {table} ADD COLUMN {_quoted(col)} {new[col][1]}")
    cols = list(new)
    names = ", ".join(_quoted(c) for c in cols)
    keys = ", ".join(_quoted(k) for k in key)
    match = " AND ".join(f"n.{_quoted(k)} = t.{_quoted(k)}" for k in key)
    run(f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM {staged} n WHERE {match})")
    updates = ", ".join(f"{_quoted(c)} = EXCLUDED.{_quoted(c)}" for c in cols if c not in key)
    run(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staged} ON CONFLICT ({keys}) "
        + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING"))



def _lost_references(con: Connection, oid: int, own: set[int], schema: str, name: str, staged: str) -> list[str]:
    """Users' foreign keys to table ``oid`` whose rows point to keys the new rows no longer have."""
    import sqlalchemy

    fks = con.execute(sqlalchemy.text(
        "SELECT co.conname, co.conrelid, (SELECT n.nspname || '.' || c.relname FROM pg_class c "
        "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = co.conrelid), "
        "  (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
        "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = co.conrelid), "
        "  array(SELECT a.attname FROM unnest(co.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a "
        "        ON a.attrelid = co.conrelid AND a.attnum = k.n ORDER BY k.i), "
        "  array(SELECT a.attname FROM unnest(co.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a "
        "        ON a.attrelid = co.confrelid AND a.attnum = k.n ORDER BY k.i) "
        "FROM pg_constraint co WHERE co.contype = 'f' AND co.confrelid = :oid"), {"oid": oid}).all()
    out = []
    what = {"cpts": "des CPTS", "communes": "des communes", "appartenance": "des lignes d'appartenance"}
    for conname, relid, relation, quoted, local, remote in fks:
        if int(relid) in own:
            continue
        match = " AND ".join(f"n.{_quoted(r)} = u.{_quoted(c)}" for c, r in zip(local, remote, strict=True))
        filled = " AND ".join(f"u.{_quoted(c)} IS NOT NULL" for c in local)
        lost = con.execute(sqlalchemy.text(
            f"SELECT count(*) FROM {quoted.replace(':', chr(92) + ':')} u WHERE {filled} AND NOT EXISTS "
            f"(SELECT 1 FROM pg_temp.{_quoted(staged)} n WHERE {match})")).scalar()
        if lost:
            out.append(f"la table {relation} (clé étrangère {conname}) a {lost} ligne(s) qui renvoient à "
                       f"{what[name]} absentes du nouveau registre ({schema}.{name})")
    return out



def _db_reason(err: BaseException) -> str:
    orig = getattr(err, "orig", err)
    if getattr(orig, "sqlstate", None) == "42501":
        return "droits insuffisants sur le schéma ou la base : " + str(orig).strip().splitlines()[0]
    diag = getattr(orig, "diag", None)
    text = str((diag and diag.message_primary) or orig)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__



def read_postgis_registry(url: str, *, schema: str = "cpts") -> pd.DataFrame:
    """Read back a registry written by :func:`write_postgis` (one row per commune and CPTS).

    Columns ``cpts_id``, ``name``, ``stage``, ``commune_code``, ``share`` (empty for a whole
    commune), ordered by CPTS then commune; :func:`cpts_geo.io.registry.read_registry` reads
    ``postgresql://…`` URLs through it.

    Parameters
    ----------
    url : str
        A ``postgresql://`` URL (SQLAlchemy, driver psycopg).
    schema : str, default "cpts"
        The schema written by :func:`write_postgis`.

    Returns
    -------
    DataFrame
        The registry, ready for :func:`cpts_geo.domain.registry.validate_registry`.

    Raises
    ------
    OutputError
        The database cannot be reached or the schema has no registry (French message).
    """
    import sqlalchemy

    engine = connect(url)
    s = _quoted(schema)
    try:
        with engine.connect() as con:
            frame = pd.read_sql(sqlalchemy.text(
                f"SELECT a.id_cpts AS cpts_id, c.nom AS name, c.etape AS stage, a.code_insee AS "
                f"commune_code, a.part AS share FROM {s}.appartenance a JOIN {s}.cpts c USING (id_cpts) "
                "ORDER BY a.id_cpts, a.code_insee"), con)
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise OutputError(f"PostGIS : lecture du registre dans le schéma {schema} impossible "
                          f"({_db_reason(err)}).") from None
    finally:
        engine.dispose()
    frame["stage"] = frame["stage"].where(frame["stage"] != NO_STAGE)
    frame["share"] = frame["share"].astype(object).where(frame["share"].notna(), None)
    return frame
