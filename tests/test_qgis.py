"""The GeoPackage opened by QGIS itself (PyQGIS, offscreen): QGIS finds the embedded default
style (CPTS by stage in order with the stage colours, labels, grey zones blanches), the French
aliases and the layer description. Skips when QGIS's Python is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.metadata import layer_metadata
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.stages import STAGE_COLORS, STAGES
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.io.layers import BLANK_COLOR, write_layers

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "apercu_geopackage_qgis.py"
QGIS_PYTHON = "/usr/bin/python3"


def _has_qgis() -> bool:
    if not shutil.which(QGIS_PYTHON):
        return False
    done = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=120)
    return done.returncode == 0


@pytest.mark.skipif(not _has_qgis(), reason="QGIS (paquets Debian python3-qgis, qgis-providers) absent")
def test_qgis_opens_the_geopackage_with_its_style(tmp_path):
    communes = load_communes(departments=["80"])
    reg = pd.DataFrame({"cpts_id": ["A", "A", "B"], "cpts_name": ["CPTS Amiens", "CPTS Amiens", "CPTS Abbeville"],
                        "stage": ["5", "5", "2"], "commune_code": ["80021", "80001", "80016"]})
    checked = validate_registry(reg, communes)
    path = write_layers(tmp_path / "t.gpkg", build_territories(checked, communes),
                        communes_with_cpts(checked, communes)).paths[0]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([QGIS_PYTHON, str(SCRIPT), str(path), str(tmp_path / "q.png")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    cpts, blank = found["cpts"], found["zones_blanches"]
    assert cpts["crs"] == "EPSG:2154"
    assert cpts["renderer"] == "categorizedSymbol"
    assert cpts["labels"]
    assert [c[0] for c in cpts["categories"]][:5] == list(STAGES)
    assert {c[0]: c[2] for c in cpts["categories"]}["ACI signé"] == STAGE_COLORS["ACI signé"]
    assert cpts["aliases"]["surf_km2"] == "Superficie (km²)"
    assert cpts["aliases"]["etape"] == "Étape"
    assert f"Millésime de population : {layer_metadata(communes).population_vintage}" in cpts["description"]
    assert blank["renderer"] == "singleSymbol"
    assert blank["color"] == BLANK_COLOR
    assert blank["features"] == len(communes) - 3
    assert (tmp_path / "q.png").stat().st_size > 1000
