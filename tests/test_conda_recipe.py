"""The conda recipe (``conda.recipe/meta.yaml``) renders and says what ``pyproject.toml`` says.

No conda renderer is installable from PyPI here (conda-build and conda-smithy come from conda
itself, rattler-build has no wheel), so the recipe is rendered as conda-build would for a noarch
package: its Jinja2 with the variables conda-build provides, then YAML.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

import cpts_geo

yaml = pytest.importorskip("yaml")
jinja2 = pytest.importorskip("jinja2")

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "conda.recipe" / "meta.yaml"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: PyPI name → conda-forge name, where they differ (conda-forge's matplotlib without Qt is matplotlib-base).
CONDA_NAMES = {"matplotlib": "matplotlib-base", "psycopg[binary]": "psycopg", "sqlalchemy": "sqlalchemy",
               "geoalchemy2": "geoalchemy2"}


def _render() -> dict:
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        RECIPE.read_text(encoding="utf-8")).render(PYTHON="python")
    return yaml.safe_load(text)


def _specs(requirements) -> dict[str, str]:
    out = {}
    for requirement in requirements:
        name, _, version = requirement.partition(" ")
        out[name.lower()] = version.replace(" ", "")
    return out


def _pypi(requirements) -> dict[str, str]:
    out = {}
    for requirement in requirements:
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement)
        name = m.group(1).lower()
        out[CONDA_NAMES.get(name, name.split("[")[0])] = m.group(2).replace(" ", "")
    return out


def test_recipe_renders_as_a_noarch_python_package():
    recipe = _render()
    assert recipe["package"]["name"] == "cpts-geo"
    assert recipe["package"]["version"] == cpts_geo.__version__
    assert recipe["build"]["noarch"] == "python"
    assert "--no-deps" in recipe["build"]["script"]
    assert "--no-build-isolation" in recipe["build"]["script"]
    assert recipe["source"]["url"].endswith(f"cpts_geo-{cpts_geo.__version__}.tar.gz")
    assert re.fullmatch(r"[0-9a-f]{64}", recipe["source"]["sha256"])
    assert recipe["about"]["license"] == PROJECT["license"]
    assert (REPO / recipe["about"]["license_file"]).exists()


def test_entry_point_and_tests():
    recipe = _render()
    script, = (f"{name} = {target}" for name, target in PROJECT["scripts"].items())
    assert recipe["build"]["entry_points"] == [script]
    assert "cpts_geo" in recipe["test"]["imports"]
    assert "cpts-geo --help" in recipe["test"]["commands"]
    assert "pip check" in recipe["test"]["commands"]


def test_requirements_match_pyproject():
    recipe = _render()
    run = _specs(recipe["requirements"]["run"])
    python_min = PROJECT["requires-python"].removeprefix(">=")
    assert run.pop("python") == f">={python_min}"
    assert recipe["requirements"]["host"][0] == f"python {python_min}"
    assert run == _pypi(PROJECT["dependencies"])
    host = _specs(recipe["requirements"]["host"])
    build_system = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    assert host["setuptools"] == build_system["requires"][0].removeprefix("setuptools")
    # the optional extras (pdf, postgis) constrain versions without being installed
    optional = _pypi([r for extra in ("pdf", "postgis") for r in PROJECT["optional-dependencies"][extra]])
    assert _specs(recipe["requirements"]["run_constrained"]) == optional
