/* Relays in front of server callbacks whose answer, in some states, is what the page already
 * shows (the data table while its block is closed, the selection panel without a selection,
 * the facilities with no type ticked): the browser asks the server only when the answer can
 * differ. Each returns the server callback's new input, or no_update.
 */
(function () {
  "use strict";

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cafrelay: {
      // (subject, other inputs..., the last relay): a subject (a selected territory, ticked
      // types) asks the server; none asks it once more, to clear what was shown, then no more.
      whileSome: function () {
        const subject = arguments[0];
        const last = arguments[arguments.length - 1];
        const on = !!subject && subject.length > 0;
        if (!on && !(last && last.on)) return window.dash_clientside.no_update;
        return { on: on, at: Date.now() };
      },
      // (inputs..., the block's `open`): a change asks the server only while the block is open.
      whileOpen: function () {
        const open = arguments[arguments.length - 1];
        return open ? Date.now() : window.dash_clientside.no_update;
      },
    },
  });
})();
