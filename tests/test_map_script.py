"""The HTML map's script (``static/cpts_map.js``): one global, numbers written as the library writes them.

Run in headless Chromium (Debian's, through Playwright, no network), like the editor's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from chromium import browser_only, script_page

from cpts_geo.domain.french import number

pytestmark = browser_only


@pytest.fixture(scope="module")
def script() -> Iterator[Callable[..., Any]]:
    """A Chromium page holding ``cpts_map.js`` (no map started): ``script(js, arg)`` evaluates ``js``."""
    from cpts_geo.render.maps import _static

    with script_page(_static("cpts_map.js")) as run:
        yield run


def test_the_script_adds_one_global(script: Callable[..., Any]) -> None:
    added = script("""() => { const f = document.createElement('iframe'); document.body.appendChild(f);
        const base = new Set(Object.getOwnPropertyNames(f.contentWindow));
        const out = Object.getOwnPropertyNames(window).filter(k => !base.has(k) && !/^[0-9]+$/.test(k));
        f.remove(); return out; }""")
    assert added == ["CptsMap"]
    assert script("typeof CptsMap.start") == "function"
    assert script("CptsMap.instance()") is None


def test_numbers_are_written_as_the_library_writes_them(script: Callable[..., Any]) -> None:
    rng = np.random.default_rng(7)
    values = [0, 7, 999, 1000, 180816, 2_165_423, -1234, 0.5, 1.5, 2.5, 1234.5, 99999.5,
              *rng.uniform(0, 3_000_000, 300).tolist(), *(rng.integers(0, 900_000, 100) + 0.5).tolist()]
    got = script("(vs) => vs.map(v => CptsMap.rules.integer(v))", values)
    assert got == [number(v, 0, sep="\u202f") for v in values]  # the narrow no-break space of HTML pages
    assert script("CptsMap.rules.integer(null)") == "non connue"
