"""The help of ``cpts-geo`` and of each of its commands: in French, and without the geospatial stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cpts_geo.cli import main

REPO = Path(__file__).resolve().parents[1]

#: Every command with its aliases, as users type them (the first is the documented name).
COMMANDS = [
    ["communes"],
    ["valider", "validate"],
    ["territoires", "territories"],
    ["flux", "flows"],
    ["offre"],
    ["perimetres"],
    ["financement", "funding"],
    ["comparer", "compare"],
    ["carte"],
    ["editeur", "éditeur"],
    ["cartes", "batch"],
    ["portrait"],
    ["rapport"],
    ["evolution"],
    ["show-versions", "versions"],
]


def _help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_the_general_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(capsys, ["--help"])
    assert out.startswith("usage : cpts-geo")
    listed = out.split("COMMANDE", 2)[2]
    for names in COMMANDS:
        assert f"\n    {names[0]} " in listed or f"\n    {names[0]}\n" in listed, names[0]


@pytest.mark.parametrize("names", COMMANDS, ids=[names[0] for names in COMMANDS])
def test_the_help_of_every_command_and_alias(capsys: pytest.CaptureFixture[str], names: list[str]) -> None:
    texts = [_help(capsys, [name, "--help"]) for name in names]
    assert texts[0].startswith(f"usage : cpts-geo {names[0]}")
    assert "afficher cette aide et quitter" in texts[0]
    assert "positional arguments" not in texts[0]
    assert "show this help" not in texts[0]
    for name, text in zip(names[1:], texts[1:]):  # an alias is the same parser, under its documented name
        assert text == texts[0], name


def test_help_does_not_import_the_geospatial_stack() -> None:
    """``cpts-geo --help`` and every ``cpts-geo COMMANDE --help`` start without geopandas."""
    argvs = [["--help"]] + [[names[0], "--help"] for names in COMMANDS]
    script = (
        "import contextlib, io, sys\n"
        "from cpts_geo.cli.main import main\n"
        f"for argv in {argvs!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit as exit_:\n"
        "            assert exit_.code == 0, argv\n"
        "print(sorted(m for m in ('geopandas', 'shapely', 'pyogrio', 'pyproj', 'folium', 'matplotlib')"
        " if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
