"""PostGIS: write the territories, read the registry back, and let the database itself keep
"one commune, one CPTS". Runs against a real PostgreSQL + PostGIS (see postgis_server.py);
skips with the reason when there is none. No mock of the database."""

from __future__ import annotations

import os
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("geoalchemy2")
pytest.importorskip("psycopg")

import sqlalchemy

from cpts_geo.cli import main
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.errors import ValidationError
from cpts_geo.io.formats import OutputError
from cpts_geo.io.postgis import write_postgis
from cpts_geo.io.registry import load_example_registry, read_registry_report


@pytest.fixture(scope="session")
def server():
    url = os.environ.get("CPTS_GEO_TEST_POSTGIS")
    if url:
        yield url
        return
    from postgis_server import start

    started = start()
    if isinstance(started, str):
        pytest.skip(started)
    url, stop = started
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def db(server):
    """A fresh database with PostGIS, dropped afterwards."""
    name = f"cpts_test_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(server.replace("postgresql://", "postgresql+psycopg://"),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    base, _, _ = server.rpartition("/")
    url = f"{base}/{name}"
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as con:
        con.execute(sqlalchemy.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as con:
            con.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def example(hdf_communes):
    checked = validate_registry(load_example_registry(), hdf_communes)
    return checked, build_territories(checked, hdf_communes), communes_with_cpts(checked, hdf_communes)


def _tables(engine, schema="cpts"):
    return set(sqlalchemy.inspect(engine).get_table_names(schema=schema))


def test_round_trip_and_registry_read_back(db, example, hdf_communes):
    url, engine = db
    checked, terr, layer = example
    rows = write_postgis(url, terr, layer, membership=checked.membership)
    assert rows["srid"] == 2154
    assert rows["cpts"] == 59
    assert _tables(engine) == {"cpts", "communes", "appartenance"}
    back = gpd.read_postgis("SELECT * FROM cpts.cpts ORDER BY id_cpts", engine, geom_col="geom")
    assert back.crs.to_epsg() == 2154
    back = back.set_index("id_cpts").loc[terr.index]
    np.testing.assert_allclose(back.geometry.area / 1e6, terr["area_km2"], rtol=1e-6)
    np.testing.assert_allclose(back["surf_km2"], terr["area_km2"], rtol=1e-12)
    assert back["nom"].tolist() == terr["name"].tolist()
    assert back["etape"].tolist() == terr["stage"].astype(str).tolist()
    assert back["population"].tolist() == terr["population"].tolist()
    with engine.connect() as con:
        index = con.execute(sqlalchemy.text(
            "SELECT indexdef FROM pg_indexes WHERE schemaname='cpts' AND tablename='cpts'")).scalars().all()
        pk = con.execute(sqlalchemy.text(
            "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema='cpts' "
            "AND constraint_type='PRIMARY KEY'")).scalar()
        blank = con.execute(sqlalchemy.text("SELECT count(*) FROM cpts.zones_blanches")).scalar()
    assert any("gist" in i.lower() for i in index)
    assert pk == 3
    assert blank == int((~layer["covered"]).sum())
    # the registry read back from the database gives the same territories
    read = read_registry_report(url)
    reg = read.registry
    assert len(reg) == len(checked.membership)
    assert read.source == "PostGIS"
    again = build_territories(reg, hdf_communes)
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")),
                                  pd.DataFrame(terr.drop(columns="geometry")), check_like=True)


def test_existing_tables_refused_unless_replace(db, example):
    url, engine = db
    checked, terr, layer = example
    write_postgis(url, terr, layer, membership=checked.membership)
    with pytest.raises(OutputError, match=r"existent déjà.*--remplacer"):
        write_postgis(url, terr.iloc[:3], layer, membership=checked.membership)
    with engine.connect() as con:
        assert con.execute(sqlalchemy.text("SELECT count(*) FROM cpts.cpts")).scalar() == 59
    small = checked.membership[checked.membership["cpts_id"].isin(terr.index[:3])]
    write_postgis(url, terr.iloc[:3], layer, membership=small, replace=True)
    with engine.connect() as con:
        assert con.execute(sqlalchemy.text("SELECT count(*) FROM cpts.cpts")).scalar() == 3


