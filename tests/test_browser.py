"""The regional map as a person sees it: rendered in headless Chromium with no network.

The HTML written by the library is copied with a small test harness: a script at the top of
``<head>`` records console errors and failed resources, a script at the end hovers a CPTS and
a commune, reads the legend and counts the polygons, and writes the result as JSON into the
page; Chromium's ``--dump-dom`` gives it back. Any network request would fail (proxy to a
closed port, every host unresolvable). A screenshot is saved next to the test output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest

from cpts_geo.domain.communes import load_communes
from cpts_geo.domain.registry import validate_registry
from cpts_geo.domain.stages import STAGES
from cpts_geo.domain.territories import build_territories, communes_with_cpts
from cpts_geo.render.maps import save_map, stage_map
from cpts_geo.render.style import SHARED_LABEL

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium absent : installez le paquet Debian « chromium » (la CI le fait) pour ce test",
)

HEAD = """<script>
window.__errors = []; window.__failed = []; window.__alerts = [];
window.alert = function (m) { window.__alerts.push(String(m)); };
(function () {
  var oe = console.error;
  console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, " ")); oe.apply(console, arguments); };
  window.addEventListener("error", function (e) {
    if (e.target && e.target !== window && (e.target.src || e.target.href)) { window.__failed.push(e.target.src || e.target.href); }
    else { window.__errors.push(String(e.message)); }
  }, true);
})();
</script>"""

TAIL = """<script>
function hover(el) {
  var r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  el.dispatchEvent(new MouseEvent("mouseover", {bubbles: true, clientX: x, clientY: y}));
  el.dispatchEvent(new MouseEvent("mousemove", {bubbles: true, clientX: x, clientY: y}));
  var tips = document.querySelectorAll(".leaflet-tooltip");
  var text = tips.length ? tips[tips.length - 1].textContent : null;
  el.dispatchEvent(new MouseEvent("mouseout", {bubbles: true, clientX: x, clientY: y}));
  return text;
}
window.addEventListener("load", function () {
  setTimeout(function () {
    var out = {};
    try {
      var cpts = document.querySelectorAll("path.cpts-polygon");
      out.cpts_paths = cpts.length;
      out.commune_paths = document.querySelectorAll("path.commune-polygon").length;
      out.uncovered_paths = document.querySelectorAll("path.uncovered-polygon").length;
      out.legend = Array.prototype.map.call(document.querySelectorAll(".cpts-legend-label"), function (e) { return e.textContent; });
      out.cpts_tooltip = hover(cpts[0]);
      out.commune_tooltip = hover(document.querySelectorAll("path.commune-polygon")[0]);
      out.title = (document.querySelector(".cpts-title-main") || {}).textContent;
      out.caption = (document.querySelector(".cpts-caption") || {}).textContent;
      out.layers = Array.prototype.map.call(document.querySelectorAll(".leaflet-control-layers-overlays label"), function (e) { return e.textContent.trim(); });
      out.search = !!document.querySelector(".cpts-search input");
      out.injected_img = document.querySelectorAll("img[src='x']").length;
      out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
    } catch (e) { out.exception = String(e); }
    out.errors = window.__errors; out.failed = window.__failed; out.alerts = window.__alerts;
    var pre = document.createElement("pre"); pre.id = "cpts-test-result";
    pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  }, 300);
});
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--window-size=1280,900", "--virtual-time-budget=10000"]


def chromium(html_path, tmp_path, *extra) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra,
                           html_path.as_uri()], capture_output=True, text=True, timeout=120)


def render(html_path, tmp_path) -> dict:
    page = html_path.read_text(encoding="utf-8")
    page = page.replace("<head>", "<head>" + HEAD, 1).replace("</body>", TAIL + "</body>", 1)
    probe = tmp_path / ("probe-" + html_path.name)
    probe.write_text(page, encoding="utf-8")
    done = chromium(probe, tmp_path, "--dump-dom")
    found = re.search(r'<pre id="cpts-test-result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no result in the page: {done.stderr[-2000:]}"
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1)))


@pytest.mark.slow
def test_hdf_map_in_headless_chromium_offline(hdf_map, tmp_path):
    path, terr, layer = hdf_map
    result = render(path, tmp_path)
    assert "exception" not in result, result.get("exception")
    # Lille, shared by HDF-17 (Lille only) and HDF-24, is drawn once as a shared commune, not under a CPTS
    assert len(terr) == 59
    assert result["cpts_paths"] == 58
    assert result["commune_paths"] == 3782
    # zones blanches are drawn dissolved, one shape per department
    assert result["uncovered_paths"] == layer.loc[~layer["covered"], "department"].nunique()
    assert result["legend"] == [*STAGES, SHARED_LABEL, "Zone blanche (non couverte)"]
    assert result["cpts_tooltip"].startswith("CPTS ")
    assert "Étape : " in result["cpts_tooltip"]
    assert "Code INSEE : " in result["commune_tooltip"]
    assert "CPTS : " in result["commune_tooltip"]
    assert result["title"] == "CPTS — Hauts-de-France"
    assert "population municipale 2021" in result["caption"]
    assert result["layers"][:4] == ["CPTS par étape", "Limites des CPTS", "Noms des CPTS", "Communes"]
    assert result["search"]
    assert result["errors"] == []
    assert result["failed"] == []
    assert result["resources"] == []
    # A screenshot to look at (kept with the test's temporary files)
    shot = tmp_path / "hauts-de-france.png"
    chromium(path, tmp_path, f"--screenshot={shot}")
    assert shot.exists()
    assert shot.stat().st_size > 50_000


def test_names_are_escaped_in_the_browser(tmp_path):
    somme = load_communes(departments="80")
    evil = "<img src=x onerror=alert(1)>"
    reg = pd.DataFrame({"cpts_id": ["X"], "cpts_name": [evil], "stage": ["ACI signé"],
                        "commune_code": ["80021"]})
    checked = validate_registry(reg, somme)
    layer = communes_with_cpts(checked, somme)
    layer.loc["80001", "name"] = "</script><script>alert(2)</script>"
    path = tmp_path / "evil.html"
    save_map(stage_map(build_territories(checked, somme), layer, membership=checked.membership,
                       title=evil), path)
    result = render(path, tmp_path)
    assert result["alerts"] == []
    assert result["injected_img"] == 0
    assert result["cpts_tooltip"].startswith(evil)
    assert result["title"] == evil
    assert result["errors"] == []
