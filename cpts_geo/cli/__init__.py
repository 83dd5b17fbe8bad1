"""The ``cpts-geo`` command line: one module per command over the library.

:func:`main` parses the arguments (:mod:`cpts_geo.cli.main`) and imports a command's module
only when that command runs, so ``cpts-geo --help`` starts without the geospatial stack.
"""

from types import ModuleType

from cpts_geo.cli.main import main

__all__ = ["main"]


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.cli.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
