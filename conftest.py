"""Doctest namespace: every docstring example runs as after ``import cpts_geo`` and
``from cpts_geo import *`` (the public API of :data:`cpts_geo.API`), with ``pd``, ``np`` and
``gpd`` imported, as the examples assume; a name the module itself defines keeps its meaning."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_api(request, doctest_namespace):
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    import cpts_geo

    own = getattr(getattr(request.node, "dtest", None), "globs", {})
    for name in cpts_geo.API:
        if name in own:
            doctest_namespace.pop(name, None)
        else:
            doctest_namespace[name] = getattr(cpts_geo, name)
    doctest_namespace.update({"cpts_geo": cpts_geo, "pd": pd, "np": np, "gpd": gpd})
