/*
 * cafurl: the explore page's state in the URL (history.replaceState, no reload), so that a
 * copied address restores the same view. The map's own view (?vue=) is kept as is.
 */
(function () {
  "use strict";
  const NAMES = ["indicateur", "niveau", "periode", "representation", "methode", "classes",
    "bornes", "palette", "filtre", "territoire", "equipements"];
  // No default for the representation: it depends on the indicator's nature (counts as
  // circles), so the URL always says it.
  const DEFAULTS = { methode: "quantiles", classes: "5", palette: "YlGnBu" };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cafurl: {
      sync: function () {
        const values = Array.prototype.slice.call(arguments);
        const url = new URL(window.location.href);
        if (url.pathname !== "/") return window.dash_clientside.no_update;
        const params = new URLSearchParams();
        NAMES.forEach(function (name, i) {
          const v = values[i];
          if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) return;
          if (DEFAULTS[name] === String(v)) return;
          if (name === "bornes" && values[4] !== "manual") return;
          params.set(name, String(v));
        });
        const vue = url.searchParams.get("vue");
        if (vue) params.set("vue", vue);
        const next = "/?" + params.toString();
        if (next !== url.pathname + url.search) {
          window.history.replaceState(window.history.state, "", next);
        }
        return params.toString();
      },
      // A finished background export: fetch it like a link would (attachment, page kept).
      download: function (url) {
        if (!url) return window.dash_clientside.no_update;
        const a = document.createElement("a");
        a.href = url;
        a.download = url.split("/").pop();
        document.body.appendChild(a);
        a.click();
        a.remove();
        return url;
      },
    },
  });
})();
