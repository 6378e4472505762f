"""For everyone (RGAA / WCAG 2.1 AA), in real Chromium: an axe-core audit of every page,
keyboard navigation with a visible focus, the phone layout, and page titles naming the view."""

from __future__ import annotations

import os

import pytest
from browser_support import make_driver, wait_for
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboard.vendor import dev_file

pytestmark = pytest.mark.browser
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _rendered(driver, niveau: str) -> bool:
    return driver.execute_script(
        "const t = window.cafmap && window.cafmap.state.lastTiming;"
        "return !!(t && t.niveau === arguments[0])",
        niveau,
    )


@pytest.fixture(scope="module")
def axe_source(settings) -> str:
    path = dev_file(settings.vendor, "axe.min.js")
    if path is None:
        if os.environ.get("CAFCARTO_REQUIRE_BROWSER"):
            pytest.fail("axe-core is not installed: run `cafcarto vendor --dev`")
        pytest.skip("axe-core is not installed (cafcarto vendor --dev)")
    return path.read_text(encoding="utf-8")


def _violations(driver, axe_source: str) -> list[str]:
    driver.execute_script(axe_source)
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}}).then(r => done(
          r.violations.flatMap(v => v.nodes.map(n => v.id + " " + n.target.join(" ")))));
        """,
        WCAG_AA,
    )


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/?niveau=departement&indicateur=rsa", "#cafmap #cafmap-legend"),
        (
            "/?niveau=commune&indicateur=taux_couverture_eaje&territoire=commune%3A69123",
            "#graphe-serie",
        ),
        ("/territoire/commune/69123", "#equipements-table"),
        ("/embed?niveau=departement&indicateur=rsa", "#cafmap #cafmap-legend"),
    ],
)
def test_axe_finds_no_wcag_aa_violation(live_app, browser, axe_source, path, ready) -> None:
    browser.get(live_app.url + path)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ready), timeout=60)
    if "territoire=" in path:  # the facilities list too, with its paginated table
        browser.execute_script("document.querySelector('#carte-equipements input').click()")
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#equipements-liste table"))
    wait_for(lambda: browser.execute_script("return !document.querySelector('._dash-loading')"))
    assert _violations(browser, axe_source) == []


def _tab_until(driver, predicate, limit: int = 60) -> list[str]:
    seen = []
    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        seen.append(
            driver.execute_script(
                "const a = document.activeElement; return a.id || a.className.toString()"
            )
        )
        if predicate(seen[-1]):
            return seen
    raise AssertionError(f"not reached with Tab: {seen}")


def test_keyboard_alone_finds_an_indicator_and_changes_level(live_app, browser) -> None:
    browser.get(live_app.url + "/?niveau=departement&indicateur=rsa")
    wait_for(lambda: _rendered(browser, "departement"), timeout=60)
    browser.execute_script("document.activeElement.blur(); window.getSelection().removeAllRanges()")
    order = _tab_until(browser, lambda el: el == "recherche-indicateur")
    assert order.index("recherche-territoire") < len(order) - 1  # territory search first
    browser.switch_to.active_element.send_keys("allocation adultes handicapes")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#resultats-recherche button"))
    _tab_until(browser, lambda el: '"type":"resultat"' in el, limit=3)
    focused = browser.switch_to.active_element
    # The focus is visible: an outline of at least 2 px.
    style = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]",
        focused,
    )
    assert style[0] != "none" and float(style[1].removesuffix("px")) >= 2
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_for(lambda: "indicateur=aah" in browser.current_url, timeout=20)
    # The level radios: Tab to the checked one, arrow to the next level.
    _tab_until(browser, lambda el: "niveau_input_departement" in el)
    ActionChains(browser).send_keys(Keys.ARROW_DOWN).perform()
    wait_for(lambda: _rendered(browser, "caf"), timeout=30)
    # Then on to the map itself (arrows pan, +/- zoom) after the panel's controls.
    rest = _tab_until(browser, lambda el: "maplibregl-canvas" in el)
    assert "export-csv" in rest and "export-png" in rest


def test_phone_layout_collapses_the_panel(live_app) -> None:
    phone = make_driver(width=400, height=800)
    try:
        phone.get(live_app.url + "/?niveau=departement&indicateur=rsa")
        wait_for(lambda: _rendered(phone, "departement"), timeout=60)
        toggle = phone.find_element(By.ID, "panneau-bascule")
        assert toggle.is_displayed() and not phone.find_element(By.ID, "panneau").is_displayed()
        rect = (
            "const r = arguments[0].getBoundingClientRect();"
            "return [r.left, r.top, r.right, r.bottom]"
        )
        button = phone.execute_script(rect, toggle)
        for css in (".cafmap-title", ".maplibregl-ctrl-top-right"):
            other = phone.execute_script(rect, phone.find_element(By.CSS_SELECTOR, css))
            overlap = not (
                other[2] <= button[0]
                or button[2] <= other[0]
                or other[3] <= button[1]
                or button[3] <= other[1]
            )
            assert not overlap, f"« Réglages » covers {css}: {button} / {other}"
        # The compact legend: no counts, and it leaves most of the map visible.
        assert not phone.find_element(By.CSS_SELECTOR, ".cafmap-legend-count").is_displayed()
        legend = phone.execute_script(rect, phone.find_element(By.ID, "cafmap-legend"))
        assert legend[2] - legend[0] <= 0.6 * phone.execute_script("return innerWidth") + 1
        toggle.click()
        assert phone.find_element(By.ID, "panneau").is_displayed()
        assert phone.find_element(By.ID, "recherche-indicateur").is_displayed()
    finally:
        phone.quit()


def test_page_titles_name_the_view(live_app, browser) -> None:
    browser.get(live_app.url + "/?niveau=commune&indicateur=rsa")
    # Named in the HTML already (before any script), then kept current as the view changes.
    assert browser.execute_script("return document.querySelector('title').textContent").startswith(
        "Bénéficiaires du revenu de solidarité active (RSA) par commune"
    )
    wait_for(lambda: _rendered(browser, "commune"), timeout=60)
    assert browser.title.endswith("par commune, décembre 2024 – Cafdata Carto")
    browser.execute_script("document.querySelector('#niveau input[value=\"epci\"]').click()")
    wait_for(lambda: "par EPCI" in browser.title, timeout=30)
    browser.get(live_app.url + "/territoire/commune/2A004")
    wait_for(lambda: browser.title == "Fiche territoire : Ajaccio (commune) – Cafdata Carto")
    browser.get(live_app.url + "/territoire/commune/00000")
    wait_for(lambda: "00000" in browser.title)
