"""Patient flows: read origin–destination tables, compute CPTS flow indicators, check perimeters.

"Le territoire pertinent d'une CPTS est avant tout le territoire vécu" (guide des CPTS des
Hauts-de-France, fiche 4): perimeters are judged on patient flows. A **flow table** has one
row per (commune of residence, commune of care) pair:

===============  ==========================================================================
``origin``       INSEE code of the commune of residence (text)
``destination``  INSEE code of the commune of care (text)
``volume``       patients, acts or consultations (float, ≥ 0)
``profession``   optional: profession or care type
``year``         optional: year of the data
===============  ==========================================================================

:func:`cpts_geo.io.flows.read_flows` reads such a table from CSV, XLSX or Parquet (French headers recognised,
volumes such as ``"1 234"`` or ``"12,5"`` accepted), :func:`cpts_geo.io.flows.read_mobpro` reads INSEE MOBPRO
home→work detail records (the usual stand-in when patient flows are not available) and
:func:`prepare_flows` maps both ends of every flow to today's communes with a report.

Indicators use a **membership** table (``code``, ``cpts_id``, ``share``; see
:mod:`cpts_geo.territories`). Definitions, for a CPTS *T*:

- residents' volume *R* = flows whose origin is in *T*; delivered volume *D* = flows whose
  destination is in *T*; inside volume *I* = flows with both ends in *T*;
- **retention** = *I / R*; **leakage** (taux de fuite) = 1 − retention;
- **attraction** = (*D* − *I*) / *D*, the share of the care delivered in *T* that goes to
  non-residents; supply-side containment = *I / D*;
- **self-containment** = min(*I / R*, *I / D*) (demand and supply side, as for travel-to-work
  areas).

**Split communes** (``share`` < 1, e.g. a city shared by several CPTS): a flow is attributed
to the CPTS of each end in proportion to the shares, independently at both ends. A flow of
volume *v* from commune *a* to commune *b* counts *v × share(a, S) × share(b, T)* from CPTS
*S* to CPTS *T*; the part of a commune not declared in any CPTS (1 − sum of its shares) is
treated as uncovered. Totals are preserved exactly. A flow inside a commune split in halves
between CPTS *S* and *T* counts a quarter inside *S*, a quarter inside *T* and a quarter in
each direction between them: residents of a split commune are assumed to use its care
providers without regard to the internal boundary. Declare arrondissements instead of
shares when the data allow it.

**Paris, Lyon, Marseille**: :func:`prepare_flows` given the membership keeps the municipal
arrondissements of the cities the membership divides by arrondissement and rolls the others
up to their city; the indicators count an arrondissement as its city when the city is a
member as a whole, and the layers (:func:`coherence_flags`, :func:`flow_lines`,
:func:`retention_layer`, :func:`cpts_geo.perimeters.propose_perimeters`) use the
arrondissements where the codes do (:func:`commune_units`).

**Statistical secrecy**: :func:`mask_secrecy` masks volumes strictly between 0 and a
threshold (10 by default), the totals that would give them back by difference (secondary
secrecy) and every rate computed on a masked volume, complements included; exports
(:func:`cpts_geo.io.flows.write_flow_table`) and map layers (:func:`flow_lines`, :func:`retention_layer`)
apply it by default.
"""

from cpts_geo.domain.communes import adjacency
from cpts_geo.indicators.flows.indicators import (
    UNCOVERED,
    coherence_flags,
    commune_destinations,
    cpts_flow_indicators,
    flow_matrix,
    leakage_destinations,
)
from cpts_geo.indicators.flows.layers import FlowLines, flow_lines, retention_layer
from cpts_geo.indicators.flows.prepare import (
    PreparedFlows,
    code_report,
    commune_units,
    prepare_flows,
    reading_summary,
)
from cpts_geo.indicators.flows.secrecy import SECRECY_THRESHOLD, french_headers, mask_secrecy
from cpts_geo.indicators.flows.table import FLOW_COLUMNS, FlowsRead, select_flows

__all__ = [
    "FLOW_COLUMNS",
    "SECRECY_THRESHOLD",
    "UNCOVERED",
    "FlowLines",
    "FlowsRead",
    "PreparedFlows",
    "adjacency",
    "code_report",
    "coherence_flags",
    "commune_destinations",
    "commune_units",
    "cpts_flow_indicators",
    "flow_lines",
    "flow_matrix",
    "french_headers",
    "leakage_destinations",
    "mask_secrecy",
    "prepare_flows",
    "reading_summary",
    "retention_layer",
    "select_flows",
]
