"""Browser tests: the real page in headless Chromium (MapLibre on SwiftShader WebGL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from browser_support import hover_lyon, wait_for, webgl_renderer
from selenium.webdriver.common.by import By

from layers import strings_fr as fr
from layers.catalogue import BY_ID

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
        // Dash's spec too: an early-started map can be drawn before the panel answers.
        return !!(root && t && t.niveau === arguments[0] && window.cafmap.state.confirmed
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
    assert "Cafdata Carto" in browser.title
    canvas = browser.find_element(By.CSS_SELECTOR, "#cafmap canvas.maplibregl-canvas")
    assert canvas.size["width"] > 500 and canvas.size["height"] > 300
    pixels = browser.execute_async_script(PIXELS_JS)
    # The fixture has 4 départements only: a small part of the métropole view is painted.
    assert pixels["painted"] > 0.002 * pixels["sampled"], pixels
    assert pixels["colours"] >= 3, pixels  # several classes drawn, not a flat fill
    legend = browser.find_element(By.ID, "cafmap-legend").text
    assert "Part de la population couverte" in legend
    for entry in (
        "Secret statistique",
        "Pas de données",
        "Non concerné",
        "Source : données de démonstration",
    ):
        assert entry in legend
    assert "\u2013" in legend
    assert "démonstration" in browser.find_element(By.ID, "bandeau-demo").text


def test_worker_count_asked_in_the_url_parses_the_commune_tiles(live_app, browser) -> None:
    # ?cafmap_workers=N (the map bench's A/B knob) sizes MapLibre's pool before the first map.
    _open(browser, live_app.url + "/?niveau=commune&cafmap_workers=3", niveau="commune")
    assert browser.execute_script("return window.cafmap.state.lib.getWorkerCount()") == 3
    assert browser.execute_async_script(PIXELS_JS)["painted"] > 0
    assert (
        browser.execute_script(
            "return window.cafmap.map.queryRenderedFeatures({layers: ['fill-commune']}).length"
        )
        > 100
    )


def test_search_an_indicator_and_switch_level_without_refetching_geometry(
    live_app, browser
) -> None:
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
    assert visible[2] > 100  # hundreds of communes in the fixture's départements
    assert "par commune" in browser.find_element(By.CSS_SELECTOR, ".cafmap-title").text
    tiles = live_app.count("/tuiles/commune/")
    assert tiles > 0 and live_app.count("/geo/commune.geojson") == 0

    # Keyword search, accents optional: "allocation adultes handicapes" finds the AAH.
    before = len(live_app.requests)
    box = browser.find_element(By.ID, "recherche-indicateur")
    box.send_keys("allocation adultes handicapes")
    result = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".cc-result"), timeout=15)
    assert "AAH" in result[0].text
    result[0].click()
    wait_for(lambda: _rendered(browser, "commune", "aah"), timeout=30)
    assert "AAH" in browser.find_element(By.ID, "cafmap-legend").text
    assert "aah" in browser.current_url and "niveau=commune" in browser.current_url
    assert live_app.count("/tuiles/commune/") == tiles  # recolour only: no geometry again
    assert [r for r in live_app.requests[before:] if r.startswith("/api/carte/commune")]


def test_switching_level_leaves_only_the_new_levels_circles(live_app, browser) -> None:
    # A count opens as proportional circles; the communes' circles go with their polygons.
    _open(browser, live_app.url + "/?niveau=commune&indicateur=allocataires", "commune")
    _click_radio(browser, "niveau", "departement")
    wait_for(lambda: _rendered(browser, "departement", "allocataires"), timeout=60)
    shown = browser.execute_script(
        "const m = window.cafmap.map;"
        "return m.getStyle().layers.filter(l => l.id.startsWith('cercles-'))"
        "  .map(l => [l.id, m.getLayoutProperty(l.id, 'visibility')]);"
    )
    assert dict(shown) == {"cercles-commune": "none", "cercles-departement": "visible"}, shown
    # The circles stand on the `points` layer of the level's own tiles: no GeoJSON of points.
    source = browser.execute_script(
        "const l = window.cafmap.map.getLayer('cercles-departement');"
        "return [l.source, l.sourceLayer]"
    )
    assert source == ["src-departement", "points"]
    assert live_app.count("/geo/departement-points.json") == 0


# The level's hatching layer (its layer opacity: 0 = not drawn), whether the server's payload of
# the view has a secret cell (class -2), and the level's tiles re-read since the last call.
HATCH_JS = """
const done = arguments[arguments.length - 1];
const st = window.cafmap.state, level = st.lastSpec.niveau, map = window.cafmap.map;
const reread = window.__reread || 0;
window.__reread = 0;
if (!window.__rereadWatch) {
  window.__rereadWatch = true;
  map.on('sourcedata', e => { if (e.sourceId === 'src-' + level && e.tile) window.__reread++; });
}
fetch(st.lastSpec.valeurs).then(r => r.json()).then(body => done({
  layer: map.getPaintProperty('secret-' + level, 'fill-layer-opacity'),
  secret: body.classes.includes(-2), reread: reread}));
