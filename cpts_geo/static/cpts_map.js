/* cpts_geo: draw a regional CPTS map on a Leaflet map, offline.
 *
 * Geometry arrives compact: coordinates quantised on a grid (1 / scale degree) and written as
 * zigzag-varint deltas in printable characters (one string per ring). Every text coming from
 * users (CPTS and commune names) is put into the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  function decodeRing(str, ox, oy, scale) {
    var i = 0, x = 0, y = 0, out = [];
    while (i < str.length) {
      var v = [0, 0];
      for (var k = 0; k < 2; k++) {
        var shift = 0, res = 0, b;
        do {
          b = str.charCodeAt(i++) - 63;
          res |= (b & 0x1f) << shift;
          shift += 5;
        } while (b >= 0x20);
        v[k] = (res & 1) ? ~(res >> 1) : (res >> 1);
      }
      x += v[0];
      y += v[1];
      out.push([y / scale + oy, x / scale + ox]);
    }
    return out;
  }

  function decode(g, data) {
    // g: list of polygons, each a list of rings (strings)
    return g.map(function (poly) {
      return poly.map(function (ring) {
        return decodeRing(ring, data.origin[0], data.origin[1], data.scale);
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function rows(title, pairs) {
    var box = el("div", "cpts-tip");
    box.appendChild(el("div", "cpts-tip-title", title));
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      var r = el("div", "cpts-tip-row");
      r.appendChild(el("span", "cpts-tip-key", p[0] + " : "));
      r.appendChild(el("span", "cpts-tip-val", p[1]));
      box.appendChild(r);
    });
    return box;
  }

  function fmt(n) {
    if (n === null || n === undefined) { return "non connue"; }
    return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  }

  function legendControl(title, entries, position) {
    var ctl = L.control({position: position || "bottomright"});
    ctl.onAdd = function () {
      var div = el("div", "cpts-legend leaflet-control");
      div.appendChild(el("div", "cpts-legend-title", title));
      entries.forEach(function (e) {
        var r = el("div", "cpts-legend-row");
        var sw = el("span", "cpts-swatch");
        sw.style.background = e[1];
        if (e[2]) { sw.style.border = e[2]; }
        r.appendChild(sw);
        r.appendChild(el("span", "cpts-legend-label", e[0]));
        div.appendChild(r);
      });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    return ctl;
  }

  function textControl(cls, lines, position) {
    var ctl = L.control({position: position});
    ctl.onAdd = function () {
      var div = el("div", cls + " leaflet-control");
      lines.forEach(function (t, i) { div.appendChild(el(i === 0 ? "div" : "div", i === 0 ? cls + "-main" : cls + "-sub", t)); });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    return ctl;
  }

  window.cptsGeoMap = function (map, data) {
    var T = data.text;
    var many = data.communes.length > 8000;
    ["cptsFill", "communes", "indicators", "outlines", "departments"].forEach(function (name, i) {
      map.createPane(name).style.zIndex = 410 + 10 * i;
    });
    // One renderer per pane, so that the panes' order is the drawing order (an indicator stays
    // under the CPTS and department borders). Up to a region: SVG (one element per polygon);
    // beyond (all of France): canvas, much faster to draw tens of thousands of polygons.
    function rendererFor(pane) { return many ? L.canvas({pane: pane, padding: 0.2}) : L.svg({pane: pane}); }
    var R = {fill: rendererFor("cptsFill"), communes: rendererFor("communes"),
             indicators: rendererFor("indicators"), outlines: rendererFor("outlines"),
             departments: rendererFor("departments")};
    // Set the view first: polygons are then projected once, not again on a later zoom change.
    if (data.bounds) { map.fitBounds(data.bounds); }
    map.getPane("outlines").style.pointerEvents = "none";
    map.getPane("departments").style.pointerEvents = "none";

    var cptsById = {};
    var cptsLayer = L.layerGroup(), outlineLayer = L.layerGroup();
    data.cpts.forEach(function (c) {
      cptsById[c.id] = c;
      var shape = decode(c.g, data);
      var poly = L.polygon(shape, {
        pane: "cptsFill", renderer: R.fill, className: "cpts-polygon",
        color: data.colors[c.stage] || "#999", weight: 0, fillColor: data.colors[c.stage] || "#999",
        fillOpacity: 0.85
      });
      poly.bindTooltip(function () {
        return rows(c.name, [[T.stage, c.stage], [T.tier, c.tier], [T.population, fmt(c.pop)],
                             [T.n_communes, c.n], [T.id, c.id]]);
      }, {sticky: true});
      poly.addTo(cptsLayer);
      L.polygon(shape, {pane: "outlines", renderer: R.outlines, interactive: false, fill: false,
                        color: "#1a1a1a", weight: 1.6, opacity: 0.9}).addTo(outlineLayer);
    });

    var communeLayer = L.layerGroup(), uncoveredLayer = L.layerGroup();
    var byName = {};
    data.communes.forEach(function (m) {
      var shape = decode(m.g, data);
      var covered = !!m.cpts;
      var poly = L.polygon(shape, {
        pane: "communes", renderer: R.communes, className: "commune-polygon",
        color: "#6e6e6e", weight: 0.4, opacity: 0.7, fill: true, fillOpacity: 0,
        fillColor: "#000"
      });
      poly.bindTooltip(function () {
        var c = covered ? cptsById[m.cpts] : null;
        var pairs = [[T.code, m.c], [T.population, fmt(m.p)]];
        if (c) {
          pairs.push([T.cpts, c.name + (m.all ? " — " + m.all : "")]);
          pairs.push([T.stage, c.stage]);
        } else {
          pairs.push([T.cpts, T.uncovered]);
        }
        return rows(m.n, pairs);
      }, {sticky: true});
      poly.addTo(communeLayer);
      byName[m.n + " (" + m.c + ")"] = poly;
      if (!covered) {
        L.polygon(shape, {pane: "cptsFill", renderer: R.fill, className: "uncovered-polygon",
                          interactive: false, color: data.uncoveredBorder, weight: 0.6, dashArray: "2 2",
                          fillColor: data.uncoveredColor, fillOpacity: 0.9}).addTo(uncoveredLayer);
      }
    });

    var depLayer = L.layerGroup();
    data.departments.forEach(function (d) {
      L.polygon(decode(d.g, data), {pane: "departments", renderer: R.departments, interactive: false, fill: false,
                                    color: "#000", weight: 2.6, opacity: 0.9}).addTo(depLayer);
    });

    cptsLayer.addTo(map);
    outlineLayer.addTo(map);
    uncoveredLayer.addTo(map);
    communeLayer.addTo(map);
    depLayer.addTo(map);

    var overlays = {};
    overlays[T.layer_cpts] = cptsLayer;
    overlays[T.layer_outlines] = outlineLayer;
    overlays[T.layer_communes] = communeLayer;
    overlays[T.layer_uncovered] = uncoveredLayer;
    overlays[T.layer_departments] = depLayer;

    var indicatorLegends = {};
    (data.indicators || []).forEach(function (ind) {
      var layer = L.layerGroup();
      ind.features.forEach(function (f) {
        var poly = L.polygon(decode(f.g, data), {
          pane: "indicators", renderer: R.indicators, className: "indicator-polygon",
          color: "#555", weight: 0.3, fillColor: f.k === null ? "#ffffff" : ind.colors[f.k], fillOpacity: 0.9
        });
        poly.bindTooltip(function () {
          return rows(f.l, [[ind.title, f.v === null ? T.missing : f.t]]);
        }, {sticky: true});
        poly.addTo(layer);
      });
      overlays[ind.name] = layer;
      var entries = ind.labels.map(function (lab, i) { return [lab, ind.colors[i]]; });
      if (ind.has_missing) { entries.push([T.missing, "#ffffff", "1px solid #999"]); }
      indicatorLegends[ind.name] = legendControl(ind.title, entries, "bottomright");
    });
    map.on("overlayadd", function (e) { if (indicatorLegends[e.name]) { indicatorLegends[e.name].addTo(map); } });
    map.on("overlayremove", function (e) { if (indicatorLegends[e.name]) { indicatorLegends[e.name].remove(); } });

    L.control.layers(null, overlays, {collapsed: false, position: "topright"}).addTo(map);

    var entries = data.stages.map(function (s) { return [s, data.colors[s]]; });
    entries.push([T.uncovered, data.uncoveredColor, "1px dashed " + data.uncoveredBorder]);
    legendControl(T.legend_title, entries, "bottomright").addTo(map);

    textControl("cpts-title", [data.title].concat(data.subtitle ? [data.subtitle] : []), "topleft").addTo(map);
    textControl("cpts-caption", data.caption, "bottomleft").addTo(map);

    // Search a commune by name
    var search = L.control({position: "topleft"});
    search.onAdd = function () {
      var div = el("div", "cpts-search leaflet-control");
      var input = el("input");
      input.type = "search";
      input.placeholder = T.search;
      input.setAttribute("list", "cpts-commune-names");
      input.setAttribute("aria-label", T.search);
      var list = el("datalist");
      list.id = "cpts-commune-names";
      // the list of names (tens of thousands for France) is built when the box is first used
      function fillList() {
        if (list.childElementCount) { return; }
        Object.keys(byName).sort().forEach(function (k) { var o = el("option"); o.value = k; list.appendChild(o); });
      }
      input.addEventListener("focus", fillList);
      input.addEventListener("input", fillList);
      div.appendChild(input);
      div.appendChild(list);
      input.addEventListener("change", function () {
        var poly = byName[input.value];
        if (!poly) { return; }
        if (!map.hasLayer(communeLayer)) { communeLayer.addTo(map); }
        map.fitBounds(poly.getBounds(), {maxZoom: 12});
        poly.setStyle({weight: 3, color: "#d7301f"});
        poly.openTooltip(poly.getBounds().getCenter());
        setTimeout(function () { poly.setStyle({weight: 0.4, color: "#6e6e6e"}); }, 4000);
      });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    search.addTo(map);

    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
    window.cptsGeo = {nCpts: data.cpts.length, nCommunes: data.communes.length, map: map};
    return window.cptsGeo;
  };
})();
