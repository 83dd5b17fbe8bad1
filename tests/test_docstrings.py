"""Every public function documents its parameters and what it returns (numpydoc)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import cpts_geo


def _public_functions():
    for info in pkgutil.walk_packages(cpts_geo.__path__, "cpts_geo."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", obj


def _missing(func) -> list[str]:
    doc = inspect.getdoc(func) or ""
    lines = [line.strip() for line in doc.splitlines()]
    sections = {lines[i] for i in range(len(lines) - 1) if lines[i + 1] and set(lines[i + 1]) == {"-"}}
    missing = []
    if inspect.signature(func).parameters and "Parameters" not in sections:
        missing.append("Parameters")
    if not sections & {"Returns", "Yields"}:
        missing.append("Returns")
    return missing


def test_every_public_function_has_parameters_and_returns():
    undocumented = {name: missing for name, func in _public_functions() if (missing := _missing(func))}
    assert not undocumented, "missing numpydoc sections: " + "; ".join(
        f"{name} ({', '.join(missing)})" for name, missing in sorted(undocumented.items()))
