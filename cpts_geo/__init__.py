"""cpts_geo: territorial diagnosis and mapping of French CPTS.

Build CPTS territories from communes, reject overlapping coverage, derive size tiers and
ACI funding, compute density, accessibility and patient-flow indicators, and render
regional maps.
"""

from cpts_geo.communes import (
    LayerMetadata,
    layer_metadata,
    load_arrondissements,
    load_communes,
    load_former_communes,
    metric_crs,
    read_communes,
    set_layer_metadata,
    to_metric,
    with_population,
)
from cpts_geo.errors import ValidationError
from cpts_geo.flows import (
    coherence_flags,
    cpts_flow_indicators,
    flow_lines,
    leakage_destinations,
    mask_secrecy,
    prepare_flows,
    read_flows,
    read_mobpro,
    retention_layer,
    select_flows,
)
from cpts_geo.funding import aci_funding, aci_funding_report, early_mission_aid, funding_table
from cpts_geo.perimeters import compare_perimeters, propose_perimeters
from cpts_geo.registry import (
    RegistryRead,
    read_registry,
    read_registry_report,
    registry_from_perimeters,
    validate_registry,
)
from cpts_geo.stages import STAGE_COLORS, STAGES, parse_stages
from cpts_geo.territories import (
    build_territories,
    communes_with_cpts,
    coverage,
    example_registry,
    load_example_registry,
    membership,
    summary_table,
    write_territories,
)
from cpts_geo.tiers import tier_of

__version__ = "0.1.0"

__all__ = [
    "STAGES",
    "STAGE_COLORS",
    "LayerMetadata",
    "RegistryRead",
    "ValidationError",
    "__version__",
    "aci_funding",
    "aci_funding_report",
    "build_territories",
    "coherence_flags",
    "communes_with_cpts",
    "compare_perimeters",
    "coverage",
    "cpts_flow_indicators",
    "early_mission_aid",
    "example_registry",
    "flow_lines",
    "funding_table",
    "layer_metadata",
    "leakage_destinations",
    "load_arrondissements",
    "load_communes",
    "load_example_registry",
    "load_former_communes",
    "mask_secrecy",
    "membership",
    "metric_crs",
    "parse_stages",
    "prepare_flows",
    "propose_perimeters",
    "read_communes",
    "read_flows",
    "read_mobpro",
    "read_registry",
    "read_registry_report",
    "registry_from_perimeters",
    "retention_layer",
    "select_flows",
    "set_layer_metadata",
    "summary_table",
    "tier_of",
    "to_metric",
    "validate_registry",
    "with_population",
    "write_territories",
]

_LAZY_MODULES = {"portrait", "maps", "plotting", "batch", "density", "accessibility", "professionals",
                 "flows",
                 "perimeters", "funding", "territories", "registry", "stages", "tiers", "cog"}


def __getattr__(name):
    """Import heavier submodules (folium, matplotlib) on first use: ``cpts_geo.maps``…"""
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"cpts_geo.{name}")
    raise AttributeError(f"module 'cpts_geo' has no attribute {name!r}")
