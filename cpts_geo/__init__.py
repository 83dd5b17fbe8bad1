"""cpts_geo: territorial diagnosis and mapping of French CPTS.

Build CPTS territories from communes, reject overlapping coverage, derive size tiers and
ACI funding, compute density, accessibility and patient-flow indicators, and render
regional maps.

The package is layered, imports only running downward (``docs/architecture.md``)::

    cli  →  render  →  io  →  indicators  →  domain  →  data

The public API is listed once, in :data:`API` below (name → module that owns it); each name
is imported on first use, so ``import cpts_geo`` is cheap and the command line starts without
the geospatial stack. The layers are attributes too: ``cpts_geo.domain.territories``…
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public API: each name and the module that owns it.
API: dict[str, str] = {
    # data
    "load_apl": "cpts_geo.data.apl",
    # domain
    "ValidationError": "cpts_geo.errors",
    "CptsGeoWarning": "cpts_geo.errors",
    "load_communes": "cpts_geo.domain.communes",
    "load_arrondissements": "cpts_geo.domain.communes",
    "load_former_communes": "cpts_geo.domain.communes",
    "check_communes": "cpts_geo.io.communes",
    "CheckedCommunes": "cpts_geo.domain.communes",
    "layer_report": "cpts_geo.domain.communes",
    "regions": "cpts_geo.domain.communes",
    "adjacency": "cpts_geo.domain.communes",
    "LayerMetadata": "cpts_geo.domain.metadata",
    "layer_metadata": "cpts_geo.domain.metadata",
    "set_layer_metadata": "cpts_geo.domain.metadata",
    "metric_crs": "cpts_geo.domain.crs",
    "to_metric": "cpts_geo.domain.crs",
    "is_insee_code": "cpts_geo.domain.codes",
    "normalize_codes": "cpts_geo.domain.codes",
    "city_of": "cpts_geo.domain.codes",
    "remap_codes": "cpts_geo.domain.history",
    "code_history": "cpts_geo.domain.history",
    "STAGES": "cpts_geo.domain.stages",
    "STAGE_COLORS": "cpts_geo.domain.stages",
    "parse_stages": "cpts_geo.domain.stages",
    "tier_of": "cpts_geo.domain.tiers",
    "aci_funding": "cpts_geo.domain.funding",
    "aci_funding_report": "cpts_geo.domain.funding",
    "ACIFunding": "cpts_geo.domain.funding",
    "early_mission_aid": "cpts_geo.domain.funding",
    "funding_table": "cpts_geo.domain.funding",
    "RegistryRead": "cpts_geo.domain.registry",
    "CheckedRegistry": "cpts_geo.domain.registry",
    "PerimeterRegistry": "cpts_geo.domain.registry",
    "validate_registry": "cpts_geo.domain.registry",
    "registry_from_perimeters": "cpts_geo.domain.registry",
    "build_territories": "cpts_geo.domain.territories",
    "communes_with_cpts": "cpts_geo.domain.territories",
    "coverage": "cpts_geo.domain.territories",
    "membership": "cpts_geo.domain.territories",
    "summary_table": "cpts_geo.domain.territories",
    "compare_registries": "cpts_geo.domain.compare",
    "french_headers": "cpts_geo.domain.vocabulary",
    "RegistryComparison": "cpts_geo.domain.compare",
    # indicators
    "density": "cpts_geo.indicators.density",
    "DensityResult": "cpts_geo.indicators.density",
    "cpts_supply": "cpts_geo.indicators.density",
    "accessibility": "cpts_geo.indicators.accessibility",
    "territory_accessibility": "cpts_geo.indicators.accessibility",
    "two_step_fca": "cpts_geo.indicators.accessibility",
    "estimate_costs": "cpts_geo.indicators.accessibility",
    "supply_on_layer": "cpts_geo.indicators.supply",
    "SupplyRead": "cpts_geo.indicators.supply",
    "prepare_flows": "cpts_geo.indicators.flows",
    "select_flows": "cpts_geo.indicators.flows",
    "cpts_flow_indicators": "cpts_geo.indicators.flows",
    "leakage_destinations": "cpts_geo.indicators.flows",
    "coherence_flags": "cpts_geo.indicators.flows",
    "mask_secrecy": "cpts_geo.indicators.flows",
    "flow_lines": "cpts_geo.indicators.flows",
    "retention_layer": "cpts_geo.indicators.flows",
    "propose_perimeters": "cpts_geo.indicators.perimeters",
    "age_structure": "cpts_geo.indicators.ages",
    "compare_perimeters": "cpts_geo.indicators.perimeters",
    # io
    "read_table": "cpts_geo.io",
    "read_communes": "cpts_geo.io.communes",
    "with_population": "cpts_geo.io.communes",
    "PopulationTable": "cpts_geo.io.communes",
    "read_passage_table": "cpts_geo.io.history",
    "read_registry": "cpts_geo.io.registry",
    "read_registry_report": "cpts_geo.io.registry",
    "read_perimeters": "cpts_geo.io.registry",
    "example_registry": "cpts_geo.io.registry",
    "load_example_registry": "cpts_geo.io.registry",
    "read_supply": "cpts_geo.io.supply",
    "read_bpe": "cpts_geo.io.supply",
    "read_professionals": "cpts_geo.io.supply",
    "read_flows": "cpts_geo.io.flows",
    "read_mobpro": "cpts_geo.io.flows",
    "write_flow_table": "cpts_geo.io.flows",
    "write_territories": "cpts_geo.io.layers",
    "write_layers": "cpts_geo.io.layers",
    "write_table": "cpts_geo.io.tables",
    "write_xlsx": "cpts_geo.io.tables",
    "write_comparison": "cpts_geo.io.tables",
    "write_postgis": "cpts_geo.io.postgis",
    "read_ages": "cpts_geo.io.portrait",
    "read_indicators": "cpts_geo.io.portrait",
    # render
    "stage_map": "cpts_geo.render.maps",
    "indicator_layer": "cpts_geo.render.maps",
    "save_map": "cpts_geo.render.maps",
    "plot_stages": "cpts_geo.render.plotting",
    "plot_tiers": "cpts_geo.render.plotting",
    "plot_indicator": "cpts_geo.render.plotting",
    "perimeter_editor": "cpts_geo.render.editor",
    "portrait": "cpts_geo.render.portrait",
    "portraits": "cpts_geo.render.portrait",
    "portrait_context": "cpts_geo.render.portrait",
    "batch_maps": "cpts_geo.render.batch",
    "regional_report": "cpts_geo.render.report",
    "evolution_chart": "cpts_geo.render.report",
    "evolution_maps": "cpts_geo.render.report",
    "regional_diagnosis": "cpts_geo.indicators.regional",
    "coverage_over_time": "cpts_geo.indicators.regional",
    "coverage_layers": "cpts_geo.indicators.regional",
}

#: The layers, as attributes of the package (``cpts_geo.domain``…), imported on first use.
LAYERS = ("data", "domain", "indicators", "io", "render", "cli")

__all__ = ["API", "LAYERS", "__version__", *sorted(API), *LAYERS]


def __getattr__(name: str) -> Any:
    """Import a public name, or a layer, on first use (PEP 562)."""
    if name in API:
        value = getattr(importlib.import_module(API[name]), name)
        globals()[name] = value
        return value
    if name in LAYERS or name == "errors":
        return importlib.import_module(f"cpts_geo.{name}")
    raise AttributeError(f"module 'cpts_geo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API, *LAYERS})
