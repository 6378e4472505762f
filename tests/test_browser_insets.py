"""The overseas insets and the cartographic rule in real Chromium: five DROM boxes beside the
national map, coloured from the same classes, clickable, in the PNG, SVG and PDF exports, absent
from a filtered or zoomed view; a count opens as circles, a rate as a choropleth.

The test cut holds Martinique (972) only among the DROM: the four others keep an empty box
with their name. Screenshots go to $CAFCARTO_SCREENSHOTS (default /tmp)."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from browser_support import wait_for
from PIL import Image
from pypdf import PdfReader
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from layers import strings_fr as fr

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CAFCARTO_SCREENSHOTS", "/tmp"))
DROM_NAMES = ["Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"]
BACKGROUND = (247, 247, 244)
CIRCLE_ON_WHITE = (223, 158, 121)  # rgba(196, 78, 12, 0.55) over white
EXPORT_HEAD = 44  # px above the map in the PNG (assets/cafexport.js)

# The 972 inset's painted features: code, the class in its feature state, the main map's class.
INSET_972_JS = """
const inset = (window.cafmap.state.insets || []).find(i => i.code === '972');
const level = window.cafmap.state.current.niveau;
const part = inset && inset.parts[level];
if (!part || !part.ids || !part.ids.length) return null;
const entry = window.cafmap.state.levels[level];
const seen = inset.map.queryRenderedFeatures({layers: [part.layers[0]]});
// Codes come from the level's names by feature id (the tiles carry ids only).
window.cafmap.names(level);
const rows = seen.map(f => [(window.cafmap.identify(level, f.id) || {}).code,
  inset.map.getFeatureState({source: part.source, sourceLayer: part.sourceLayer, id: f.id}).c,
  entry.classes[f.id]]);
return rows.every(r => r[0]) ? rows : null;
"""


# The metropolitan communes whose label point the national view's tiles lack (none expected),
# the circle layer's source and whether a separate GeoJSON points source exists.
CIRCLE_POINTS_JS = """
const done = arguments[arguments.length - 1];
const m = window.cafmap.map;
window.cafmap.names('commune').then(t => {
  const pts = m.querySourceFeatures('src-commune', {sourceLayer: 'points'});
  const seen = new Set(pts.map(f => f.id));
  const missing = t.codes.filter((c, i) => !c.startsWith('97') && !seen.has(i));
  done([missing, m.getLayer('cercles-commune').source, !!m.getSource('pts-commune')]);
});
"""


def _rendered(driver, niveau: str, indicateur: str) -> bool:
    return driver.execute_script(
        "const t = window.cafmap && window.cafmap.state.lastTiming;"
        "return !!(t && window.cafmap.state.confirmed"
        " && t.niveau === arguments[0] && t.indicateur === arguments[1])",
        niveau,
        indicateur,
    )


def _open(driver, query: str, niveau: str, indicateur: str) -> None:
    driver.get(query)
    wait_for(lambda: _rendered(driver, niveau, indicateur), timeout=60)


def _insets_shown(driver) -> int:
    return int(driver.execute_script("return document.getElementById('cafmap').dataset.encarts"))


def _inset_972(driver) -> list:
    return wait_for(lambda: driver.execute_script(INSET_972_JS), timeout=40)


def _open_national(driver, live_app, indicateur: str, extra: str = "") -> list:
    """The national commune map of `indicateur`, once its five insets show and the 972 one is
    painted; returns the 972 inset's features (code, inset class, main map class)."""
    _open(
        driver,
        f"{live_app.url}/?indicateur={indicateur}&niveau=commune{extra}",
        "commune",
        indicateur,
    )
    wait_for(lambda: _insets_shown(driver) == 5, timeout=20)
    return _inset_972(driver)


