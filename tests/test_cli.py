"""The command line, called through ``main(argv)`` as a user would type it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cpts_geo.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_communes_summary(capsys):
    assert main(["communes", "--region", "32"]) == 0
    out = capsys.readouterr().out
    assert "Communes (région 32) : 3782" in out
    assert "Population municipale 2016 : 6 003 283" in out
    assert "60694 Hauts-Talican : pas de population" in out


def test_unknown_region_is_a_readable_error(capsys):
    assert main(["communes", "--region", "33"]) == 2
    assert "Région inconnue" in capsys.readouterr().err


def test_version_and_show_versions(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert re.match(r"cpts_geo \d", capsys.readouterr().out)
    assert main(["show-versions"]) == 0
    assert "geopandas" in capsys.readouterr().out


def test_readme_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_command in readme
    assert test_command in ci
    assert "python -m pip install . && cpts-geo carte" in readme
