"""Writing territories to PostgreSQL/PostGIS, and reading a registry back from it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from cpts_geo.io.formats import OutputError
from cpts_geo.io.layers import _DESCRIPTIONS, FIELD_ALIASES, NO_STAGE, _metadata_text, layer_tables

__all__ = [
    "read_postgis_registry",
    "write_postgis",
]

# --------------------------------------------------------------------------- PostGIS

#: Table names written in the PostGIS schema.
POSTGIS_TABLES = ("cpts", "communes", "appartenance")



def connect(url: str):
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



def _quoted(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


_TRIGGER = """
CREATE OR REPLACE FUNCTION {s}.une_commune_une_cpts() RETURNS trigger AS $$
DECLARE n integer; total double precision; whole integer;
BEGIN
  SELECT count(*), coalesce(sum(part), 0), count(*) FILTER (WHERE part IS NULL)
    INTO n, total, whole FROM {s}.appartenance WHERE code_insee = NEW.code_insee;
  IF n > 1 AND whole > 0 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : la commune % est entière dans une CPTS et dans une autre '
      '(déclarez la part de chaque CPTS)', NEW.code_insee USING ERRCODE = 'unique_violation';
  END IF;
  IF total > 1.000001 THEN
    RAISE EXCEPTION 'Une commune, une CPTS : les parts de la commune % dépassent 100 %% (%)',
      NEW.code_insee, total USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER une_commune_une_cpts AFTER INSERT OR UPDATE ON {s}.appartenance
  FOR EACH ROW EXECUTE FUNCTION {s}.une_commune_une_cpts();
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
    ``zones_blanches``. Geometries are in the metric CRS (Lambert-93 for mainland France), with
    a spatial index. The database itself enforces **one commune, one CPTS**: a commune appears
    at most once as a whole commune (a unique index), and the declared shares of a commune
    split between CPTS never exceed 100 % (a constraint trigger), so that an edit made in the
    database cannot break the rule either.

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
        Replace the tables when they exist (refused otherwise).
    membership : DataFrame, optional
        The validated membership (``CheckedRegistry.membership``: ``code``, ``cpts_id``,
        ``share``); default: from ``communes`` (refused when a commune is shared).
    validate : bool, default True
        Check the membership before writing (one commune, one CPTS; shares ≤ 1).

    Returns
    -------
    dict
        Rows written per table.

    Raises
    ------
    OutputError
        Cannot connect, no rights on the schema, tables already there (without ``replace``),
        or the database refused the rows. Nothing is written then (one transaction).
    """
    import sqlalchemy

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
        terr, com = layers["cpts"], layers["communes"]
        s = _quoted(schema)
        inspector = sqlalchemy.inspect(engine)
        try:
            schemas = inspector.get_schema_names()
            existing = set(inspector.get_table_names(schema=schema)) if schema in schemas else set()
            existing |= set(inspector.get_view_names(schema=schema)) if schema in schemas else set()
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise OutputError(f"PostGIS : lecture du schéma {schema} impossible ({_db_reason(err)}).") from None
        there = sorted(existing & {*POSTGIS_TABLES, "zones_blanches"})
        if there and not replace:
            raise OutputError(f"PostGIS : les tables {', '.join(there)} existent déjà dans le schéma "
                              f"{schema} ; relancez avec --remplacer (replace=True) pour les remplacer. "
                              "Rien n'a été écrit.")
        srid = terr.crs.to_epsg()
        try:
            with engine.begin() as con:
                con.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {s}"))
                for name in ("zones_blanches",):
                    con.execute(sqlalchemy.text(f"DROP VIEW IF EXISTS {s}.{name}"))
                for name in reversed(POSTGIS_TABLES):
                    con.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {s}.{_quoted(name)} CASCADE"))
                terr.rename_geometry("geom").to_postgis("cpts", con, schema=schema, index=False)
                com.rename_geometry("geom").to_postgis("communes", con, schema=schema, index=False)
                con.execute(sqlalchemy.text(f"ALTER TABLE {s}.cpts ADD PRIMARY KEY (id_cpts)"))
                con.execute(sqlalchemy.text(f"ALTER TABLE {s}.communes ADD PRIMARY KEY (code_insee)"))
                con.execute(sqlalchemy.text(
                    f"CREATE TABLE {s}.appartenance (code_insee text NOT NULL, id_cpts text NOT NULL "
                    f"REFERENCES {s}.cpts (id_cpts) ON UPDATE CASCADE ON DELETE CASCADE, "
                    "part double precision CHECK (part > 0 AND part <= 1), "
                    "PRIMARY KEY (code_insee, id_cpts))"))
                con.execute(sqlalchemy.text(
                    f"CREATE UNIQUE INDEX appartenance_commune_entiere ON {s}.appartenance (code_insee) "
                    "WHERE part IS NULL"))
                con.execute(sqlalchemy.text(_TRIGGER.format(s=s)))
                rows = [{"c": c, "i": i, "p": None if pd.isna(p) else float(p)}
                        for c, i, p in member[["code_insee", "id_cpts", "part"]].itertuples(index=False)]
                if rows:
                    con.execute(sqlalchemy.text(f"INSERT INTO {s}.appartenance (code_insee, id_cpts, part) "
                                                "VALUES (:c, :i, :p)"), rows)
                cols = ", ".join(f"c.{_quoted(c)}" for c in layers["zones_blanches"].columns
                                 if c != "geometry") + ", c.geom"
                con.execute(sqlalchemy.text(
                    f"CREATE VIEW {s}.zones_blanches AS SELECT {cols} FROM {s}.communes c WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {s}.appartenance a WHERE a.code_insee = c.code_insee)"))
                meta = _metadata_text(territories, communes, None, None)
                note = " ; ".join(f"{k} : {v}" for k, v in meta.items())
                for name, desc in (("cpts", _DESCRIPTIONS["cpts"]), ("communes", _DESCRIPTIONS["communes"]),
                                   ("appartenance", "Une ligne par commune et CPTS ; part vide = commune "
                                                    "entière")):
                    con.execute(sqlalchemy.text(f"COMMENT ON TABLE {s}.{name} IS {_literal(desc + ' — ' + note)}"))
                for name, frame in (("cpts", terr), ("communes", com)):
                    for col in frame.columns:
                        if col in FIELD_ALIASES:
                            con.execute(sqlalchemy.text(
                                f"COMMENT ON COLUMN {s}.{name}.{_quoted(col)} IS {_literal(FIELD_ALIASES[col])}"))
        except sqlalchemy.exc.SQLAlchemyError as err:
            raise OutputError(f"PostGIS : écriture refusée par la base ({_db_reason(err)}) ; rien n'a été "
                              "écrit.") from None
        return {"cpts": len(terr), "communes": len(com), "appartenance": len(member), "srid": srid}
    finally:
        engine.dispose()



def _db_reason(err) -> str:
    orig = getattr(err, "orig", err)
    if getattr(orig, "sqlstate", None) == "42501":
        return "droits insuffisants sur le schéma ou la base : " + str(orig).strip().splitlines()[0]
    text = str((getattr(orig, "diag", None) and orig.diag.message_primary) or orig)
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