def test_cannot_connect_french_and_nothing_written(tmp_path, capsys):
    with pytest.raises(OutputError, match="Connexion à la base PostGIS impossible"):
        write_postgis("postgresql://personne:secret@127.0.0.1:1/base", gpd.GeoDataFrame(),
                      gpd.GeoDataFrame({"cpts_id": [], "cpts_all": []}))
    out = tmp_path / "t.gpkg"
    code = main(["territoires", "--departements", "80", "-o", str(out),
                 "--postgis", "postgresql://personne:secret@127.0.0.1:1/base"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Connexion à la base PostGIS impossible" in err
    assert "Traceback" not in err
    assert "secret" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_schema_without_rights(db, example):
    url, engine = db
    checked, terr, layer = example
    with engine.begin() as con:
        con.execute(sqlalchemy.text("CREATE ROLE lecteur LOGIN"))
        con.execute(sqlalchemy.text("CREATE SCHEMA ferme"))
        con.execute(sqlalchemy.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    reader = url.replace("postgres@", "lecteur@")
    with pytest.raises(OutputError, match="droits insuffisants"):
        write_postgis(reader, terr, layer, schema="ferme", membership=checked.membership)
    with pytest.raises(OutputError, match="droits insuffisants"):
        write_postgis(reader, terr, layer, schema="nouveau", membership=checked.membership)
    assert _tables(engine, "ferme") == set()


def test_overlap_refused_by_validation_and_by_the_database(db, example, hdf_communes):
    url, engine = db
    checked, terr, layer = example
    member = checked.membership
    code = member["code"].iloc[0]
    other = next(c for c in terr.index if c != member["cpts_id"].iloc[0])
    overlapping = pd.concat([member, pd.DataFrame({"code": [code], "cpts_id": [other], "share": [1.0]})])
    # our validation, on the registry and on the membership given to the writer
    reg = load_example_registry()
    extra = reg.iloc[[0]].copy()
    extra["cpts_id"], extra["commune_code"] = other, code
    with pytest.raises(ValidationError, match=r"chevauch|plusieurs CPTS"):
        validate_registry(pd.concat([reg, extra], ignore_index=True), hdf_communes)
    with pytest.raises(ValidationError, match="Une commune, une CPTS"):
        write_postgis(url, terr, layer, membership=overlapping)
    assert _tables(engine) == set()
    # validation bypassed: the database refuses, and nothing is written
    with pytest.raises(OutputError, match=r"refusée par la base.*Une commune, une CPTS"):
        write_postgis(url, terr, layer, membership=overlapping, validate=False)
    assert _tables(engine) == set()
    # shares over 100 % refused too
    shares = pd.concat([member[member["code"] != code],
                        pd.DataFrame({"code": [code, code], "cpts_id": [member["cpts_id"].iloc[0], other],
                                      "share": [0.7, 0.6]})])
    with pytest.raises(OutputError, match="dépassent 100"):
        write_postgis(url, terr, layer, membership=shares, validate=False)
    # a hand edit in the database cannot break the rule either
    write_postgis(url, terr, layer, membership=member)
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as con:
        con.execute(sqlalchemy.text("INSERT INTO cpts.appartenance VALUES (:c, :i, NULL)"),
                    {"c": code, "i": other})
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as con:
        con.execute(sqlalchemy.text("INSERT INTO cpts.appartenance VALUES (:c, :i, 0.5)"),
                    {"c": code, "i": other})
    # a declared split is accepted: 60 % + 40 %
    with engine.begin() as con:
        con.execute(sqlalchemy.text("UPDATE cpts.appartenance SET part = 0.6 WHERE code_insee = :c"),
                    {"c": code})
        con.execute(sqlalchemy.text("INSERT INTO cpts.appartenance VALUES (:c, :i, 0.4)"),
                    {"c": code, "i": other})


@pytest.mark.slow
def test_cli_territoires_postgis(db, tmp_path, capsys):
    url, _engine = db
    out = tmp_path / "t.gpkg"
    assert main(["territoires", "-o", str(out), "--postgis", url, "--schema", "hdf"]) == 0
    assert "PostGIS : schéma hdf, 59 CPTS" in capsys.readouterr().out
    assert main(["territoires", "-o", str(out), "--postgis", url, "--schema", "hdf"]) == 1
    assert "--remplacer" in capsys.readouterr().err
    assert main(["territoires", "-o", str(out), "--postgis", url, "--schema", "hdf", "--remplacer"]) == 0
    assert main(["valider", f"{url}"]) in (0, 2)


# --------------------------------------------------------------------------- never destroy what is not ours


def _count(engine, sql):
    with engine.connect() as con:
        return con.execute(sqlalchemy.text(sql)).scalar()


def test_replace_keeps_a_users_view_and_foreign_key(db, example):
    url, engine = db
    checked, terr, layer = example
    write_postgis(url, terr, layer, membership=checked.membership)
    kept = terr.index[0]
    with engine.begin() as con:
        con.execute(sqlalchemy.text(
            "CREATE VIEW public.grandes_cpts AS SELECT id_cpts, nom, population FROM cpts.cpts "
            "WHERE population > 100000"))
        con.execute(sqlalchemy.text(
            "CREATE TABLE public.visites (n serial PRIMARY KEY, id_cpts text REFERENCES cpts.cpts (id_cpts))"))
        con.execute(sqlalchemy.text("INSERT INTO public.visites (id_cpts) VALUES (:i), (NULL)"), {"i": kept})
    big = _count(engine, "SELECT count(*) FROM public.grandes_cpts")
    write_postgis(url, terr, layer, membership=checked.membership, replace=True)
    # the view still answers, the foreign key is still there and still enforced, the rows stayed
    assert _count(engine, "SELECT count(*) FROM public.grandes_cpts") == big > 0
    assert _count(engine, "SELECT count(*) FROM public.visites") == 2
    assert _count(engine, "SELECT count(*) FROM information_schema.table_constraints WHERE "
                          "table_name = 'visites' AND constraint_type = 'FOREIGN KEY'") == 1
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as con:
        con.execute(sqlalchemy.text("INSERT INTO public.visites (id_cpts) VALUES ('pas une CPTS')"))
    assert _count(engine, "SELECT count(*) FROM cpts.cpts") == 59
    assert _count(engine, "SELECT count(*) FROM cpts.zones_blanches") == int((~layer["covered"]).sum())
    # a smaller registry: its rows replace the old ones, the rest of the database untouched
    keep = terr.index[:3]
    small = checked.membership[checked.membership["cpts_id"].isin(keep)]
    write_postgis(url, terr.loc[keep], layer, membership=small, replace=True)
    assert _count(engine, "SELECT count(*) FROM cpts.cpts") == 3
    assert _count(engine, "SELECT count(*) FROM cpts.appartenance") == len(small)
    assert _count(engine, "SELECT count(*) FROM public.visites") == 2
    # a registry without the CPTS the user's rows refer to: refused by name, nothing written
    others = checked.membership[checked.membership["cpts_id"].isin(terr.index[1:3])]
    with pytest.raises(OutputError, match=r"public\.visites.*visites_id_cpts_fkey.*1 ligne.*rien n'a été écrit"):
        write_postgis(url, terr.loc[terr.index[1:3]], layer, membership=others, replace=True)
    assert _count(engine, "SELECT count(*) FROM cpts.cpts") == 3
    assert _count(engine, "SELECT count(*) FROM public.visites") == 2


def test_replace_refuses_to_break_a_users_view_on_a_column(db, example):
    url, engine = db
    checked, terr, layer = example
    write_postgis(url, terr, layer, membership=checked.membership)
    with engine.begin() as con:
        con.execute(sqlalchemy.text("CREATE VIEW public.surfaces AS SELECT id_cpts, surf_km2 FROM cpts.cpts"))
    fewer = terr.drop(columns="area_km2")  # the new layer has no surf_km2
    with pytest.raises(OutputError, match=r"la vue public\.surfaces.*surf_km2.*rien n'a été écrit"):
        write_postgis(url, fewer, layer, membership=checked.membership, replace=True)
    assert _count(engine, "SELECT count(*) FROM public.surfaces") == 59
    # without the user's view, the column goes
    with engine.begin() as con:
        con.execute(sqlalchemy.text("DROP VIEW public.surfaces"))
    write_postgis(url, fewer, layer, membership=checked.membership, replace=True)
    assert _count(engine, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'cpts' "
                          "AND table_name = 'cpts' AND column_name = 'surf_km2'") == 0


def test_a_users_same_named_table_is_never_replaced(db, example, tmp_path, capsys):
    url, engine = db
    checked, terr, layer = example
    with engine.begin() as con:
        con.execute(sqlalchemy.text("CREATE TABLE public.communes (insee char(5), habitants int)"))
        con.execute(sqlalchemy.text("INSERT INTO public.communes VALUES ('80021', 130000)"))
    for replace in (False, True):
        with pytest.raises(OutputError, match=r"la table public\.communes existe déjà et n'a pas été créée "
                                              r"par cpts_geo.*rien n'a été écrit"):
            write_postgis(url, terr, layer, schema="public", membership=checked.membership, replace=replace)
    assert _count(engine, "SELECT habitants FROM public.communes") == 130000
    assert _tables(engine, "public") == {"communes", "spatial_ref_sys"}
    # the CLI says the same, before computing or writing any file
    out = tmp_path / "sorties" / "t.gpkg"
    assert main(["territoires", "-o", str(out), "--postgis", url, "--schema", "public", "--remplacer"]) == 1
    assert "public.communes existe déjà et n'a pas été créée par cpts_geo" in capsys.readouterr().err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.slow
def test_cli_territoires_writes_files_and_database_whole_or_not_at_all(db, tmp_path, capsys):
    url, engine = db
    out = tmp_path / "t.gpkg"
    assert main(["territoires", "-o", str(out), "--postgis", url]) == 0
    capsys.readouterr()
    reg = load_example_registry()
    first, second = sorted(reg["cpts_id"].unique())[:2]
    with engine.begin() as con:
        con.execute(sqlalchemy.text("CREATE TABLE public.actions (id_cpts text REFERENCES cpts.cpts (id_cpts))"))
        con.execute(sqlalchemy.text("INSERT INTO public.actions VALUES (:i)"), {"i": first})
    smaller = tmp_path / "registre.csv"
    reg[reg["cpts_id"] == second].to_csv(smaller, sep=";", index=False)
    new = tmp_path / "nouveau" / "t.gpkg"
    code = main(["territoires", str(smaller), "-o", str(new), "--tableau", str(new.with_suffix(".xlsx")),
                 "--postgis", url, "--remplacer"])
    err = capsys.readouterr().err
    assert code == 1
    assert "public.actions" in err
    assert "Traceback" not in err
    # neither the GeoPackage nor the table was left behind, and the database kept its rows
    assert not new.parent.exists() or list(new.parent.iterdir()) == []
    assert _count(engine, "SELECT count(*) FROM cpts.cpts") == 59


def test_refusal_without_replace_says_the_tables_are_ours(db, example):
    url, _ = db
    checked, terr, layer = example
    write_postgis(url, terr, layer, membership=checked.membership)
    with pytest.raises(OutputError, match=r"existent déjà dans le schéma cpts \(créées par cpts_geo\).*--remplacer"):
        write_postgis(url, terr, layer, membership=checked.membership)


def test_schema_name_never_enters_the_trigger_body(db, example):
    url, engine = db
    checked, terr, layer = example
    schema = "a$$b'c\"d:e $cpts_geo$"
    write_postgis(url, terr, layer, schema=schema, membership=checked.membership)
    member = checked.membership
    code, other = member["code"].iloc[0], terr.index[-1]
    with engine.connect() as con:
        body = con.execute(sqlalchemy.text(
            "SELECT prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :s AND proname = 'une_commune_une_cpts'"), {"s": schema}).scalar()
    assert "a$$b" not in body
    table = '"' + schema.replace('"', '""') + '".appartenance'
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="Une commune, une CPTS"), engine.begin() as con:
        con.exec_driver_sql(f"INSERT INTO {table} VALUES (%s, %s, 0.5)", (code, other))
    assert read_registry_report(url, layer=schema).registry.shape[0] == len(member)


def test_replace_with_another_crs_keeps_a_spatial_index(db, example):
    from cpts_geo.domain.communes import load_communes

    url, engine = db
    checked, terr, layer = example
    write_postgis(url, terr, layer, membership=checked.membership)
    reunion = load_communes(departments="974")
    reg = pd.DataFrame({"cpts_id": ["R"], "stage": ["5"], "commune_code": ["97411"]})
    other = validate_registry(reg, reunion)
    rows = write_postgis(url, build_territories(other, reunion), communes_with_cpts(other, reunion),
                         membership=other.membership, replace=True)
    assert rows["srid"] != 2154
    assert _count(engine, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'cpts' AND indexdef ILIKE '%gist%'") == 2
    assert _count(engine, "SELECT DISTINCT ST_SRID(geom) FROM cpts.communes") == rows["srid"]
    assert _count(engine, "SELECT count(*) FROM cpts.zones_blanches") == len(reunion) - 1


def test_control_characters_never_reach_the_database(db, example):
    url, engine = db
    checked, terr, layer = example
    bad = terr.copy()
    bad.loc[bad.index[2], "name"] = "CPTS\x00nulle"
    with pytest.raises(ValidationError, match="caractères de contrôle") as err:
        write_postgis(url, bad, layer, membership=checked.membership)
    assert err.value.problems["row"].tolist() == [3]
    assert "CPTS␀nulle" in err.value.problems["problem"].iloc[0]
    assert _tables(engine) == set()
