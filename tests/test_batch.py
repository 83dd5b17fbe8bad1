"""Batch maps re-run: a map is skipped only when its inputs and its own file are unchanged;
an unreadable manifest is rebuilt; Ctrl-C leaves no partial file and exits 130."""

from __future__ import annotations

import pytest

from cpts_geo.cli import main

REGISTRY = "cpts_id;cpts_name;etape;code_commune\nA;CPTS Amiens;5;80021\nA;CPTS Amiens;5;80001\n" \
           "B;CPTS Beauvais;2;60057\n"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    reg = tmp_path / "registre.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    return reg


def _run(capsys, reg, maps, *more):
    assert main(["cartes", str(reg), "-o", str(maps), "--par-departement", "--sans-png", *more]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_rerun_rebuilds_a_map_whose_file_changed(registry, tmp_path, capsys):
    maps = tmp_path / "maps"
    assert _run(capsys, registry, maps).count("carte écrite") == 3
    assert _run(capsys, registry, maps).count("carte inchangée") == 3
    # a map overwritten by another map, one truncated to 1 000 bytes, one deleted
    somme, oise, region = maps / "80-somme.html", maps / "60-oise.html", maps / "hauts-de-france.html"
    kept = somme.read_bytes()
    somme.write_bytes(oise.read_bytes())
    oise.write_bytes(oise.read_bytes()[:1000])
    region.unlink()
    out = _run(capsys, registry, maps)
    assert "carte inchangée" not in out
    assert out.count("carte refaite (fichier modifié ou absent depuis la dernière fois)") == 3
    assert somme.read_bytes() == kept
    assert oise.stat().st_size > 1000
    assert region.exists()
    assert _run(capsys, registry, maps).count("carte inchangée") == 3


@pytest.mark.slow
def test_truncated_manifest_is_said_and_rebuilt(registry, tmp_path, capsys):
    maps = tmp_path / "maps"
    _run(capsys, registry, maps)
    manifest = maps / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:40])
    out = _run(capsys, registry, maps)
    assert "manifest.json illisible (tronqué ou modifié) : toutes les cartes sont refaites." in out
    assert out.count("carte écrite") == 3
    assert _run(capsys, registry, maps).count("carte inchangée") == 3


def test_ctrl_c_leaves_no_partial_file(registry, tmp_path, capsys, monkeypatch):
    import cpts_geo.render.batch as B
    from cpts_geo.io.files import atomic_path

    def interrupted(_checked, *, html_path, **_kwargs):
        with atomic_path(html_path) as tmp:
            tmp.write_text("<!DOCTYPE html><html><body>à moit", encoding="utf-8")
            raise KeyboardInterrupt

    monkeypatch.setattr(B, "area_maps", interrupted)
    maps = tmp_path / "maps"
    assert main(["cartes", str(registry), "-o", str(maps), "--sans-png"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "Interrompu (Ctrl-C) : aucun fichier partiel n'a été laissé.\n"
    assert "Traceback" not in captured.out
    assert not maps.exists() or list(maps.iterdir()) == []


def test_cartes_couleur_redraws_the_maps_and_is_checked_first(registry, tmp_path, capsys):
    import json
    import re

    maps = tmp_path / "maps"
    assert _run(capsys, registry, maps).count("carte écrite") == 3
    assert _run(capsys, registry, maps, "--couleur", "taille").count("carte écrite") == 3  # another colouring
    page = (maps / "hauts-de-france.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r"CptsMap\.start\(map_\w+, (\{.*\})\);", page).group(1).replace("{\\u007b", "{{"))
    # Beauvais (tier 2), Amiens with Abbeville (tier 3): only the tiers present
    assert [e[0] for e in data["legend"]["entries"]] == ["Taille 2 (40 000 à 80 000 habitants)",
                                                         "Taille 3 (80 000 à 175 000 habitants)"]
    assert main(["cartes", str(registry), "-o", str(tmp_path / "autres"), "--couleur", "rien"]) == 2
    assert "Couleur « rien » inconnue" in capsys.readouterr().err
    assert not (tmp_path / "autres").exists()


def test_cartes_print_maps_are_drawn_once_each(registry, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure
    from PIL import Image

    drawn = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: drawn.append(self) or draw(self, renderer))
    maps = tmp_path / "maps"
    assert main(["cartes", str(registry), "-o", str(maps), "--par-departement", "--dpi", "80"]) == 0
    pngs = sorted(maps.glob("*.png"))
    assert [p.name for p in pngs] == ["60-oise.png", "80-somme.png", "hauts-de-france.png"]
    assert len(drawn) == len(pngs)  # each print map drawn once (seven times before)
    for png in pngs:
        with Image.open(png) as image:
            assert image.mode == "RGB"
            assert round(image.info["dpi"][0]) == 80
            pixels = image.convert("RGB").getextrema()
        assert all(low < 100 for low, _ in pixels)  # something dark was drawn: borders, text
    assert "carte écrite" in capsys.readouterr().out
