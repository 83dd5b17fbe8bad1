"""Indicators of a territorial diagnosis, computed on tables already read.

Supply of professionals and density (:mod:`supply`, :mod:`density`), accessibility (E2SFCA,
:mod:`accessibility`), patient flows with the one statistical-secrecy rule (:mod:`flows`) and
perimeter proposals (:mod:`perimeters`). No file is read or written here: that is
:mod:`cpts_geo.io`, one layer above.
"""

from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.indicators.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
