/* cpts_geo perimeter editor: draft CPTS perimeters by clicking communes or drawing a lasso, offline.
 *
 * No rule lives here: the page sums per-commune figures computed in Python (population, area,
 * APL x standardised population, professionals) and reads the tier and the ACI funding maximum
 * from tables evaluated by the library (tiers.py, funding.py). User text goes in as textContent.
 * A lasso selects the communes whose point on surface (computed in Python) lies inside the drawn
 * ring, by the even-odd rule of pointInPolygon below.
 */
(function () {
  "use strict";

  // Even-odd rule: is (x, y) inside the ring [[x, y], ...] (closed or not)? A free-hand ring that
  // crosses itself counts its loops alternately, as a drawing program does.
  function pointInPolygon(x, y, ring) {
    var inside = false;
    for (var a = 0, b = ring.length - 1; a < ring.length; b = a++) {
      var xa = ring[a][0], ya = ring[a][1], xb = ring[b][0], yb = ring[b][1];
      if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) { inside = !inside; }
    }
    return inside;
  }
  window.cptsPointInPolygon = pointInPolygon;

  window.cptsEditor = function (data) {
    var U = window.cptsGeoText, el = U.el, T = data.text, C = data.communes, n = C.c.length;
    var index = {};
    C.c.forEach(function (code, i) { index[code] = i; });
    var storeKey = data.key;
    var state = load() || {drafts: [], active: -1, seq: 0};
    var pending = [];   // communes asked for that belong to another CPTS or draft: taken only on « Prendre quand même »
    var notice = null;  // what the last lasso did (not stored)
    var palette = ["#e6550d", "#756bb1", "#31a354", "#d6616b", "#3182bd", "#8c6d31"];

    function load() {
      try { var s = JSON.parse(window.localStorage.getItem(storeKey)); return s && s.drafts ? s : null; }
      catch (e) { return null; }
    }
    function save() {
      try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
    }
    function newDraft(name) {
      state.seq += 1;
      var d = {id: "BROUILLON-" + state.seq, name: name || (T.draft + " " + state.seq), stage: data.newStage,
               communes: [], conflicts: []};
      state.drafts.push(d);
      state.active = state.drafts.length - 1;
      return d;
    }
    function active() { return state.drafts[state.active] || null; }
    function draftOf(i) {
      var code = C.c[i];
      for (var k = 0; k < state.drafts.length; k++) { if (state.drafts[k].communes.indexOf(code) >= 0) { return k; } }
      return -1;
    }
    function ownerText(i) {
      var k = draftOf(i);
      if (k >= 0) { return T.of_draft + " « " + state.drafts[k].name + " »"; }
      if (C.o[i] >= 0) { return "« " + data.cpts[C.o[i]].name + " » (" + T.registry + ")"; }
      return null;
    }

    // --- figures of a draft (sums of embedded per-commune figures) --------------------------
    function tierOf(pop) {
      var t = null;
      data.tiers.forEach(function (b) { if (pop >= b[0]) { t = b[1]; } });
      return t;
    }
    function figures(d) {
      var pos = d.communes.map(function (c) { return index[c]; }).filter(function (i) { return i !== undefined; });
      var f = {n: pos.length, pop: 0, popKnown: true, area: 0, deps: {}, wv: 0, w: 0, aplMissing: 0, prof: []};
      pos.forEach(function (i) {
        if (C.p[i] === null) { f.popKnown = false; } else { f.pop += C.p[i]; }
        f.area += C.a[i];
        f.deps[C.d[i]] = true;
        if (C.w[i] === null || C.wv[i] === null) { f.aplMissing += 1; } else { f.wv += C.wv[i]; f.w += C.w[i]; }
      });
      f.tier = pos.length ? tierOf(f.pop) : null;
      f.funding = f.tier ? data.funding[String(f.tier)] : null;
      f.apl = f.w > 0 ? f.wv / f.w : null;
      f.deps = Object.keys(f.deps).sort();
      // contiguity: pieces of the draft through shared borders
      var inDraft = {}, seen = {}, pieces = 0;
      pos.forEach(function (i) { inDraft[i] = true; });
      pos.forEach(function (i) {
        if (seen[i]) { return; }
        pieces += 1;
        var stack = [i];
        seen[i] = true;
        while (stack.length) {
          var j = stack.pop();
          C.nb[j].forEach(function (k) { if (inDraft[k] && !seen[k]) { seen[k] = true; stack.push(k); } });
        }
      });
      f.pieces = pieces;
      // neighbours outside the page (their supply is not in the figures above: said so)
      var beyond = {}, regions = {};
      f.edge = false;
      pos.forEach(function (i) {
        (data.edge.length ? data.edge[i] : []).forEach(function (k) {
          f.edge = true;
          if (k >= 0) { beyond[k] = true; regions[data.beyond.r[k]] = true; }
        });
      });
      f.beyond = Object.keys(beyond).map(Number).sort(function (a, b) { return a - b; });
      f.beyondRegions = Object.keys(regions).sort();
      data.professions.names.forEach(function (name, p) {
        var count = 0, out = 0;
        pos.forEach(function (i) { count += data.professions.counts[p][i]; });
        if (data.beyond.known) { f.beyond.forEach(function (k) { out += data.beyond.counts[p][k]; }); }
        f.prof.push({name: name, count: count, density: f.pop > 0 ? data.per * count / f.pop : null, beyond: out});
      });
      return f;
    }
    function num(x, decimals) {
      if (x === null || x === undefined) { return "non disponible"; }
      var s = x.toFixed(decimals).split(".");
      return s[0].replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f") + (s[1] ? "," + s[1] : "");
    }

    // --- map -----------------------------------------------------------------------------------
    var map = L.map("cpts-editor-map", {zoomSnap: 0.25, preferCanvas: false, boxZoom: false});
    map.fitBounds(data.bounds);
    var renderer = L.svg();
    var polys = [];
    for (var i = 0; i < n; i++) {
      (function (i) {
        var poly = L.polygon(window.cptsGeoDecode(C.g[i], data), {renderer: renderer, className: "editor-commune",
                                                                 weight: 0.5, color: "#666", fillOpacity: 0.6});
        poly.bindTooltip(function () {
          var owner = ownerText(i);
          return U.rows(C.n[i], [["Code INSEE", C.c[i]], [T.population + (data.vintage ? " (" + data.vintage + ")" : ""),
                                  U.fmt(C.p[i])], ["CPTS", owner || T.free]]);
        }, {sticky: true});
        poly.on("click", function () { clickCommune(i); });
        poly.addTo(map);
        poly.getElement && poly.getElement() && poly.getElement().setAttribute("data-code", C.c[i]);
        polys.push(poly);
      })(i);
    }
    function styleAll() {
      for (var i = 0; i < n; i++) {
        var k = draftOf(i), o = C.o[i], fill = "#ffffff", op = 0.15, weight = 0.5, color = "#777";
        if (k >= 0) {
          fill = palette[k % palette.length]; op = k === state.active ? 0.8 : 0.55;
          weight = k === state.active ? 1.2 : 0.6; color = k === state.active ? "#7f2704" : "#444";
        } else if (o >= 0) {
          fill = data.colors[data.cpts[o].stage] || "#bbbbbb"; op = 0.45;
        }
        polys[i].setStyle({fillColor: fill, fillOpacity: op, weight: weight, color: color});
      }
    }

    function clickCommune(i) {
      var d = active() || newDraft();
      var code = C.c[i], at = d.communes.indexOf(code);
      notice = null;
      if (at >= 0) { d.communes.splice(at, 1); pending = []; return changed(); }
      var k = draftOf(i);
      if (k >= 0 || C.o[i] >= 0) { pending = [i]; return render(); }
      d.communes.push(code);
      pending = [];
      changed();
    }
    // communes picked by a lasso: free ones are added, those of another CPTS or draft wait for an
    // explicit « Prendre quand même » (as a click); "remove" takes them out of the active draft
    function lassoCommunes(picked, mode) {
      var d = active();
      pending = [];
      if (mode === "remove") {
        var removed = 0;
        if (d) {
          picked.forEach(function (i) {
            var at = d.communes.indexOf(C.c[i]);
            if (at >= 0) { d.communes.splice(at, 1); removed += 1; }
          });
        }
        notice = T.lasso_removed.replace("{n}", removed);
        return changed();
      }
      d = d || newDraft();
      var added = 0, already = 0;
      picked.forEach(function (i) {
        if (d.communes.indexOf(C.c[i]) >= 0) { already += 1; return; }
        if (draftOf(i) >= 0 || C.o[i] >= 0) { pending.push(i); return; }
        d.communes.push(C.c[i]);
        added += 1;
      });
      notice = T.lasso_added.replace("{n}", added) + (already ? " ; " + T.lasso_already.replace("{n}", already) : "") +
        (pending.length ? " ; " + T.lasso_pending.replace("{n}", pending.length) : "") + ".";
      changed();
    }
    function takeAnyway() {
      var d = active();
      if (!pending.length || !d) { return; }
      pending.forEach(function (i) {
        var k = draftOf(i), code = C.c[i];
        if (d.communes.indexOf(code) >= 0) { return; }
        var from = ownerText(i);
        if (k >= 0) { var other = state.drafts[k]; other.communes.splice(other.communes.indexOf(code), 1); }
        d.communes.push(code);
        d.conflicts.push({code: code, name: C.n[i], from: from});
      });
      pending = [];
      notice = null;
      changed();
    }
    function changed() { save(); styleAll(); render(); }

    // --- CSV export and import (registry format) -----------------------------------------------
    function cell(v) {
      var s = String(v === null || v === undefined ? "" : v);
      if (s && data.formulaStart.indexOf(s.charAt(0)) >= 0) { s = "'" + s; }
      if (/[";\n\r]/.test(s)) { s = '"' + s.replace(/"/g, '""') + '"'; }
      return s;
    }
    function exportCsv() {
      var lines = [["cpts_id", "cpts_name", "stage", "commune_code", "commune_name"].join(";")];
      state.drafts.forEach(function (d) {
        d.communes.forEach(function (code) {
          lines.push([d.id, d.name, d.stage, code, C.n[index[code]]].map(cell).join(";"));
        });
      });
      return "\ufeff" + lines.join("\r\n") + "\r\n";
    }
    function download() {
      var blob = new Blob([exportCsv()], {type: "text/csv;charset=utf-8"});
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "brouillons-cpts.csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    }
    function parseCsv(text) {
      text = text.replace(/^\ufeff/, "");
      var rows = [], row = [], field = "", q = false, sep = text.split("\n")[0].indexOf(";") >= 0 ? ";" : ",";
      for (var p = 0; p < text.length; p++) {
        var ch = text.charAt(p);
        if (q) {
          if (ch === '"' && text.charAt(p + 1) === '"') { field += '"'; p++; }
          else if (ch === '"') { q = false; } else { field += ch; }
        } else if (ch === '"') { q = true; }
        else if (ch === sep) { row.push(field); field = ""; }
        else if (ch === "\n") { row.push(field.replace(/\r$/, "")); rows.push(row); row = []; field = ""; }
        else { field += ch; }
      }
      if (field || row.length) { row.push(field.replace(/\r$/, "")); rows.push(row); }
      return rows;
    }
    function importCsv(text) {
      var rows = parseCsv(text), head = rows.shift() || [], col = {}, problems = [];
      head.forEach(function (h, j) { col[h.trim()] = j; });
      var byId = {}, order = [];
      rows.forEach(function (r, j) {
        if (r.length === 1 && r[0] === "") { return; }
        var id = r[col.cpts_id], code = (r[col.commune_code] || "").trim();
        if (index[code] === undefined) { problems.push("ligne " + (j + 2) + " : " + code + " — " + T.unknown_code); return; }
        if (!byId[id]) {
          var name = r[col.cpts_name] || id;
          byId[id] = {id: id, name: name.charAt(0) === "'" ? name.slice(1) : name, stage: r[col.stage] || data.newStage,
                      communes: [], conflicts: []};
          order.push(id);
        }
        if (byId[id].communes.indexOf(code) < 0) { byId[id].communes.push(code); }
      });
      state.drafts = order.map(function (id) { return byId[id]; });
      state.seq = Math.max(state.seq, state.drafts.length);
      state.active = state.drafts.length ? 0 : -1;
      state.message = T.imported.replace("{n}", state.drafts.length);
      state.problems = problems;
      changed();
    }

    // --- panel ---------------------------------------------------------------------------------
    var panel = document.getElementById("cpts-editor-panel");
    function row(box, key, value, cls) {
      var r = el("div", "editor-row" + (cls ? " " + cls : ""));
      r.appendChild(el("span", "editor-key", key + " : "));
      var v = el("span", "editor-val", value);
      r.appendChild(v);
      box.appendChild(r);
      return v;
    }
    function button(text, cls, action) {
      var b = el("button", cls, text);
      b.type = "button";
      b.addEventListener("click", action);
      return b;
    }
    function render() {
      panel.textContent = "";
      panel.appendChild(el("h1", "editor-title", data.title));
      panel.appendChild(el("p", "editor-hint", T.hint));
      var list = el("div", "editor-drafts");
      list.appendChild(el("h2", null, T.drafts));
      state.drafts.forEach(function (d, k) {
        var b = button(d.name + " (" + d.communes.length + ")", "editor-draft" + (k === state.active ? " active" : ""),
                       function () { state.active = k; pending = []; notice = null; changed(); });
        b.style.borderLeftColor = palette[k % palette.length];
        list.appendChild(b);
      });
      list.appendChild(button(T.new_draft, "editor-new", function () { newDraft(); changed(); }));
      panel.appendChild(list);
      if (state.message) { panel.appendChild(el("p", "editor-message", state.message)); }
      (state.problems || []).forEach(function (p) { panel.appendChild(el("p", "editor-problem", p)); });
      var d = active();
      if (d) {
        var box = el("section", "editor-draft-box");
        var label = el("label", "editor-name-label", T.name + " ");
        var input = el("input", "editor-name");
        input.value = d.name;
        input.addEventListener("change", function () { d.name = input.value; changed(); });
        label.appendChild(input);
        box.appendChild(label);
        if (notice) { box.appendChild(el("p", "editor-notice", notice)); }
        if (pending.length) {
          var warn = el("div", "editor-pending");
          if (pending.length === 1) {
            warn.appendChild(el("p", null, T.taken_from.replace("{commune}", C.n[pending[0]] + " (" + C.c[pending[0]] + ")")
                                            .replace("{owner}", ownerText(pending[0]))));
          } else {
            warn.appendChild(el("p", null, T.taken_many.replace("{n}", pending.length)));
            var ul = el("ul", "editor-pending-list");
            pending.forEach(function (i) { ul.appendChild(el("li", null, C.n[i] + " (" + C.c[i] + ") — " + ownerText(i))); });
            warn.appendChild(ul);
          }
          warn.appendChild(button(pending.length === 1 ? T.take : T.take + " (" + pending.length + ")", "editor-take", takeAnyway));
          warn.appendChild(button(T.cancel, "editor-cancel", function () { pending = []; render(); }));
          box.appendChild(warn);
        }
        var f = figures(d);
        var fig = el("div", "editor-figures");
        row(fig, T.communes, String(f.n)).dataset.value = f.n;
        row(fig, T.population + (data.vintage ? " (" + data.vintage + ")" : ""),
            f.popKnown ? num(f.pop, 0) : num(f.pop, 0) + " (incomplète)").dataset.value = f.pop;
        row(fig, T.tier, f.tier === null ? "—" : String(f.tier)).dataset.value = f.tier === null ? "" : f.tier;
        row(fig, T.funding, f.funding === null ? "—" : num(f.funding, 0) + " €").dataset.value =
          f.funding === null ? "" : f.funding;
        row(fig, T.area, num(f.area, 2) + " km²").dataset.value = f.area;
        row(fig, T.departments, f.deps.join(", ") || "—");
        var cont = row(fig, T.contiguity, f.n === 0 ? "—" : (f.pieces <= 1 ? T.one_piece : T.pieces.replace("{n}", f.pieces)),
                       f.pieces > 1 ? "editor-flag" : "");
        cont.dataset.value = f.pieces;
        var apl = row(fig, T.apl + " " + data.aplYear, f.apl === null ? "—" : num(f.apl, 2) + " " + T.apl_unit +
                      (f.aplMissing ? " (" + f.aplMissing + " " + T.apl_unknown + ")" : ""));
        apl.dataset.value = f.apl === null ? "" : f.apl;
        box.appendChild(fig);
        if (f.prof.length) {
          var pbox = el("div", "editor-professions");
          pbox.appendChild(el("h3", null, T.professionals));
          pbox.appendChild(el("p", "editor-supply-scope", T.supply_scope.replace("{n}", f.n)));
          var anyBeyond = f.prof.some(function (p) { return p.beyond > 0; });
          if (f.edge) {
            var note = !data.beyond.known ? T.beyond_unknown : (anyBeyond ? T.beyond_known : T.beyond_none);
            var b = el("p", "editor-beyond" + (data.beyond.known ? "" : " editor-flag"),
                       note.replace("{k}", f.beyond.length).replace("{regions}", f.beyondRegions.join(", ")));
            b.dataset.communes = data.beyond.known ? f.beyond.map(function (k) { return data.beyond.c[k]; }).join(",") : "";
            pbox.appendChild(b);
          }
          f.prof.forEach(function (p) {
            var v = row(pbox, p.name, num(p.count, 0) + " (" + num(p.density, 1) + ")" +
                        (p.beyond > 0 ? " — " + T.beyond_row.replace("{m}", num(p.beyond, 0)) : ""));
            v.dataset.count = p.count;
            v.dataset.density = p.density === null ? "" : p.density;
            v.dataset.beyond = p.beyond;
          });
          box.appendChild(pbox);
        }
        var cbox = el("div", "editor-conflicts");
        cbox.appendChild(el("h3", null, T.conflicts));
        if (!d.conflicts.length) { cbox.appendChild(el("p", null, T.none)); }
        d.conflicts.forEach(function (c) { cbox.appendChild(el("p", "editor-conflict", c.name + " (" + c.code + ") — " + c.from)); });
        box.appendChild(cbox);
        box.appendChild(button(T.delete, "editor-delete", function () {
          state.drafts.splice(state.active, 1);
          state.active = state.drafts.length - 1;
          pending = [];
          notice = null;
          changed();
        }));
        panel.appendChild(box);
      } else {
        panel.appendChild(el("p", "editor-hint", T.no_commune));
      }
      var io = el("div", "editor-io");
      io.appendChild(button(T.export, "editor-export", download));
      var imp = el("label", "editor-import", T.import + " ");
      var file = el("input");
      file.type = "file";
      file.accept = ".csv,text/csv";
      file.addEventListener("change", function () {
        if (!file.files.length) { return; }
        var reader = new FileReader();
        reader.onload = function () { importCsv(String(reader.result)); };
        reader.readAsText(file.files[0], "utf-8");
      });
      imp.appendChild(file);
      io.appendChild(imp);
      panel.appendChild(io);
    }

    // legend of the existing CPTS, by stage
    var legend = L.control({position: "bottomleft"});
    legend.onAdd = function () {
      var div = el("div", "cpts-legend leaflet-control");
      div.appendChild(el("div", "cpts-legend-title", T.layer_registry));
      data.stages.forEach(function (s) {
        var r = el("div", "cpts-legend-row"), sw = el("span", "cpts-swatch");
        sw.style.background = data.colors[s];
        r.appendChild(sw);
        r.appendChild(el("span", "cpts-legend-label", s));
        div.appendChild(r);
      });
      return div;
    };
    legend.addTo(map);
    L.control.scale({imperial: false, position: "bottomright"}).addTo(map);

    // --- lasso: press and drag a free-hand ring (« Lasso » modes, or Shift+drag; Shift+Alt removes) --
    var container = map.getContainer(), lassoMode = null, drawing = null, swallowClick = false;
    var modeButtons = {};
    var tools = L.control({position: "topleft"});
    tools.onAdd = function () {
      var div = el("div", "editor-tools leaflet-bar leaflet-control");
      [[null, T.mode_click], ["add", T.mode_lasso_add], ["remove", T.mode_lasso_remove]].forEach(function (m) {
        var b = el("button", "editor-tool", m[1]);
        b.type = "button";
        b.dataset.mode = m[0] || "click";
        b.title = m[0] ? T.lasso_hint : T.hint;
        b.addEventListener("click", function (e) { e.stopPropagation(); setMode(m[0]); });
        modeButtons[b.dataset.mode] = b;
        div.appendChild(b);
      });
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    tools.addTo(map);
    function setMode(mode) {
      lassoMode = mode;
      Object.keys(modeButtons).forEach(function (k) {
        var on = k === (mode || "click");
        modeButtons[k].classList.toggle("active", on);
        modeButtons[k].setAttribute("aria-pressed", on ? "true" : "false");
      });
      container.classList.toggle("editor-lasso-on", !!mode);
    }
    function startLasso(e) {
      if (e.button !== 0 || drawing) { return; }
      var mode = lassoMode || (e.shiftKey ? (e.altKey ? "remove" : "add") : null);
      if (!mode || (e.target.closest && e.target.closest(".leaflet-control"))) { return; }
      e.preventDefault();
      e.stopPropagation();
      var p = map.mouseEventToContainerPoint(e);
      drawing = {mode: mode, pts: [[p.x, p.y]],
                 line: L.polyline([map.containerPointToLatLng(p)], {interactive: false, className: "editor-lasso",
                                                                   color: mode === "remove" ? "#b30000" : "#08519c",
                                                                   weight: 2, dashArray: "4 3"}).addTo(map)};
      swallowClick = false;
      polys.forEach(function (poly) { poly.closeTooltip(); });
    }
    function moveLasso(e) {
      if (!drawing) { return; }
      e.preventDefault();
      e.stopPropagation();
      var p = map.mouseEventToContainerPoint(e), last = drawing.pts[drawing.pts.length - 1];
      if (Math.abs(p.x - last[0]) + Math.abs(p.y - last[1]) < 2) { return; }
      drawing.pts.push([p.x, p.y]);
      drawing.line.addLatLng(map.containerPointToLatLng(p));
    }
    function endLasso(e) {
      if (!drawing) { return; }
      e.preventDefault();
      e.stopPropagation();
      var ring = drawing.pts, mode = drawing.mode;
      map.removeLayer(drawing.line);
      polys.forEach(function (poly) { poly.closeTooltip(); });
      drawing = null;
      var xs = ring.map(function (q) { return q[0]; }), ys = ring.map(function (q) { return q[1]; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (ring.length < 3 || (x1 - x0) + (y1 - y0) < 6) { return; }  // a click, not a lasso: the click goes on
      swallowClick = true;
      var picked = [];
      for (var i = 0; i < n; i++) {
        if (C.pt[i] === null) { continue; }
        var q = map.latLngToContainerPoint([C.pt[i][1], C.pt[i][0]]);
        if (q.x >= x0 && q.x <= x1 && q.y >= y0 && q.y <= y1 && pointInPolygon(q.x, q.y, ring)) { picked.push(i); }
      }
      lassoCommunes(picked, mode);
    }
    // capture phase: the lasso sees the press before Leaflet's dragging and the communes' clicks
    ["pointerdown", "mousedown"].forEach(function (t) { container.addEventListener(t, function (e) {
      if (drawing) { e.preventDefault(); e.stopPropagation(); } else if (t === "pointerdown") { startLasso(e); }
    }, true); });
    document.addEventListener("pointermove", moveLasso, true);
    ["mousemove", "mouseover", "mouseout"].forEach(function (t) {  // no tooltip while drawing
      document.addEventListener(t, function (e) { if (drawing) { e.stopPropagation(); } }, true);
    });
    document.addEventListener("pointerup", endLasso, true);
    document.addEventListener("pointercancel", function () { if (drawing) { map.removeLayer(drawing.line); drawing = null; } }, true);
    container.addEventListener("click", function (e) {
      if (swallowClick) { swallowClick = false; e.stopPropagation(); e.preventDefault(); }
    }, true);
    setMode(null);

    styleAll();
    render();
    window.cptsEditorApi = {state: function () { return state; }, figures: function (k) { return figures(state.drafts[k]); },
                            exportCsv: exportCsv, importCsv: importCsv, clickCode: function (code) { clickCommune(index[code]); },
                            lassoCodes: function (codes, mode) { lassoCommunes(codes.map(function (c) { return index[c]; }), mode || "add"); },
                            setMode: setMode,
                            map: map, polygon: function (code) { return polys[index[code]]; }};
  };
})();
