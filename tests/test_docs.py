"""The documentation site: its API reference names every public name, its CLI page every command.

The API pages are written from ``cpts_geo.API`` by ``docs/_ext/cpts_docs.py`` (checked here without
Sphinx); the built site is checked when Sphinx and the ``docs`` extra are installed
(``python -m pip install -e ".[docs]"``), the notebooks left unexecuted to keep the test short (CI
builds the site with them executed: ``sphinx-build -W -b html docs docs/_build/html``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cpts_geo

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
import cpts_docs  # noqa: E402

sys.path.remove(str(DOCS / "_ext"))


def _directives(pages: dict[str, str]) -> set[str]:
    return {m.group(1) for text in pages.values()
            for m in re.finditer(r"^\.\. auto(?:function|class|exception|data):: (\S+)$", text, re.MULTILINE)}


def test_api_pages_document_every_public_name(tmp_path):
    documented = _directives(cpts_docs.api_pages(tmp_path))
    missing = sorted(f"{module}.{name}" for name, module in cpts_geo.API.items()
                     if f"{module}.{name}" not in documented)
    assert missing == []
    index = (tmp_path / "index.rst").read_text(encoding="utf-8")
    assert all(f":obj:`{name} <" in index for name in cpts_geo.API)


def test_api_pages_document_every_typed_result(tmp_path):
    """A public function of the API that returns a NamedTuple or dataclass: that result is documented."""
    documented = _directives(cpts_docs.api_pages(tmp_path))
    missing = []
    for name, module_name in cpts_geo.API.items():
        func = getattr(importlib.import_module(module_name), name)
        if not inspect.isfunction(func):
            continue
        returned = inspect.signature(func).return_annotation
        if not isinstance(returned, str) or not returned.isidentifier():
            continue
        cls = func.__globals__.get(returned)
        if cls is not None and cpts_docs._is_typed_result(cls) and f"{cls.__module__}.{cls.__name__}" not in documented:
            missing.append(f"{name} → {cls.__module__}.{cls.__name__}")
    assert missing == []
    assert {"cpts_geo.indicators.accessibility.TwoStepFCA", "cpts_geo.domain.registry.CheckedRegistry",
            "cpts_geo.render.portrait.PortraitResult"} <= documented


def test_cli_commands_are_those_of_the_parser():
    commands = [c for c, _ in cpts_docs.cli_commands()]
    assert {"communes", "valider", "territoires", "financement", "offre", "flux", "perimetres", "carte",
            "cartes", "editeur", "portrait", "comparer", "show-versions"} <= set(commands)
    assert all(summary for _, summary in cpts_docs.cli_commands())
    assert cpts_docs.cli_help("carte").startswith("usage : cpts-geo carte")


@pytest.mark.slow
def test_built_site_lists_every_public_name_and_command(tmp_path):
    for module in ("sphinx", "numpydoc", "furo", "myst_nb"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} absent : python -m pip install -e \".[docs]\"")
    out = tmp_path / "html"
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-D", "nb_execution_mode=off", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                          capture_output=True, text=True, env={**os.environ, "CPTS_GEO_OUTPUT_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    html = "".join(p.read_text(encoding="utf-8") for p in (out / "api").glob("*.html"))
    missing = sorted(name for name, module in cpts_geo.API.items() if f'id="{module}.{name}"' not in html)
    assert missing == []
    cli = (out / "guide" / "ligne-de-commande.html").read_text(encoding="utf-8")
    assert all(f'id="commande-{c}"' in cli for c, _ in cpts_docs.cli_commands())
    home = (out / "index.html").read_text(encoding="utf-8")
    assert "carte-hauts-de-france.png" in home
    assert "Guide de l" in home
    # offline: no page loads anything from the network
    remote = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["']https?://""")
    offending = [p.name for p in out.rglob("*.html") if remote.search(p.read_text(encoding="utf-8"))]
    assert offending == []
