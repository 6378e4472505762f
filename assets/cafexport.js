/*
 * cafexport: PNG, SVG and PDF export of the map's current view (map image + title, legend, source
 * and date), in the browser.
 *
 * It reads the map through `window.cafmap.view()` (assets/cafmap.js) only: the MapLibre map and
 * what it shows. Dash calls `dash_clientside.cafmap.exportImage` (callbacks/explore.py) for the
 * "PNG", "SVG" and "PDF" buttons; `window.cafexport` exposes the three exports, returning promises.
 */
(function () {
  "use strict";

  // The view to export; throws while the map has no values to show.
  function currentView() {
    const view = window.cafmap && window.cafmap.view();
    if (!view) throw new Error("carte non prête");
    return view;
  }

  function mapImage(map) {
    return new Promise(function (resolve) {
      map.once("render", function () { resolve(map.getCanvas().toDataURL("image/png")); });
      map.triggerRepaint();
    });
  }

  function loaded(src) {
    const img = new Image();
    img.src = src;
    return img.decode().then(function () { return img; });
  }

  // The map's image with the overseas insets drawn where they show on screen (their map, box
  // and name): the PNG and the SVG both start from it.
  async function composedImage(view) {
    const main = await loaded(await mapImage(view.map));
    const insets = view.insets || [];
    if (!insets.length) return main;
    const canvas = document.createElement("canvas");
    canvas.width = main.width;
    canvas.height = main.height;
    const g = canvas.getContext("2d");
    g.drawImage(main, 0, 0);
    const k = main.width / (view.map.getCanvas().clientWidth || main.width); // device px per CSS px
    for (const inset of insets) {
      const img = await loaded(await mapImage(inset.map));
      const b = inset.box.map(function (v) { return v * k; });
      const c = inset.canvas.map(function (v) { return v * k; });
      g.fillStyle = "#fff";
      g.fillRect(b[0], b[1], b[2], b[3]);
      g.drawImage(img, c[0], c[1], c[2], c[3]);
      g.strokeStyle = "#9a9a9a";
      g.lineWidth = k;
      g.strokeRect(b[0], b[1], b[2], b[3]);
      g.fillStyle = "#222";
      g.font = Math.round(11 * k) + "px sans-serif";
      g.fillText(inset.nom, b[0] + 3 * k, Math.max(c[1] - 3 * k, b[1] + 11 * k)); // its caption
    }
    return loaded(canvas.toDataURL("image/png"));
  }

  // The reference circles of a map of counts, at the sizes the map draws them at its zoom
  // (`circleScale`, cafmap.js): [{r, label}] largest first, and the height they take.
  function circleKey(view) {
    const p = view.payload;
    if (p.representation !== "cercles" || !p.cercles) return { items: [], height: 0, rmax: 0 };
    const items = p.cercles.map(function (c) {
      return { r: Math.min(60, Math.max(2, c.rayon * (view.circleScale || 30))), label: c.libelle };
    });
    const height = items.reduce(function (h, c) { return h + Math.max(20, 2 * c.r + 6); }, 0);
    return { items: items, height: height, rmax: items.length ? items[0].r : 0 };
  }

  // Lays the circles out from legend line `y` at column `x`; calls draw(cx, cy, r, label, ty).
  function eachCircle(key, x, y, draw) {
    key.items.forEach(function (c) {
      y += Math.max(20, 2 * c.r + 6);
      draw(x + key.rmax, y - c.r - 3, c.r, c.label, y - c.r + 1);
    });
    return y;
  }

  function legendRows(payload) {
    const circles = payload.representation === "cercles" && payload.cercles;
    return payload.legende.filter(function (r) { return !(circles && r.min !== null); });
  }

  function exportMeta(view) {
    const payload = view.payload;
    const date = new Date().toLocaleDateString("fr-FR");
    return {
      title: view.title,
      source: (payload.source || "") + " · IGN Admin Express · Cafdata Carto, " + date,
      notice: payload.avertissement ? "Données de démonstration (valeurs fictives)" : "",
      unit: payload.unite + (payload.periode_libelle ? " · " + payload.periode_libelle : ""),
    };
  }

  function download(href, name) {
    const a = document.createElement("a");
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function fileName(payload, ext) {
    return ["cafdata", payload.indicateur, payload.niveau, payload.periode].join("_") + "." + ext;
  }

  // The exported picture: title, the map with its insets, legend, source and notice.
  async function composeCanvas(view) {
    const payload = view.payload, meta = exportMeta(view);
    const img = await composedImage(view);
    const rows = legendRows(payload), key = circleKey(view);
    const w = img.width, head = 44, foot = 40, legendW = 260;
    const canvas = document.createElement("canvas");
    canvas.width = w + Math.max(legendW, 2 * key.rmax + 160);
    canvas.height = Math.max(img.height, rows.length * 20 + key.height + 60) + head + foot;
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#111";
    g.font = "bold 18px sans-serif";
    g.fillText(meta.title, 12, 28);
    g.drawImage(img, 0, head);
    let y = head + 20;
    g.font = "bold 13px sans-serif";
    g.fillText(payload.libelle.slice(0, 34), w + 12, y);
    g.font = "12px sans-serif";
    g.fillText(meta.unit, w + 12, (y += 18));
    y = eachCircle(key, w + 12, y, function (cx, cy, r, label, ty) {
      g.beginPath();
      g.arc(cx, cy, r, 0, 2 * Math.PI);
      g.fillStyle = "rgba(196, 78, 12, 0.55)";
      g.fill();
      g.strokeStyle = "#6b2a05";
      g.stroke();
      g.fillStyle = "#111";
      g.fillText(label, w + 12 + 2 * key.rmax + 8, ty);
    });
    rows.forEach(function (r) {
      y += 20;
      g.fillStyle = r.couleur;
      g.fillRect(w + 12, y - 11, 22, 13);
      if (r.motif === "hachures") {
        g.strokeStyle = "#505050";
        for (let x = -13; x < 22; x += 4) {
          g.beginPath(); g.moveTo(w + 12 + Math.max(x, 0), y - 11 + Math.max(-x, 0));
          g.lineTo(w + 12 + Math.min(x + 13, 22), y + 2 - Math.max(x + 13 - 22, 0)); g.stroke();
        }
      }
      g.strokeStyle = "#888";
      g.strokeRect(w + 12, y - 11, 22, 13);
      g.fillStyle = "#111";
      g.fillText(r.libelle + " (" + r.effectif + ")", w + 42, y);
    });
    g.font = "12px sans-serif";
    g.fillStyle = "#333";
    g.fillText(meta.source, 12, canvas.height - 22);
    if (meta.notice) { g.fillStyle = "#8a4b00"; g.fillText(meta.notice, 12, canvas.height - 6); }
    return canvas;
  }

  async function exportPng() {
    const view = currentView();
    const canvas = await composeCanvas(view);
    download(canvas.toDataURL("image/png"), fileName(view.payload, "png"));
    return canvas.width + "x" + canvas.height;
  }

  // A one-page A4 landscape PDF holding the exported picture as a JPEG (DCTDecode): the same
  // image as the PNG, so the insets, legend and source are in it.
  function pdfBlob(jpeg, w, h) {
    const W = 842, H = 595, m = 24;
    const s = Math.min((W - 2 * m) / w, (H - 2 * m) / h);
    const dw = w * s, dh = h * s;
    const draw = "q " + dw.toFixed(2) + " 0 0 " + dh.toFixed(2) + " " + ((W - dw) / 2).toFixed(2) +
      " " + ((H - dh) / 2).toFixed(2) + " cm /Im0 Do Q";
    const objects = [
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + W + " " + H + "] " +
        "/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>",
      ["<< /Type /XObject /Subtype /Image /Width " + w + " /Height " + h +
        " /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length " + jpeg.length +
        " >>\nstream\n", jpeg, "\nendstream"],
      "<< /Length " + draw.length + " >>\nstream\n" + draw + "\nendstream",
    ];
    const enc = new TextEncoder();
    const chunks = [];
    let size = 0;
    const push = function (part) {
      const bytes = typeof part === "string" ? enc.encode(part) : part;
      chunks.push(bytes);
      size += bytes.length;
    };
    push("%PDF-1.4\n");
    const offsets = objects.map(function (body, i) {
      const at = size;
      push((i + 1) + " 0 obj\n");
      (Array.isArray(body) ? body : [body]).forEach(push);
      push("\nendobj\n");
      return at;
    });
    const xref = size;
    push("xref\n0 " + (objects.length + 1) + "\n0000000000 65535 f \n" + offsets.map(function (o) {
      return String(o).padStart(10, "0") + " 00000 n \n";
    }).join(""));
    push("trailer\n<< /Size " + (objects.length + 1) + " /Root 1 0 R >>\nstartxref\n" + xref +
      "\n%%EOF\n");
    return new Blob(chunks, { type: "application/pdf" });
  }

  async function exportPdf() {
    const view = currentView();
    const canvas = await composeCanvas(view);
    const jpeg = await new Promise(function (resolve, reject) {
      canvas.toBlob(function (b) {
        if (b) resolve(b.arrayBuffer()); else reject(new Error("image JPEG impossible"));
      }, "image/jpeg", 0.92);
    });
    const pdf = pdfBlob(new Uint8Array(jpeg), canvas.width, canvas.height);
    download(URL.createObjectURL(pdf), fileName(view.payload, "pdf"));
    return canvas.width + "x" + canvas.height;
  }

  function xml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  async function exportSvg() {
    const view = currentView();
    const payload = view.payload, meta = exportMeta(view);
    const img = await composedImage(view);
    const data = img.src;
    const w = img.width, h = img.height, rows = legendRows(payload), key = circleKey(view);
    const H = Math.max(h, rows.length * 20 + key.height + 60) + 84;
    const W = w + Math.max(260, 2 * key.rmax + 160);
    const parts = [
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="' +
        W + '" height="' + H + '" font-family="sans-serif">',
      '<defs><pattern id="hachures" width="6" height="6" patternUnits="userSpaceOnUse" ' +
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>' +
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#505050" stroke-width="2"/></pattern></defs>',
      '<rect width="100%" height="100%" fill="#fff"/>',
      '<title>' + xml(meta.title) + "</title>",
      '<text x="12" y="28" font-size="18" font-weight="bold">' + xml(meta.title) + "</text>",
      '<image x="0" y="44" width="' + w + '" height="' + h + '" xlink:href="' + data + '"/>',
      '<text x="' + (w + 12) + '" y="64" font-size="13" font-weight="bold">' +
        xml(payload.libelle) + "</text>",
      '<text x="' + (w + 12) + '" y="82" font-size="12">' + xml(meta.unit) + "</text>",
    ];
    let y = eachCircle(key, w + 12, 82, function (cx, cy, r, label, ty) {
      parts.push('<circle cx="' + cx + '" cy="' + cy + '" r="' + r +
        '" fill="rgba(196, 78, 12, 0.55)" stroke="#6b2a05"/>');
      parts.push('<text x="' + (w + 20 + 2 * key.rmax) + '" y="' + ty + '" font-size="12">' +
        xml(label) + "</text>");
    });
    rows.forEach(function (r) {
      y += 20;
      const fill = r.motif === "hachures" ? "url(#hachures)" : r.couleur;
      parts.push('<rect x="' + (w + 12) + '" y="' + (y - 11) + '" width="22" height="13" fill="' +
        fill + '" stroke="#888"/>');
      parts.push('<text x="' + (w + 42) + '" y="' + y + '" font-size="12">' +
        xml(r.libelle + " (" + r.effectif + ")") + "</text>");
    });
    parts.push('<text x="12" y="' + (H - 22) + '" font-size="12" fill="#333">' + xml(meta.source) +
      "</text>");
    if (meta.notice) {
      parts.push('<text x="12" y="' + (H - 6) + '" font-size="12" fill="#8a4b00">' +
        xml(meta.notice) + "</text>");
    }
    parts.push("</svg>");
    const blob = new Blob([parts.join("\n")], { type: "image/svg+xml" });
    download(URL.createObjectURL(blob), fileName(payload, "svg"));
    return W + "x" + H;
  }

  window.cafexport = { png: exportPng, svg: exportSvg, pdf: exportPdf };

  // Merged into the map's namespace, which cafmap.js also fills (either may load first).
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cafmap: Object.assign({}, window.dash_clientside && window.dash_clientside.cafmap, {
      exportImage: function () {
        const ctx = window.dash_clientside.callback_context;
        const trig = ctx && ctx.triggered_id;
        const status = document.getElementById("export-status");
        const run = { "export-svg": exportSvg, "export-pdf": exportPdf }[trig] || exportPng;
        run().then(function (size) {
          if (status) status.textContent = "Image exportée (" + size + " px).";
        }).catch(function (err) {
          if (status) status.textContent = "Export impossible : " + err.message;
        });
        return trig || "";
      },
    }),
  });
})();
