"""What ``python -m pip install .`` ships: every subpackage and every static file the code loads."""

from __future__ import annotations

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_installed():
    """A subpackage missing from pyproject.toml works in an editable install and breaks a real one."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "cpts_geo").rglob("__init__.py")}
    assert found - listed == set()


def test_static_files_are_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["cpts_geo.render"]
    for f in (REPO / "cpts_geo" / "render" / "static").iterdir():
        assert any(f.match(p) for p in patterns), f"{f.name} is not shipped by pip install ."
