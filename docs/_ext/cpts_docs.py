"""Sphinx helpers of the cpts_geo site: the API pages written from ``cpts_geo.API``, the CLI help.

- :func:`api_pages` writes ``docs/api/*.rst`` (one page per layer) from :data:`cpts_geo.API` and the
  typed results (NamedTuple and dataclass results) of the public modules, so the reference lists
  every public name without anyone keeping a list by hand; ``tests/test_docs.py`` checks it.
- The ``cli-help`` directive prints ``cpts-geo COMMAND --help`` as the installed command prints it;
  ``cli-commands`` lists the commands of the parser.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import io
import os
import pkgutil
import re
from pathlib import Path

#: The pages of the reference, in the order of the layers (docs/architecture.md).
LAYERS = {
    "errors": ("Errors", "cpts_geo.errors"),
    "data": ("Embedded data", "cpts_geo.data"),
    "domain": ("Domain rules", "cpts_geo.domain"),
    "indicators": ("Indicators", "cpts_geo.indicators"),
    "io": ("Files and databases", "cpts_geo.io"),
    "render": ("Maps, editor, portrait", "cpts_geo.render"),
}


def _is_typed_result(obj) -> bool:
    return inspect.isclass(obj) and (dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields")))


def api_entries() -> dict[str, list[tuple[str, str]]]:
    """Every documented object, by module: the names of ``cpts_geo.API`` and the typed results.

    Returns
    -------
    dict
        Module name → list of ``(name, directive)``, ``directive`` being ``autofunction``,
        ``autoclass``, ``autoexception`` or ``autodata``.
    """
    import cpts_geo

    seen: set[int] = set()
    out: dict[str, list[tuple[str, str]]] = {}

    def add(module: str, name: str, obj) -> None:
        if id(obj) in seen and not isinstance(obj, (str, int, float, tuple, dict, list)):
            return
        seen.add(id(obj))
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            kind = "autoexception"
        elif inspect.isclass(obj):
            kind = "autoclass"
        elif callable(obj):
            kind = "autofunction"
        else:
            kind = "autodata"
        out.setdefault(module, []).append((name, kind))

    for name, module in cpts_geo.API.items():
        add(module, name, getattr(importlib.import_module(module), name))
    for info in pkgutil.walk_packages(cpts_geo.__path__, "cpts_geo."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] == "cli":
            continue
        module = importlib.import_module(info.name)
        for name, obj in sorted(vars(module).items()):
            if not name.startswith("_") and _is_typed_result(obj) and obj.__module__ == info.name:
                add(info.name, name, obj)
    return out


def api_pages(folder: str | Path) -> dict[str, str]:
    """Write the reST pages of the API reference.

    Parameters
    ----------
    folder : str or Path
        Where to write ``index.rst`` and one page per layer (``docs/api``).

    Returns
    -------
    dict
        File name → text written.
    """
    import cpts_geo

    folder = Path(folder)
    entries = api_entries()
    pages: dict[str, str] = {}
    for page, (title, prefix) in LAYERS.items():
        modules = sorted(m for m in entries if m == prefix or m.startswith(prefix + "."))
        lines = [".. Written by docs/_ext/cpts_docs.py from cpts_geo.API: do not edit.", "",
                 title, "=" * len(title), "", f".. automodule:: {prefix}", "   :no-members:", ""]
        for module in modules:
            if module != prefix:
                lines += [f"``{module}``", "-" * (len(module) + 4), "", f".. automodule:: {module}",
                          "   :no-members:", ""]
            lines += [f".. currentmodule:: {module}", "", ".. autosummary::", ""]
            lines += [f"   {name}" for name, _ in entries[module]] + [""]
            for name, kind in entries[module]:
                lines.append(f".. {kind}:: {module}.{name}")
                if kind == "autoclass":
                    lines += ["   :members:", "   :exclude-members: count, index"]
                lines.append("")
        pages[f"{page}.rst"] = "\n".join(lines)
    in_api = sorted(cpts_geo.API)
    index = [".. Written by docs/_ext/cpts_docs.py from cpts_geo.API: do not edit.", "",
             "API reference", "=============", "",
             "Every name of the public API, :data:`cpts_geo.API`, is importable from the package itself",
             "(``cpts_geo.load_communes``…) and is documented below at the module that owns it, with the",
             "typed results the functions return (tables with their reports). The reference is generated",
             "from the docstrings (numpydoc); examples in them run as doctests.", "",
             ".. code-block:: python", "",
             "   import cpts_geo", "",
             "   cpts_geo.API['load_communes']   # 'cpts_geo.domain.communes'", "",
             ".. toctree::", "   :maxdepth: 2", ""]
    index += [f"   {page}" for page in LAYERS] + ["", "Public names", "------------", "",
                                                   ".. list-table::", "   :header-rows: 1", "",
                                                   "   * - name", "     - owner"]
    for name in in_api:
        index += [f"   * - :obj:`{name} <{cpts_geo.API[name]}.{name}>`", f"     - ``{cpts_geo.API[name]}``"]
    pages["index.rst"] = "\n".join(index) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return pages


def cli_help(command: str | None = None, *, width: int = 100) -> str:
    """The text of ``cpts-geo [COMMAND] --help``.

    Parameters
    ----------
    command : str, optional
        A command of ``cpts-geo``; ``None`` for the main help.
    width : int
        Columns of the text.

    Returns
    -------
    str
        The help, as the command prints it.
    """
    from cpts_geo.cli.main import main

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([command, "--help"] if command else ["--help"])
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue().rstrip()


def cli_commands() -> list[tuple[str, str]]:
    """The commands of ``cpts-geo`` and their one-line help, read from the main help.

    Returns
    -------
    list of tuple
        ``(command, help)`` in the parser's order (English aliases left out).
    """
    text = cli_help(width=400)
    block = text.split("COMMANDE\n", 1)[1].split("\n\n", 1)[0]
    found = []
    for line in block.splitlines():
        m = re.match(r"^    (\S+)(?: \(\S+\))?(?:\s{2,}(.+))?$", line)
        if m:
            found.append((m.group(1), (m.group(2) or "").strip()))
        elif found and not found[-1][1]:
            found[-1] = (found[-1][0], line.strip())
    return found


def setup(app):
    """Register the directives and write the API pages when the build starts.

    Parameters
    ----------
    app : sphinx.application.Sphinx
        The Sphinx application.

    Returns
    -------
    dict
        Extension metadata.
    """
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class CliHelp(SphinxDirective):
        optional_arguments = 1

        def run(self):
            text = cli_help(self.arguments[0] if self.arguments else None)
            block = nodes.literal_block(text, text)
            block["language"] = "text"
            return [block]

    class CliCommands(SphinxDirective):
        def run(self):
            out = []
            for command, summary in cli_commands():
                section = nodes.section(ids=[f"commande-{command}"], names=[f"cpts-geo {command}"])
                section += nodes.title("", "", nodes.literal(text=f"cpts-geo {command}"))
                section += nodes.paragraph(text=summary[0].upper() + summary[1:] + ".")
                text = cli_help(command)
                block = nodes.literal_block(text, text)
                block["language"] = "text"
                section += block
                out.append(section)
            return out

    app.add_directive("cli-help", CliHelp)
    app.add_directive("cli-commands", CliCommands)
    app.connect("builder-inited", lambda app: api_pages(Path(app.srcdir) / "api"))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
