"""The layers of ``docs/architecture.md`` hold in the code.

Run alone (``python tests/test_architecture.py``) it prints the package's import cycles, the
imports of another subpackage's private names and the functions over 80 lines; under pytest it
asserts there are none.
The layers contract itself is checked by ``lint-imports`` (``[tool.importlinter]`` in
``pyproject.toml``), which CI runs before the tests.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cpts_geo"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """Every import of the package's own modules in ``path``, at module level or inside a
    function: (module imported, names taken from it, line)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("cpts_geo")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            if not base.startswith("cpts_geo"):
                continue
            names = []
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # a submodule
                    found.append((f"{base}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((base, names, node.lineno))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (a submodule import also runs its parents)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _names, _line in _imports(path, name, modules):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def import_cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    graph, index, low, stack, on_stack, out = import_graph(), {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def private_imports() -> list[str]:
    """Imports of a private module or name (``_x``) that belongs to another subpackage."""
    modules, out = _modules(), []
    for name, path in modules.items():
        layer = name.split(".")[:2]
        for target, names, line in _imports(path, name, modules):
            if target.split(".")[:2] == layer:
                continue  # inside one subpackage, private helpers are shared freely
            private = [p for p in target.split(".")[1:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_") and n != "__version__"]
            if private:
                out.append(f"{path.relative_to(REPO)}:{line}: {target} {', '.join(private)}")
    return out


#: The longest a function may be, its docstring excluded (ruff's C901 bounds its complexity).
MAX_FUNCTION_LINES = 80


def long_functions() -> list[str]:
    """Functions of the package longer than :data:`MAX_FUNCTION_LINES`, docstring excluded."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= (first.end_lineno or first.lineno) - first.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name} ({lines} lignes)")
    return out


def test_no_import_cycles():
    assert import_cycles() == []


def test_no_private_import_across_subpackages():
    assert private_imports() == []


def test_no_function_over_80_lines():
    assert long_functions() == []


def test_every_module_is_an_attribute_after_import():
    import cpts_geo

    for name in _modules():
        parts = name.split(".")
        obj = cpts_geo
        for part in parts[1:]:
            if part.startswith("_"):
                break
            obj = getattr(obj, part)
        assert obj is not None, name


def test_every_owner_named_by_the_architecture_page_exists():
    """Each `module.name` the page gives as an owner is importable where it says."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for ref in sorted(set(re.findall(r"`(cpts_geo(?:\.\w+)+)`", text))):
        module, _, attr = ref.rpartition(".")
        try:
            importlib.import_module(ref)
            continue
        except ImportError:
            pass
        try:
            if not hasattr(importlib.import_module(module), attr):
                missing.append(ref)
        except ImportError:
            missing.append(ref)
    assert missing == []


if __name__ == "__main__":
    cycles, private, long = import_cycles(), private_imports(), long_functions()
    print(f"{len(cycles)} cycle(s) d'imports")
    for c in cycles:
        print("  " + " ↔ ".join(c))
    print(f"{len(private)} import(s) de noms privés d'un autre sous-paquet")
    for p in private:
        print("  " + p)
    print(f"{len(long)} fonction(s) de plus de {MAX_FUNCTION_LINES} lignes (docstring exclue)")
    for f in long:
        print("  " + f)
    sys.exit(1 if cycles or private or long else 0)
