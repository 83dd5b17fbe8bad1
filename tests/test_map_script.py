"""The HTML map's script (``static/cpts_map.js``): one global, numbers written as the library writes them.

Run in headless Chromium (Debian's, through Playwright, no network), like the editor's rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cpts_geo.domain.french import number

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium absent (/usr/bin/chromium) : installez le paquet Debian « chromium »")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def script() -> Iterator[Callable[..., Any]]:
    """A Chromium page holding ``cpts_map.js`` (no map started): ``script(js, arg)`` evaluates ``js``."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    from cpts_geo.render.maps import _static

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<script>{_static('cpts_map.js')}</script>")

        def run(js: str, arg: Any = None) -> Any:
            return page.evaluate(js, arg)

        yield run
        assert errors == []
        browser.close()


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
