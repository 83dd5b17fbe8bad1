"""The notebooks run from top to bottom, as an analyst would run them (issue: notebooks).

Each notebook is executed with nbclient in its own folder; any error fails the test. Where a
notebook needs data users bring (professionals, flows), it reads ``CPTS_GEO_SHARED_DATA`` (set
here to ``../shared/data`` when that folder exists) and otherwise says what file to bring.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import shared_data_dir

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    shared = shared_data_dir()
    if shared is not None:
        monkeypatch.setenv("CPTS_GEO_SHARED_DATA", str(shared))
    monkeypatch.setenv("CPTS_GEO_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports this checkout's cpts_geo, as the tests do, not whatever copy is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors
