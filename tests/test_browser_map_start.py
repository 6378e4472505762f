"""The map without the server's callbacks (assets/cafmap.js, layers/map_start.py): a deep URL
draws from the index HTML's spec while the page's map-spec callback never answers, and a new
indicator or period recolours in the browser with the server's own classes."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from browser_support import hover_lyon, wait_for

from layers.geocache import web_geometries
from layers.map_spec import view_spec

pytestmark = pytest.mark.browser

# Dash posts each callback to /_dash-update-component: the map-spec one is held forever, as if
# the server never answered it (every other callback, the page's own layout included, runs).
HOLD_MAP_SPEC_JS = """
window.__heldSpecs = 0;
const realFetch = window.fetch;
window.fetch = function (url, opts) {
  if (String(url).includes('_dash-update-component') && opts &&
      String(opts.body).includes('map-spec.data')) {
    window.__heldSpecs++;
    return new Promise(function () {});
  }
  return realFetch.apply(this, arguments);
};
"""

# What the map draws against the server's payload of the spec in use: the colour of each feature
# (its feature state `c`, none = -9, through the layer's fill-color `match`; under circles every
# class >= 0 has the same base colour) and the radius of each circle (feature state `r` of the
# level's points).
CLASSES_JS = """
const done = arguments[arguments.length - 1];
const st = window.cafmap.state, spec = st.lastSpec, map = window.cafmap.map;
fetch(spec.valeurs).then(r => r.json()).then(body => {
  const level = spec.niveau, circles = body.representation === 'cercles';
  const state = (layer, i) =>
    map.getFeatureState({source: 'src-' + level, sourceLayer: layer, id: i}) || {};
  const expr = map.getPaintProperty('fill-' + level, 'fill-color');  // [match, input, k, v.., else]
  const colour = c => {
    for (let k = 2; k < expr.length - 1; k += 2) if (expr[k] === c) return expr[k + 1];
    return expr[expr.length - 1];
  };
  const shown = body.classes.map((_, i) => colour(state(level, i).c ?? -9));
  const server = body.classes.map(c => colour(c));
  const radii = circles ? body.rayons.map((_, i) => state('points', i).r) : null;
  const stated = body.classes.filter((_, i) => state(level, i).c !== undefined).length;
  const specials = body.classes.filter(c => c < 0).length;
  const want = circles ? body.rayons.map(r => r || 0) : null;
  done({server: server, shown: shown, radii: radii, want: want, spec: spec, stated: stated,
        specials: specials,
        held: window.__heldSpecs, circles: circles,
        legend: document.getElementById('cafmap-legend').textContent,
        title: document.querySelector('#cafmap .cafmap-title').textContent});
});
"""


def _shown(browser, niveau: str, indicateur: str) -> bool:
    return browser.execute_script(
        """
        const root = document.getElementById('cafmap');
        const t = window.cafmap && window.cafmap.state.lastTiming;
        return !!(root && root.contains(window.cafmap.map.getContainer()) && t &&
                  t.niveau === arguments[0] && t.indicateur === arguments[1] &&
                  root.dataset.indicateur === arguments[1]);
        """,
        niveau,
        indicateur,
    )


def _expected(settings, state: dict) -> dict:
    """The spec the server's callback makes for a panel state."""
    found = view_spec(state, web_geometries(settings.cache))
    assert found is not None
    return found[0]


def _query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.fixture(autouse=True)
def _forget_http_cache(browser):
    """The session's browser is shared: values fetched here must not be cached for the next
    module's tests (they count requests)."""
    yield
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})


@pytest.fixture
def held(browser):
    """Every page opened in the test has its map-spec callback held (HOLD_MAP_SPEC_JS)."""
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_MAP_SPEC_JS}
    )
    yield
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)


def test_deep_url_draws_without_the_map_spec_callback(live_app, browser, settings, held) -> None:
    url = "/?niveau=commune&indicateur=part_rsa&periode=2022-12&palette=OrRd"
    browser.get(live_app.url + url)
    wait_for(lambda: _shown(browser, "commune", "part_rsa"), timeout=60)
    got = browser.execute_async_script(CLASSES_JS)
    assert got["held"] >= 1  # the page did ask Dash for the spec, which never came
    assert got["shown"] == got["server"] and len(got["server"]) > 100
    assert len(set(got["server"])) >= 4 and not got["circles"]  # a choropleth, its classes
    state = {"indicateur": "part_rsa", "niveau": "commune", "periode": "2022-12", "palette": "OrRd"}
    assert got["spec"]["valeurs"] == _expected(settings, state)["valeurs"]
    assert "décembre 2022" in got["title"] and "RSA" in got["legend"]


