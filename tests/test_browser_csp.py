"""The Content-Security-Policy in a real Chromium: the app runs under it with no violation, and
it does block what it should (an injected inline script)."""

from __future__ import annotations

import pytest
from browser_support import wait_for
from selenium.webdriver.common.by import By
from test_browser import PIXELS_JS, _open

pytestmark = pytest.mark.browser


def _csp_errors(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_map_page_draws_under_the_csp_without_violation(live_app, browser) -> None:
    browser.get_log("browser")  # drop what earlier tests logged
    _open(browser, live_app.url + "/?niveau=departement")
    pixels = browser.execute_async_script(PIXELS_JS)
    assert pixels["painted"] > 0 and pixels["colours"] >= 3, pixels
    assert _csp_errors(browser) == []
    # The page's import map (run under the nonce) sent MapLibre's import to its hashed URL.
    modules = [r for r in live_app.requests if r.startswith("/vendor/maplibre-gl.mjs")]
    assert modules and all(r.startswith("/vendor/maplibre-gl.mjs?v=") for r in modules)

    # The policy is enforced: an inline script without the nonce does not run, and is reported.
    ran = browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__injected = 1';"
        "document.head.appendChild(s); return window.__injected === 1;"
    )
    assert ran is False
    assert wait_for(lambda: _csp_errors(browser), timeout=5)


def test_profile_page_charts_draw_under_the_csp(live_app, browser) -> None:
    browser.get_log("browser")
    browser.get(live_app.url + "/territoire/departement/69")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"), 30)
    assert _csp_errors(browser) == []


def test_embed_page_draws_under_the_csp(live_app, browser) -> None:
    browser.get_log("browser")
    _open(browser, live_app.url + "/embed?niveau=departement")
    assert _csp_errors(browser) == []
