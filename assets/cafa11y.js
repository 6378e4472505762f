/* Accessibility mends for two Dash 4 components, applied as they render (MutationObserver):
 *
 * - dcc.Dropdown takes keyboard focus on a read-only input marked aria-hidden, so a
 *   keyboard user lands on a control a screen reader cannot name (axe: aria-hidden-focus).
 *   The input is made visible to assistive technology and named by the field's <label> and
 *   the current value, which is what the focused control is.
 * - DataTable's pagination buttons are icons without a text alternative (axe: button-name).
 * - html.Details never tells Dash it was opened or closed (it reports clicks only): a
 *   callback on its `open` (the map's data table, the text alternative of the map) never ran
 *   in a browser. Each toggle of a <details> with an id now sets its `open` in Dash.
 */
(function () {
  "use strict";

  const PAGER = {
    "first-page": "Première page",
    "previous-page": "Page précédente",
    "next-page": "Page suivante",
    "last-page": "Dernière page",
  };

  function labelId(button) {
    const label = button.id && document.querySelector('label[for="' + CSS.escape(button.id) + '"]');
    if (!label) return null;
    if (!label.id) label.id = button.id + "-libelle";
    return label.id;
  }

  function mendDropdown(input) {
    const button = input.parentElement && input.parentElement.querySelector("button.dash-dropdown");
    if (!button) return;
    const names = [labelId(button), button.id ? button.id + "-value" : null]
      .filter(function (id) { return id && document.getElementById(id); });
    input.removeAttribute("aria-hidden");
    input.setAttribute("aria-haspopup", "listbox");
    if (names.length) input.setAttribute("aria-labelledby", names.join(" "));
    else input.setAttribute("aria-label", "Liste de choix");
  }

  function mend(root) {
    root.querySelectorAll(".dash-dropdown-focus-target[aria-hidden]").forEach(mendDropdown);
    Object.keys(PAGER).forEach(function (cls) {
      root.querySelectorAll("button." + cls + ":not([aria-label])").forEach(function (b) {
        b.setAttribute("aria-label", PAGER[cls]);
      });
    });
    root.querySelectorAll("input.current-page:not([aria-label])").forEach(function (i) {
      i.setAttribute("aria-label", "Numéro de page");
    });
  }

  // Only what was added, and never inside the map: its tooltip changes on every mouse move.
  function start() {
    mend(document);
    const map = function () { return document.getElementById("cafmap"); };
    new MutationObserver(function (records) {
      const root = map();
      for (let i = 0; i < records.length; i++) {
        if (root && root.contains(records[i].target)) continue;
        records[i].addedNodes.forEach(function (node) {
          if (node.nodeType === 1) mend(node.parentElement || node);
        });
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  // "toggle" does not bubble: listened to in the capture phase, for every <details> at once.
  document.addEventListener("toggle", function (event) {
    const el = event.target;
    const dash = window.dash_clientside;
    if (el.tagName === "DETAILS" && el.id && dash && dash.set_props) {
      dash.set_props(el.id, { open: el.open });
    }
  }, true);

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