def test_national_commune_map_has_five_coloured_insets(live_app, browser) -> None:
    painted = _open_national(browser, live_app, "taux_personnes_couvertes")
    boxes = browser.find_elements(By.CSS_SELECTOR, "#cafmap .cafmap-inset")
    assert [b.text for b in boxes] == DROM_NAMES
    assert all(b.is_displayed() for b in boxes)
    assert len(painted) >= 20 and all(code.startswith("972") for code, _c, _m in painted)
    # Same classes as the main map, several of them (a rate: a real choropleth).
    assert all(c == main for _code, c, main in painted)
    assert len({c for _code, c, _m in painted if c >= 0}) >= 2
    browser.save_screenshot(str(SHOTS / "cafcarto-encarts-communes-taux.png"))
    # A recolour (another palette) reaches the insets: one home for colouring.
    before = browser.execute_script(
        "const i = window.cafmap.state.insets.find(x => x.code === '972');"
        "return JSON.stringify(i.map.getPaintProperty('fill-commune', 'fill-color'))"
    )
    _open_national(browser, live_app, "taux_personnes_couvertes", "&palette=OrRd")
    after = browser.execute_script(
        "const i = window.cafmap.state.insets.find(x => x.code === '972');"
        "const m = window.cafmap.state.levels.commune.payload.couleurs;"
        "return [JSON.stringify(i.map.getPaintProperty('fill-commune', 'fill-color')), m]"
    )
    assert after[0] != before and all(colour in after[0] for colour in after[1])


def test_insets_follow_the_level(live_app, browser) -> None:
    _open_national(browser, live_app, "taux_personnes_couvertes")
    browser.find_element(By.CSS_SELECTOR, "#niveau input[value='departement']").click()
    wait_for(lambda: _rendered(browser, "departement", "taux_personnes_couvertes"), timeout=60)
    painted = _inset_972(browser)
    assert [code for code, _c, _m in painted] == ["972"]
    assert all(c == main and c >= 0 for _code, c, main in painted)
    hidden = browser.execute_script(
        "const i = window.cafmap.state.insets.find(x => x.code === '972');"
        "return i.map.getLayoutProperty('fill-commune', 'visibility')"
    )
    assert hidden == "none"
    browser.save_screenshot(str(SHOTS / "cafcarto-encarts-departements.png"))


def test_clicking_an_inset_territory_selects_it(live_app, browser) -> None:
    _open_national(browser, live_app, "allocataires")
    # Fort-de-France (97209): its label point in the inset, from the holder's centre.
    offset = browser.execute_script(
        """
        const inset = window.cafmap.state.insets.find(i => i.code === '972');
        const f = inset.map.queryRenderedFeatures({layers: ['fill-commune']})
          .find(x => (window.cafmap.identify('commune', x.id) || {}).code === '97209');
        const p = inset.map.project([-61.0742, 14.6161]);
        const c = inset.map.getCanvas();
        return f ? [p.x - c.clientWidth / 2, p.y - c.clientHeight / 2] : null;
        """
    )
    assert offset is not None
    holder = browser.find_element(By.CSS_SELECTOR, ".cafmap-inset[data-code='972'] canvas")
    ActionChains(browser).move_to_element_with_offset(
        holder, int(offset[0]), int(offset[1])
    ).perform()
    tooltip = browser.find_element(By.ID, "cafmap-tooltip")
    wait_for(lambda: tooltip.is_displayed() and "97209" in tooltip.text, timeout=10)
    assert "Foyers allocataires" in tooltip.text
    ActionChains(browser).click().perform()
    title = browser.find_element(By.ID, "selection-titre")
    wait_for(lambda: "Fort-de-France" in title.text, timeout=20)
    assert "territoire=commune%3A97209" in browser.current_url


