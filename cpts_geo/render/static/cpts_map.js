/* cpts_geo: draw a CPTS map on a Leaflet map, offline.
 *
 * One entry: CptsMap.start(map, data) draws the map and returns its handle; CptsMap.instance()
 * gives the handle of the map drawn (for tests). Nothing else is global.
 *
 * Geometry arrives compact: coordinates quantised on a grid (1 / scale degree) and written as
 * zigzag-varint deltas in printable characters (one string per ring). Every text coming from
 * users (CPTS and commune names, titles, layer names, attributions) is put into the page with
 * textContent, never as HTML; Leaflet's layer control, which inserts names as HTML, gets them
 * escaped.
 */
var CptsMap = (function () {
  "use strict";
  var current = null;
  // numbers the French way, as the library writes them (180 816): one formatter
  // (halves to even, as Python's number() rounds)
  var INTEGER = new Intl.NumberFormat("fr-FR", {maximumFractionDigits: 0, roundingMode: "halfEven"});

  // latLng: make Leaflet's L.LatLng objects directly (what a polygon keeps: no copy to make)
  function decodeRing(str, ox, oy, scale, latLng) {
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
      out.push(latLng ? new L.LatLng(y / scale + oy, x / scale + ox) : [y / scale + oy, x / scale + ox]);
    }
    return out;
  }

  function decode(g, data, latLng) {
    return g.map(function (poly) {
      return poly.map(function (ring) { return decodeRing(ring, data.origin[0], data.origin[1], data.scale, latLng); });
    });
  }
  function decodeLatLngs(g, data) { return decode(g, data, true); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function escapeHtml(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
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
    return INTEGER.format(n);
  }

  function control(cls, position, build) {
    var ctl = L.control({position: position});
    ctl.onAdd = function () {
      var div = el("div", cls + " leaflet-control");
      build(div);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return ctl;
  }

  function legendControl(title, entries, extra) {
    return control("cpts-legend", "bottomright", function (div) {
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
      if (extra) { div.appendChild(extra); }
    });
  }

  function ringContains(ring, lat, lng) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][0], xi = ring[i][1], yj = ring[j][0], xj = ring[j][1];
      if (((yi > lat) !== (yj > lat)) && (lng < (xj - xi) * (lat - yi) / (yj - yi) + xi)) { inside = !inside; }
    }
    return inside;
  }

  function shapeContains(shape, lat, lng) {
    return shape.some(function (poly) {
      if (!ringContains(poly[0], lat, lng)) { return false; }
      for (var h = 1; h < poly.length; h++) { if (ringContains(poly[h], lat, lng)) { return false; } }
      return true;
    });
  }

  function start(map, data) {
    var T = data.text;
    var C = data.communes;
    var nCom = C.c.length;
    var lazy = data.communeMinZoom !== null && data.communeMinZoom !== undefined;
    ["cptsFill", "communes", "indicators", "outlines", "departments", "labels"].forEach(function (name, i) {
      map.createPane(name).style.zIndex = 410 + 10 * i;
    });
    // One renderer per pane, so that the panes' order is the drawing order. Up to a region:
    // SVG; beyond (all of France): canvas, much faster for tens of thousands of polygons.
    var many = nCom > 8000;
    function rendererFor(pane) { return many ? L.canvas({pane: pane, padding: 0.2}) : L.svg({pane: pane}); }
    var R = {fill: rendererFor("cptsFill"), communes: rendererFor("communes"),
             indicators: rendererFor("indicators"), outlines: rendererFor("outlines"),
             departments: rendererFor("departments")};
    // no zoom animation: the layers are drawn once, at the final zoom
    if (data.bounds) { map.fitBounds(data.bounds, {animate: false}); }
    var baseZoom = Math.round(map.getZoom());
    var detailZoom = lazy ? Math.max(data.communeMinZoom, baseZoom + 2) : baseZoom + 2;
    ["outlines", "departments", "labels"].forEach(function (p) { map.getPane(p).style.pointerEvents = "none"; });

    var funding = function (c) { return c.fund ? c.fund + " " + T.per_year : null; };
    var popKey = T.population + (data.vintage ? " (" + data.vintage + ")" : "");
    function cptsRows(c) {
      return [[T.stage, c.stage], [T.tier, c.tier], [popKey, fmt(c.pop)], [T.n_communes, c.n],
              [T.funding, funding(c)], [T.id, c.id]];
    }

    // communes of each CPTS, for the commune under a click at regional zoom
    var members = {};
    for (var i = 0; i < nCom; i++) {
      var k = C.k[i];
      if (k >= 0) { (members[k] = members[k] || []).push(i); }
    }
    var shapes = {};
    function shapeOf(i) { if (!shapes[i]) { shapes[i] = decode(C.g[i], data); } return shapes[i]; }
    function inBox(i, lat, lng) {
      var b = C.b[i], x = (lng - data.origin[0]) * data.scale, y = (lat - data.origin[1]) * data.scale;
      return x >= b[0] - 1 && x <= b[2] + 1 && y >= b[1] - 1 && y <= b[3] + 1;
    }
    // a shared commune: every CPTS by name with its share, largest first
    function sharedRows(s) {
      return rows(s.n + " — " + T.shared_title, [[T.code, s.c], [popKey, fmt(s.p)]].concat(
        s.parts.map(function (p) { return [p[1], p[2]]; })));
    }
    function communeRows(i) {
      if (C.s[i] >= 0) { return sharedRows(data.shared[C.s[i]]); }
      var c = C.k[i] >= 0 ? data.cpts[C.k[i]] : null;
      var pairs = [[T.code, C.c[i]], [popKey, fmt(C.p[i])]];
      if (c) {
        pairs.push([T.cpts, c.name]);
        pairs.push([T.stage, c.stage]);
      } else {
        pairs.push([T.cpts, T.uncovered]);
      }
      return rows(C.n[i], pairs);
    }

    // Stripes in the colours of a shared commune's CPTS: an SVG pattern, or a canvas pattern for the
    // canvas renderer of all of France (a colour at (x, y) is colors[floor((x + y) / w) mod n])
    var defs = null, NS = "http://www.w3.org/2000/svg";
    function canvasStripes(colors) {
      var w = 6, n = colors.length, size = w * n, tile = document.createElement("canvas");
      tile.width = size;
      tile.height = size;
      var ctx = tile.getContext("2d");
      for (var i = -1; i <= 2 * n; i++) {
        ctx.fillStyle = colors[((i % n) + n) % n];
        ctx.beginPath();
        ctx.moveTo(i * w, 0);
        ctx.lineTo((i + 1) * w, 0);
        ctx.lineTo((i + 1) * w - size, size);
        ctx.lineTo(i * w - size, size);
        ctx.closePath();
        ctx.fill();
      }
      return ctx.createPattern(tile, "repeat");
    }
    function stripes(id, colors) {
      if (!defs) {
        var svg = document.createElementNS(NS, "svg");
        svg.setAttribute("width", "0");
        svg.setAttribute("height", "0");
        svg.setAttribute("aria-hidden", "true");
        svg.style.position = "absolute";
        defs = document.createElementNS(NS, "defs");
        svg.appendChild(defs);
        document.body.appendChild(svg);
      }
      var w = 6, p = document.createElementNS(NS, "pattern");
      p.setAttribute("id", id);
      p.setAttribute("patternUnits", "userSpaceOnUse");
      p.setAttribute("width", String(w * colors.length));
      p.setAttribute("height", String(w * colors.length));
      p.setAttribute("patternTransform", "rotate(45)");
      colors.forEach(function (col, i) {
        var r = document.createElementNS(NS, "rect");
        r.setAttribute("x", String(i * w));
        r.setAttribute("y", "0");
        r.setAttribute("width", String(w));
        r.setAttribute("height", String(w * colors.length));
        r.setAttribute("fill", col);
        p.appendChild(r);
      });
      defs.appendChild(p);
      return "url(#" + id + ")";
    }

    var cptsLayer = L.layerGroup(), outlineLayer = L.layerGroup();
    data.cpts.forEach(function (c, ci) {
      if (!c.g.length) { return; }  // a CPTS made only of shared communes: drawn with them
      var shape = decodeLatLngs(c.g, data);
      var color = c.f || "#999";
      var poly = L.polygon(shape, {pane: "cptsFill", renderer: R.fill, className: "cpts-polygon",
                                   color: color, weight: 0, fillColor: color, fillOpacity: 0.85});
      poly.bindTooltip(function () { return rows(c.name, cptsRows(c)); }, {sticky: true});
      poly.on("click", function (e) {
        var found = (members[ci] || []).filter(function (j) {
          return inBox(j, e.latlng.lat, e.latlng.lng) && shapeContains(shapeOf(j), e.latlng.lat, e.latlng.lng);
        });
        var box = el("div");
        if (found.length) { box.appendChild(communeRows(found[0])); }
        box.appendChild(rows(c.name, cptsRows(c)));
        L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(box).openOn(map);
      });
      poly.addTo(cptsLayer);
      L.polygon(shape, {pane: "outlines", renderer: R.outlines, interactive: false, fill: false,
                        color: "#1a1a1a", weight: 1.6, opacity: 0.9}).addTo(outlineLayer);
    });

    // shared communes: drawn once, striped with the colours of their CPTS
    (data.shared || []).forEach(function (s, si) {
      var shape = decodeLatLngs(s.g, data);
      var colors = s.parts.map(function (p) { return p[0] >= 0 ? (data.cpts[p[0]].f || "#999") : data.uncoveredColor; });
      var poly = L.polygon(shape, {pane: "cptsFill", renderer: R.fill, className: "shared-polygon",
                                   color: data.sharedBorder, weight: 0, fillOpacity: 0.85,
                                   fillColor: many ? canvasStripes(colors) : stripes("cpts-shared-" + si, colors)});
      poly.bindTooltip(function () { return sharedRows(s); }, {sticky: true});
      poly.on("click", function (e) {
        L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(sharedRows(s)).openOn(map);
      });
      poly.addTo(cptsLayer);
      L.polygon(shape, {pane: "outlines", renderer: R.outlines, interactive: false, fill: false,
                        color: "#1a1a1a", weight: 1.6, opacity: 0.9}).addTo(outlineLayer);
    });

    var uncoveredLayer = L.layerGroup();
    (data.uncovered || []).forEach(function (u) {
      L.polygon(decodeLatLngs(u.g, data), {pane: "cptsFill", renderer: R.fill, className: "uncovered-polygon",
                                    interactive: false, color: data.uncoveredBorder, weight: 0.6,
                                    dashArray: "2 2", fillColor: data.uncoveredColor, fillOpacity: 0.9})
        .addTo(uncoveredLayer);
    });

    // Communes: created when first in view (all at once for a region; from a zoom on for France)
    var communeLayer = L.layerGroup(), made = {}, polys = {};
    function makeCommune(i) {
      if (made[i]) { return polys[i]; }
      made[i] = true;
      var poly = L.polygon(decodeLatLngs(C.g[i], data), {pane: "communes", renderer: R.communes, className: "commune-polygon",
                                        color: "#6e6e6e", weight: 0.4, opacity: 0.7, fill: true,
                                        fillOpacity: 0, fillColor: "#000"});
      poly.bindTooltip(function () { return communeRows(i); }, {sticky: true});
      poly.addTo(communeLayer);
      polys[i] = poly;
      return poly;
    }
    function refreshCommunes() {
      var z = map.getZoom();
      // communes answer the mouse only when zoomed in: at regional zoom the CPTS do
      L.DomUtil[z >= detailZoom ? "removeClass" : "addClass"](map.getPane("communes"), "cpts-mute");
      if (!map.hasLayer(communeLayer)) { return; }
      if (!lazy) {
        for (var j = 0; j < nCom; j++) { if (C.g[j].length) { makeCommune(j); } }
        return;
      }
      if (z < data.communeMinZoom) { return; }
      var b = map.getBounds();
      var x0 = (b.getWest() - data.origin[0]) * data.scale, x1 = (b.getEast() - data.origin[0]) * data.scale;
      var y0 = (b.getSouth() - data.origin[1]) * data.scale, y1 = (b.getNorth() - data.origin[1]) * data.scale;
      for (var i2 = 0; i2 < nCom; i2++) {
        var bb = C.b[i2];
        if (!made[i2] && C.g[i2].length && bb[2] >= x0 && bb[0] <= x1 && bb[3] >= y0 && bb[1] <= y1) { makeCommune(i2); }
      }
    }

    var depLayer = L.layerGroup();
    data.departments.forEach(function (d) {
      L.polygon(decodeLatLngs(d.g, data), {pane: "departments", renderer: R.departments, interactive: false, fill: false,
                                    color: "#000", weight: 2.6, opacity: 0.9}).addTo(depLayer);
    });

    // Labels, placed in Python for each zoom level (inside the CPTS, without overlap)
    var labelLayer = L.layerGroup(), shortUsed = false, numbersBox = el("details", "cpts-numbers");
    function refreshLabels() {
      labelLayer.clearLayers();
      shortUsed = false;
      var S = data.labels;
      if (!S || !S.zooms) { return; }
      // a label that would overlap another (mode 3) is left out; none below the first zoom level
      if (Math.round(map.getZoom()) < S.min) { numbersBox.style.display = "none"; return; }
      var z = Math.min(S.max, Math.round(map.getZoom()));
      var set = S.zooms[String(z)] || [];
      set.forEach(function (p, ci) {
        if (p[1] === null || p[0] === 3) { return; }
        var c = data.cpts[ci];
        var text = p[0] === 0 ? S.text[ci] : (p[0] === 1 ? S.two[ci] : c.short);
        if (p[0] === 2) { shortUsed = true; }
        var node = el("div", "cpts-label" + (p[0] === 2 ? " cpts-label-short" : ""));
        text.split("\n").forEach(function (line, li) {
          if (li) { node.appendChild(document.createElement("br")); }
          node.appendChild(document.createTextNode(line));
        });
        L.marker([p[1], p[2]], {pane: "labels", interactive: false, keyboard: false,
                                icon: L.divIcon({className: "cpts-label-icon", html: node, iconSize: null})})
          .addTo(labelLayer);
      });
      numbersBox.style.display = shortUsed && map.hasLayer(labelLayer) ? "" : "none";
    }
    numbersBox.appendChild(el("summary", null, T.numbers));
    var numList = el("ol", "cpts-number-list");
    data.cpts.forEach(function (c) { numList.appendChild(el("li", null, c.name)); });
    numbersBox.appendChild(numList);

    cptsLayer.addTo(map);
    outlineLayer.addTo(map);
    uncoveredLayer.addTo(map);
    communeLayer.addTo(map);
    depLayer.addTo(map);
    labelLayer.addTo(map);

    var overlays = {}, named = {};
    function overlay(name, layer) { overlays[escapeHtml(name)] = layer; named[escapeHtml(name)] = name; }
    if (data.fond) {
      var tiles = L.tileLayer(data.fond.url, {attribution: escapeHtml(data.fond.attribution), maxZoom: 19,
                                              crossOrigin: true});
      overlay(T.fond + " : " + data.fond.name, tiles);
      tiles.addTo(map);
    }
    overlay(T.layer_cpts, cptsLayer);
    overlay(T.layer_outlines, outlineLayer);
    overlay(T.layer_labels, labelLayer);
    overlay(T.layer_communes, communeLayer);
    overlay(T.layer_uncovered, uncoveredLayer);
    overlay(T.layer_departments, depLayer);

    // Legends: one per visible layer
    // only the classes present; several colours (CPTS told apart) make one striped swatch
    var entries = data.legend.entries.map(function (e) {
      var c = e[1];
      if (c.length === 1) { return [e[0], c[0]]; }
      var stops = c.map(function (col, i) {
        return col + " " + (100 * i / c.length).toFixed(1) + "% " + (100 * (i + 1) / c.length).toFixed(1) + "%";
      });
      return [e[0], "linear-gradient(90deg, " + stops.join(", ") + ")"];
    });
    if ((data.shared || []).length) {
      entries.push([T.shared, "repeating-linear-gradient(45deg, #555 0 3px, #fff 3px 6px)"]);
    }
    if ((data.uncovered || []).length) {
      entries.push([T.uncovered, data.uncoveredColor, "1px dashed " + data.uncoveredBorder]);
    }
    var stageLegend = legendControl(data.legend.title || T.legend_title, entries, numbersBox);
    var legends = data.legend.show ? [[cptsLayer, stageLegend]] : [];
    (data.indicators || []).forEach(function (ind) {
      var layer = L.layerGroup();
      ind.features.forEach(function (f) {
        var poly = L.polygon(decodeLatLngs(f.g, data), {
          pane: "indicators", renderer: R.indicators, className: "indicator-polygon",
          color: "#555", weight: 0.3, fillColor: f.k === null ? "#ffffff" : ind.colors[f.k], fillOpacity: 0.9
        });
        var content = function () {
          return rows(f.l, [[ind.title, f.v === null ? T.missing : f.t]].concat(f.ref || []));
        };
        poly.bindTooltip(content, {sticky: true});
        poly.bindPopup(content);
        poly.addTo(layer);
      });
      overlay(ind.name, layer);
      if (ind.legend !== false) {
        var e2 = ind.labels.map(function (lab, i) { return [lab, ind.colors[i]]; });
        if (ind.has_missing) { e2.push([T.missing, "#ffffff", "1px solid #999"]); }
        legends.push([layer, legendControl(ind.title, e2)]);
      }
    });
    function refreshLegends() {
      legends.forEach(function (l) {
        if (map.hasLayer(l[0])) { if (!l[1]._map) { l[1].addTo(map); } } else if (l[1]._map) { l[1].remove(); }
      });
      numbersBox.style.display = shortUsed && map.hasLayer(labelLayer) ? "" : "none";
    }
    map.on("overlayadd overlayremove", function () { refreshLegends(); refreshCommunes(); });

    L.control.layers(null, overlays, {collapsed: window.innerWidth < 1000, position: "topright"}).addTo(map);

    control("cpts-title", "topleft", function (div) {
      div.appendChild(el("div", "cpts-title-main", data.title));
      if (data.subtitle) { div.appendChild(el("div", "cpts-title-sub", data.subtitle)); }
    }).addTo(map);

    // Search a commune by name
    var byName = {};
    for (var n2 = 0; n2 < nCom; n2++) { byName[C.n[n2] + " (" + C.c[n2] + ")"] = n2; }
    control("cpts-search", "topleft", function (div) {
      var input = el("input");
      input.type = "search";
      input.placeholder = T.search;
      input.setAttribute("list", "cpts-commune-names");
      input.setAttribute("aria-label", T.search);
      var list = el("datalist");
      list.id = "cpts-commune-names";
      function fillList() {
        if (list.childElementCount) { return; }
        Object.keys(byName).sort().forEach(function (key) { var o = el("option"); o.value = key; list.appendChild(o); });
      }
      input.addEventListener("focus", fillList);
      input.addEventListener("input", fillList);
      div.appendChild(input);
      div.appendChild(list);
      input.addEventListener("change", function () {
        var i = byName[input.value];
        if (i === undefined) { return; }
        if (!map.hasLayer(communeLayer)) { communeLayer.addTo(map); }
        var b = C.b[i];
        map.fitBounds([[b[1] / data.scale + data.origin[1], b[0] / data.scale + data.origin[0]],
                       [b[3] / data.scale + data.origin[1], b[2] / data.scale + data.origin[0]]], {maxZoom: 12});
        var poly = makeCommune(i);
        poly.setStyle({weight: 3, color: "#d7301f"});
        poly.openTooltip(poly.getBounds().getCenter());
        setTimeout(function () { poly.setStyle({weight: 0.4, color: "#6e6e6e"}); }, 4000);
      });
    }).addTo(map);

    // Full screen and print (our own buttons: no plugin, no network)
    control("cpts-buttons", "topleft", function (div) {
      var full = el("button", "cpts-button cpts-fullscreen", T.fullscreen);
      full.type = "button";
      full.title = T.fullscreen;
      full.setAttribute("aria-label", T.fullscreen);
      full.addEventListener("click", function () {
        var box = map.getContainer();
        if (document.fullscreenElement) { document.exitFullscreen(); }
        else if (box.requestFullscreen) { box.requestFullscreen(); }
      });
      var print = el("button", "cpts-button cpts-print", T.print);
      print.type = "button";
      print.title = T.print;
      print.setAttribute("aria-label", T.print);
      print.addEventListener("click", function () { window.print(); });
      div.appendChild(full);
      div.appendChild(print);
    }).addTo(map);
    document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });

    control("cpts-caption", "bottomleft", function (div) {
      data.caption.forEach(function (t, i) { div.appendChild(el("div", i ? "cpts-caption-sub" : "cpts-caption-main", t)); });
    }).addTo(map);
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);

    map.on("zoomend", function () { refreshLabels(); refreshCommunes(); });
    map.on("moveend", refreshCommunes);
    refreshLabels();
    refreshCommunes();
    refreshLegends();
    current = {nCpts: data.cpts.length, nCommunes: nCom, nShared: (data.shared || []).length, map: map, detailZoom: detailZoom,
               communesDrawn: function () { return Object.keys(made).length; }};
    return current;
  }

  // fmt is exposed for the parity test of the number format (tests/test_map_script.py)
  return {start: start, instance: function () { return current; }, rules: {integer: fmt}};
})();
