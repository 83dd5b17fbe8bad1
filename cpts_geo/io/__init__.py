"""Reading what users give: one reader for every table, one number parser, one header matcher.

- :func:`read_table` reads CSV/TXT, XLSX, Parquet/GeoParquet, GeoPackage and other OGR files
  and returns a :class:`ReadTable` (the table, the file row number of each row, the encoding,
  separator, sheet or layer used, the XLSX formulas without a value);
- :func:`parse_numbers` / :func:`parse_number` read numbers as French users type them
  (``1 234``, ``1.234,5``, ``12,5``);
- :func:`recognise_headers` maps headers to standard fields with the synonyms of
  :data:`SYNONYMS` (registry, supply, flows, costs, population, indicators).

Accent and case folding is :func:`cpts_geo._french.fold`.
"""

from cpts_geo.io._headers import (
    KINDS,
    REQUIRED,
    SYNONYMS,
    header_key,
    recognise_header,
    recognise_headers,
)
from cpts_geo.io._numbers import parse_number, parse_numbers
from cpts_geo.io._read import SEPARATORS, ReadTable, read_table

__all__ = [
    "KINDS",
    "REQUIRED",
    "SEPARATORS",
    "SYNONYMS",
    "ReadTable",
    "header_key",
    "parse_number",
    "parse_numbers",
    "read_table",
    "recognise_header",
    "recognise_headers",
]