def test_a_count_opens_as_circles_and_a_rate_as_a_choropleth(live_app, browser) -> None:
    _open(browser, f"{live_app.url}/?indicateur=rsa&niveau=commune", "commune", "rsa")
    payload = browser.execute_script("return window.cafmap.state.levels.commune.payload")
    assert payload["representation"] == "cercles" and payload["rayons"]
    # The circles stand on the `points` layer of the level's tiles, every point kept at the
    # national zoom (no GeoJSON source of their own).
    missing = browser.execute_async_script(CIRCLE_POINTS_JS)
    assert missing == [[], "src-commune", False]
    checked = browser.find_element(By.CSS_SELECTOR, "#representation input:checked")
    assert checked.get_attribute("value") == "cercles"
    assert fr.CIRCLES_WHY in browser.find_element(By.ID, "note-representation").text
    legend = browser.find_element(By.ID, "cafmap-legend").text
    assert "Secret statistique" in legend and re.search(r"\d foyers", legend)
    # The insets draw the circles too, at the main map's scale.
    wait_for(
        lambda: browser.execute_script(
            "const i = window.cafmap.state.insets.find(x => x.code === '972');"
            "return i.map.getLayer('cercles-commune') && (i.pointIds || []).length"
        ),
        timeout=30,
    )
    browser.save_screenshot(str(SHOTS / "cafcarto-encarts-communes-cercles.png"))
    # The exported legend draws the reference circles (the classes do not colour circles).
    _capture_downloads(browser)
    png = _png(_download(browser, "export-png")[1])
    png.save(SHOTS / "cafcarto-export-cercles.png")
    width = browser.execute_script("return window.cafmap.map.getCanvas().width")
    legend = np.asarray(png.convert("RGB"), dtype=int)[:, width:]
    circle = np.abs(legend - np.array(CIRCLE_ON_WHITE)).sum(axis=2) < 12
    assert circle.sum() > 300, circle.sum()
    # A choropleth of counts only on request, with its note; a saved URL keeps it.
    _open(
        browser,
        f"{live_app.url}/?indicateur=rsa&niveau=commune&representation=choroplethe",
        "commune",
        "rsa",
    )
    payload = browser.execute_script("return window.cafmap.state.levels.commune.payload")
    assert payload["representation"] == "choroplethe" and "rayons" not in payload
    note = browser.find_element(By.ID, "note-representation").text
    assert note.startswith("Une carte choroplèthe d'effectifs fait dépendre la couleur")
    assert "representation=choroplethe" in browser.current_url
    # A rate: a choropleth, the picker hidden.
    url = f"{live_app.url}/?indicateur=part_rsa&niveau=commune"
    _open(browser, url, "commune", "part_rsa")
    payload = browser.execute_script("return window.cafmap.state.levels.commune.payload")
    assert payload["representation"] == "choroplethe"
    assert not browser.find_element(By.ID, "bloc-representation").is_displayed()


def _capture_downloads(browser) -> None:
    browser.execute_script(
        "window.__downloads = [];"
        "HTMLAnchorElement.prototype.click = function () {"
        "  window.__downloads.push([this.download, this.href]); };"
        # The SVG is a blob URL, which the page's CSP does not let fetch() read back.
        "const made = URL.createObjectURL;"
        "URL.createObjectURL = function (b) { window.__blob = b; return made(b); };"
    )


def _download(browser, button: str) -> tuple[str, str]:
    browser.execute_script("window.__downloads = [];")
    browser.find_element(By.ID, button).click()
    return wait_for(
        lambda: browser.execute_script(
            "return window.__downloads.length ? window.__downloads[0] : null"
        ),
        timeout=30,
    )


