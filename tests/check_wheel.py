"""Check what a built wheel of cpts_geo holds: every file the code loads, and nothing more.

    python tests/check_wheel.py dist/cpts_geo-*.whl

Prints each problem and exits with 1 if there is any. Used by ``.ci/run`` after ``python -m build``
and by ``tests/test_packaging.py``.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def expected_files() -> set[str]:
    """Files of the checkout that the wheel must hold, as paths inside the wheel.

    Returns
    -------
    set of str
        The modules of ``cpts_geo``, its data files, the embedded tables of ``data/communes``
        (as ``cpts_geo/_data/``), the page scripts and style sheets, ``py.typed``.
    """
    files = {p.relative_to(REPO).as_posix() for p in (REPO / "cpts_geo").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    files |= {f"cpts_geo/_data/{p.name}" for p in (REPO / "data" / "communes").iterdir()
              if p.is_file() and p.suffix != ".py"}
    return files


def problems(wheel: str | Path) -> list[str]:
    """Problems of a wheel: a file missing, a build script shipped, a version not the checkout's.

    Parameters
    ----------
    wheel : str or Path
        The ``.whl`` file.

    Returns
    -------
    list of str
        One line per problem; empty when the wheel is right.
    """
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = next((z.read(n).decode("utf-8") for n in names if n.endswith(".dist-info/METADATA")), "")
    out = [f"manquant : {name}" for name in sorted(expected_files() - names)]
    out += [f"script de construction livré comme module : {name}" for name in sorted(names)
            if name.startswith("cpts_geo/_data/") and name.endswith(".py")]
    out += [f"fichier inattendu : {name}" for name in sorted(names)
            if not name.startswith(("cpts_geo/", "cpts_geo-")) or name.endswith((".pyc", "~"))]
    version = re.search(r'^__version__ = "([^"]+)"', (REPO / "cpts_geo" / "__init__.py").read_text(encoding="utf-8"),
                        re.MULTILINE)
    found = re.search(r"^Version: (.+)$", metadata, re.MULTILINE)
    if not version or not found or found.group(1).strip() != version.group(1):
        out.append(f"version du paquet : {found and found.group(1)!r}, attendue {version and version.group(1)!r}")
    if not re.search(r"^Classifier: Natural Language :: French$", metadata, re.MULTILINE):
        out.append("classificateur « Natural Language :: French » absent des métadonnées")
    return out


if __name__ == "__main__":
    found = [line for path in sys.argv[1:] for line in problems(path)]
    for line in found:
        print(line)
    if not sys.argv[1:]:
        print("usage : python tests/check_wheel.py dist/cpts_geo-*.whl")
    sys.exit(1 if found or not sys.argv[1:] else 0)
