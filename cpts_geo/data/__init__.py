"""Embedded reference data, read-only, each table read once per process.

The commune layer and its arrondissements, the population municipale 2021 on today's
communes, INSEE's code history (gescodgeo), the communes' shared borders, the map's
simplification, the DREES APL tables and the illustrative Hauts-de-France registry. Where they
come from, their licence and vintage: ``data/communes/SOURCES.md``; the scripts that rebuild
them: ``data/communes/build*.py`` and ``data/example/build.py`` (tools outside the wheel).

This layer finds and reads files only; every rule that uses them lives above it.
"""

from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.data.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