"""


def test_hatching_drawn_only_when_a_cell_is_secret(live_app, browser) -> None:
    # Without a secret cell the hatching layer is skipped (a second full fill at each frame);
    # switching it on or off is a recolour: the level's tiles are not read again.
    _open(browser, live_app.url + "/?niveau=commune&indicateur=rsa", niveau="commune")
    got = browser.execute_async_script(HATCH_JS)
    assert got["secret"] and got["layer"] == 1, got
    for indicator, secret in (("places_eaje", False), ("rsa", True)):
        browser.execute_script(
            f"window.dash_clientside.set_props('indicateur', {{value: '{indicator}'}})"
        )
        wait_for(lambda i=indicator: _rendered(browser, "commune", i), timeout=30)
        got = browser.execute_async_script(HATCH_JS)
        assert got == {"layer": 1 if secret else 0, "secret": secret, "reread": 0}, indicator


def test_hover_shows_name_code_and_value(live_app, browser) -> None:
    _open(browser, live_app.url + "/?niveau=commune&indicateur=allocataires", niveau="commune")
    text = hover_lyon(browser)
    assert "69123" in text
    assert "Foyers allocataires" in text and "foyers" in text and "décembre 2024" in text
    assert "Rang : 1er sur" in text  # Lyon has the most allocataires of the cut
    # French number format: a (narrow) no-break space between thousands, no comma or dot.
    value = text.split("\n")[2].split(":")[-1].replace("foyers", "").strip()
    digits = value.replace("\u202f", "").replace("\u00a0", "")
    assert digits.isdigit() and int(digits) > 10_000
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


# The two indicators the panel switches between, by their titles.
TITLES = (BY_ID["allocataires"].title, BY_ID["rsa"].title)
# Counts the Dash callbacks the page asks the server for an output (window.__calls).
COUNT_CALLS_JS = """
window.__calls = 0;
const fetched = window.fetch, output = arguments[0];
window.fetch = function (url, opts) {
  if (opts && typeof opts.body === 'string' && opts.body.includes(output)) window.__calls++;
  return fetched.apply(this, arguments);
};
"""


@contextmanager
def _counting_from_load(driver, output: str) -> Iterator[None]:
    """COUNT_CALLS_JS for `output`, installed in every page opened meanwhile before its
    scripts run (the page's initial callbacks are counted too)."""
    source = COUNT_CALLS_JS.replace("arguments[0]", repr(output))
    added = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", added)


def _calls_after_new_indicator(driver, indicator: str) -> int:
    """The counted calls (COUNT_CALLS_JS) that picking `indicator` in the panel sends."""
    driver.execute_script(
        "window.__calls = 0; window.dash_clientside.set_props('indicateur', {value: arguments[0]})",
        indicator,
    )
    wait_for(lambda: _rendered(driver, "departement", indicator), timeout=30)
    time.sleep(1)  # any callback the change chains (levels, periods) has been sent by now
    return driver.execute_script("return window.__calls")


def _text(driver, selector: str) -> str:
    """The text of the elements under `selector`, shown or not (a closed block or panel hides
    them from Selenium's `.text`)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => e.textContent).join(' ')",
        selector,
    )


def _table_header(driver) -> str:
    return _text(driver, "#table-vue th")


def test_data_table_follows_the_view_while_open_only(live_app, browser) -> None:
    first, second = TITLES
    _open(browser, live_app.url + "/?niveau=departement&indicateur=allocataires")
    browser.execute_script(COUNT_CALLS_JS, "table-donnees")
    toggle = browser.find_element(By.CSS_SELECTOR, "#bloc-table summary")
    toggle.click()
    wait_for(lambda: first in _table_header(browser), timeout=30)
    browser.execute_script("window.dash_clientside.set_props('indicateur', {value: 'rsa'})")
    wait_for(lambda: second in _table_header(browser), timeout=30)
    assert browser.execute_script("return window.__calls") >= 2
    # Closed, the view changes without asking the server for a table nobody sees...
    toggle.click()
    assert _calls_after_new_indicator(browser, "allocataires") == 0
    assert second in _table_header(browser)
    # ...and opened again, the table is the view's.
    toggle.click()
    wait_for(lambda: first in _table_header(browser), timeout=30)
    assert browser.execute_script("return window.__calls") == 1


def _selection_note(driver) -> str:
    return _text(driver, "#selection-contenu .cc-note")


def test_selection_follows_the_indicator_and_is_not_asked_without_one(live_app, browser) -> None:
    first, second = TITLES
    url = live_app.url + "/?niveau=commune&indicateur=allocataires&territoire=commune%3A69123"
    _open(browser, url, "commune")
    wait_for(lambda: first in _selection_note(browser), timeout=30)
    browser.execute_script("window.dash_clientside.set_props('indicateur', {value: 'rsa'})")
    wait_for(lambda: second in _selection_note(browser), timeout=30)
    # Nothing selected: the page's load and a new indicator leave the panel's hint, without
    # asking the server.
    with _counting_from_load(browser, "selection.className"):
        _open(browser, live_app.url + "/?niveau=departement&indicateur=allocataires")
        time.sleep(1)  # the page's initial callbacks have all been sent by now
        assert browser.execute_script("return window.__calls") == 0
        assert _calls_after_new_indicator(browser, "rsa") == 0
    assert _text(browser, "#selection-contenu") == fr.SELECTION_HINT


def test_a_map_visit_asks_nothing_of_the_facilities_until_a_type_is_ticked(
    live_app, browser
) -> None:
    """With no type ticked the points layer and the list are the page's own state: no
    callback for them at the page's load; ticking one then shows the list."""
    with _counting_from_load(browser, "equipements-"):
        _open(browser, live_app.url + "/?niveau=departement&indicateur=allocataires")
        time.sleep(1)  # the page's initial callbacks have all been sent by now
        assert browser.execute_script("return window.__calls") == 0
        browser.find_element(By.CSS_SELECTOR, "#carte-equipements input").click()
        wait_for(lambda: browser.find_element(By.ID, "equipements-liste").is_displayed())
        wait_for(lambda: browser.execute_script("return window.cafequip.state.types.length"))
        assert browser.execute_script("return window.__calls") == 2  # the points and the list
