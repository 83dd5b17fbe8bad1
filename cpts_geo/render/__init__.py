"""What people look at: interactive HTML maps, print maps, the perimeter editor, the portrait.

Colours and classes (:mod:`style`), label placement (:mod:`labels`), HTML maps and their
geometry codec (:mod:`maps`), print maps (:mod:`plotting`), the editor (:mod:`editor`), the
portrait of a CPTS (:mod:`portrait`) and the maps of every area (:mod:`batch`). The page
scripts and style sheets are in ``static/``.
"""

from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    """A module of this layer, imported on first use (``cpts_geo.render.<module>``)."""
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise  # a dependency of that module is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
