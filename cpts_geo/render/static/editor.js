/* cpts_geo perimeter editor: draft CPTS perimeters by clicking communes or drawing a lasso, offline.
 *
 * One module, one global: CptsEditor. Its entry is CptsEditor.start(data), called once by the page
 * with the data of cpts_geo.render.editor.editor_data; CptsEditor.instance() gives the running
 * editor back (for tests and benchmarks). This script reads no other script's globals (only
 * Leaflet's L). User text goes in as textContent. Numbers are written by one formatter,
 * Intl.NumberFormat("fr-FR") (formatNumber).
 *
 * The page computes a draft's figures live, from per-commune figures computed in Python
 * (population, area, APL x standardised population and standardised population, professionals,
 * and with the user's travel times the E2SFCA accessibility and its demand). The rules it applies
 * to them are the functions of CptsEditor.rules, one per rule, each the mirror of its owner in
 * the library and compared with it on many inputs by a test that runs it in Chromium
 * (tests/test_editor_rules.py):
 *   roundPopulation   numpy's round half to even, as build_territories rounds a population
 *   tierOf            the size tier, from the breakpoints of cpts_geo.domain.tiers.tier_of (data.tiers)
 *   fundingOf         the ACI funding maximum of a tier (cpts_geo.domain.funding.aci_funding, data.funding)
 *   weightedMean      the DREES aggregation of an accessibility: mean weighted by the standardised
 *                     population times the share, unknown values left out
 *                     (cpts_geo.indicators.accessibility.territory_accessibility, aggregate_apl)
 *   density           professionals per `per` inhabitants (cpts_geo.indicators.density.density)
 *   pieces            the contiguity of a draft: its parts through shared borders (n_parts of
 *                     cpts_geo.domain.territories.build_territories)
 *   guardCell, unguardCell   the CSV formula guard and its undoing (cpts_geo.io.files.neutralise_cells,
 *                     restore_cells), for the characters of data.formulaStart
 *   pointInPolygon    the lasso's even-odd rule (compared with shapely)
 * A lasso selects the communes whose point on surface (computed in Python) lies inside the drawn
 * ring.
 *
 * A CSV imported here is read as the command line reads it (cpts_geo.io.read_table): encoding
 * detected (UTF-8, UTF-8 with BOM, UTF-16, Windows-1252, a UTF-8 file with some Windows-1252
 * lines), Excel's « sep=; » line, separator detected, blank lines counted in the row numbers; its
 * headers are recognised by the rules of cpts_geo.domain.headers, given by Python (data.headers).
 * Every look-up keyed by a user's text (CPTS ids, commune codes) goes through a Map or an object
 * without prototype: an id « constructor » or « __proto__ » is an id like any other.
 */
