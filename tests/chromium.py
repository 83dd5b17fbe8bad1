"""Debian's Chromium for the browser tests: where it is, its flags, and a page holding one of our scripts.

Imported by the test modules (``from chromium import CHROMIUM, FLAGS, browser_only``), like
``postgis_server``. No network: a dead proxy and a resolver that finds nothing, so that a page that
needed the internet would show it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
         "--host-resolver-rules=MAP * ~NOTFOUND"]
#: Skip a test (or a module, as ``pytestmark``) where Debian's chromium is absent.
browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                  reason="chromium absent (/usr/bin/chromium) : installez le paquet Debian « chromium »")


@contextmanager
def script_page(source: str) -> Iterator[Callable[..., Any]]:
    """A Chromium page holding ``source`` in a ``<script>``: yields ``run(js, arg=None)``, which
    evaluates ``js`` there; the page must have raised no error when it closes."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright pour Python absent")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<script>{source}</script>")

        def run(js: str, arg: Any = None) -> Any:
            return page.evaluate(js, arg)

        yield run
        assert errors == []
        browser.close()
