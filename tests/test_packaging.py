"""What ``python -m pip install .`` ships: every subpackage and every static file the code loads.

The wheel itself is built and checked by ``.ci/run`` (``python -m build``, ``twine check``,
``tests/check_wheel.py``, then ``cpts-geo carte`` from a fresh virtual environment); these tests
check the configuration that decides what goes in it, and ``check_wheel`` on a wheel when one
was built (``dist/``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib
from check_wheel import problems

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_subpackage_is_installed():
    """A subpackage missing from pyproject.toml works in an editable install and breaks a real one."""
    listed = set(CONFIG["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "cpts_geo").rglob("__init__.py")}
    assert found - listed == set()


def test_static_files_are_package_data():
    patterns = CONFIG["tool"]["setuptools"]["package-data"]["cpts_geo.render.static"]
    for f in (REPO / "cpts_geo" / "render" / "static").iterdir():
        assert any(f.match(p) for p in patterns), f"{f.name} is not shipped by pip install ."


def test_page_templates_are_package_data():
    """The regional report's template was missing from the wheel (an editable install hid it)."""
    patterns = CONFIG["tool"]["setuptools"]["package-data"]["cpts_geo.render.templates"]
    assert "cpts_geo.render.templates" in CONFIG["tool"]["setuptools"]["packages"]
    for f in (REPO / "cpts_geo" / "render" / "templates").iterdir():
        assert any(f.match(p) for p in patterns), f"{f.name} is not shipped by pip install ."


def test_embedded_data_is_package_data():
    patterns = CONFIG["tool"]["setuptools"]["package-data"]["cpts_geo._data"]
    assert CONFIG["tool"]["setuptools"]["package-dir"]["cpts_geo._data"] == "data/communes"
    for f in (REPO / "data" / "communes").iterdir():
        if f.suffix != ".py":
            assert any(f.match(p) for p in patterns), f"{f.name} is not shipped by pip install ."


def test_version_in_one_place():
    """pyproject reads the version from ``cpts_geo.__version__``; nothing else writes it."""
    assert "version" not in CONFIG["project"]
    assert "version" in CONFIG["project"]["dynamic"]
    assert CONFIG["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cpts_geo.__version__"}
    tree = ast.parse((REPO / "cpts_geo" / "__init__.py").read_text(encoding="utf-8"))
    literal = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
               and isinstance(node.value, ast.Constant)]
    assert len(literal) == 1  # setuptools reads it without importing the package
    import cpts_geo

    assert cpts_geo.__version__ == literal[0]


def test_typed_and_classified():
    assert (REPO / "cpts_geo" / "py.typed").exists()
    assert "py.typed" in CONFIG["tool"]["setuptools"]["package-data"]["cpts_geo"]
    classifiers = set(CONFIG["project"]["classifiers"])
    assert {"Natural Language :: French", "Topic :: Scientific/Engineering :: GIS",
            "Topic :: Scientific/Engineering :: Medical Science Apps.", "Typing :: Typed"} <= classifiers
    assert set(CONFIG["project"]["urls"]) >= {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert (REPO / "CITATION.cff").exists()
    assert (REPO / "CONTRIBUTING.md").exists()


def test_citation_names_this_version():
    yaml = pytest.importorskip("yaml")
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    import cpts_geo

    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == cpts_geo.__version__
    assert citation["license"] == CONFIG["project"]["license"]


@pytest.mark.parametrize("wheel", sorted((REPO / "dist").glob("cpts_geo-*.whl")) or [None])
def test_built_wheel(wheel):
    """The wheel left in ``dist/`` by ``python -m build`` (CI builds one before the tests)."""
    if wheel is None:
        pytest.skip("no wheel in dist/ (python -m build)")
    assert problems(wheel) == []
