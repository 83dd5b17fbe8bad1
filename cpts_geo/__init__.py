"""cpts_geo: territorial diagnosis and mapping of French CPTS.

Build CPTS territories from communes, reject overlapping coverage, derive size tiers and
ACI funding, compute density, accessibility and patient-flow indicators, and render
regional maps.
"""

from cpts_geo.communes import (
    load_arrondissements,
    load_communes,
    load_former_communes,
    metric_crs,
    read_communes,
    to_metric,
)
from cpts_geo.errors import ValidationError

__version__ = "0.1.0"

__all__ = [
    "ValidationError",
    "load_arrondissements",
    "load_communes",
    "load_former_communes",
    "metric_crs",
    "read_communes",
    "to_metric",
    "__version__",
]
