"""Every file and database in and out.

Reading (one reader for every user table, :func:`read_table`: encoding, separator, sheet,
layer, header synonyms, file row numbers, French numbers) and the readers built on it
(registries, commune layers, populations, supply, flows, portrait tables, passage tables);
writing (layers and styles for QGIS, tables for French Excel, PostGIS), always atomically.

Header recognition (:func:`recognise_headers`, :data:`SYNONYMS`) and the French number parser
(:func:`parse_numbers`) are rules of the domain (:mod:`cpts_geo.domain.headers`,
:mod:`cpts_geo.domain.numbers`), re-exported here beside the reader that uses them.
"""

from types import ModuleType

from cpts_geo.domain.headers import (
    KINDS,
    REQUIRED,
    SYNONYMS,
    ReadTable,
    header_key,
    recognise_header,
    recognise_headers,
)
from cpts_geo.domain.numbers import parse_number, parse_numbers
from cpts_geo.io._read import SEPARATORS, read_table

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


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.io.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
