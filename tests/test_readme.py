"""The commands of the README run as written.

A fenced ``bash`` or ``python`` block preceded by the HTML comment ``<!-- runnable -->`` is run
here, from an empty folder, with this checkout's ``cpts_geo`` (``cpts-geo`` is this checkout's
command line); it must exit with 0. ``<!-- runnable: network -->`` marks a block that downloads
packages (installs), ``<!-- runnable: slow -->`` one that takes minutes: both are skipped with
that reason (the install is checked by CI, which installs the wheel in a fresh virtual
environment and runs ``cpts-geo carte`` from it). Blocks without the comment are not run (the
test command itself, commands on the user's own files).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
READMES = [REPO / "README.md"]
BLOCK = re.compile(r"^<!--\s*runnable(?::\s*(?P<skip>[\w ,-]+?))?\s*-->\s*\n```(?P<lang>bash|python)\s*\n"
                   r"(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SKIP_REASONS = {"network": "télécharge des paquets (installation) : vérifié par la CI depuis la roue",
                "slow": "prend plusieurs minutes"}


def runnable_blocks(path: Path) -> list[tuple[str, str, str | None, int]]:
    """The blocks of a Markdown file marked ``<!-- runnable -->``.

    Parameters
    ----------
    path : Path
        The Markdown file.

    Returns
    -------
    list of tuple
        ``(language, code, skip, line)``: ``skip`` is the word after ``runnable:`` (or None),
        ``line`` the line of the block in the file.
    """
    text = path.read_text(encoding="utf-8")
    return [(m.group("lang"), m.group("code"), m.group("skip"), text.count("\n", 0, m.start()) + 1)
            for m in BLOCK.finditer(text)]


def _cases():
    for path in READMES:
        if not path.exists():
            continue
        blocks = runnable_blocks(path)
        if not blocks:
            yield pytest.param(path, None, id=f"{path.name}-aucun-bloc")
        for block in blocks:
            yield pytest.param(path, block, id=f"{path.name}-ligne-{block[3]}")


def test_marker_syntax(tmp_path):
    text = ("intro\n```bash\nnot marked\n```\n<!-- runnable -->\n```bash\necho a\n```\n\n"
            "<!-- runnable: network -->\n```python\nprint(1)\n```\n")
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    assert runnable_blocks(path) == [("bash", "echo a\n", None, 5), ("python", "print(1)\n", "network", 10)]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "block"), list(_cases()))
def test_readme_block_runs(path, block, tmp_path):
    if block is None:
        pytest.skip(f"{path.name} : aucun bloc marqué <!-- runnable -->")
    language, code, skip, line = block
    if skip:
        pytest.skip(f"{path.name}, ligne {line} : {SKIP_REASONS.get(skip, skip)}")
    # `cpts-geo` and `python` are this checkout's, whatever is installed
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cpts-geo"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "import sys; from cpts_geo.cli.main import main; '
                    f'sys.exit(main())" "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    work = tmp_path / "dossier"
    work.mkdir()
    command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{path.name}, bloc de la ligne {line} :\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
