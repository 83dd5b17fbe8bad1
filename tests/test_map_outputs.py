"""``carte`` and ``cartes`` write the HTML and the PNG of an area whole or not at all: a PNG
that fails (disk full, a drawing error) leaves neither the HTML nor a temporary file, and a
user's file of the same name untouched."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from cpts_geo.cli import main

REGISTRY = "cpts_id;cpts_name;etape;code_commune\nA;CPTS Amiens;5;80021\nA;CPTS Amiens;5;80001\n" \
           "B;CPTS Beauvais;2;60057\n"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    reg = tmp_path / "registre.csv"
    reg.write_text(REGISTRY, encoding="utf-8")
    return reg


def _disk_full_for_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the PNG is written: part of it lands, then ENOSPC."""
    write_bytes = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if self.suffix == ".png":
            write_bytes(self, bytes(data)[:100])
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)


def test_carte_png_failure_leaves_no_html_nor_temporary_file(registry: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cartes" / "carte.html"
    _disk_full_for_png(monkeypatch)
    assert main(["carte", str(registry), "-o", str(out), "--dpi", "60"]) == 1
    assert "Erreur" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_carte_png_failure_leaves_the_users_files_untouched(registry: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "carte.html"
    out.write_text("ma carte", encoding="utf-8")
    out.with_suffix(".png").write_bytes(b"mon image")
    _disk_full_for_png(monkeypatch)
    assert main(["carte", str(registry), "-o", str(out), "--dpi", "60"]) == 1
    assert out.read_text(encoding="utf-8") == "ma carte"
    assert out.with_suffix(".png").read_bytes() == b"mon image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["carte.html", "carte.png", "registre.csv"]


def test_cartes_failing_area_leaves_no_half_outputs(registry: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The second map's drawing fails: the first map is whole, the second has no file at all."""
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure

    draw = Figure.draw
    drawn: list[Figure] = []

    def second_fails(self: Figure, renderer: RendererBase) -> None:
        drawn.append(self)
        if len(drawn) == 2:
            raise MemoryError("image trop grande")
        draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", second_fails)
    maps = tmp_path / "maps"
    with pytest.raises(MemoryError):
        main(["cartes", str(registry), "-o", str(maps), "--par-departement", "--dpi", "60"])
    names = sorted(p.name for p in maps.iterdir())
    assert names == ["hauts-de-france.html", "hauts-de-france.png", "manifest.json"]
