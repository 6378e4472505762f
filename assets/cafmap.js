/*
 * cafmap: the choropleth map engine (MapLibre GL JS), driven from Dash.
 *
 * Geometry: each level's GeoJSON is added once as a MapLibre source (the worker fetches and
 * tiles it) and kept; switching level only toggles layer visibility.
 * Colours: the values API sends one class index per feature, in feature order; each feature's
 * class goes into its feature state `c` and the `fill-color` expression reads it. A new
 * indicator therefore never resends, reparses nor retiles geometry.
 *
 * Dash calls `dash_clientside.cafmap.apply(spec)` (spec built by layers/map_spec.py) and
 * `dash_clientside.cafmap.zone(...)` for the overseas quick selector. `window.cafmap` exposes
 * the same functions, returning promises, for tests and benchmarks, and `view()` for the image
 * export (assets/cafexport.js, which also adds `dash_clientside.cafmap.exportImage`).
 */
(function () {
  "use strict";

  const PENDING_COLOUR = "#ebe9e3";
  const BACKGROUND = "#f7f7f4";
  const HOME = [[-5.3, 41.3], [9.7, 51.2]];
  // geojson-vt simplification per tile, in tile pixels. It simplifies each polygon on its own,
  // so a coarse value opens hairline cracks between neighbours when zoomed in: keep MapLibre's
  // default (0.375) for geometry seen up close, 1 px for a national-only geometry (less
  // tiling work, cracks under a pixel).
  const SIMPLIFY_CLOSE = 0.375;
  const SIMPLIFY_NATIONAL = 1;
  // Levels with many small polygons: borders hidden at national zoom (they would grey the map).
  const DENSE_FEATURES = 5000;

  const state = {
    lib: null, // the maplibre-gl module
    map: null,
    mapReady: null, // promise of a loaded map
    root: null,
    ui: {},
    levels: {}, // level -> {source, classes: Int16Array|null, payload}
    current: null, // {niveau, indicateur}
    values: new Map(), // values URL -> payload (JSON of /api/carte)
    inflight: new Map(), // values URL -> promise of its payload, while fetched
    asked: null, // the spec of the latest render() call
    served: null, // the latest spec from the server (Dash's, or the index HTML's)
    confirmed: false, // Dash's callbacks have sent a spec: the page's panel answers the user
    early: null, // {holder, adopted} while the map starts before Dash (startEarly)
    choices: null, // /api/carte-choix: the browser's own recolour (quickSpec)
    seq: 0,
    zones: {},
    lastTiming: null,
    sourceMarks: {}, // source id -> {added, metadata, firstTile, loaded} (performance.now())
    sourceLayers: {}, // source id -> source-layer name (vector tiles) or null (GeoJSON)
    firstIdle: null,
    marks: {}, // first time of each step of the first draw (debug only, see mark())
  };

  // Timing marks of the first draw, read by bench/map_bench.py: only with ?cafmap_debug=1.
  const DEBUG = /[?&]cafmap_debug=1/.test(window.location.search);
  function mark(name) {
    if (DEBUG && !(name in state.marks)) state.marks[name] = Math.round(performance.now());
  }

  function el(tag, cls, parent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(value, decimals) {
    if (value === null || value === undefined || Number.isNaN(value)) return "pas de données";
    return new Intl.NumberFormat("fr-FR", {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    }).format(value);
  }

  function buildUi(root) {
    root.innerHTML = "";
    const ui = {};
    ui.map = el("div", "cafmap-canvas", root);
    ui.map.id = "cafmap-canvas";
    ui.title = el("div", "cafmap-title", root);
    ui.legend = el("div", "cafmap-legend", root);
    ui.legend.id = "cafmap-legend";
    ui.insets = el("div", "cafmap-insets", root);
    ui.insets.hidden = true;
    ui.insets.setAttribute("role", "group");
    ui.insets.setAttribute("aria-label", "Départements et régions d'outre-mer");
    ui.tooltip = el("div", "cafmap-tooltip", root);
    ui.tooltip.id = "cafmap-tooltip";
    ui.tooltip.setAttribute("role", "status");
    ui.status = el("div", "cafmap-status", root);
    ui.status.textContent = "Chargement de la carte…";
    return ui;
  }

  // Tile workers: ?cafmap_workers=N (bench/map_bench.py --query, to compare counts A/B),
  // otherwise MapLibre's own default (null).
  // Read when the script loads: the page rewrites its URL (cafurl.js) before the map exists.
  const WORKERS = parseInt(new URL(window.location.href).searchParams.get("cafmap_workers"), 10);
  function workerCount() {
    return WORKERS >= 1 && WORKERS <= 8 ? WORKERS : null;
  }

  function ensureMap(spec) {
    adoptIfThere();
    const early = state.early && state.root === state.early.holder ? state.early.holder : null;
    const root = document.getElementById(spec.conteneur || "cafmap") || early;
    if (state.mapReady && state.root === root && root && root.isConnected) return state.mapReady;
    if (!root) return Promise.reject(new Error("cafmap: no #cafmap container"));
    state.root = root;
    state.levels = {};
    state.current = null;
    state.insets = null;
    state.ui = buildUi(root);
    // Warm the HTTP cache with the first geometry while MapLibre loads; the worker's own
    // request for the same (immutable, versioned) URL is then served from the cache.
    if (spec.geometrie && !spec.tuiles) fetch(spec.geometrie).catch(function () {});
    setInitialView(new URL(window.location.href).searchParams.get("vue"));
    mark("map_import");
    state.mapReady = import(spec.lib).then(function (lib) {
      mark("map_module");
      state.lib = lib;
      // MapLibre's default is one tile worker on 2 cores (hardwareConcurrency / 2): the national
      // view's tiles then parse one after the other. Set before the first map creates the pool.
      const workers = workerCount();
      if (workers && lib.setWorkerCount) lib.setWorkerCount(workers);
      const map = new lib.Map({
        container: state.ui.map,
        style: {
          version: 8,
          sources: {},
          layers: [{ id: "fond", type: "background", paint: { "background-color": BACKGROUND } }],
        },
        bounds: spec.accueil || HOME,
        fitBoundsOptions: { padding: framePadding(10, spec) },
        renderWorldCopies: false,
        attributionControl: false,
        dragRotate: false,
        pitchWithRotate: false,
        maxZoom: 15,
        fadeDuration: 0,
      });
      map.touchZoomRotate.disableRotation();
      map.addControl(new lib.NavigationControl({ showCompass: false }), "top-right");
      map.addControl(new lib.ScaleControl({ unit: "metric" }), "bottom-right");
      map.addControl(
        new lib.AttributionControl({ compact: true, customAttribution: spec.attribution || "" }),
        "bottom-right",
      );
      state.map = map;
      window.cafmap.map = map;
      if (state.early && state.root === state.early.holder) holdPaint(map, state.early);
      map.on("zoomend", maybeAddDetail);
      if (state.initialView) map.jumpTo(state.initialView);
      map.on("moveend", onMoveEnd);
      map.on("moveend", updateInsets);
      map.on("zoomend", redrawCircleLegend);
      map.once("load", function () { mark("load_event"); });
      // The map is used from its style's load: the level's tiles are asked then, not at
      // MapLibre's `load`, a frame later at the earliest (frames come between Dash's long
      // start-up tasks) and, for a source added before it, only once its tiles are all in.
      return new Promise(function (resolve) {
        const ready = function () { mark("map_load"); enterLevel(map, spec); resolve(map); };
        if (map.isStyleLoaded()) ready();
        else map.once("style.load", ready);
      });
    });
    return state.mapReady;
  }

  let NODATA = "#d0d0d0"; // "pas de données"; the spec may override it

  // fill-color: the class index in feature state `c` picks the colour; -1 = no data,
  // no state yet = pending (values not arrived), or under circles the base colour (blankClass).
  // Special classes (layers/map_payload.py): -2 secret (white under a hatch pattern),
  // -3 non concerné, -4 outside the territory filter; -9 = no state yet.
  const SECRET_COLOUR = "#ffffff", NA_COLOUR = "#eeeeee", OUTSIDE_COLOUR = "#f1f0eb";
  const CIRCLE_BASE = "#f3f2ec"; // polygons under proportional circles
  // Under circles every class has the same base colour: the expression then does not depend on
  // the number of classes, so that the layer's first expression (from the spec, before the
  // values) is already the final one (a new data-driven expression makes MapLibre re-parse
  // every tile of the source).
  function fillColour(colours, circles) {
    const cls = ["to-number", ["coalesce", ["feature-state", "c"], -9]];
    const expr = ["match", cls, -1, NODATA, -2, SECRET_COLOUR, -3, NA_COLOUR, -4, OUTSIDE_COLOUR];
    if (circles) return expr.concat([CIRCLE_BASE]);
    colours.forEach(function (colour, i) { expr.push(i, colour); });
    expr.push(PENDING_COLOUR);
    return expr;
  }

  // Diagonal hatching for "secret statistique": a pattern, never a colour of the scale.
  function ensureHatch(map) {
    if (map.hasImage("hachures")) return;
    const size = 8, data = new Uint8Array(size * size * 4);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const on = (x + y) % size < 2;
        const i = (y * size + x) * 4;
        data[i] = data[i + 1] = data[i + 2] = 80;
        data[i + 3] = on ? 150 : 0;
      }
    }
    map.addImage("hachures", { width: size, height: size, data: data });
  }

  function sourceId(level) { return "src-" + level; }

  // Vector tiles (PMTiles cut by the build) when the level has them, else its GeoJSON.
  function tileSource(template, maxzoom) {
    const abs = template.charAt(0) === "/" ? window.location.origin + template : template;
    return { type: "vector", tiles: [abs], minzoom: 0, maxzoom: maxzoom || 10 };
  }

  function ensureSource(map, level, url, simplify, tiles) {
    const id = sourceId(level);
    if (!map.getSource(id)) {
      const marks = (state.sourceMarks[id] = { added: performance.now() });
      const onData = function (e) {
        if (e.sourceId !== id) return;
        if (e.sourceDataType === "metadata" && !marks.metadata) marks.metadata = performance.now();
        if (e.tile && !marks.firstTile) marks.firstTile = performance.now();
        if (e.isSourceLoaded && marks.metadata) {
          marks.loaded = performance.now();
          map.off("sourcedata", onData);
        }
      };
      map.on("sourcedata", onData);
      map.addSource(id, tiles ? tileSource(tiles.url, tiles.maxzoom) : {
        type: "geojson", data: url, tolerance: simplify || SIMPLIFY_CLOSE, buffer: 32,
      });
      state.sourceLayers[id] = tiles ? level : null;
    }
    return id;
  }

  // The hover outline: 2 px where feature state `h` is set.
  function hoverLayer(id, srcId, range, vis) {
    return Object.assign({
      id: id, type: "line", source: srcId,
      layout: { visibility: vis },
      paint: {
        "line-color": "#111",
        "line-width": ["case", ["boolean", ["feature-state", "h"], false], 2, 0],
      },
    }, range);
  }

  // The hatching layer is drawn only when a shown feature is secret (class -2): otherwise its
  // per-feature opacity is 0 everywhere, yet MapLibre would still draw every polygon again
  // with the pattern at each frame (software WebGL: a second full-map fill per repaint). A
  // layer opacity of 0 skips the layer's draw; it is not data-driven, so no tile is re-parsed.
  function hatchOpacity(shown) {
    return shown && shown.indexOf(-2) >= 0 ? 1 : 0;
  }

  // The fill, secret hatching, outline and (`hover`) hover layers of one geometry source of a
  // level: the one definition of how a level is drawn, for the main map and the overseas insets.
  function partLayers(map, entry, srcId, suffix, range, before, hover) {
    const vis = state.current && state.current.niveau === entry.level ? "visible" : "none";
    const ids = ["fill-", "line-", "hover-"].map(function (p) { return p + entry.level + suffix; });
    map.addLayer(Object.assign({
      id: ids[0], type: "fill", source: srcId,
      layout: { visibility: vis },
      paint: {
        // The expected palette from the start: changing a feature-state colour expression
        // later makes MapLibre re-parse every tile of the source.
        "fill-color": fillColour(entry.payload ? entry.payload.couleurs : entry.colours,
          entry.payload ? entry.payload.representation === "cercles" : entry.circles),
        "fill-antialias": false,
      },
    }, range), before);
    ensureHatch(map);
    map.addLayer(Object.assign({
      id: "secret-" + entry.level + suffix, type: "fill", source: srcId,
      layout: { visibility: vis },
      paint: {
        "fill-pattern": "hachures",
        "fill-opacity": ["case", ["==", ["to-number", ["coalesce", ["feature-state", "c"], -9]], -2], 1, 0],
        "fill-layer-opacity": hatchOpacity(entry.shown),
        "fill-layer-opacity-transition": { duration: 0, delay: 0 },
      },
    }, range), before);
    ids.push("secret-" + entry.level + suffix);
    map.addLayer(Object.assign({
      id: ids[1], type: "line", source: srcId,
      layout: { visibility: vis },
      paint: {
        "line-color": "rgba(60, 60, 60, 0.35)",
        "line-width": ["interpolate", ["linear"], ["zoom"], 4, 0.15, 8, 0.5, 12, 1],
        "line-opacity": entry.dense ? ["interpolate", ["linear"], ["zoom"], DENSE_LINES_FROM, 0, 7, 1] : 1,
      },
    }, range, denseLinesRange(entry, range)), before);
    if (hover) map.addLayer(hoverLayer(ids[2], srcId, range, vis));
    return hover ? ids : ids.filter(function (id) { return id !== ids[2]; });
  }

  // A dense level's outlines are transparent below DENSE_LINES_FROM: with no layer there below
  // zoom 5, the tiles drawn at the France view (z4: ~31,000 communes in one) are parsed without
  // line geometry at all. z5 tiles still get it, for zooms 5.5-6 where the outlines fade in.
  const DENSE_LINES_FROM = 5.5;
  function denseLinesRange(entry, range) {
    if (!entry.dense) return {};
    return { minzoom: Math.max(range.minzoom || 0, Math.floor(DENSE_LINES_FROM)) };
  }

  // Vector tiles: the hover outline has a source of its own (the same tiles, from the HTTP
  // cache), added at the first hover. On the level's source, its feature-state width made
  // MapLibre rewrite its vertex data at every recolour and at the first draw (~250 ms of CPU),
  // and a layer added there later would make it parse the level's tiles again.
  function ensureHover(map, entry, part) {
    if (part.hoverSource || !entry.tiles) return part.hoverSource || part.source;
    const id = "hover-" + entry.level, src = "hov-" + entry.level;
    map.addSource(src, tileSource(entry.tiles.url, entry.tiles.maxzoom));
    const order = map.getLayersOrder();
    const after = order[order.indexOf(part.layers[1]) + 1]; // just over the outlines, as before
    map.addLayer(hoverLayer(id, src, { "source-layer": part.sourceLayer }, "visible"), after);
    part.layers.push(id);
    part.hoverSource = src;
    return src;
  }

  // One "part" = one geometry source of a level with its fill, line and hover layers.
  // A level has its national geometry and, optionally, a finer one used from `zoom_detail`.
  function addPart(map, entry, srcId, suffix, zoomRange) {
    const before = map.getLayer("bordures-dep") ? "bordures-dep" : undefined;
    const range = {};
    if (zoomRange[0] !== null) range.minzoom = zoomRange[0];
    if (zoomRange[1] !== null) range.maxzoom = zoomRange[1];
    if (state.sourceLayers[srcId]) range["source-layer"] = state.sourceLayers[srcId];
    const ids = partLayers(map, entry, srcId, suffix, range, before, !entry.tiles);
    const part = { source: srcId, sourceLayer: state.sourceLayers[srcId] || undefined, layers: ids };
    map.on("mousemove", ids[0], function (e) { onHover(entry, part, e); });
    map.on("mouseleave", ids[0], function () { clearHover(entry); });
    map.on("click", ids[0], function (e) { onClick(entry, e); });
    entry.parts.push(part);
    if (entry.shown) setStates(map, part, entry.shown, null, blankClass(entry.payload));
    if (window.cafequip) window.cafequip.raise(map);
    return part;
  }

  function ensureLevel(map, spec) {
    const level = spec.niveau;
    if (state.levels[level]) return state.levels[level];
    const entry = {
      level: level, parts: [], classes: null, payload: null, hovered: null,
      dense: (spec.effectif || 0) > DENSE_FEATURES, detail: spec.detail || null,
      zoomDetail: spec.zoom_detail || 7, detailAdded: false, colours: spec.couleurs || [],
      namesUrl: spec.noms || null, names: null, nameTable: null, circles: wantsCircles(spec),
      // The circles' points are a layer of the level's tiles (build's tiles format 2).
      tilePoints: !!(spec.tuiles && spec.tuiles_points),
    };
    const tiles = spec.tuiles ? { url: spec.tuiles, maxzoom: spec.tuiles_maxzoom } : null;
    if (tiles) entry.detail = null; // tiles carry every zoom's geometry
    entry.tiles = tiles;
    const src = ensureSource(map, level, spec.geometrie,
      entry.detail ? SIMPLIFY_NATIONAL : SIMPLIFY_CLOSE, tiles);
    addPart(map, entry, src, "", [null, entry.detail ? entry.zoomDetail : null]);
    // The circles' layer too, before the first tile: a layer added to a source once its tiles
    // are in (or on their way) makes MapLibre parse them again.
    if (entry.tilePoints) tileCirclesLayer(map, entry, entry.circles ? "visible" : "none");
    state.levels[level] = entry;
    return entry;
  }

  // The level of `spec` in the map (sources and layers added once), shown and framed.
  function enterLevel(map, spec) {
    const levelChanged = !state.current || state.current.niveau !== spec.niveau;
    const entry = ensureLevel(map, spec);
    if (levelChanged) {
      showLevel(map, spec.niveau, spec.niveau === "commune");
      if (!(state.initialView && !state.current)) maybeFit(map, spec);
    }
    return entry;
  }

  // Load the finer geometry of the current level when the user zooms in far enough.
  function maybeAddDetail() {
    const map = state.map;
    const entry = state.current && state.levels[state.current.niveau];
    if (!map || !entry || !entry.detail || entry.detailAdded) return;
    if (map.getZoom() < entry.zoomDetail - 0.5) return;
    entry.detailAdded = true;
    const src = ensureSource(map, entry.level + "-detail", entry.detail);
    addPart(map, entry, src, "-detail", [entry.zoomDetail, null]);
  }

  function ensureDepBorders(map, spec) {
    if (!spec.bordures || map.getLayer("bordures-dep")) return;
    const tiles = spec.bordures_tuiles
      ? { url: spec.bordures_tuiles, maxzoom: spec.bordures_maxzoom } : null;
    const src = ensureSource(map, "departement", spec.bordures, undefined, tiles);
    map.addLayer({
      id: "bordures-dep", type: "line", source: src,
      ...(state.sourceLayers[src] ? { "source-layer": state.sourceLayers[src] } : {}),
      layout: { visibility: "none" },
      paint: {
        "line-color": "#3a3a3a",
        "line-width": ["interpolate", ["linear"], ["zoom"], 4, 0.6, 10, 1.6],
      },
    });
  }

  // Layer visibility without a needless frame: Map.setLayoutProperty triggers a repaint even
  // when the value is unchanged (the style ignores it, the map still draws again).
  function setVisibility(map, id, vis) {
    if (map.getLayoutProperty(id, "visibility") !== vis) map.setLayoutProperty(id, "visibility", vis);
  }

  function showLevel(map, level, withDepBorders) {
    Object.keys(state.levels).forEach(function (name) {
      const vis = name === level ? "visible" : "none";
      state.levels[name].parts.forEach(function (part) {
        part.layers.forEach(function (id) { map.setLayoutProperty(id, "visibility", vis); });
      });
      // Another level's circles go with its polygons (applyCircles shows the current one's).
      const circles = "cercles-" + name;
      if (name !== level && map.getLayer(circles)) {
        map.setLayoutProperty(circles, "visibility", "none");
      }
    });
    if (map.getLayer("bordures-dep")) {
      map.setLayoutProperty("bordures-dep", "visibility", withDepBorders ? "visible" : "none");
    }
  }

  function maybeFit(map, spec) {
    const b = spec.emprise;
    if (!b) return;
    const view = map.getBounds();
    const c = map.getCenter();
    const inside = c.lng >= b[0] && c.lng <= b[2] && c.lat >= b[1] && c.lat <= b[3];
    const viewArea = (view.getEast() - view.getWest()) * (view.getNorth() - view.getSouth());
    const area = (b[2] - b[0]) * (b[3] - b[1]);
    if (!inside || area * 16 < viewArea) {
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]],
        { padding: framePadding(30, spec), duration: 0, maxZoom: 12 });
    }
  }

  function fetchValues(url, force) {
    if (!force && state.values.has(url)) return Promise.resolve(state.values.get(url));
    if (!force && state.inflight.has(url)) return state.inflight.get(url);
    mark("values_request");
    const asked = fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      mark("values_response");
      return r.json().then(function (body) {
        mark("values_parsed");
        if (!r.ok) throw new Error(body.erreur || "Erreur " + r.status);
        state.values.set(url, body);
        return body;
      });
    });
    state.inflight.set(url, asked);
    const done = function () { if (state.inflight.get(url) === asked) state.inflight.delete(url); };
    asked.then(done, done);
    return asked;
  }

  // Feature state `c` = class index, only for features whose class changed.
  // A part of an inset says which features it holds (`ids`, null until its tiles are read): the
  // few features of one DROM instead of the whole level.
  // A feature with no state yet (`part.bare`) is drawn as `blank`: it needs none while its class
  // is that one. Under circles (blank 0) the first paint then sets the few special classes only,
  // not 35,000 communes' states (MapLibre's setFeatureState, then the rewrite of their vertices
  // when the tiles come: main-thread work before the first draw).
  function setStates(map, part, next, prev, blank) {
    const target = { source: part.source, sourceLayer: part.sourceLayer, id: 0 };
    const state1 = { c: 0 };
    if (part.ids === null) return;
    const ids = part.ids;
    if (!part.bare) part.bare = new Uint8Array(next.length).fill(1);
    const bare = part.bare;
    for (let k = 0, n = ids ? ids.length : next.length; k < n; k++) {
      const i = ids ? ids[k] : k;
      if (i >= next.length) continue;
      if (bare[i]) {
        if (next[i] === blank) continue;
        bare[i] = 0;
      } else if (prev !== null && prev[i] === next[i]) {
        continue;
      }
      target.id = i;
      state1.c = next[i];
      map.setFeatureState(target, state1);
    }
  }

  // The class a feature with no state is drawn as (fillColour): the circles' base colour, class
  // 0 of drawnClasses; none for a choropleth (no state = values pending).
  function blankClass(payload) {
    return payload && payload.representation === "cercles" ? 0 : null;
  }

  // The one home of colouring: classes into feature state and the palette into `fill-color`,
  // on every part of the level, main map and insets alike.
  function paintPart(map, part, entry, prev) {
    const payload = entry.payload;
    if (!payload || !entry.shown) return;
    setStates(map, part, entry.shown, prev, blankClass(payload));
    map.setPaintProperty(part.layers[0], "fill-color",
      fillColour(payload.couleurs, payload.representation === "cercles"));
    const hatch = part.layers.find(function (id) { return id.indexOf("secret-") === 0; });
    if (hatch) map.setPaintProperty(hatch, "fill-layer-opacity", hatchOpacity(entry.shown));
  }

  // The classes as drawn (feature state `c`): under circles every class >= 0 has the same base
  // colour, so only the special ones (no data, secret...) are kept: a recolour between two
  // counts then changes the state of the few features whose special class changed, not all.
  function drawnClasses(classes, circles) {
    if (!circles) return classes;
    const out = new Int16Array(classes.length);
    for (let i = 0; i < classes.length; i++) out[i] = classes[i] >= 0 ? 0 : classes[i];
    return out;
  }

  function applyClasses(map, entry, payload) {
    const next = Int16Array.from(payload.classes);
    const shown = drawnClasses(next, payload.representation === "cercles");
    const prev = entry.shown && entry.shown.length === shown.length ? entry.shown : null;
    entry.classes = next; // the tooltip's
    entry.shown = shown;
    entry.payload = payload;
    entry.parts.forEach(function (part) { paintPart(map, part, entry, prev); });
    const circles = applyCircles(map, entry, payload);
    insetsOf(entry.level).forEach(function (one) {
      paintPart(one.inset.map, one.part, entry, prev);
      insetCircles(one.inset, entry);
    });
    return circles;
  }

  // Proportional circles (counts): one point per territory at its label point; the radius,
  // in feature state `r` (share of the largest, area-proportional), scales with the zoom.
  const CIRCLE_STOPS = [[3, 14], [6, 30], [9, 60], [12, 110]]; // zoom -> radius of the largest
  function circleRadius() {
    const r = ["coalesce", ["feature-state", "r"], 0];
    // "zoom" must be the input of the top-level interpolate: scale r at each stop
    const expr = ["interpolate", ["exponential", 2], ["zoom"]];
    CIRCLE_STOPS.forEach(function (s) { expr.push(s[0], ["*", r, s[1]]); });
    return expr;
  }

  // The radius of the largest circle at `zoom`, as circleRadius() interpolates it: the insets
  // draw their circles at the main map's scale, so that sizes compare across the map.
  function radiusAt(zoom) {
    const st = CIRCLE_STOPS;
    if (zoom <= st[0][0]) return st[0][1];
    for (let k = 1; k < st.length; k++) {
      if (zoom <= st[k][0]) {
        const span = st[k][0] - st[k - 1][0];
        const t = (Math.pow(2, zoom - st[k - 1][0]) - 1) / (Math.pow(2, span) - 1);
        return st[k - 1][1] + t * (st[k][1] - st[k - 1][1]);
      }
    }
    return st[st.length - 1][1];
  }

  function applyCircles(map, entry, payload) {
    const circles = payload.representation === "cercles" && payload.rayons;
    const id = "cercles-" + entry.level;
    if (!circles) {
      if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", "none");
      return Promise.resolve();
    }
    if (entry.tilePoints) {
      showTileCircles(map, entry, payload.rayons);
      return Promise.resolve();
    }
    const src = "pts-" + entry.level;
    const url = state.lastSpec.points || entry.points;
    return levelPoints(url).then(function (points) {
      if (state.current && state.current.niveau !== entry.level) return;
      showCircles(map, entry, src, points, payload.rayons);
    });
  }

  // Whether the values asked are drawn as circles (their URL says so; the payload decides).
  function wantsCircles(spec) {
    return !!spec.points && /[?&]representation=cercles/.test(spec.valeurs || "");
  }

  const POINTS_LAYER = "points"; // the label points' layer of a level's tiles (geodata/tiles.py)

  function circlePaint(radius) {
    return {
      "circle-radius": radius,
      "circle-color": "rgba(196, 78, 12, 0.55)",
      "circle-stroke-color": "#6b2a05",
      "circle-stroke-width": 0.8,
    };
  }

  // Radii into feature state `r` of the points `ids` (all when null) of `target`'s source; with
  // `prev` (the radii set last on that source), only those that changed.
  function setRadii(map, target, rayons, ids, prev) {
    const st = { r: 0 };
    for (let k = 0, n = ids ? ids.length : rayons.length; k < n; k++) {
      const i = ids ? ids[k] : k;
      const r = rayons[i] === null || rayons[i] === undefined ? 0 : rayons[i];
      if (prev && i < prev.length && (prev[i] === null || prev[i] === undefined ? 0 : prev[i]) === r) {
        continue;
      }
      target.id = i;
      st.r = r;
      map.setFeatureState(target, st);
    }
  }

  // The circle layer of a level over the `points` layer of its own tiles (added once): no
  // source of its own, so no GeoJSON for the worker to index before the first polygon tile.
  function tileCirclesLayer(map, entry, visibility) {
    const id = "cercles-" + entry.level;
    if (!map.getLayer(id)) {
      map.addLayer({
        id: id, type: "circle", source: sourceId(entry.level), "source-layer": POINTS_LAYER,
        layout: { visibility: visibility }, paint: circlePaint(circleRadius()),
      });
      if (window.cafequip) window.cafequip.raise(map);
    }
    return id;
  }

  function showTileCircles(map, entry, rayons) {
    const id = tileCirclesLayer(map, entry, "visible");
    const src = sourceId(entry.level);
    map.setLayoutProperty(id, "visibility", "visible");
    setRadii(map, { source: src, sourceLayer: POINTS_LAYER, id: 0 }, rayons, null, entry.radii);
    entry.radii = rayons; // feature states outlive the layer's visibility
    mark("circles_source_loaded");
  }

  // The circle layer of a level over its point source (added once), radii in feature state.
  function showCircles(map, entry, src, points, rayons) {
    const id = "cercles-" + entry.level;
    if (!map.getSource(src)) {
      map.addSource(src, { type: "geojson", data: points });
      map.addLayer({
        id: id, type: "circle", source: src,
        paint: circlePaint(circleRadius()),
      });
      if (window.cafequip) window.cafequip.raise(map);
    }
    map.setLayoutProperty(id, "visibility", "visible");
    const apply = function () {
      mark("circles_source_loaded");
      setRadii(map, { source: src, id: 0 }, rayons, null);
    };
    if (map.isSourceLoaded(src)) apply();
    else {
      const onData = function (e) {
        if (e.sourceId === src && e.isSourceLoaded) { map.off("sourcedata", onData); apply(); }
      };
      map.on("sourcedata", onData);
    }
  }

  // ---- Overseas insets: Guadeloupe, Martinique, Guyane, La Réunion, Mayotte beside the
  // national view (as Insee draws them). One small non-interactive MapLibre map per DROM, fitted
  // to its bounds, drawing the current level with the same layers (partLayers) and coloured by
  // paintPart from the same classes; a click selects, a hover shows the tooltip. Shown only
  // while the spec lists them (national view, no filter) and the main map shows the métropole.
  // A DROM the build lacks keeps its empty box and name.
  const METRO = [-5.3, 41.3, 9.7, 51.2];
  const INSETS_WIDTH = 110; // px the inset column takes at the right edge (style.css)

  // Padding of a national framing: room for the inset column when the spec has insets.
  function framePadding(base, spec) {
    const room = spec && spec.encarts && spec.encarts.length ? INSETS_WIDTH : 0;
    return { top: base, bottom: base, left: base, right: base + room };
  }

  function createInset(def) {
    const box = el("div", "cafmap-inset", state.ui.insets);
    box.dataset.code = def.code;
    el("div", "cafmap-inset-name", box).textContent = def.nom;
    const holder = el("div", "cafmap-inset-map", box);
    const b = def.emprise;
    const map = new state.lib.Map({
      container: holder,
      style: {
        version: 8, sources: {},
        layers: [{ id: "fond", type: "background", paint: { "background-color": BACKGROUND } }],
      },
      bounds: [[b[0], b[1]], [b[2], b[3]]],
      fitBoundsOptions: { padding: 3 },
      interactive: false, attributionControl: false, renderWorldCopies: false, fadeDuration: 0,
    });
    const inset = {
      code: def.code, nom: def.nom, emprise: def.emprise, box: box, map: map, parts: {},
    };
    inset.ready = new Promise(function (resolve) {
      if (map.loaded()) resolve(map);
      else map.once("load", function () { resolve(map); });
    });
    holder.addEventListener("click", function (ev) { insetPointer(inset, ev, true); });
    holder.addEventListener("mousemove", function (ev) { insetPointer(inset, ev, false); });
    holder.addEventListener("mouseleave", function () { state.ui.tooltip.style.display = "none"; });
    return inset;
  }

  // The part of `level` drawn in an inset, once its map is loaded.
  function insetPart(inset, spec, entry) {
    const level = spec.niveau;
    if (inset.parts[level]) return inset.parts[level];
    const map = inset.map;
    const id = sourceId(level);
    map.addSource(id, spec.tuiles ? tileSource(spec.tuiles, spec.tuiles_maxzoom)
      : { type: "geojson", data: spec.detail || spec.geometrie, tolerance: SIMPLIFY_CLOSE });
    const range = spec.tuiles ? { "source-layer": level } : {};
    const part = {
      source: id, sourceLayer: spec.tuiles ? level : undefined, ids: null,
      layers: partLayers(map, entry, id, "", range, undefined, false), // no outline on hover
    };
    inset.parts[level] = part;
    // Its features are known once its tiles are in: then it is painted.
    const onIdle = function () {
      if (!map.isSourceLoaded(id)) { map.once("idle", onIdle); return; }
      const seen = {};
      map.querySourceFeatures(id, { sourceLayer: part.sourceLayer }).forEach(function (f) {
        if (f.id !== undefined && f.id !== null) seen[f.id] = true;
      });
      part.ids = Int32Array.from(Object.keys(seen).map(Number));
      if (entry.tilePoints) {
        const pts = {};
        map.querySourceFeatures(id, { sourceLayer: POINTS_LAYER }).forEach(function (f) {
          if (f.id !== undefined && f.id !== null) pts[f.id] = true;
        });
        part.pointIds = Int32Array.from(Object.keys(pts).map(Number));
      }
      paintPart(map, part, entry, null);
      insetCircles(inset, entry);
    };
    map.once("idle", onIdle);
    return part;
  }

  // [{inset, part}] of the insets drawing `level`.
  function insetsOf(level) {
    return (state.insets || []).filter(function (inset) { return inset.parts[level]; })
      .map(function (inset) { return { inset: inset, part: inset.parts[level] }; });
  }

  function insetsWanted() {
    const spec = state.lastSpec;
    const map = state.map;
    if (!spec || !spec.encarts || !spec.encarts.length || !map) return false;
    const c = map.getCenter(), v = map.getBounds();
    const inMetro = c.lng >= METRO[0] - 3 && c.lng <= METRO[2] + 3 &&
      c.lat >= METRO[1] - 3 && c.lat <= METRO[3] + 3;
    return inMetro && v.getEast() - v.getWest() >= 0.55 * (METRO[2] - METRO[0]);
  }

  // Show or hide the insets for the main map's view; create them the first time they show.
  // Not before the main map's first idle: five more maps (WebGL contexts, styles, tiles) would
  // share the one tile worker and the CPU with the national view's first draw.
  function updateInsets() {
    const box = state.ui.insets;
    if (!box || !state.lib || state.firstIdle === null) return;
    const wanted = insetsWanted();
    box.hidden = !wanted;
    state.root.dataset.encarts = wanted ? String(state.lastSpec.encarts.length) : "0";
    if (!wanted) return;
    if (!state.insets) {
      mark("insets");
      state.insets = state.lastSpec.encarts.map(createInset);
    }
    const spec = state.lastSpec;
    const entry = state.levels[spec.niveau];
    state.insets.forEach(function (inset) {
      inset.map.resize();
      inset.ready.then(function () {
        if (!entry || state.lastSpec.niveau !== spec.niveau) return;
        const part = insetPart(inset, spec, entry);
        Object.keys(inset.parts).forEach(function (level) {
          const vis = level === spec.niveau ? "visible" : "none";
          inset.parts[level].layers.forEach(function (id) {
            inset.map.setLayoutProperty(id, "visibility", vis);
          });
        });
        paintPart(inset.map, part, entry, null);
        insetCircles(inset, entry);
      });
    });
  }

  // The label points of a level as a GeoJSON FeatureCollection (feature id = row), fetched once
  // per URL: the route sends a flat array [lon0, lat0, lon1, lat1, ...], a sixth of a GeoJSON's
  // bytes, turned here into point features with no properties (circles need none).
  function levelPoints(url) {
    state.points = state.points || {};
    if (!state.points[url]) {
      state.points[url] = fetch(url).then(function (r) { return r.json(); }).then(function (body) {
        const features = new Array(body.length >> 1);
        for (let i = 0; i < features.length; i++) {
          features[i] = {
            type: "Feature", id: i, properties: {},
            geometry: { type: "Point", coordinates: [body[2 * i], body[2 * i + 1]] },
          };
        }
        mark("points_ready");
        return { type: "FeatureCollection", features: features };
      });
    }
    return state.points[url];
  }

  // Circles in an inset from the `points` layer of its own tiles: the DROM's points (ids read
  // with its polygons', insetPart), at the main map's scale.
  function insetTileCircles(inset, entry) {
    const map = inset.map, part = inset.parts[entry.level];
    const id = "cercles-" + entry.level;
    if (!part.pointIds) return; // painted once its tiles are in (insetPart)
    const scale = radiusAt(state.map.getZoom());
    const radius = ["*", ["coalesce", ["feature-state", "r"], 0], scale];
    if (!map.getLayer(id)) {
      map.addLayer({
        id: id, type: "circle", source: part.source, "source-layer": POINTS_LAYER,
        paint: circlePaint(radius),
      });
    }
    inset.pointIds = part.pointIds;
    map.setPaintProperty(id, "circle-radius", radius);
    map.setLayoutProperty(id, "visibility", "visible");
    setRadii(map, { source: part.source, sourceLayer: POINTS_LAYER, id: 0 }, entry.payload.rayons,
      part.pointIds);
  }

  // Proportional circles in an inset: the DROM's label points, radius from the same payload at
  // the main map's scale.
  function insetCircles(inset, entry) {
    const map = inset.map, payload = entry.payload;
    const id = "cercles-" + entry.level, src = "pts-" + entry.level;
    const on = payload && payload.representation === "cercles" && payload.rayons;
    Object.keys(inset.parts).forEach(function (level) {
      const lid = "cercles-" + level;
      if (map.getLayer(lid) && (level !== entry.level || !on)) {
        map.setLayoutProperty(lid, "visibility", "none");
      }
    });
    if (!on || !inset.parts[entry.level]) return;
    if (entry.tilePoints) { insetTileCircles(inset, entry); return; }
    if (!entry.points) return;
    const scale = radiusAt(state.map.getZoom());
    levelPoints(entry.points).then(function (all) {
      if (!map.getSource(src)) {
        const b = inset.emprise;
        const mine = all.features.filter(function (f) {
          const p = f.geometry.coordinates;
          return p[0] >= b[0] - 1 && p[0] <= b[2] + 1 && p[1] >= b[1] - 1 && p[1] <= b[3] + 1;
        });
        map.addSource(src, { type: "geojson", data: { type: "FeatureCollection", features: mine } });
        map.addLayer({
          id: id, type: "circle", source: src,
          paint: circlePaint(["*", ["coalesce", ["feature-state", "r"], 0], scale]),
        });
        inset.pointIds = mine.map(function (f) { return f.id; });
      }
      map.setPaintProperty(id, "circle-radius",
        ["*", ["coalesce", ["feature-state", "r"], 0], scale]);
      map.setLayoutProperty(id, "visibility", "visible");
      setRadii(map, { source: src, id: 0 }, entry.payload.rayons, inset.pointIds || []);
    });
  }

  // A click (select) or a hover (tooltip) in an inset: the feature under the pointer.
  function insetPointer(inset, ev, isClick) {
    const level = state.current && state.current.niveau;
    const part = level && inset.parts[level];
    const entry = level && state.levels[level];
    if (!part || !entry) return;
    const rect = inset.map.getCanvas().getBoundingClientRect();
    const x = ev.clientX - rect.left, y = ev.clientY - rect.top;
    const f = inset.map.queryRenderedFeatures([x, y], { layers: [part.layers[0]] })[0];
    if (!f) { state.ui.tooltip.style.display = "none"; return; }
    if (isClick) { select(entry, f); return; }
    const root = state.root.getBoundingClientRect();
    showTip(entry, f, ev.clientX - root.left, ev.clientY - root.top);
  }

  // What the image export draws over the map: each inset's map and its box, in pixels of the
  // main canvas.
  function insetsView() {
    if (!state.insets || !state.ui.insets || state.ui.insets.hidden) return [];
    const origin = state.map.getCanvas().getBoundingClientRect();
    return state.insets.map(function (inset) {
      const r = inset.box.getBoundingClientRect();
      const m = inset.map.getCanvas().getBoundingClientRect();
      return {
        map: inset.map, nom: inset.nom, code: inset.code,
        box: [r.left - origin.left, r.top - origin.top, r.width, r.height],
        canvas: [m.left - origin.left, m.top - origin.top, m.width, m.height],
      };
    });
  }

  function onClick(entry, e) {
    if (window.cafequip && window.cafequip.hit(state.map, e.point)) return; // a facility's popup
    select(entry, e.features && e.features[0]);
  }

  // Codes and names of a level's features by feature id (/geo/<level>-noms.json): the vector
  // tiles carry ids only. Fetched once per level and build, after the first draw or at the
  // first hover or click; a GeoJSON source (no tiles) still has them in its properties.
  function levelNames(entry) {
    if (!entry.names) {
      entry.names = !entry.namesUrl ? Promise.resolve(null) : fetch(entry.namesUrl)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { entry.nameTable = body; return body; })
        .catch(function () { entry.names = null; return null; });
    }
    return entry.names;
  }

  // {code, nom} of feature `f` of `entry`'s level, or null while the names are not in.
  function identify(entry, f) {
    const p = f && f.properties;
    if (p && p.code) return { code: p.code, nom: p.nom };
    const t = entry.nameTable;
    if (!t || !f || f.id === undefined || f.id === null || !(f.id < t.codes.length)) return null;
    return { code: t.codes[f.id], nom: t.noms[f.id] };
  }

  // A click on a territory, on the main map or an inset, selects it.
  function select(entry, f) {
    const who = identify(entry, f);
    if (!who) {
      if (f && !entry.nameTable) {
        levelNames(entry).then(function (t) { if (t) select(entry, f); });
      }
      return;
    }
    const value = entry.level + ":" + who.code;
    state.root.dataset.selection = value;
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("selection-territoire", { data: value });
    }
  }

  function swatch(parent, row) {
    const sw = el("span", "cafmap-swatch", parent);
    if (row.motif === "hachures") sw.classList.add("cafmap-swatch-secret");
    else sw.style.background = row.couleur;
    if (row.min === null && row.motif !== "hachures") sw.classList.add("cafmap-swatch-nodata");
    return sw;
  }

  // The legend's reference circles follow the zoom, as the circles of the map do.
  function redrawCircleLegend() {
    const entry = state.current && state.levels[state.current.niveau];
    const p = entry && entry.payload;
    if (p && p.representation === "cercles" && state.lastSpec) renderLegend(p, state.lastSpec);
  }

  function renderLegend(payload, spec) {
    const legend = state.ui.legend;
    legend.innerHTML = "";
    const head = el("div", "cafmap-legend-title", legend);
    head.textContent = payload.libelle;
    const unit = el("div", "cafmap-legend-unit", legend);
    unit.textContent = payload.unite + " · " + (spec.libelle_niveau || "");
    if (payload.periode_libelle) unit.textContent += " · " + payload.periode_libelle;
    const circles = payload.representation === "cercles" && payload.cercles;
    if (circles) {
      const box = el("div", "cafmap-legend-circles", legend);
      payload.cercles.forEach(function (c) {
        const line = el("div", "cafmap-legend-row", box);
        const dot = el("span", "cafmap-circle", line);
        const r = Math.min(60, Math.max(2, c.rayon * radiusAt(state.map ? state.map.getZoom() : 6)));
        dot.style.width = dot.style.height = (2 * r) + "px";
        el("span", "cafmap-legend-label", line).textContent = c.libelle;
      });
    }
    payload.legende.forEach(function (row) {
      if (circles && row.min !== null) return; // classes do not colour the circles
      const line = el("div", "cafmap-legend-row", legend);
      line.dataset.classe = row.classe === undefined ? "" : String(row.classe);
      swatch(line, row);
      const label = el("span", "cafmap-legend-label", line);
      label.textContent = row.min === null ? row.libelle : row.libelle.replace(" " + payload.unite, "");
      const count = el("span", "cafmap-legend-count", line);
      count.textContent = fmt(row.effectif, 0);
      line.title = row.effectif + " territoires";
    });
    if (payload.reference !== null && payload.reference !== undefined && payload.palette &&
        (payload.palette === "RdBu" || payload.palette === "PuOr")) {
      el("div", "cafmap-legend-ref", legend).textContent =
        "Centre : " + fmt(payload.reference, payload.decimales) + " " + payload.unite;
    }
    if (payload.source) el("div", "cafmap-legend-source", legend).textContent = payload.source;
    if (payload.note) el("div", "cafmap-legend-note", legend).textContent = payload.note;
    if (payload.avertissement) {
      el("div", "cafmap-legend-demo", legend).textContent = "Données de démonstration";
    }
    state.ui.title.textContent = spec.titre || payload.libelle;
  }

  function onHover(entry, part, e) {
    const map = state.map;
    const f = e.features && e.features[0];
    if (!f) return;
    const h = entry.hovered;
    const src = ensureHover(map, entry, part);
    if (h !== null && (h.id !== f.id || h.source !== src)) {
      map.setFeatureState(h, { h: false });
    }
    entry.hovered = { source: src, sourceLayer: part.sourceLayer, id: f.id };
    map.setFeatureState(entry.hovered, { h: true });
    map.getCanvas().style.cursor = "pointer";
    showTip(entry, f, e.point.x, e.point.y);
  }

  // The tooltip of feature `f` at (x, y), pixels of the map's container.
  function showTip(entry, f, x, y) {
    const p = entry.payload;
    const tip = state.ui.tooltip;
    const who = identify(entry, f);
    if (!who) {
      // Names not in yet: shown as soon as they are, if the pointer is still there.
      const hovered = entry.hovered;
      levelNames(entry).then(function (t) {
        if (t && tip.style.display === "block" && entry.hovered === hovered) showTip(entry, f, x, y);
      });
    }
    tip.innerHTML = "";
    el("div", "cafmap-tip-name", tip).textContent = who ? who.nom : "…";
    el("div", "cafmap-tip-code", tip).textContent = who ? who.code : "";
    if (p) {
      const v = p.valeurs[f.id];
      const c = entry.classes ? entry.classes[f.id] : -9;
      const line = el("div", "cafmap-tip-value", tip);
      let text;
      if (c === -2) text = "secret statistique";
      else if (c === -3) text = "non concerné";
      else if (c === -4) text = "hors du territoire affiché";
      else text = fmt(v, p.decimales) + (v === null || v === undefined ? "" : " " + p.unite);
      if (p.approximatif && v !== null && v !== undefined) text = "≈ " + text;
      line.textContent = p.libelle + " : " + text;
      if (p.periode_libelle) el("div", "cafmap-tip-code", tip).textContent = p.periode_libelle;
      // The disclosure regime, so that a 0 or a blank is read as the Cnaf meant it.
      if (p.note) el("div", "cafmap-tip-note", tip).textContent = p.note;
      const rank = p.rangs ? p.rangs[f.id] : null;
      if (rank !== null && rank !== undefined) {
        el("div", "cafmap-tip-rank", tip).textContent =
          "Rang : " + rank + (rank === 1 ? "er" : "e") + " sur " + p.classes_effectif;
      }
    }
    const w = state.ui.map.clientWidth;
    tip.style.left = (x > w - 260 ? x - 250 : x + 14) + "px";
    tip.style.top = (y + 14) + "px";
    tip.style.display = "block";
  }

  function clearHover(entry) {
    if (entry.hovered !== null && state.map) state.map.setFeatureState(entry.hovered, { h: false });
    entry.hovered = null;
    state.ui.tooltip.style.display = "none";
    if (state.map) state.map.getCanvas().style.cursor = "";
  }

  function idle(map) {
    return new Promise(function (resolve) {
      map.once("idle", function () { resolve(performance.now()); });
      map.triggerRepaint();
    });
  }

  function setStatus(text, isError) {
    const s = state.ui.status;
    if (!s) return;
    s.textContent = text || "";
    s.style.display = text ? "block" : "none";
    s.classList.toggle("cafmap-status-error", !!isError);
  }

  function nameTab(spec) {
    if (spec.titre) document.title = spec.titre + " – Cafdata Carto"; // the tab names the view
  }

  /** Show `spec` (level + indicator); resolves with timings once the map is idle. */
  async function render(spec, opts) {
    opts = opts || {};
    mark("render");
    const seq = ++state.seq;
    state.asked = spec;
    const t0 = performance.now();
    if (spec.couleur_sans_donnees) NODATA = spec.couleur_sans_donnees;
    // The values and (for circles) the label points are fetched while MapLibre starts.
    const valuesPromise = fetchValues(spec.valeurs, opts.force);
    valuesPromise.catch(function () {}); // reported below, once the map is there
    if (wantsCircles(spec) && !(spec.tuiles && spec.tuiles_points)) levelPoints(spec.points);
    const map = await ensureMap(spec);
    const tMap = performance.now();
    nameTab(spec);
    const entry = enterLevel(map, spec);
    let payload;
    try {
      payload = await valuesPromise;
    } catch (err) {
      if (!opts.quiet) setStatus(err.message, true);
      else if (state.asked === spec) state.asked = null; // Dash's same spec will say it
      throw err;
    }
    if (seq !== state.seq) return null; // a newer request took over
    const t1 = performance.now();
    mark("values_ready");
    entry.points = spec.points;
    state.lastSpec = spec;
    const circles = applyClasses(map, entry, payload);
    fitFilter(map, payload);
    renderLegend(payload, spec);
    state.current = { niveau: spec.niveau, indicateur: spec.indicateur };
    state.lastSpec = spec;
    updateInsets();
    maybeAddDetail();
    state.root.dataset.niveau = spec.niveau;
    state.root.dataset.indicateur = spec.indicateur;
    // The circles' source is in the map before waiting for its idle.
    await circles.catch(function (err) { console.error("cafmap:", err); });
    const t2 = performance.now();
    mark("applied");
    // Drawn out of sight until Dash's page has its container: the first draw is the one seen.
    if (state.early) await state.early.adopted;
    const t3 = await idle(map);
    mark("idle");
    levelNames(entry); // for the tooltip and the click, once the map is drawn
    loadChoices(spec);
    if (seq === state.seq) setStatus("");
    // Département borders over communes: added once the communes are drawn, so that their
    // tiling does not delay the first draw (one MapLibre worker handles all GeoJSON sources).
    // setVisibility: set again on every render, the same value cost a second full frame after
    // each idle (software WebGL: ~200 ms of the GPU process per recolour).
    if (spec.bordures && seq === state.seq && state.current.niveau === "commune") {
      ensureDepBorders(map, spec);
      setVisibility(map, "bordures-dep", "visible");
    }
    const timing = {
      niveau: spec.niveau, indicateur: spec.indicateur, start: t0,
      fetch_ms: t1 - t0, apply_ms: t2 - t1, total_ms: t3 - t0, idle_at: t3, map_at: tMap,
    };
    state.lastTiming = timing;
    if (state.firstIdle === null) {
      state.firstIdle = t3;
      updateInsets(); // held back until now (see updateInsets)
    }
    state.root.dataset.rendered = String(seq);
    return timing;
  }

  // Zoom on the territory filter when it changes (not on every recolour).
  function fitFilter(map, payload) {
    const f = payload.filtre;
    const key = f ? f.niveau + ":" + f.code : "";
    if (key === state.filterKey) return;
    const first = state.filterKey === undefined;
    state.filterKey = key;
    if (first && state.initialView) return; // the URL's own view wins on load
    if (f && f.emprise) {
      const b = f.emprise;
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, duration: 0, maxZoom: 11 });
    }
  }

  // The map's view goes into the URL (?vue=lon,lat,zoom) so that a copied link restores it.
  function onMoveEnd() {
    const map = state.map;
    if (!map) return;
    const c = map.getCenter();
    const vue = c.lng.toFixed(4) + "," + c.lat.toFixed(4) + "," + map.getZoom().toFixed(2);
    const url = new URL(window.location.href);
    if (url.pathname !== "/" && !url.pathname.endsWith("/embed")) return;
    url.searchParams.set("vue", vue);
    window.history.replaceState(window.history.state, "", url.pathname + "?" + url.searchParams);
  }

  function setInitialView(vue) {
    if (!vue) return;
    const parts = vue.split(",").map(Number);
    if (parts.length !== 3 || parts.some(Number.isNaN)) return;
    state.initialView = { center: [parts[0], parts[1]], zoom: parts[2] };
  }

  function fitZone(code) {
    const b = state.zones[code];
    if (!b || !state.map) return false;
    const padding = code === "metropole" ? framePadding(20, state.lastSpec) : 20;
    state.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: padding, duration: 600 });
    return true;
  }

  // The interface of the image export (cafexport.js): the map and what it shows (values of the
  // current level, title), or null until the first values have arrived.
  function currentView() {
    const entry = state.current && state.levels[state.current.niveau];
    if (!state.map || !entry || !entry.payload) return null;
    const spec = state.lastSpec || {};
    return {
      map: state.map, payload: entry.payload, title: spec.titre || entry.payload.libelle,
      insets: insetsView(), circleScale: radiusAt(state.map.getZoom()),
    };
  }

  // MapLibre's module (preloaded by the page head) is evaluated while Dash starts rather than
  // at the first render: the map's own import() then finds it ready. Its tile worker is started
  // then too (prewarm): the worker's script loads and compiles before the first tile is asked.
  const preload = document.querySelector('link[rel="modulepreload"][href*="maplibre-gl"]');
  if (preload) {
    import(preload.href).then(function (lib) {
      mark("map_module_early");
      const workers = workerCount();
      if (workers && lib.setWorkerCount) lib.setWorkerCount(workers);
      if (lib.prewarm) lib.prewarm();
    }, function () {});
  }


  // ---- Start before Dash. The index HTML holds the page's first spec (#cafmap-depart,
  // layers/map_start.py): the map is created, its tiles asked and its values fetched while Dash
  // loads its layout and runs its callbacks, in a hidden box of about the map's size. Dash's
  // container (#cafmap) takes the map over as soon as it is in the page (adopt), and the view
  // is framed again for its real size; Dash's own spec then only confirms (sameSpec).
  // The page's frame around the map (style.css, measured in Chromium): the side panel, the
  // header, the demonstration notice (its usual height), the data table's toggle under the map.
  // The box should have the map's size: its zoom picks the tiles the worker parses first.
  const PANEL_WIDTH = 270, NARROW = 760, HEADER_HEIGHT = 40, DEMO_HEIGHT = 51, TABLE_TOGGLE = 18;

  // [width, height] of #cafmap-to-be: from Dash's page frame (.cc-pages) once rendered.
  function expectedSize(demo) {
    const embed = /\/embed\/?$/.test(window.location.pathname);
    const pages = document.querySelector(".cc-pages");
    const top = pages ? pages.getBoundingClientRect().top
      : HEADER_HEIGHT + (demo ? DEMO_HEIGHT : 0);
    const side = window.innerWidth > NARROW && !embed ? PANEL_WIDTH : 0;
    return [window.innerWidth - side,
      Math.max(200, Math.round(window.innerHeight - top - (embed ? 0 : TABLE_TOGGLE)))];
  }

  function sizeHolder(holder, size) {
    holder.style.width = size[0] + "px";
    holder.style.height = size[1] + "px";
  }

  function startEarly() {
    const tag = document.getElementById("cafmap-depart");
    if (!tag || document.getElementById("cafmap")) return;
    let spec;
    try { spec = JSON.parse(tag.textContent); } catch { return; }
    if (!spec || !spec.niveau) return;
    const holder = el("div", "cafmap-root cafmap-early", document.body);
    holder.setAttribute("aria-hidden", "true");
    // Nothing in the hidden box may take the focus (MapLibre's canvas and buttons would).
    holder.inert = true;
    holder.style.cssText = "position:fixed;visibility:hidden;pointer-events:none;z-index:-1;" +
      "left:0;top:0";
    const demo = tag.dataset.demo === "1";
    sizeHolder(holder, expectedSize(demo));
    let adopted;
    state.early = { holder: holder, adopted: new Promise(function (r) { adopted = r; }) };
    state.early.resolve = adopted;
    state.root = holder;
    let framed = false;
    const watch = new MutationObserver(function () {
      if (adoptIfThere()) { watch.disconnect(); return; }
      // Dash's page frame is in before the map's container: the box takes its exact size.
      if (!framed && document.querySelector(".cc-pages")) {
        framed = true;
        sizeHolder(holder, expectedSize(demo));
        if (state.map) { state.map.resize(); reframe(state.map); }
      }
    });
    watch.observe(document.body, { childList: true, subtree: true });
    state.early.watch = watch;
    mark("early");
    state.served = spec;
    render(spec, { quiet: true }).catch(function (err) { console.error("cafmap:", err); });
  }

  // While hidden, the map loads its tiles, takes its colours and uploads them, but draws
  // nothing: frames of an invisible map would take CPU from Dash's start and from the tile
  // worker (in software WebGL most of all). `painter.render` is MapLibre's drawing step and
  // `tileManagers[id].prepare` its first part (feature states into vertex data, uploads), as in
  // MapLibre 6 (internal: anything else draws as before). The frame's source updates, hence the
  // tile requests, run before it.
  function holdPaint(map, early) {
    const painter = map.painter;
    if (!painter || typeof painter.render !== "function" || !painter.context) return;
    const draw = painter.render;
    painter.render = function (style) {
      const managers = style && style.tileManagers;
      if (!managers) { draw.apply(painter, arguments); return; }
      if (painter.context.gl.isContextLost()) return;
      Object.keys(managers).forEach(function (id) {
        if (managers[id].used) managers[id].prepare(painter.context);
      });
    };
    early.paint = function () { painter.render = draw; };
  }

  // Move the early map into Dash's #cafmap once it exists; true once done (or nothing to do).
  function adoptIfThere() {
    const early = state.early;
    if (!early) return true;
    const root = document.getElementById("cafmap");
    if (!root) return false;
    root.innerHTML = "";
    while (early.holder.firstChild) root.appendChild(early.holder.firstChild);
    Object.keys(early.holder.dataset).forEach(function (k) {
      root.dataset[k] = early.holder.dataset[k];
    });
    early.holder.remove();
    early.watch.disconnect();
    state.root = root;
    state.early = null;
    mark("adopted");
    if (early.paint) early.paint();
    if (state.map) {
      state.map.resize();
      reframe(state.map);
      state.map.triggerRepaint();
    }
    early.resolve();
    return true;
  }

  // The view the first render would have framed in the real container (ensureMap's bounds,
  // the URL's own view, render's maybeFit and fitFilter), once the map has its real size.
  function reframe(map) {
    const spec = state.asked;
    if (!spec) return;
    if (state.initialView) { map.jumpTo(state.initialView); return; }
    const home = spec.accueil || HOME;
    map.fitBounds(home, { padding: framePadding(10, spec), duration: 0 });
    if (state.levels[spec.niveau]) maybeFit(map, spec);
    const p = state.values.get(spec.valeurs);
    const b = p && p.filtre && p.filtre.emprise;
    if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, duration: 0, maxZoom: 11 });
  }

  // Same view, key by key (Dash's JSON and the early one may order keys differently).
  function sameSpec(a, b) {
    if (!a || !b) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every(function (k) { return JSON.stringify(a[k]) === JSON.stringify(b[k]); });
  }

  // ---- Recolour without the server's callbacks. On a new indicator, period or classification
  // the browser makes the next values URL itself, as layers/map_spec.values_query and the
  // explore callbacks would (same level kept, same period when the indicator has it, else its
  // latest; counts as circles), from /api/carte-choix; Dash's spec then confirms it. Anything
  // else (a level or filter change, choices not in yet) waits for Dash as before.
  function loadChoices(spec) {
    if (state.choices || state.choicesAsked || !spec.choix) return;
    state.choicesAsked = true;
    fetch(spec.choix).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { state.choices = body; })
      .catch(function () { state.choicesAsked = false; });
  }

  function quickSpec(trigger, v) {
    const last = state.served, ch = state.choices;
    if (!last || !ch || last.niveau !== v.niveau || !last.valeurs) return null;
    const ind = ch.indicateurs[v.indicateur];
    const found = ind && ind.niveaux[v.niveau];
    if (!found || !found.length) return null; // the level changes: the server's callbacks
    const periods = found.map(function (i) { return ch.periodes[i]; });
    const k = periods.indexOf(v.periode) >= 0 ? found[periods.indexOf(v.periode)]
      : found[found.length - 1];
    const own = ind.taux ? "choroplethe" : "cercles";
    const rep = trigger === "indicateur" ? own : v.representation || own;
    if (ind.taux && rep === "cercles") return null;
    const query = new URLSearchParams();
    query.append("indicateur", v.indicateur);
    query.append("periode", ch.periodes[k]);
    query.append("methode", v.methode || "quantiles");
    query.append("classes", String(v.classes || 5));
    query.append("palette", v.palette || "YlGnBu");
    query.append("representation", rep);
    if ((v.methode || "quantiles") === "manual") query.append("bornes", v.bornes || "");
    if (v.filtre) query.append("filtre", v.filtre);
    const parts = last.valeurs.split("?");
    const version = new URLSearchParams(parts[1] || "").get("v");
    if (version !== null) query.append("v", version);
    return Object.assign({}, last, {
      indicateur: v.indicateur,
      valeurs: parts[0] + "?" + query.toString(),
      titre: ind.titre + " par " + ch.singuliers[v.niveau] + ", " + ch.libelles[k],
    });
  }

  const QUICK_INPUTS = ["indicateur", "periode", "representation", "methode", "classes",
    "palette", "bornes", "niveau", "filtre"];
  const QUICK_TRIGGERS = QUICK_INPUTS.slice(0, 7); // niveau and filtre: the server's callbacks

  // Recolour at once when the browser can tell the next values URL (quickSpec); `trigger` is
  // the input that changed, `v` the panel's map inputs by name. Dash's `apply` follows with the
  // same spec, which then only confirms it.
  function quickRender(trigger, v) {
    const spec = quickSpec(trigger, v);
    if (spec && !sameSpec(spec, state.asked) && state.root && state.root.isConnected) {
      render(spec, { quiet: true }).catch(function () {}); // Dash's spec will say it
    }
  }

  // The panel's map inputs from Dash's store (by component id), null when the page has none.
  function panelValues(api) {
    const v = {};
    for (let k = 0; k < QUICK_INPUTS.length; k++) {
      const c = api.getLayout(QUICK_INPUTS[k]);
      if (!c || !c.props) return null;
      v[QUICK_INPUTS[k]] = c.props.value;
    }
    return v;
  }

  // Dash runs the `quick` callback 60-100 ms after an input of the panel changed (its
  // callbacks' bookkeeping, the page's re-render). Its store says the new value in the same
  // dispatch, whether the user picked it or `dash_clientside.set_props` set it: the recolour
  // starts from there, and the callback later finds the same spec asked. Installed once, at
  // Dash's first spec (its store exists then).
  function watchPanel() {
    const stores = window.dash_stores, api = window.dash_component_api;
    if (state.watching || !stores || !stores[0] || !api || !api.getLayout) return;
    state.watching = true;
    const store = stores[0];
    let layout = null, prev = null;
    store.subscribe(function () {
      const now = store.getState().layout;
      if (now === layout) return;
      layout = now;
      try {
        const v = panelValues(api), before = prev;
        prev = v;
        if (!v || !before || v.niveau !== before.niveau || v.filtre !== before.filtre) return;
        const changed = QUICK_TRIGGERS.filter(function (name) { return v[name] !== before[name]; });
        if (changed.length) quickRender(changed[0], v);
      } catch (err) {
        console.error("cafmap:", err); // never in Dash's way
      }
    });
  }

  window.cafmap = {
    state: state,
    render: render,
    fitZone: fitZone,
    view: currentView,
    // {code, nom} of a feature id of a level, once its names are in (tests, benchmarks).
    identify: function (level, id) {
      const entry = state.levels[level];
      return entry ? identify(entry, { id: id }) : null;
    },
    names: function (level) {
      const entry = state.levels[level];
      return entry ? levelNames(entry) : Promise.resolve(null);
    },
    idle: function () { return state.map ? idle(state.map) : Promise.resolve(null); },
  };

  // Merged into the namespace: cafexport.js adds `exportImage` to it (either may load first).
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cafmap: Object.assign({}, window.dash_clientside && window.dash_clientside.cafmap, {
      apply: function (spec) {
        if (!spec || !spec.niveau) return window.dash_clientside.no_update;
        state.zones = spec.zones || state.zones;
        state.served = spec;
        state.confirmed = true;
        watchPanel();
        adoptIfThere();
        const shown = state.root && state.root.isConnected && state.root.id === "cafmap";
        if (!(shown && sameSpec(spec, state.asked))) {
          render(spec).catch(function (err) { console.error("cafmap:", err); });
        } else {
          nameTab(spec); // Dash's page title came after the early render's
        }
        return spec.niveau + "/" + spec.indicateur;
      },
      // The panel's map inputs (QUICK_INPUTS order): the same recolour as watchPanel's, for a
      // page whose Dash store the map could not watch.
      quick: function () {
        const ctx = window.dash_clientside.callback_context;
        const trig = ctx && ctx.triggered && ctx.triggered[0];
        const args = arguments, v = {};
        QUICK_INPUTS.forEach(function (name, i) { v[name] = args[i]; });
        if (trig) quickRender(trig.prop_id.split(".")[0], v);
        return window.dash_clientside.no_update;
      },
      zone: function () {
        const ctx = window.dash_clientside.callback_context;
        const trig = ctx && ctx.triggered_id;
        if (!trig || !trig.code) return window.dash_clientside.no_update;
        fitZone(trig.code);
        return trig.code;
      },
    }),
  });

  startEarly();
})();
