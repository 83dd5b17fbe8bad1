"""Pure rules of the domain, no file I/O.

Commune codes and their history (:mod:`codes`, :mod:`history`), coordinate reference systems
(:mod:`crs`), the commune layer and its metadata (:mod:`communes`, :mod:`metadata`), user
tables' headers and French numbers (:mod:`headers`, :mod:`numbers`), the registry and its
checks (:mod:`registry`), territories (:mod:`territories`), stages, tiers and ACI funding
(:mod:`stages`, :mod:`tiers`, :mod:`funding`), the comparison of two registries
(:mod:`compare`) and French presentation of numbers and names (:mod:`french`).

This layer imports only :mod:`cpts_geo.data` (and :mod:`cpts_geo.errors`).
"""

from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.domain.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
