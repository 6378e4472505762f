/* Facilities over the map (EAJE crèches and LAEP): a clustered GeoJSON point layer.
 *
 * The points are fetched once (/geo/equipements.geojson, versioned) when a type is first
 * ticked; the type filter then runs in the browser. Clusters are HTML buttons (the map style
 * has no glyphs for text, and buttons are reachable with the keyboard): a click zooms in.
 * A single point opens a popup with its name, type, places and address.
 */
(function () {
  "use strict";

  const SRC = "equipements";
  const POINTS = "equipements-points";
  const MAX_MARKERS = 400;
  const st = { all: null, url: null, types: [], spec: null, markers: {}, wired: false };

  function mapReady() {
    const s = window.cafmap && window.cafmap.state;
    if (s && s.mapReady) return s.mapReady;
    return new Promise(function (resolve) {
      setTimeout(function () { resolve(mapReady()); }, 200);
    });
  }

  function lib() { return window.cafmap.state.lib; }

  function filtered() {
    const keep = new Set(st.types);
    return {
      type: "FeatureCollection",
      features: st.all.features.filter(function (f) { return keep.has(f.properties.t); }),
    };
  }

  function colourExpr(colours) {
    const expr = ["match", ["get", "t"]];
    colours.forEach(function (c, i) { expr.push(i, c); });
    expr.push("#555555");
    return expr;
  }

  function raise(map) {
    // Polygons added after the points (a new level) would cover them.
    if (map.getLayer(POINTS)) map.moveLayer(POINTS);
  }

  function ensureLayer(map, spec) {
    if (map.getSource(SRC)) return;
    map.addSource(SRC, {
      type: "geojson", data: filtered(), cluster: true, clusterRadius: 45, clusterMaxZoom: 12,
    });
    map.addLayer({
      id: POINTS, type: "circle", source: SRC, filter: ["!", ["has", "point_count"]],
      paint: {
        "circle-color": colourExpr(spec.couleurs),
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 4, 14, 7],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1.5,
      },
    });
    if (st.wired) return;
    st.wired = true;
    map.on("click", POINTS, function (e) { showPopup(map, e.features[0]); });
    map.on("mouseenter", POINTS, function () { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", POINTS, function () { map.getCanvas().style.cursor = ""; });
    map.on("render", function () { updateMarkers(map); });
  }

  function line(parent, label, value) {
    if (value === null || value === undefined || value === "") return;
    const p = document.createElement("div");
    const b = document.createElement("strong");
    b.textContent = label + " : ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(String(value)));
    parent.appendChild(p);
  }

  function showPopup(map, f) {
    if (!f) return;
    const props = f.properties;
    const box = document.createElement("div");
    box.className = "cc-equip-popup";
    const h = document.createElement("h3");
    h.textContent = props.n; // textContent: names come from an imported file
    box.appendChild(h);
    line(box, "Type", (st.spec.libelles || [])[props.t]);
    line(box, "Places", props.p);
    line(box, "Commune", props.c);
    new (lib().Popup)({ closeButton: true, maxWidth: "280px" })
      .setLngLat(f.geometry.coordinates).setDOMContent(box).addTo(map);
  }

  function shortCount(n) {
    return n >= 10000 ? Math.round(n / 1000) + " k" : n >= 1000 ? (n / 1000).toFixed(1) + " k" : String(n);
  }

  function clusterMarker(map, f) {
    const n = f.properties.point_count;
    const el = document.createElement("button");
    el.type = "button";
    el.className = "cc-cluster";
    el.textContent = shortCount(n);
    el.setAttribute("aria-label", n + " équipements : zoomer ici");
    const size = Math.round(22 + 8 * Math.log10(n));
    el.style.width = el.style.height = size + "px";
    el.addEventListener("click", function (ev) {
      ev.stopPropagation();
      map.getSource(SRC).getClusterExpansionZoom(f.properties.cluster_id).then(function (z) {
        map.easeTo({ center: f.geometry.coordinates, zoom: Math.min(z, 14) });
      });
    });
    return new (lib().Marker)({ element: el }).setLngLat(f.geometry.coordinates);
  }

  function updateMarkers(map) {
    if (!map.getSource(SRC) || !st.types.length || !map.isSourceLoaded(SRC)) return;
    const next = {};
    const feats = map.querySourceFeatures(SRC, { filter: ["has", "point_count"] });
    for (let i = 0; i < feats.length && Object.keys(next).length < MAX_MARKERS; i++) {
      const id = feats[i].properties.cluster_id;
      if (next[id]) continue;
      next[id] = st.markers[id] || clusterMarker(map, feats[i]).addTo(map);
    }
    Object.keys(st.markers).forEach(function (id) { if (!next[id]) st.markers[id].remove(); });
    st.markers = next;
  }

  function clearMarkers() {
    Object.keys(st.markers).forEach(function (id) { st.markers[id].remove(); });
    st.markers = {};
  }

  async function apply(spec) {
    const map = await mapReady();
    st.spec = spec;
    st.types = spec.types || [];
    if (!st.types.length) {
      clearMarkers();
      if (map.getLayer(POINTS)) map.setLayoutProperty(POINTS, "visibility", "none");
      return "off";
    }
    if (!st.all || st.url !== spec.url) {
      const resp = await fetch(spec.url);
      if (!resp.ok) throw new Error("équipements indisponibles (" + resp.status + ")");
      st.all = await resp.json();
      st.url = spec.url;
    }
    ensureLayer(map, spec);
    clearMarkers(); // cluster ids change with the data
    map.getSource(SRC).setData(filtered());
    map.setLayoutProperty(POINTS, "visibility", "visible");
    raise(map);
    return st.types.join(",");
  }

  window.cafequip = {
    state: st,
    shown: function () { return st.all && st.types.length ? filtered().features.length : 0; },
    apply: apply,
    raise: raise,
    // True when a facility point or cluster is under the pixel (the territory click yields).
    hit: function (map, point) {
      return !!(map.getLayer(POINTS) && st.types.length &&
        map.queryRenderedFeatures(point, { layers: [POINTS] }).length);
    },
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cafequip: {
      apply: function (spec) {
        if (!spec) return window.dash_clientside.no_update;
        apply(spec).then(function (done) {
          document.getElementById("cafmap").dataset.equipements = done;
        }).catch(function (err) { console.error("cafequip:", err); });
        return (spec.types || []).join(",");
      },
    },
  });
})();