def _png(data_url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def _inset_pixels(image: Image.Image, box: list[float], top: int) -> tuple[int, int]:
    """Pixels of the inset's map area in the exported image that are neither the map's
    background nor white, and their number of distinct colours."""
    x, y, w, h = (round(v) for v in box)
    crop = image.convert("RGB").crop((x + 2, top + y + 2, x + w - 2, top + y + h - 2))
    rgb = np.asarray(crop).reshape(-1, 3)
    keep = ~((rgb == BACKGROUND).all(axis=1) | (rgb == 255).all(axis=1))
    return int(keep.sum()), len({tuple(p) for p in rgb[keep].tolist()})


def test_png_svg_and_pdf_exports_contain_the_insets(live_app, browser) -> None:
    _open_national(browser, live_app, "taux_personnes_couvertes")
    boxes = browser.execute_script(
        "return Object.fromEntries(window.cafmap.view().insets.map(i => [i.code, i.canvas]))"
    )
    assert set(boxes) == {"971", "972", "973", "974", "976"}
    _capture_downloads(browser)
    name, data_url = _download(browser, "export-png")
    assert name.endswith(".png")
    png = _png(data_url)
    png.save(SHOTS / "cafcarto-export-encarts.png")
    painted, colours = _inset_pixels(png, boxes["972"], EXPORT_HEAD)
    area = boxes["972"][2] * boxes["972"][3]
    assert painted > 0.15 * area and colours >= 3, (painted, colours, area)
    # An absent DROM: its box is drawn (name, frame), its map empty.
    assert _inset_pixels(png, boxes["976"], EXPORT_HEAD)[0] < 0.05 * area
    name, _svg_url = _download(browser, "export-svg")
    assert name.endswith(".svg")
    svg = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; window.__blob.text().then(done);"
    )
    embedded = re.search(r'xlink:href="data:image/png;base64,([^"]+)"', svg)
    assert embedded is not None
    image = Image.open(io.BytesIO(base64.b64decode(embedded.group(1))))
    assert _inset_pixels(image, boxes["972"], 0)[0] > 0.15 * area
    # PDF: one A4 landscape page holding the same picture (JPEG: colours compared loosely).
    name, _pdf_url = _download(browser, "export-pdf")
    assert name.endswith(".pdf")
    body = base64.b64decode(
        browser.execute_async_script(
            "const done = arguments[arguments.length - 1]; const r = new FileReader();"
            "r.onload = () => done(r.result.split(',')[1]); r.readAsDataURL(window.__blob);"
        )
    )
    (SHOTS / "cafcarto-export-encarts.pdf").write_bytes(body)
    pdf = PdfReader(io.BytesIO(body))
    assert len(pdf.pages) == 1 and [round(v) for v in pdf.pages[0].mediabox] == [0, 0, 842, 595]
    picture = pdf.pages[0].images[0].image
    assert picture.size == png.size
    x, y, w, h = (round(v) for v in boxes["972"])
    crop = np.asarray(
        picture.convert("RGB").crop(
            (x + 2, EXPORT_HEAD + y + 2, x + w - 2, EXPORT_HEAD + y + h - 2)
        ),
        dtype=int,
    )
    far = np.abs(crop - np.array(BACKGROUND)).sum(axis=2) > 60
    assert far.sum() > 0.15 * area


def test_filtered_or_zoomed_views_have_no_insets(live_app, browser) -> None:
    url = f"{live_app.url}/?indicateur=rsa&niveau=commune&filtre=departement%3A69"
    _open(browser, url, "commune", "rsa")
    wait_for(lambda: _insets_shown(browser) == 0, timeout=10)
    assert not browser.find_element(By.CSS_SELECTOR, "#cafmap .cafmap-insets").is_displayed()
    assert browser.execute_script("return window.cafmap.view().insets.length") == 0
    # National again, then zoomed on Lyon: the insets go, and come back at national scale.
    _open(browser, f"{live_app.url}/?indicateur=rsa&niveau=commune", "commune", "rsa")
    wait_for(lambda: _insets_shown(browser) == 5, timeout=20)
    browser.execute_script("window.cafmap.map.jumpTo({center: [4.83, 45.76], zoom: 9})")
    wait_for(lambda: _insets_shown(browser) == 0, timeout=10)
    browser.find_element(By.XPATH, "//button[normalize-space()='France métropolitaine']").click()
    wait_for(lambda: _insets_shown(browser) == 5, timeout=10)
    # The « Aller à » shortcuts stay: Martinique flies the main map there (insets hidden).
    browser.find_element(By.XPATH, "//button[normalize-space()='Martinique']").click()
    wait_for(lambda: _insets_shown(browser) == 0, timeout=10)
