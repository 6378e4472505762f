"""Browser tests: the real page in headless Chromium (MapLibre on SwiftShader WebGL)."""

from __future__ import annotations

import pytest
from browser_support import wait_for, webgl_renderer
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser

# Counts canvas pixels of the last frame that differ from the background, by colour.
PIXELS_JS = """
const done = arguments[arguments.length - 1];
const map = window.cafmap.map;
map.once('render', () => {
  const gl = map.painter.context.gl;
  const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
  const px = new Uint8Array(w * h * 4);
  gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
  const colours = {};
  let painted = 0;
  for (let i = 0; i < px.length; i += 4 * 7) {
    const key = px[i] + ',' + px[i + 1] + ',' + px[i + 2];
    if (key !== '247,247,244') { painted++; colours[key] = (colours[key] || 0) + 1; }
  }
  done({painted: painted, sampled: px.length / 28, colours: Object.keys(colours).length});
});
map.triggerRepaint();
"""


def _rendered(driver, niveau: str, indicateur: str | None = None) -> bool:
    return driver.execute_script(
        """
        const root = document.getElementById('cafmap');
        const t = window.cafmap && window.cafmap.state.lastTiming;
        return !!(root && t && t.niveau === arguments[0]
                  && (!arguments[1] || t.indicateur === arguments[1])
                  && root.dataset.niveau === arguments[0]);
        """,
        niveau,
        indicateur,
    )


def _open(driver, url: str, niveau: str = "departement") -> None:
    driver.get(url)
    wait_for(lambda: _rendered(driver, niveau), timeout=60)


def _click_radio(driver, group: str, value: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"#{group} input[value='{value}']").click()


def test_page_loads_and_map_draws(live_app, browser) -> None:
    assert "SwiftShader" in webgl_renderer(browser) or webgl_renderer(browser)
    _open(browser, live_app.url + "/")
    assert browser.title == "Cafdata Carto"
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    assert canvas.size["width"] > 500 and canvas.size["height"] > 300
    pixels = browser.execute_async_script(PIXELS_JS)
    # The fixture has 3 départements only: a small part of the métropole view is painted.
    assert pixels["painted"] > 0.002 * pixels["sampled"], pixels
    assert pixels["colours"] >= 3, pixels  # several classes drawn, not a flat fill
    legend = browser.find_element(By.ID, "cafmap-legend").text
    assert "Population municipale" in legend and "Pas de données" in legend
    assert "\u2013" in legend


def test_level_switch_loads_the_new_layer_once(live_app, browser) -> None:
    _open(browser, live_app.url + "/")
    _click_radio(browser, "niveau", "commune")
    wait_for(lambda: _rendered(browser, "commune"), timeout=60)
    visible = browser.execute_script(
        "const m = window.cafmap.map;"
        "return [m.getLayoutProperty('fill-commune', 'visibility'),"
        "        m.getLayoutProperty('fill-departement', 'visibility'),"
        "        m.queryRenderedFeatures({layers: ['fill-commune']}).length]"
    )
    assert visible[0] == "visible" and visible[1] == "none"
    assert visible[2] > 100  # hundreds of communes in the fixture's three départements
    assert "par commune" in browser.find_element(By.CSS_SELECTOR, ".cafmap-title").text
    assert browser.execute_script("return window.cafmap.map.isSourceLoaded('src-commune')")
    # Geometry comes as vector tiles of the level (never the whole GeoJSON).
    tiles = live_app.count("/tuiles/commune/")
    assert tiles > 0
    assert live_app.count("/geo/commune.geojson") == 0

    # Changing the indicator never fetches geometry again.
    before = len(live_app.requests)
    _click_radio(browser, "indicateur", "densite")
    wait_for(lambda: _rendered(browser, "commune", "densite"), timeout=30)
    assert "hab./km²" in browser.find_element(By.ID, "cafmap-legend").text
    _click_radio(browser, "indicateur", "population")
    wait_for(lambda: _rendered(browser, "commune", "population"), timeout=30)
    assert live_app.count("/tuiles/commune/") == tiles
    assert not [r for r in live_app.requests[before:] if r.startswith(("/geo/", "/tuiles/"))]
    assert [r for r in live_app.requests[before:] if r.startswith("/api/carte/commune")]
    timing = browser.execute_script("return window.cafmap.state.lastTiming")
    assert timing["total_ms"] < 5000


def test_hover_shows_name_code_and_value(live_app, browser) -> None:
    _open(browser, live_app.url + "/?niveau=commune&indicateur=population", niveau="commune")
    # Centre the map on Lyon and find its label point on screen.
    offset = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const map = window.cafmap.map;
        map.jumpTo({center: [4.8297, 45.7573], zoom: 10});
        map.once('idle', () => {
          const p = map.project([4.8297, 45.7573]);
          const c = map.getCanvas();
          done([p.x - c.clientWidth / 2, p.y - c.clientHeight / 2]);
        });
        """
    )
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    ActionChains(browser).move_to_element_with_offset(
        canvas, int(offset[0]), int(offset[1])
    ).perform()
    tooltip = browser.find_element(By.ID, "cafmap-tooltip")
    wait_for(lambda: tooltip.is_displayed() and "Lyon" in tooltip.text, timeout=10)
    text = tooltip.text
    assert "69123" in text
    assert "Population municipale" in text and "habitants" in text
    # French number format: a (narrow) no-break space between thousands, no comma or dot.
    value = text.split(":")[-1].replace("habitants", "").strip()
    digits = value.replace("\u202f", "").replace("\u00a0", "")
    assert digits.isdigit() and int(digits) > 400_000
    assert value != digits


def test_overseas_quick_view_flies_there(live_app, browser) -> None:
    _open(browser, live_app.url + "/")
    browser.find_element(By.XPATH, "//button[normalize-space()='Martinique']").click()
    center = wait_for(
        lambda: browser.execute_script(
            "const m = window.cafmap.map; const c = m.getCenter();"
            "return !m.isMoving() && c.lng < -60 ? [c.lng, c.lat] : null"
        ),
        timeout=10,
    )
    assert -61.3 < center[0] < -60.7 and 14.3 < center[1] < 14.95