def test_new_indicator_and_period_recolour_in_the_browser(
    live_app, browser, settings, held
) -> None:
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa")
    wait_for(lambda: _shown(browser, "commune", "rsa"), timeout=60)
    wait_for(lambda: browser.execute_script("return !!window.cafmap.state.choices"), timeout=30)
    # A count (circles) after a count: same level and period, the server's classes and title.
    browser.execute_script("window.dash_clientside.set_props('indicateur', {value: 'aah'})")
    wait_for(lambda: _shown(browser, "commune", "aah"), timeout=30)
    got = browser.execute_async_script(CLASSES_JS)
    period = _query(got["spec"]["valeurs"])["periode"]
    state = {"indicateur": "aah", "niveau": "commune", "periode": period}
    assert got["spec"]["valeurs"] == _expected(settings, state)["valeurs"]
    assert got["spec"]["titre"] == _expected(settings, state)["titre"] == got["title"]
    assert got["circles"] and got["shown"] == got["server"] and got["radii"] == got["want"]
    # Under circles a feature with no state is drawn in the base colour: the states set are
    # those of the special classes (secret, no data...), of this payload or the one before.
    assert got["specials"] <= got["stated"] < len(got["server"]) / 2
    # An older period of the same indicator.
    browser.execute_script("window.dash_clientside.set_props('periode', {value: '2021-12'})")
    wait_for(
        lambda: (
            "periode=2021-12"
            in browser.execute_script("return window.cafmap.state.lastSpec.valeurs")
        ),
        timeout=30,
    )
    wait_for(lambda: _shown(browser, "commune", "aah"), timeout=30)
    got = browser.execute_async_script(CLASSES_JS)
    state["periode"] = "2021-12"
    assert got["spec"]["valeurs"] == _expected(settings, state)["valeurs"]
    assert got["shown"] == got["server"] and got["radii"] == got["want"]
    assert "décembre 2021" in got["title"]


def test_recolour_starts_in_the_panel_change_itself(live_app, browser, settings) -> None:
    """The new values are asked in the same task as the panel's change (Dash's store says it),
    not after Dash's callbacks have run; the server's spec then confirms the same view."""
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa")
    wait_for(lambda: _shown(browser, "commune", "rsa"), timeout=60)
    wait_for(lambda: browser.execute_script("return !!window.cafmap.state.choices"), timeout=30)
    asked = browser.execute_script(
        """
        window.dash_clientside.set_props('indicateur', {value: 'aah'});
        const a = window.cafmap.state.asked;
        return a && a.valeurs;
        """
    )
    assert asked is not None and _query(asked)["indicateur"] == "aah"
    wait_for(lambda: _shown(browser, "commune", "aah"), timeout=30)
    wait_for(
        lambda: browser.execute_script("return window.cafmap.state.served.indicateur") == "aah",
        timeout=30,
    )
    got = browser.execute_async_script(CLASSES_JS)
    served = browser.execute_script("return window.cafmap.state.served")
    assert got["spec"]["valeurs"] == asked == served["valeurs"]  # Dash's spec: the same view
    assert got["spec"]["titre"] == served["titre"] == got["title"]
    assert got["shown"] == got["server"] and got["radii"] == got["want"]


def test_level_tiles_are_asked_with_the_style(live_app, browser) -> None:
    """The level's source is added once the map's style is loaded, before MapLibre's `load`
    (a frame later at the earliest): its tiles, the longest step of the first draw, start
    earlier."""
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa&cafmap_debug=1")
    wait_for(lambda: _shown(browser, "commune", "rsa"), timeout=60)
    added, loaded = browser.execute_script(
        "const st = window.cafmap.state;"
        "return [st.sourceMarks['src-commune'].added, st.marks.load_event];"
    )
    assert added < loaded


def test_hover_outline_comes_with_the_first_hover(live_app, browser) -> None:
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa")
    wait_for(lambda: _shown(browser, "commune", "rsa"), timeout=60)
    # Dash's page title comes after the early render's: the confirmed spec names the tab again.
    wait_for(lambda: browser.title.startswith("Bénéficiaires du revenu de solidarité"), timeout=10)
    layers = "return window.cafmap.map.getLayersOrder()"
    assert "hover-commune" not in browser.execute_script(layers)  # none before a hover
    assert "Lyon" in hover_lyon(browser)
    got = browser.execute_script(
        """
        const m = window.cafmap.map, h = window.cafmap.state.levels.commune.hovered;
        return [m.getLayer('hover-commune').source, h && m.getFeatureState(h).h];
        """
    )
    order = browser.execute_script(layers)
    # Its own source (the same tiles): the level's recolours never rewrite its vertices.
    assert got == ["hov-commune", True]
    assert order.index("hover-commune") == order.index("line-commune") + 1


# Frames MapLibre draws (its painter's render calls), with their time (performance.now()).
COUNT_FRAMES_JS = """
const painter = window.cafmap.map.painter, draw = painter.render;
window.__frames = [];
painter.render = function () {
  window.__frames.push(performance.now());
  return draw.apply(painter, arguments);
};
"""


def test_a_recolour_draws_no_frame_after_its_idle(live_app, browser) -> None:
    """Once a recolour's map is idle nothing asks for another frame: the département borders
    over communes were shown again after each idle (the same visibility), and MapLibre drew the
    whole map a second time for it."""
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa")
    wait_for(lambda: _shown(browser, "commune", "rsa"), timeout=60)
    wait_for(lambda: browser.execute_script("return !!window.cafmap.state.choices"), timeout=30)
    visible = "return window.cafmap.map.getLayoutProperty('bordures-dep', 'visibility')"
    assert browser.execute_script(visible) == "visible"
    wait_for(lambda: browser.execute_script("return window.cafmap.map.loaded()"), timeout=30)
    browser.execute_script(COUNT_FRAMES_JS)
    browser.execute_script("window.dash_clientside.set_props('indicateur', {value: 'aah'})")
    wait_for(lambda: _shown(browser, "commune", "aah"), timeout=30)
    wait_for(
        lambda: browser.execute_script("return window.cafmap.state.served.indicateur") == "aah",
        timeout=30,
    )
    time.sleep(1.0)  # a frame asked at the idle would be drawn by now
    frames, idle_at = browser.execute_script(
        "return [window.__frames, window.cafmap.state.lastTiming.idle_at];"
    )
    assert frames and min(frames) < idle_at  # the recolour itself was drawn
    assert [t for t in frames if t > idle_at] == []
    assert browser.execute_script(visible) == "visible"
