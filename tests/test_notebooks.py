"""The notebooks run from top to bottom, as an analyst would run them (issue: notebooks).

Each notebook is executed with nbclient in its own folder; any error fails the test. Where a
notebook needs data users bring (professionals), it reads ``CPTS_GEO_SHARED_DATA`` (set here to
``../shared/data`` when that folder exists) and otherwise says what file to bring. Its files go
to ``CPTS_GEO_OUTPUT_DIR`` (a temporary folder here): after the run, no file of the checkout is
new, changed or gone. A notebook is a diagnosis one can hand over: it shows its maps and charts
inline (``image/png`` outputs, in the cells tagged ``map`` and ``chart``), its tables have the
French headers of the package's files, and its numbers are written the French way (« 3 782 »,
never « 3782 »). The notebooks are saved without outputs (the documentation site executes them).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from conftest import shared_data_dir

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

#: Each notebook's inline images: the tags of the cells that must show one.
SHOWN = {"diagnostic_territorial": {"map", "chart"}, "cartographie_regionale": {"map"}}

# a whole number of 4 digits or more written without thousands separator, other than a year (19xx,
# 20xx) or a 5-digit code (INSEE commune, DREES): « 3782 », « 5995292 »
_BARE = re.compile(r"(?<![\w.,/\-])(\d{4,})(?![\w.,/\-]?\d)")


def _bare_numbers(text: str) -> list[str]:
    return [n for n in _BARE.findall(text)
            if not (len(n) == 4 and n[:2] in ("19", "20")) and len(n) != 5]


def _checkout() -> dict[str, tuple[int, int]]:
    """Every file of the checkout (``.git`` and ``__pycache__`` aside): size and modification time."""
    files = {}
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__")]
        for name in names:
            path = Path(root, name)
            st = path.stat()
            files[str(path.relative_to(REPO))] = (st.st_size, st.st_mtime_ns)
    return files


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                yield cell, out


def test_notebooks_are_saved_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not [c for c in code if c.get("outputs") or c.get("execution_count")], path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    shared = shared_data_dir()
    if shared is not None:
        monkeypatch.setenv("CPTS_GEO_SHARED_DATA", str(shared))
    out = tmp_path / "sorties"
    out.mkdir()
    monkeypatch.setenv("CPTS_GEO_OUTPUT_DIR", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports this checkout's cpts_geo, as the tests do, not whatever copy is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    before = _checkout()
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    after = _checkout()
    errors = [out for _, out in _outputs(nb) if out.get("output_type") == "error"]
    assert not errors

    # nothing written inside the checkout; the files went to the folder asked for
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"fichiers créés ou modifiés dans le dépôt : {changed}"
    assert any(out.iterdir())

    # maps and charts shown inline, where the notebook says
    images = [(cell, o) for cell, o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert images, "aucune image affichée dans le notebook"
    tags = {t for cell, _ in images for t in cell.metadata.get("tags", [])}
    assert SHOWN.get(path.stem, set()) <= tags, f"sans image : {SHOWN.get(path.stem, set()) - tags}"

    # tables with French headers, numbers the French way
    from cpts_geo.domain.vocabulary import HEADERS

    english = {key for headers in HEADERS.values() for key in headers}
    pages = [o["data"]["text/html"] for _, o in _outputs(nb) if "text/html" in o.get("data", {})]
    assert pages, "aucun tableau affiché"
    headers = {html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
               for page in pages for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)}
    assert not headers & english, f"en-têtes anglais : {sorted(headers & english)}"
    texts = [re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S)) for page in pages]
    texts += [o["text"] for _, o in _outputs(nb) if o.get("output_type") == "stream"]
    bare = sorted({n for text in texts for n in _bare_numbers(html.unescape(text))})
    assert bare == [], f"nombres sans séparateur de milliers : {bare}"


def test_bare_numbers_are_found():
    assert _bare_numbers("3782 communes, 5995292 habitants") == ["3782", "5995292"]
    assert _bare_numbers("3 782 communes, 5\xa0995\xa0292 habitants, APL 2023 : 4,116962 ; 80021 ; "
                         "2023-01 ; /tmp/pytest-1234/x ; 0,845329") == []