var CptsEditor = (function () {
  "use strict";

  // --- the rules (one function each; see the list above and tests/test_editor_rules.py) -----------

  // numpy's round (half to even), as build_territories rounds a population summed with shares
  function roundPopulation(x) {
    var r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }
  // the tier of a whole population: breakpoints [[lowest population, tier], ...] ascending, read
  // by Python from cpts_geo.domain.tiers.tier_of (editor.py _tier_breakpoints)
  function tierOf(population, breakpoints) {
    var t = null;
    breakpoints.forEach(function (b) { if (population >= b[0]) { t = b[1]; } });
    return t;
  }
  // the ACI funding maximum of a tier (maxima by tier from cpts_geo.domain.funding.aci_funding)
  function fundingOf(tier, maxima) {
    return tier !== null && tier !== undefined && Object.prototype.hasOwnProperty.call(maxima, String(tier))
      ? maxima[String(tier)] : null;
  }
  // DREES aggregation: sum(share x value x weight) / sum(share x weight) over the units whose value
  // is known; valueTimesWeight[i] (value x weight of unit i, null: unknown), weight[i] (null:
  // unknown), share[i] (null: the whole unit). null when no known weight is > 0.
  function weightedMean(valueTimesWeight, weight, share) {
    var num = 0, den = 0;
    for (var k = 0; k < weight.length; k++) {
      if (valueTimesWeight[k] === null || weight[k] === null) { continue; }
      var s = share[k] === null || share[k] === undefined ? 1 : share[k];
      num += valueTimesWeight[k] * s;
      den += weight[k] * s;
    }
    return den > 0 ? num / den : null;
  }
  var splitIndexes = new WeakMap();
  // the communes in several parts and the borders of their parts (editor.py _split_communes),
  // indexed once: parts (position -> number of parts), edges ("position:part" -> [[position, part]])
  function splitIndex(split) {
    var got = splitIndexes.get(split);
    if (got) { return got; }
    got = {parts: new Map(), edges: new Map()};
    split.n.forEach(function (t) { got.parts.set(t[0], t[1]); });
    function add(a, b) {
      var key = a[0] + ":" + a[1], list = got.edges.get(key);
      if (!list) { got.edges.set(key, list = []); }
      list.push(b);
    }
    split.e.forEach(function (t) { add([t[0], t[1]], [t[2], t[3]]); add([t[2], t[3]], [t[0], t[1]]); });
    splitIndexes.set(split, got);
    return got;
  }
  // the pieces of a set of units (positions) joined through shared borders, as build_territories
  // counts the parts of a territory (n_parts): neighbours[i] the units sharing a border with unit
  // i (editor.py _neighbours); a unit in several parts (split, editor.py _split_communes) counts
  // each part, joined through the borders of that part; a unit without geometry (area[i] null)
  // is no piece
  function pieces(units, neighbours, area, split) {
    var S = splitIndex(split), inSet = new Set(units), seen = new Set(), n = 0;
    function next(i, p) {  // the parts [unit, part] sharing a border with part p of unit i
      var out = (S.edges.get(i + ":" + p) || []).slice();
      if (!S.parts.has(i)) {
        neighbours[i].forEach(function (k) { if (!S.parts.has(k)) { out.push([k, 0]); } });
      }
      return out;
    }
    units.forEach(function (i) {
      if (area[i] === null) { return; }
      for (var p = 0; p < (S.parts.get(i) || 1); p++) {
        if (seen.has(i + ":" + p)) { continue; }
        n += 1;
        var stack = [[i, p]];
        seen.add(i + ":" + p);
        while (stack.length) {
          var q = stack.pop();
          next(q[0], q[1]).forEach(function (r) {
            var key = r[0] + ":" + r[1];
            if (inSet.has(r[0]) && area[r[0]] !== null && !seen.has(key)) { seen.add(key); stack.push(r); }
          });
        }
      }
    });
    return n;
  }
  // professionals per `per` inhabitants; null without population
  function density(count, population, per) {
    return population > 0 ? per * count / population : null;
  }
  function afterQuotes(s) {  // the first character after leading apostrophes ("" when none)
    var i = 0;
    while (i < s.length && s.charAt(i) === "'") { i++; }
    return s.charAt(i);
  }
  // the CSV formula guard: text starting (after apostrophes) with a formula start gets a « ' »
  function guardCell(v, starts) {
    var s = String(v === null || v === undefined ? "" : v);
    var c = afterQuotes(s);
    return c && starts.indexOf(c) >= 0 ? "'" + s : s;
  }
  // the guard taken off a cell read back: « '=A » is « =A »; « ''=A » is the user's « '=A »
  function unguardCell(s, starts) {
    var c = afterQuotes(s);
    return s.charAt(0) === "'" && c && starts.indexOf(c) >= 0 ? s.slice(1) : s;
  }
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

  // --- numbers and text in the page -------------------------------------------------------------
  // x rounded to `decimals` as Python's format rounds it (cpts_geo.domain.french.number): on the
  // exact binary value (2.45 is 2.4500000000000002: 2,5), an exact tie to the even digit (2.5: 2)
  function roundAsPython(x, decimals) {
    var exact = x.toFixed(Math.min(100, decimals + 30)), rest = exact.slice(exact.indexOf(".") + 1 + decimals);
    if (/^50*$/.test(rest)) {
      var p = Math.pow(10, decimals), f = Math.floor(x * p);
      return (f % 2 === 0 ? f : f + 1) / p;
    }
    return Number(x.toFixed(decimals));
  }
  var formatters = new Map();
  // the page's one number formatter: Intl.NumberFormat("fr-FR") (« 180 816 », « 13,4 »), the
  // digits of Python's; `decimals` digits, or up to `decimals` when `trim` (« 0,5 » for a
  // share); « non disponible » for an unknown value
  function formatNumber(x, decimals, trim) {
    if (x === null || x === undefined || !isFinite(x)) { return "non disponible"; }
    var key = decimals + (trim ? "t" : "");
    var f = formatters.get(key);
    if (!f) {
      f = new Intl.NumberFormat("fr-FR", {minimumFractionDigits: trim ? 0 : decimals, maximumFractionDigits: decimals});
      formatters.set(key, f);
    }
    return f.format(roundAsPython(x, decimals));
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  // a tooltip: a title and rows « key : value » (empty values left out), as text
  function tipRows(title, pairs) {
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


  function hasOwn(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }
  function bag() { return Object.create(null); }

  // --- reading a user's CSV file as cpts_geo.io.read_table does ------------------------------------
  var SEPARATORS = [";", "\t", ",", "|"];

  function strictDecode(encoding, bytes) { return new TextDecoder(encoding, {fatal: true}).decode(bytes); }
  function isAscii(bytes) {
    for (var k = 0; k < bytes.length; k++) { if (bytes[k] > 127) { return false; } }
    return true;
  }
  // {text, encoding ("utf-8", "utf-8-sig", "utf-16", "windows-1252"), recoded: [file lines read
  // as Windows-1252 in a UTF-8 file]} or {error: "utf-16"}
  function decodeBytes(bytes) {
    var k;
    if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
      try {
        return {text: strictDecode(bytes[0] === 0xff ? "utf-16le" : "utf-16be", bytes.subarray(2)), encoding: "utf-16",
                recoded: []};
      } catch (e) { return {error: "utf-16"}; }
    }
    var head = bytes.subarray(0, 4096), zeros = 0;
    for (k = 0; k < head.length; k++) { if (head[k] === 0) { zeros += 1; } }
    if (head.length >= 4 && zeros * 4 >= head.length) {  // UTF-16 without its BOM
      try {
        return {text: strictDecode(head[1] === 0 ? "utf-16le" : "utf-16be", bytes), encoding: "utf-16", recoded: []};
      } catch (e) { /* go on */ }
    }
    var bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    var enc = bom ? "utf-8-sig" : "utf-8";
    try { return {text: strictDecode("utf-8", bytes).replace(/^\ufeff/, ""), encoding: enc, recoded: []}; }
    catch (e) { /* not UTF-8 as a whole: UTF-8 with some Windows-1252 lines, or Windows-1252 throughout */ }
    var lines = [], start = 0;
    for (k = 0; k <= bytes.length; k++) {
      if (k === bytes.length || bytes[k] === 10) { lines.push(bytes.subarray(start, k)); start = k + 1; }
    }
    var utf8 = false, bad = [];
    lines.forEach(function (line, i) {
      if (isAscii(line)) { return; }
      try { strictDecode("utf-8", line); utf8 = true; } catch (e) { bad.push(i); }
    });
    var cp1252 = new TextDecoder("windows-1252");
    if (utf8) {
      var isBad = {};
      bad.forEach(function (i) { isBad[i] = true; });
      var text = lines.map(function (line, i) {
        return isBad[i] ? cp1252.decode(line) : new TextDecoder("utf-8", {ignoreBOM: true}).decode(line);
      }).join("\n");
      return {text: text.replace(/^\ufeff/, ""), encoding: enc, recoded: bad.map(function (i) { return i + 1; })};
    }
    return {text: cp1252.decode(bytes), encoding: "windows-1252", recoded: []};
  }

  function countOutsideQuotes(line, sep) {
    var n = 0, quoted = false;
    for (var k = 0; k < line.length; k++) {
      var ch = line.charAt(k);
      if (ch === '"') { quoted = !quoted; } else if (ch === sep && !quoted) { n += 1; }
    }
    return n;
  }
  function detectSeparator(header, sample) {
    var counts = SEPARATORS.map(function (s) { return countOutsideQuotes(header, s); });
    var best = Math.max.apply(null, counts);
    if (!best) {  // one column: a separator that does not occur
      var all = sample.join("\n");
      for (var k = 0; k < SEPARATORS.length; k++) { if (all.indexOf(SEPARATORS[k]) < 0) { return SEPARATORS[k]; } }
      return ";";
    }
    var tied = SEPARATORS.filter(function (s, j) { return counts[j] === best; });
    function fits(s) {
      return sample.filter(function (line) { return line.trim() && countOutsideQuotes(line, s) === best; }).length;
    }
    return tied.reduce(function (a, b) { return fits(b) > fits(a) ? b : a; });
  }
  // records of a CSV body: {cells, line} (line: 0-based line of the body the record starts on)
  function csvRecords(text, sep) {
    var out = [], cells = [], field = "", quoted = false, atStart = true, line = 0, startLine = 0;
    for (var p = 0; p < text.length; p++) {
      var ch = text.charAt(p);
      if (quoted) {
        if (ch === '"') {
          if (text.charAt(p + 1) === '"') { field += '"'; p += 1; } else { quoted = false; }
        } else {
          if (ch === "\n") { line += 1; }
          field += ch;
        }
      } else if (ch === '"' && atStart) {
        quoted = true;
        atStart = false;
      } else if (ch === sep) {
        cells.push(field);
        field = "";
        atStart = true;
      } else if (ch === "\n") {
        cells.push(field.replace(/\r$/, ""));
        out.push({cells: cells, line: startLine});
        cells = [];
        field = "";
        atStart = true;
        line += 1;
        startLine = line;
      } else {
        field += ch;
        atStart = false;
      }
    }
    if (field !== "" || cells.length) { cells.push(field.replace(/\r$/, "")); out.push({cells: cells, line: startLine}); }
    return out;
  }
  // {header, rows: [{cells, row}], sep, headerRow, offset} or {empty: true}; row numbers as a
  // spreadsheet shows them (Excel's hidden « sep= » line not counted)
  function parseTable(text) {
    if (text.indexOf("\n") < 0 && text.indexOf("\r") >= 0) { text = text.replace(/\r/g, "\n"); }
    var sep = null, offset = 0;
    var end = text.indexOf("\n"), first = (end < 0 ? text : text.slice(0, end)).replace(/\r$/, "");
    var m = /^\s*sep=(.)\s*$/.exec(first);
    if (m) {
      sep = m[1];
      text = end < 0 ? "" : text.slice(end + 1);
      offset = -1;
    }
    var lines = text.split("\n"), lead = 0;
    while (lead < lines.length && !lines[lead].trim()) { lead += 1; }
    if (lead >= lines.length) { return {empty: true}; }
    var headerRow = lead + 1;
    if (sep === null) {
      sep = detectSeparator(lines[lead].replace(/\r$/, ""),
                            lines.slice(lead + 1, lead + 21).map(function (l) { return l.replace(/\r$/, ""); }));
    }
    var recs = csvRecords(lines.slice(lead).join("\n"), sep);
    return {header: recs[0].cells, sep: sep, headerRow: headerRow, offset: offset,
            rows: recs.slice(1).map(function (r) { return {cells: r.cells, row: headerRow + r.line}; })};
  }

  // cpts_geo.domain.french.fold, then « _ » between words (cpts_geo.domain.headers.header_key)
  function headerKey(text, typographic) {
    var s = String(text).replace(/[\s\S]/g, function (c) { return hasOwn(typographic, c) ? typographic[c] : c; });
    s = s.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase();
    return s.replace(/[^a-z0-9]+/g, " ").trim().replace(/ /g, "_");
  }
  // cpts_geo.domain.headers.recognise_headers with the rules given by Python: Map field -> column
  function recogniseHeaders(headers, rules) {
    var fields = new Map();
    headers.forEach(function (h, j) {
      var key = headerKey(h === null || h === undefined ? "" : h, rules.typographic);
      if (!key) { return; }
      var field = hasOwn(rules.exact, key) ? rules.exact[key] : null;
      if (field === null) {
        var tokens = key.split("_");
        var has = function (words) { return words.some(function (w) { return tokens.indexOf(w) >= 0; }); };
        for (var r = 0; r < rules.words.length; r++) {
          var rule = rules.words[r];
          if (rule[1].every(has) && !has(rule[2])) { field = rule[0]; break; }
        }
      }
      if (field !== null && !fields.has(field)) { fields.set(field, j); }
    });
    return fields;
  }

  // zigzag-varint numbers in printable characters (render/maps.py _varint_chars)
  function decodeNumbers(str) {
    var out = [], i = 0;
    while (i < str.length) {
      var shift = 0, res = 0, b;
      do {
        b = str.charCodeAt(i++) - 63;
        res += (b & 0x1f) * Math.pow(2, shift);
        shift += 5;
      } while (b >= 0x20);
      out.push(res % 2 ? -(res + 1) / 2 : res / 2);
    }
    return out;
  }
  // a list of positions stored as differences from the commune's own position (_encoded_lists)
  function decodeList(str, own) {
    var at = own;
    return decodeNumbers(str).map(function (d) { at += d; return at; });
  }
  // the rings of a geometry (render/maps.py encode_geometries: quantised, zigzag-varint deltas) as
  // Leaflet points (what a polygon keeps: no copy to make), or as [lat, lng] when `asArrays`; one
  // pass over each string, in 32-bit integers (the deltas of a ring are far below 2^31)
  function decodeShape(g, origin, scale, asArrays) {
    var ox = origin[0], oy = origin[1];
    return g.map(function (poly) {
      return poly.map(function (ring) {
        var i = 0, x = 0, y = 0, out = [], len = ring.length;
        while (i < len) {
          var shift = 0, res = 0, b;
          do { b = ring.charCodeAt(i++) - 63; res |= (b & 0x1f) << shift; shift += 5; } while (b >= 0x20);
          x += (res & 1) ? ~(res >> 1) : (res >> 1);
          shift = 0;
          res = 0;
          do { b = ring.charCodeAt(i++) - 63; res |= (b & 0x1f) << shift; shift += 5; } while (b >= 0x20);
          y += (res & 1) ? ~(res >> 1) : (res >> 1);
          out.push(asArrays ? [y / scale + oy, x / scale + ox] : new L.LatLng(y / scale + oy, x / scale + ox));
        }
        return out;
      });
    });
  }

  var current = null;  // the running editor (start)

  function start(data) {
    var T = data.text, C = data.communes, n = C.c.length;
    // neighbours and lasso points arrive encoded (editor.py _encoded_lists, _encoded_points)
    var neighbours = C.nb.map(function (s, i) { return decodeList(s, i); });
    var points = new Array(n).fill(null);
    (function () {
      var q = decodeNumbers(C.pt), x = 0, y = 0, k = 0, gone = new Set(C.ng);
      for (var i = 0; i < n; i++) {
        if (gone.has(i)) { continue; }
        x += q[k]; y += q[k + 1]; k += 2;
        points[i] = [x / data.pointScale + data.origin[0], y / data.pointScale + data.origin[1]];
      }
    })();
    var index = new Map();
    C.c.forEach(function (code, i) { index.set(code, i); });
    // the CPTS of the registry holding each unit, with their shares ([k, share])
    var regOwners = new Map();
    C.sh.forEach(function (t) {
      var a = regOwners.get(t[0]);
      if (!a) { regOwners.set(t[0], a = []); }
      a.push([t[1], t[2]]);
    });
    function registryOf(i) {
      return regOwners.get(i) || (C.o[i] >= 0 ? [[C.o[i], 1]] : []);
    }
    var cityOf = new Map();  // arrondissement position -> its city (counted once, as the library does)
    Object.keys(data.cities).forEach(function (city) {
      data.cities[city].units.forEach(function (i) { cityOf.set(i, city); });
    });
    var storeKey = data.key;
    var ui = {message: null, problems: [], notices: [], undo: null, ask: null, storage: null, legacy: null};
    var state = load() || {drafts: [], active: -1, seq: 0};
    var pending = [];   // communes asked for that belong to another CPTS or draft: taken only on « Prendre quand même »
    var notice = null;  // what the last lasso did (not stored)
    // draft colours: none close to a stage colour (YlGnBu and the orange of « Étape non renseignée »)
    var palette = ["#c51b7d", "#762a83", "#d73027", "#8c510a", "#e7298a", "#543005"];

    // --- drafts kept in this browser, under a key of this page's content ------------------------
    function copyBag(src, keep) {
      var out = bag();
      if (src && typeof src === "object") {
        Object.keys(src).forEach(function (k) { if (keep(k, src[k])) { out[k] = src[k]; } });
      }
      return out;
    }
    // a stored or imported state made safe to use: every draft has its fields, wrong ones are
    // repaired and each repair is said; null when the value holds no list of drafts
    function normalise(s) {
      if (!s || typeof s !== "object" || !Array.isArray(s.drafts)) { return null; }
      var repairs = [], out = {drafts: [], active: -1, seq: typeof s.seq === "number" && isFinite(s.seq) ? s.seq : 0};
      s.drafts.forEach(function (d, k) {
        if (!d || typeof d !== "object") {
          repairs.push(T.repair_dropped.replace("{k}", k + 1));
          return;
        }
        var id = d.id === undefined || d.id === null || d.id === "" ? "BROUILLON-R" + (k + 1) : String(d.id);
        var name = typeof d.name === "string" ? d.name : id;
        var communes = Array.isArray(d.communes) ? d.communes.filter(function (c) { return typeof c === "string"; }) : null;
        if (communes === null) {
          repairs.push(T.repair_communes.replace("{name}", name));
          communes = [];
        } else if (communes.length !== d.communes.length) {
          repairs.push(T.repair_codes.replace("{name}", name).replace("{n}", d.communes.length - communes.length));
        }
        var unique = [], seen = new Set();
        communes.forEach(function (c) { if (!seen.has(c)) { seen.add(c); unique.push(c); } });
        out.drafts.push({
          id: id, name: name, stage: typeof d.stage === "string" ? d.stage : data.newStage, communes: unique,
          shares: copyBag(d.shares, function (c, v) { return seen.has(c) && typeof v === "number" && v > 0 && v <= 1; }),
          names: copyBag(d.names, function (c, v) { return seen.has(c) && typeof v === "string"; }),
          conflicts: Array.isArray(d.conflicts) ? d.conflicts.filter(function (c) {
            return c && typeof c === "object" && typeof c.code === "string";
          }).map(function (c) { return {code: c.code, name: String(c.name || ""), from: String(c.from || "")}; }) : []
        });
      });
      out.active = typeof s.active === "number" && s.active >= 0 && s.active < out.drafts.length ? s.active
        : out.drafts.length - 1;
      return {state: out, repairs: repairs};
    }
    function readStored(key) {
      var raw = null;
      try { raw = window.localStorage.getItem(key); } catch (e) { return null; }
      if (raw === null) { return null; }
      var parsed = null;
      try { parsed = JSON.parse(raw); } catch (e) { parsed = null; }
      return {raw: raw, normal: normalise(parsed)};
    }
    function keepCopy(raw) {  // the stored value as it was, never overwritten
      var copy = storeKey + ":copie-" + Date.now();
      try { window.localStorage.setItem(copy, raw); } catch (e) { copy = null; }
      return copy;
    }
    function load() {
      var got = readStored(storeKey);
      if (got === null) {
        var old = data.legacyKey && data.legacyKey !== storeKey ? readStored(data.legacyKey) : null;
        if (old && old.normal && old.normal.state.drafts.length) { ui.legacy = old.normal.state.drafts; }
        return null;
      }
      if (got.normal === null) {
        ui.storage = T.storage_unreadable.replace("{key}", keepCopy(got.raw) || "—");
        return null;
      }
      if (got.normal.repairs.length) {
        ui.storage = T.storage_repaired.replace("{what}", got.normal.repairs.join(" ; "))
          .replace("{key}", keepCopy(got.raw) || "—");
      }
      return got.normal.state;
    }
    function save() {
      try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
    }
    function freeId() {
      var ids = new Set(state.drafts.map(function (d) { return d.id; })), id;
      do { state.seq += 1; id = "BROUILLON-" + state.seq; } while (ids.has(id));
      return id;
    }
    function newDraft(name) {
      var id = freeId();
      var d = {id: id, name: name || (T.draft + " " + state.seq), stage: data.newStage, communes: [], shares: bag(),
               names: bag(), conflicts: []};
      state.drafts.push(d);
      state.active = state.drafts.length - 1;
      return d;
    }
    function active() { return state.drafts[state.active] || null; }
    function shareOf(d, code) { var s = d.shares[code]; return typeof s === "number" ? s : null; }
    function removeFrom(d, code) {
      var at = d.communes.indexOf(code);
      if (at >= 0) { d.communes.splice(at, 1); }
      delete d.shares[code];
      delete d.names[code];
    }
    // drafts holding each unit (positions), rebuilt on every change
    var claims = new Map();
    function indexDrafts() {
      claims = new Map();
      state.drafts.forEach(function (d, k) {
        d.communes.forEach(function (code) {
          var i = index.get(code);
          if (i === undefined) { return; }
          var a = claims.get(i);
          if (!a) { claims.set(i, a = []); }
          if (a.indexOf(k) < 0) { a.push(k); }
        });
      });
    }
    function draftsOf(i) { return claims.get(i) || []; }
    function shareText(s) { return formatNumber(s, 4, true); }
    // who holds unit i, other than draft `except`
    function ownerText(i, except) {
      var parts = [];
      draftsOf(i).forEach(function (k) {
        if (k === except) { return; }
        var s = shareOf(state.drafts[k], C.c[i]);
        parts.push(T.of_draft + " « " + draftName(state.drafts[k]) + " »" + (s === null ? "" : " (" + T.share + " " + shareText(s) + ")"));
      });
      registryOf(i).forEach(function (o) {
        parts.push("« " + data.cpts[o[0]].name + " » (" + T.registry + (o[1] < 1 ? ", " + T.share + " " + shareText(o[1]) : "") + ")");
      });
      return parts.length ? parts.join(" ; ") : null;
    }
    function draftName(d) { return d.name || d.id; }
    function claimedByOthers(i, d) {
      var k = state.drafts.indexOf(d);
      return registryOf(i).length > 0 || draftsOf(i).some(function (j) { return j !== k; });
    }

    // --- figures of a draft (sums of embedded per-commune figures) --------------------------
    function figures(d) {
      var pos = [], outside = [], shares = [];
      d.communes.forEach(function (c) {
        var i = index.get(c);
        if (i === undefined) { outside.push(c); } else { pos.push(i); shares.push(shareOf(d, c)); }
      });
      var f = {pop: 0, popKnown: true, area: 0, noGeometry: 0, deps: {}, aplMissing: 0, prof: [], access: [],
               outside: outside, shared: []};
      var wv = [], w = [];
      var units = new Set();
      pos.forEach(function (i, j) {
        var s = shares[j] === null ? 1 : shares[j];
        if (shares[j] !== null) { f.shared.push([i, shares[j]]); }
        units.add(cityOf.get(i) || C.c[i]);
        if (C.p[i] === null) { f.popKnown = false; } else { f.pop += C.p[i] * s; }
        if (C.a[i] === null) { f.noGeometry += 1; } else { f.area += C.a[i]; }
        f.deps[C.d[i]] = true;
        if (C.w[i] === null || C.wv[i] === null) { f.aplMissing += 1; }
        wv.push(C.wv[i]);
        w.push(C.w[i]);
      });
      f.n = units.size;
      f.units = pos.length;
      f.popExact = f.pop;
      f.pop = roundPopulation(f.pop);
      f.tier = pos.length ? tierOf(f.pop, data.tiers) : null;
      f.funding = fundingOf(f.tier, data.funding);
      f.apl = weightedMean(wv, w, shares);
      f.deps = Object.keys(f.deps).sort();
      f.pieces = pieces(pos, neighbours, C.a, C.sp);
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
        pos.forEach(function (i, j) { count += data.professions.counts[p][i] * (shares[j] === null ? 1 : shares[j]); });
        if (data.beyond.known) { f.beyond.forEach(function (k) { out += data.beyond.counts[p][k]; }); }
        f.prof.push({name: name, count: count, density: density(count, f.popExact, data.per), beyond: out});
      });
      // E2SFCA accessibility with the user's travel times (data.access: values x demand, demand)
      if (data.access) {
        var dem = pos.map(function (i) { return data.access.w[i]; });
        data.access.names.forEach(function (name, p) {
          var vw = pos.map(function (i) { return data.access.vw[p][i]; });
          f.access.push({name: name, value: weightedMean(vw, dem, shares),
                         unknown: vw.filter(function (v) { return v === null; }).length});
        });
      }
      return f;
    }
    // --- map -----------------------------------------------------------------------------------
    var map = L.map("cpts-editor-map", {zoomSnap: 0.25, preferCanvas: false, boxZoom: false});
    map.fitBounds(data.bounds);
    map.createPane("editor-outlines").style.zIndex = 450;
    map.createPane("editor-labels").style.zIndex = 460;
    ["editor-outlines", "editor-labels"].forEach(function (p) { map.getPane(p).style.pointerEvents = "none"; });
    // a national page draws its communes on a canvas (no 35 000 SVG elements); a regional one in SVG
    var renderer = data.canvas ? L.canvas({padding: 0.2}) : L.svg();
    var polys = [], drawn = [];  // drawn: the style last given to each polygon (only changes are drawn again)
    function styleOf(i) {
      var ks = draftsOf(i), own = registryOf(i), fill = "#ffffff", op = 0.15, weight = 0.5, color = "#777",
          dash = null;
      if (ks.length) {
        var k = ks.indexOf(state.active) >= 0 ? state.active : ks[0];
        fill = palette[k % palette.length]; op = k === state.active ? 0.8 : 0.55;
        weight = k === state.active ? 1.2 : 0.6; color = k === state.active ? "#111111" : "#444";
      } else if (own.length) {
        fill = data.colors[data.cpts[C.o[i]].stage] || "#bbbbbb"; op = 0.45;
      }
      if (own.length > 1 || (own.length && own[0][1] < 1) || ks.length > 1) { dash = "3 2"; color = "#222"; weight = 1; }
      return {fillColor: fill, fillOpacity: op, weight: weight, color: color, dashArray: dash};
    }
    function styleKey(st) { return st.fillColor + st.fillOpacity + st.weight + st.color + st.dashArray; }
    function styleAll() {
      for (var i = 0; i < n; i++) {
        if (!polys[i]) { continue; }
        var st = styleOf(i), key = styleKey(st);
        if (drawn[i] !== key) { polys[i].setStyle(st); drawn[i] = key; }
      }
    }
    // one tooltip and one click handler for all the communes (not 35 000 of each)
    var communeLayer = L.featureGroup();
    indexDrafts();
    for (var i = 0; i < n; i++) {
      if (!C.g[i].length) { polys.push(null); continue; }  // no geometry: listed in the panel
      var st = styleOf(i);
      st.renderer = renderer;
      st.className = "editor-commune";
      var poly = L.polygon(decodeShape(C.g[i], data.origin, data.scale), st);
      poly.cptsIndex = i;
      drawn[i] = styleKey(st);
      communeLayer.addLayer(poly);
      polys.push(poly);
    }
    communeLayer.bindTooltip(function (layer) {
      var i = layer.cptsIndex, owner = ownerText(i, -1);
      return tipRows(C.n[i], [["Code INSEE", C.c[i]], [T.population + (data.vintage ? " (" + data.vintage + ")" : ""),
                              formatNumber(C.p[i], 0)], ["CPTS", owner || T.free]].concat(registryOf(i).map(function (o) {
                                var c = data.cpts[o[0]];
                                return [c.name, (c.stage || "") + (c.out ? " ; " + T.out_of_page.replace("{n}", c.out) : "")];
                              })));
    }, {sticky: true});
    communeLayer.on("click", function (e) { clickCommune(e.layer.cptsIndex); });
    communeLayer.addTo(map);
    if (!data.canvas) {
      polys.forEach(function (poly, i) { if (poly) { poly.getElement().setAttribute("data-code", C.c[i]); } });
    }
    // the CPTS of the registry: outlined and named
    var outlineRenderer = L.svg({pane: "editor-outlines"});
    data.cpts.forEach(function (c, k) {
      var g = data.outlines.g[k];
      if (!g || !g.length) { return; }
      L.polygon(decodeShape(g, data.origin, data.scale), {pane: "editor-outlines", renderer: outlineRenderer, fill: false,
                                                weight: 2, color: "#1a1a1a", opacity: 0.85, interactive: false,
                                                className: "editor-outline"}).addTo(map);
    });
    var labelLayer = L.layerGroup().addTo(map);
    function refreshLabels() {
      labelLayer.clearLayers();
      var S = data.outlines.labels;
      if (!S || !S.zooms || Math.round(map.getZoom()) < S.min) { return; }
      var set = S.zooms[String(Math.min(S.max, Math.round(map.getZoom())))] || [];
      set.forEach(function (p, ci) {
        if (p[1] === null || p[0] > 1) { return; }  // no room for the name at this zoom
        var node = el("div", "cpts-label editor-label");
        (p[0] === 0 ? S.text[ci] : S.two[ci]).split("\n").forEach(function (line, li) {
          if (li) { node.appendChild(document.createElement("br")); }
          node.appendChild(document.createTextNode(line));
        });
        L.marker([p[1], p[2]], {pane: "editor-labels", interactive: false, keyboard: false,
                                icon: L.divIcon({className: "cpts-label-icon", html: node, iconSize: null})})
          .addTo(labelLayer);
      });
    }
    map.on("zoomend", refreshLabels);
    refreshLabels();

    function clickCommune(i) {
      var d = active() || newDraft();
      var code = C.c[i];
      notice = null;
      if (d.communes.indexOf(code) >= 0) { removeFrom(d, code); pending = []; return changed(); }
      if (claimedByOthers(i, d)) { pending = [i]; return render(); }
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
            if (d.communes.indexOf(C.c[i]) >= 0) { removeFrom(d, C.c[i]); removed += 1; }
          });
        }
        notice = T.lasso_removed.replace("{n}", removed);
        return changed();
      }
      d = d || newDraft();
      var added = 0, already = 0;
      picked.forEach(function (i) {
        if (d.communes.indexOf(C.c[i]) >= 0) { already += 1; return; }
        if (claimedByOthers(i, d)) { pending.push(i); return; }
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
      var k = state.active;
      pending.forEach(function (i) {
        var code = C.c[i];
        if (d.communes.indexOf(code) >= 0) { return; }
        var from = ownerText(i, k);
        draftsOf(i).forEach(function (j) { if (j !== k) { removeFrom(state.drafts[j], code); } });
        d.communes.push(code);
        d.conflicts.push({code: code, name: C.n[i], from: from});
      });
      pending = [];
      notice = null;
      changed();
    }
    function changed() { save(); indexDrafts(); styleAll(); render(); }

    // --- CSV export and import (registry format) -----------------------------------------------
    function guard(v) { return guardCell(v, data.formulaStart); }
    function unguard(s) { return unguardCell(s, data.formulaStart); }
    function cell(v) {
      var s = guard(v);
      if (/[";\n\r]/.test(s)) { s = '"' + s.replace(/"/g, '""') + '"'; }
      return s;
    }
    function shareCell(s) {
      if (s === null) { return ""; }
      var t = String(s);
      if (/e/i.test(t)) { t = s.toFixed(20).replace(/0+$/, ""); }
      return t.replace(".", ",");
    }
    function exportCsv() {
      var withShares = state.drafts.some(function (d) { return Object.keys(d.shares).length > 0; });
      var head = ["cpts_id", "cpts_name", "stage", "commune_code", "commune_name"].concat(withShares ? ["part"] : []);
      var lines = [head.join(";")];
      state.drafts.forEach(function (d) {
        d.communes.forEach(function (code) {
          var i = index.get(code);
          var row = [d.id, d.name, d.stage, code, i === undefined ? (d.names[code] || "") : C.n[i]];
          if (withShares) { row.push(shareCell(shareOf(d, code))); }
          lines.push(row.map(cell).join(";"));
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
    function cleanText(s) { return unguard(String(s === undefined || s === null ? "" : s).trim().normalize("NFC")); }
    // cpts_geo.domain.codes.normalize_codes for what a spreadsheet does to a code: spaces,
    // « 2a », « 59350.0 », a lost leading zero (« 1001 »); anything else is kept as given
    function cleanCode(s) {
      var c = unguard(String(s === undefined || s === null ? "" : s).replace(/\s/g, "")).toUpperCase();
      if (/^\d+\.0+$/.test(c)) { c = c.replace(/\.0+$/, ""); }
      if (/^\d{4}$/.test(c)) { c = "0" + c; }
      return c;
    }
    // a share as cpts_geo.domain.numbers.parse_numbers(percent=True) reads it: 0,5 0.5 50 %
    function parseShare(raw) {
      var s = raw.replace(/[\s\u00a0\u202f]/g, ""), pct = false;
      if (s.charAt(s.length - 1) === "%") { pct = true; s = s.slice(0, -1); }
      if (!/^(\d+([.,]\d*)?|[.,]\d+)$/.test(s)) { return NaN; }
      var v = parseFloat(s.replace(",", "."));
      return pct ? v / 100 : v;
    }
    function rowProblem(row, text) { return T.row.replace("{r}", row) + " : " + text; }
    function failImport(problems, fileName) {
      ui.ask = null;
      ui.message = T.import_failed.replace("{file}", fileName);
      ui.problems = problems;
      ui.notices = [];
      render();
    }
    function describeReading(dec, tab, ignored) {
      var parts = [T.reading_encoding.replace("{enc}", data.encodings[dec.encoding] || dec.encoding)];
      var recoded = dec.recoded.map(function (r) { return r + tab.offset; }).filter(function (r) { return r >= tab.headerRow; });
      if (recoded.length) { parts.push(T.reading_recoded.replace("{lines}", recoded.slice(0, 10).join(", ") + (recoded.length > 10 ? "…" : ""))); }
      parts.push(T.reading_separator.replace("{sep}", data.separators[tab.sep] || "« " + tab.sep + " »"));
      if (ignored.length) { parts.push(T.reading_ignored.replace("{cols}", ignored.join(", "))); }
      return parts.join(", ");
    }
    // read a file of drafts (a registry); nothing changes unless every row is readable
    function importBytes(bytes, fileName) {
      fileName = fileName || "CSV";
      var dec = decodeBytes(bytes);
      if (dec.error) { return failImport([T.utf16_broken], fileName); }
      var tab = parseTable(dec.text);
      if (tab.empty) { return failImport([T.empty_file], fileName); }
      var col = recogniseHeaders(tab.header, data.headers);
      var missing = ["cpts_id", "commune_code"].filter(function (f) { return !col.has(f); });
      if (missing.length) {
        return failImport([T.missing_columns.replace("{missing}", missing.map(function (f) { return T["column_" + f]; }).join(", "))
                           .replace("{present}", tab.header.join(", "))], fileName);
      }
      var usedColumns = new Set(Array.from(col.values()));
      var ignored = tab.header.filter(function (h, j) { return !usedColumns.has(j) && String(h).trim(); });
      function cellOf(r, field) { return col.has(field) ? (r.cells[col.get(field)] || "") : ""; }
      var problems = [], notices = [], byId = new Map(), seen = new Map(), outside = 0;
      tab.rows.forEach(function (r) {
        if (r.cells.every(function (c) { return !c.trim(); })) { return; }  // a blank line holds no data
        if (r.cells.length > tab.header.length && r.cells.slice(tab.header.length).some(function (c) { return c.trim(); })) {
          problems.push(rowProblem(r.row, T.too_many_fields.replace("{n}", r.cells.length).replace("{m}", tab.header.length)));
          return;
        }
        var id = cleanText(cellOf(r, "cpts_id")), code = cleanCode(cellOf(r, "commune_code"));
        var name = cleanText(cellOf(r, "cpts_name")), stage = cleanText(cellOf(r, "stage"));
        var communeName = cleanText(cellOf(r, "commune_name")), rawShare = cellOf(r, "share").trim();
        var bad = false, share = null;
        if (!id) { problems.push(rowProblem(r.row, T.empty_id)); bad = true; }
        if (!code) { problems.push(rowProblem(r.row, T.empty_code)); bad = true; }
        if (rawShare) {
          share = parseShare(rawShare);
          if (rawShare.charAt(0) === "=") {
            problems.push(rowProblem(r.row, T.share_formula.replace("{v}", rawShare))); bad = true;
          } else if (!isFinite(share)) {
            problems.push(rowProblem(r.row, T.share_unreadable.replace("{v}", rawShare))); bad = true;
          } else if (share <= 0 || share > 1) {
            problems.push(rowProblem(r.row, T.share_range.replace("{v}", rawShare))); bad = true;
          }
        }
        if (bad) { return; }
        var key = id + "\u0000" + code, before = seen.get(key);
        if (before) {
          if (before.share !== share) {
            problems.push(rowProblem(before.row + ", " + r.row, T.duplicate_conflict.replace("{code}", code).replace("{id}", id)));
          } else {
            notices.push(rowProblem(r.row, T.duplicate_row.replace("{code}", code).replace("{id}", id).replace("{first}", before.row)));
          }
          return;
        }
        seen.set(key, {row: r.row, share: share});
        var d = byId.get(id);
        if (!d) {
          d = {id: id, name: name, stage: stage, communes: [], shares: bag(), names: bag(), conflicts: []};
          byId.set(id, d);
        }
        if (!d.name && name) { d.name = name; }
        if (!d.stage && stage) { d.stage = stage; }
        d.communes.push(code);
        if (share !== null) { d.shares[code] = share; }
        if (!index.has(code)) {
          outside += 1;
          if (communeName) { d.names[code] = communeName; }
        }
      });
      if (problems.length) { return failImport(problems, fileName); }
      var drafts = Array.from(byId.values());
      if (!drafts.length) { return failImport([T.no_rows], fileName); }
      var reading = describeReading(dec, tab, ignored);
      var message = T.imported.replace("{file}", fileName).replace("{reading}", reading) +
        (outside ? " " + T.imported_outside.replace("{n}", outside) : "");
      offer(drafts, message, notices);
    }
    // add drafts (an import, or drafts of an earlier version of the page): when ids are taken,
    // ask whether to replace those drafts or keep both
    function offer(drafts, message, notices) {
      var ids = new Set(state.drafts.map(function (d) { return d.id; }));
      var taken = drafts.filter(function (d) { return ids.has(d.id); }).map(function (d) { return d.id; });
      if (taken.length) {
        ui.ask = {drafts: drafts, taken: taken, message: message, notices: notices};
        ui.message = null;
        ui.problems = [];
        render();
        return;
      }
      addDrafts(drafts, "add", message, notices);
    }
    function addDrafts(drafts, how, message, notices) {
      ui.undo = JSON.stringify(state);
      ui.ask = null;
      var first = -1;
      var ids = new Set(state.drafts.map(function (d) { return d.id; }));
      drafts.forEach(function (d) {
        var at = -1;
        if (ids.has(d.id)) {
          if (how === "replace") {
            at = state.drafts.findIndex(function (e) { return e.id === d.id; });
          } else {
            var base = d.id, k = 2;
            while (ids.has(base + " (" + k + ")")) { k += 1; }
            d.id = base + " (" + k + ")";
          }
        }
        ids.add(d.id);
        if (at >= 0) { state.drafts[at] = d; } else { state.drafts.push(d); at = state.drafts.length - 1; }
        if (first < 0) { first = at; }
      });
      indexDrafts();
      // a commune held elsewhere is recorded as a conflict, unless every holder declares a share
      // and the shares add up to at most the whole commune
      drafts.forEach(function (d) {
        var k = state.drafts.indexOf(d);
        d.communes.forEach(function (code) {
          var i = index.get(code);
          if (i === undefined) { return; }
          var others = draftsOf(i).filter(function (j) { return j !== k; });
          var reg = registryOf(i);
          if (!others.length && !reg.length) { return; }
          var total = shareOf(d, code), whole = total === null;
          others.forEach(function (j) { var s = shareOf(state.drafts[j], code); if (s === null) { whole = true; } else { total += s; } });
          reg.forEach(function (o) { total += o[1]; });
          if (whole || total > 1 + 1e-9) { d.conflicts.push({code: code, name: C.n[i], from: ownerText(i, k)}); }
        });
      });
      state.active = first;
      ui.message = message;
      ui.problems = [];
      ui.notices = notices || [];
      pending = [];
      notice = null;
      changed();
    }
    function undoImport() {
      var back = ui.undo ? normalise(JSON.parse(ui.undo)) : null;
      if (!back) { return; }
      state = back.state;
      ui.undo = null;
      ui.message = T.import_undone;
      ui.problems = [];
      ui.notices = [];
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
      if (ui.storage) { panel.appendChild(el("p", "editor-storage editor-flag", ui.storage)); }
      if (ui.legacy) {
        var lg = el("div", "editor-legacy");
        lg.appendChild(el("p", null, T.legacy.replace("{n}", ui.legacy.length)));
        lg.appendChild(button(T.legacy_take, "editor-legacy-take", function () {
          var drafts = ui.legacy;
          ui.legacy = null;
          offer(drafts, T.legacy_taken.replace("{n}", drafts.length), []);
        }));
        panel.appendChild(lg);
      }
      var list = el("div", "editor-drafts");
      list.appendChild(el("h2", null, T.drafts));
      state.drafts.forEach(function (d, k) {
        var b = button(draftName(d) + " (" + d.communes.length + ")", "editor-draft" + (k === state.active ? " active" : ""),
                       function () { state.active = k; pending = []; notice = null; changed(); });
        b.style.borderLeftColor = palette[k % palette.length];
        list.appendChild(b);
      });
      list.appendChild(button(T.new_draft, "editor-new", function () { newDraft(); changed(); }));
      panel.appendChild(list);
      if (ui.ask) {
        var ask = el("div", "editor-ask");
        ask.appendChild(el("p", null, T.import_taken.replace("{n}", ui.ask.taken.length).replace("{ids}", ui.ask.taken.join(", "))));
        ask.appendChild(button(T.import_replace, "editor-import-replace", function () {
          addDrafts(ui.ask.drafts, "replace", ui.ask.message, ui.ask.notices);
        }));
        ask.appendChild(button(T.import_keep_both, "editor-import-both", function () {
          addDrafts(ui.ask.drafts, "rename", ui.ask.message, ui.ask.notices);
        }));
        ask.appendChild(button(T.import_cancel, "editor-import-cancel", function () {
          ui.ask = null; ui.message = T.import_cancelled; render();
        }));
        panel.appendChild(ask);
      }
      if (ui.message) { panel.appendChild(el("p", "editor-message", ui.message)); }
      if (ui.undo) { panel.appendChild(button(T.undo_import, "editor-undo", undoImport)); }
      ui.problems.forEach(function (p) { panel.appendChild(el("p", "editor-problem", p)); });
      ui.notices.forEach(function (p) { panel.appendChild(el("p", "editor-import-notice", p)); });
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
                                            .replace("{owner}", ownerText(pending[0], state.active))));
          } else {
            warn.appendChild(el("p", null, T.taken_many.replace("{n}", pending.length)));
            var ul = el("ul", "editor-pending-list");
            pending.forEach(function (i) { ul.appendChild(el("li", null, C.n[i] + " (" + C.c[i] + ") — " + ownerText(i, state.active))); });
            warn.appendChild(ul);
          }
          warn.appendChild(button(pending.length === 1 ? T.take : T.take + " (" + pending.length + ")", "editor-take", takeAnyway));
          warn.appendChild(button(T.cancel, "editor-cancel", function () { pending = []; render(); }));
          box.appendChild(warn);
        }
        var f = figures(d);
        var fig = el("div", "editor-figures");
        row(fig, T.communes, String(f.n) + (f.units !== f.n ? " (" + T.units.replace("{n}", f.units) + ")" : "")).dataset.value = f.n;
        row(fig, T.population + (data.vintage ? " (" + data.vintage + ")" : ""),
            f.popKnown ? formatNumber(f.pop, 0) : formatNumber(f.pop, 0) + " (incomplète)").dataset.value = f.pop;
        row(fig, T.tier, f.tier === null ? "—" : String(f.tier)).dataset.value = f.tier === null ? "" : f.tier;
        row(fig, T.funding, f.funding === null ? "—" : formatNumber(f.funding, 0) + " €").dataset.value =
          f.funding === null ? "" : f.funding;
        row(fig, T.area, formatNumber(f.area, 2) + " km²" + (f.noGeometry ? " (" + T.area_no_geometry.replace("{n}", f.noGeometry) + ")" : "") +
            (f.shared.length ? " (" + T.area_shared.replace("{n}", f.shared.length) + ")" : "")).dataset.value = f.area;
        row(fig, T.departments, f.deps.join(", ") || "—");
        var cont = row(fig, T.contiguity, f.units === 0 ? "—" : (f.pieces <= 1 ? T.one_piece : T.pieces.replace("{n}", f.pieces)),
                       f.pieces > 1 ? "editor-flag" : "");
        cont.dataset.value = f.pieces;
        var apl = row(fig, T.apl + " " + data.aplYear, f.apl === null ? "—" : formatNumber(f.apl, 2) + " " + T.apl_unit +
                      (f.aplMissing ? " (" + f.aplMissing + " " + T.apl_unknown + ")" : ""));
        apl.dataset.value = f.apl === null ? "" : f.apl;
        fig.appendChild(el("p", "editor-times", T.apl_times));
        box.appendChild(fig);
        if (f.shared.length) {
          var sbox = el("div", "editor-shared");
          sbox.appendChild(el("h3", null, T.shared_title));
          f.shared.forEach(function (p) {
            var line = el("p", "editor-shared-row", C.n[p[0]] + " (" + C.c[p[0]] + ") : " + T.share + " " + shareText(p[1]));
            line.dataset.code = C.c[p[0]];
            line.dataset.share = p[1];
            sbox.appendChild(line);
          });
          box.appendChild(sbox);
        }
        if (f.outside.length) {
          var obox = el("div", "editor-outside");
          obox.appendChild(el("h3", null, T.outside_title.replace("{n}", f.outside.length)));
          obox.appendChild(el("p", "editor-outside-codes", f.outside.slice(0, 30).map(function (c) {
            return c + (d.names[c] ? " " + d.names[c] : "") + (shareOf(d, c) === null ? "" : " (" + T.share + " " + shareText(shareOf(d, c)) + ")");
          }).join(", ") + (f.outside.length > 30 ? " …" : "")));
          obox.dataset.codes = f.outside.join(",");
          box.appendChild(obox);
        }
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
            var v = row(pbox, p.name, formatNumber(p.count, 0) + " (" + formatNumber(p.density, 1) + ")" +
                        (p.beyond > 0 ? " — " + T.beyond_row.replace("{m}", formatNumber(p.beyond, 0)) : ""));
            v.dataset.count = p.count;
            v.dataset.density = p.density === null ? "" : p.density;
            v.dataset.beyond = p.beyond;
          });
          box.appendChild(pbox);
        }
        if (f.access.length) {
          var abox = el("div", "editor-access");
          abox.appendChild(el("h3", null, data.access.title));
          f.access.forEach(function (a) {
            var v = row(abox, a.name, formatNumber(a.value, 1) + (a.unknown ? " (" + a.unknown + " " + T.access_unknown + ")" : ""));
            v.dataset.value = a.value === null ? "" : a.value;
          });
          box.appendChild(abox);
        }
        var cbox = el("div", "editor-conflicts");
        cbox.appendChild(el("h3", null, T.conflicts));
        if (!d.conflicts.length) { cbox.appendChild(el("p", null, T.none)); }
        d.conflicts.forEach(function (c) { cbox.appendChild(el("p", "editor-conflict", c.name + " (" + c.code + ") — " + c.from)); });
        box.appendChild(cbox);
        box.appendChild(button(T.delete, "editor-delete", function () {
          ui.undo = JSON.stringify(state);
          ui.message = T.deleted.replace("{name}", draftName(d));
          ui.problems = [];
          ui.notices = [];
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
      if (C.ng.length) {
        var nbox = el("section", "editor-no-geometry");
        nbox.appendChild(el("h3", null, T.no_geometry.replace("{n}", C.ng.length)));
        C.ng.forEach(function (i) {
          var r = el("div", "editor-no-geometry-row");
          r.dataset.code = C.c[i];
          var inDraft = d && d.communes.indexOf(C.c[i]) >= 0;
          r.appendChild(el("span", null, C.n[i] + " (" + C.c[i] + "), " + formatNumber(C.p[i], 0) + " hab. — " + (ownerText(i, -1) || T.free) + " "));
          r.appendChild(button(inDraft ? T.remove : T.add, "editor-no-geometry-toggle", function () { clickCommune(i); }));
          nbox.appendChild(r);
        });
        panel.appendChild(nbox);
      }
      var io = el("div", "editor-io");
      io.appendChild(button(T.export, "editor-export", download));
      var imp = el("label", "editor-import", T.import + " ");
      var file = el("input");
      file.type = "file";
      file.accept = ".csv,.txt,text/csv";
      file.addEventListener("change", function () {
        if (!file.files.length) { return; }
        var picked = file.files[0], reader = new FileReader();
        reader.onload = function () { importBytes(new Uint8Array(reader.result), picked.name); };
        reader.readAsArrayBuffer(picked);
      });
      imp.appendChild(file);
      io.appendChild(imp);
      io.appendChild(el("p", "editor-import-hint", T.import_hint));
      panel.appendChild(io);
      renderLegendDrafts();
    }

    // legend: every colour of the map
    var legendDrafts = el("div", "editor-legend-drafts");
    var legend = L.control({position: "bottomleft"});
    legend.onAdd = function () {
      var div = el("div", "cpts-legend editor-legend leaflet-control");
      function entry(label, fill, border) {
        var r = el("div", "cpts-legend-row"), sw = el("span", "cpts-swatch");
        sw.style.background = fill;
        if (border) { sw.style.border = border; }
        r.appendChild(sw);
        r.appendChild(el("span", "cpts-legend-label", label));
        return r;
      }
      div.appendChild(el("div", "cpts-legend-title", T.layer_registry));
      data.stages.forEach(function (s) { div.appendChild(entry(s, data.colors[s])); });
      if (data.cpts.length) {
        div.appendChild(entry(T.legend_outline, "transparent", "2px solid #1a1a1a"));
        if (C.sh.length) { div.appendChild(entry(T.legend_shared, "#eeeeee", "1px dashed #222")); }
      }
      div.appendChild(entry(T.free, "#ffffff"));
      div.appendChild(legendDrafts);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    function renderLegendDrafts() {
      legendDrafts.textContent = "";
      if (!state.drafts.length) { return; }
      legendDrafts.appendChild(el("div", "cpts-legend-title", T.layer_drafts));
      state.drafts.forEach(function (d, k) {
        var r = el("div", "cpts-legend-row"), sw = el("span", "cpts-swatch");
        sw.style.background = palette[k % palette.length];
        r.appendChild(sw);
        r.appendChild(el("span", "cpts-legend-label", draftName(d) + (k === state.active ? " (" + T.active + ")" : "")));
        legendDrafts.appendChild(r);
      });
    }
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
    function closeTooltips() { communeLayer.closeTooltip(); }
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
      closeTooltips();
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
      closeTooltips();
      drawing = null;
      var xs = ring.map(function (q) { return q[0]; }), ys = ring.map(function (q) { return q[1]; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (ring.length < 3 || (x1 - x0) + (y1 - y0) < 6) { return; }  // a click, not a lasso: the click goes on
      swallowClick = true;
      var picked = [];
      for (var i = 0; i < n; i++) {
        if (points[i] === null) { continue; }
        var q = map.latLngToContainerPoint([points[i][1], points[i][0]]);
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

    indexDrafts();
    styleAll();
    render();
    current = {state: function () { return state; }, figures: function (k) { return figures(state.drafts[k]); },
                            exportCsv: exportCsv,
                            importCsv: function (text, name) { importBytes(new TextEncoder().encode(text), name); },
                            importBytes: function (bytes, name) { importBytes(Uint8Array.from(bytes), name); },
                            reset: function () {
                              state = {drafts: [], active: -1, seq: 0};
                              ui.message = null; ui.problems = []; ui.notices = []; ui.undo = null; ui.ask = null;
                              pending = [];
                              changed();
                            },
                            clickCode: function (code) { clickCommune(index.get(code)); },
                            lassoCodes: function (codes, mode) {
                              lassoCommunes(codes.map(function (c) { return index.get(c); }), mode || "add");
                            },
                            setMode: setMode,
                            map: map, polygon: function (code) { return polys[index.get(code)]; }};
    return current;
  }

  return {
    start: start,
    instance: function () { return current; },
    // pure functions, for the parity tests
    rules: {roundPopulation: roundPopulation, tierOf: tierOf, fundingOf: fundingOf, weightedMean: weightedMean,
            density: density, pieces: pieces, guardCell: guardCell, unguardCell: unguardCell, pointInPolygon: pointInPolygon,
            formatNumber: formatNumber},
    read: {decode: decodeBytes, parse: parseTable, headerKey: headerKey, recognise: recogniseHeaders},
    decode: {numbers: decodeNumbers, list: decodeList,
             shape: function (g, origin, scale) { return decodeShape(g, origin, scale, true); }}
  };
})();
