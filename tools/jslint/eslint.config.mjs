// ESLint for the browser scripts of assets/ (`make lint-js`, run from the repo root).
// Dash serves each of them as a classic <script> (an IIFE with "use strict"); MapLibre itself
// is an ES module they import() at run time.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["assets/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "script",
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
];
